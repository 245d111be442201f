//! `cairn compute …`: compute jobs — post, take, commit, reveal, accept, show.

use super::Ctx;
use super::tx::{SendOpts, load_key, send};
use crate::output;
use anyhow::Context;
use cairn_node::write_private;
use cairn_types::compute::{commitment, job_id};
use cairn_types::{Hash, TxBody};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ComputeCmd {
    /// As a consumer, post a job for `replication` providers at `price` data credits each
    /// (escrowed).
    Post {
        #[arg(long)]
        from: String,
        /// Workload id (hex hash).
        #[arg(long)]
        workload: Hash,
        /// Input hash.
        #[arg(long)]
        input: Hash,
        #[arg(long, default_value_t = 3)]
        replication: u8,
        #[arg(long)]
        price: u128,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Take a place in a job with a compute device you own.
    Take {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        job: Hash,
        #[arg(long)]
        device: Hash,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Commit to a result: a random salt is made and kept, with the result, in `--secret`
    /// (mode 0600) for the reveal.
    Commit {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        job: Hash,
        #[arg(long)]
        device: Hash,
        /// The result (hex hash).
        #[arg(long)]
        result: Hash,
        #[arg(long)]
        secret: PathBuf,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Reveal the result and salt kept in `--secret`.
    Reveal {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        job: Hash,
        #[arg(long)]
        device: Hash,
        #[arg(long)]
        secret: PathBuf,
        #[command(flatten)]
        send: SendOpts,
    },
    /// As the consumer, accept a result early.
    Accept {
        #[arg(long)]
        from: String,
        #[arg(long)]
        job: Hash,
        #[arg(long)]
        result: Hash,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show a job.
    Show { job: Hash },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Secret {
    result: Hash,
    salt: String,
}

pub async fn run(ctx: &Ctx, cmd: ComputeCmd) -> anyhow::Result<()> {
    match cmd {
        ComputeCmd::Post { from, workload, input, replication, price, send: opts } => {
            let key = load_key(ctx, &from)?;
            let nonce = match opts.nonce {
                Some(n) => n,
                None => ctx.client()?.account(&key.address(), false).await?.next_nonce,
            };
            let opts = SendOpts { nonce: Some(nonce), ..opts };
            send(ctx, &key, TxBody::PostJob { workload, input, replication, price }, &opts).await?;
            let id = job_id(&key.address(), nonce);
            if !ctx.json {
                output::fields(&[("job", id.to_string())]);
            }
        }
        ComputeCmd::Take { owner, job, device, send: opts } => {
            let key = load_key(ctx, &owner)?;
            send(ctx, &key, TxBody::TakeJob { job, device }, &opts).await?;
        }
        ComputeCmd::Commit { owner, job, device, result, secret, send: opts } => {
            let key = load_key(ctx, &owner)?;
            let salt: [u8; 32] = rand::random();
            write_private(
                &secret,
                serde_json::to_string(&Secret { result, salt: hex::encode(salt) })?.as_bytes(),
            )?;
            let c = commitment(&result, &salt, &device);
            send(ctx, &key, TxBody::CommitResult { job, device, commitment: c }, &opts).await?;
        }
        ComputeCmd::Reveal { owner, job, device, secret, send: opts } => {
            let key = load_key(ctx, &owner)?;
            let text = std::fs::read_to_string(&secret)
                .with_context(|| format!("reading {}", secret.display()))?;
            let s: Secret = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", secret.display()))?;
            let salt: [u8; 32] = hex::decode(&s.salt)
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| format!("{}: salt must be 32 bytes of hex", secret.display()))?;
            send(ctx, &key, TxBody::RevealResult { job, device, result: s.result, salt }, &opts)
                .await?;
        }
        ComputeCmd::Accept { from, job, result, send: opts } => {
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::AcceptJob { job, result }, &opts).await?;
        }
        ComputeCmd::Show { job } => {
            let j = ctx.client()?.job(&job).await?;
            if ctx.json {
                return output::json(&j);
            }
            output::fields(&[
                ("job", j.id.to_string()),
                ("consumer", j.consumer.to_string()),
                ("replication", j.replication.to_string()),
                ("price", format!("{} credits each", j.price)),
                ("commit before", j.commit_deadline.to_string()),
                ("reveal before", j.reveal_deadline.to_string()),
                ("places", j.slots.len().to_string()),
                ("status", serde_json::to_string(&j.status)?),
            ]);
        }
    }
    Ok(())
}
