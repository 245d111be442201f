//! `cairn storage …`: prepare a file, open a deal, accept it as the provider, answer
//! challenges, show a deal.

use super::Ctx;
use super::tx::{SendOpts, load_key, send};
use crate::output;
use anyhow::{Context, bail};
use cairn_types::storage::{DealStatus, chunk_proof, chunk_root, chunks, deal_id};
use cairn_types::{Hash, TxBody};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum StorageCmd {
    /// Chunk a file with the chain's chunk size and print its root (which commits the chunk
    /// count), the chunk count and the deal's size (chunks × chunk size).
    Prepare { file: PathBuf },
    /// As a consumer, open a deal with a storage device for a prepared file.
    OpenDeal {
        #[arg(long)]
        from: String,
        #[arg(long)]
        device: Hash,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        epochs: u64,
        /// Price per proven epoch, in data credits.
        #[arg(long)]
        price: u128,
        #[command(flatten)]
        send: SendOpts,
    },
    /// As the provider's owner, take a deal on once its file is stored: until then it is not
    /// challenged, faulted or paid, and unaccepted within `storage.accept_window_blocks` of
    /// its opening it expires, refunding the consumer.
    Accept {
        deal: Hash,
        #[arg(long)]
        owner: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// As the provider's owner, answer the deal's open challenge from the stored file.
    Prove {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        deal: Hash,
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show a deal.
    Show { deal: Hash },
}

async fn chunk_size(ctx: &Ctx) -> anyhow::Result<usize> {
    Ok(ctx.client()?.params().await?.storage.chunk_size as usize)
}

pub async fn run(ctx: &Ctx, cmd: StorageCmd) -> anyhow::Result<()> {
    match cmd {
        StorageCmd::Prepare { file } => {
            let data =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let size = chunk_size(ctx).await?;
            let cs = chunks(&data, size);
            let root = chunk_root(&cs);
            // What a deal over the file counts: every chunk at the full chunk size.
            let deal_size = cs.len() as u128 * size as u128;
            if ctx.json {
                return output::json(&serde_json::json!({
                    "root": root,
                    "size": deal_size,
                    "file_size": data.len(),
                    "chunks": cs.len(),
                    "chunk_size": size,
                }));
            }
            output::fields(&[
                ("root", root.to_string()),
                ("chunks", format!("{} of {size} bytes", cs.len())),
                ("size", format!("{deal_size} bytes (file {} bytes)", data.len())),
            ]);
        }
        StorageCmd::OpenDeal { from, device, file, epochs, price, send: opts } => {
            let data =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let parts = chunks(&data, chunk_size(ctx).await?);
            let (root, count) = (chunk_root(&parts), parts.len() as u64);
            let key = load_key(ctx, &from)?;
            let nonce = match opts.nonce {
                Some(n) => n,
                None => ctx.client()?.account(&key.address(), false).await?.next_nonce,
            };
            let opts = SendOpts { nonce: Some(nonce), ..opts };
            let body = TxBody::OpenDeal {
                device,
                root,
                chunks: count,
                duration_epochs: epochs,
                price_per_epoch: price,
            };
            send(ctx, &key, body, &opts).await?;
            if !ctx.json {
                output::fields(&[("deal", deal_id(&key.address(), nonce).to_string())]);
            }
        }
        StorageCmd::Accept { deal, owner, send: opts } => {
            let d = ctx.client()?.deal(&deal).await?;
            let DealStatus::Pending { accept_by } = d.status else {
                bail!(
                    "deal {deal} is not waiting for acceptance: {}",
                    serde_json::to_string(&d.status)?
                )
            };
            let key = load_key(ctx, &owner)?;
            send(ctx, &key, TxBody::AcceptDeal { deal }, &opts).await?;
            if !ctx.json {
                output::fields(&[("accept by", format!("height {accept_by}"))]);
            }
        }
        StorageCmd::Prove { owner, deal, file, send: opts } => {
            let d = ctx.client()?.deal(&deal).await?;
            let Some(challenge) = d.challenge else { bail!("deal {deal} has no open challenge") };
            let data =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let cs = chunks(&data, chunk_size(ctx).await?);
            let path = chunk_proof(&cs, challenge.index)
                .with_context(|| format!("the file has no chunk {}", challenge.index))?;
            let chunk = cs.get(challenge.index as usize).map(|c| c.to_vec()).unwrap_or_default();
            let key = load_key(ctx, &owner)?;
            send(
                ctx,
                &key,
                TxBody::ProveStorage { deal, index: challenge.index, chunk, path },
                &opts,
            )
            .await?;
        }
        StorageCmd::Show { deal } => {
            let d = ctx.client()?.deal(&deal).await?;
            if ctx.json {
                return output::json(&d);
            }
            output::fields(&[
                ("deal", d.id.to_string()),
                ("consumer", d.consumer.to_string()),
                ("device", d.device.to_string()),
                ("root", d.root.to_string()),
                ("size", format!("{} bytes in {} chunks", d.size, d.chunks)),
                ("epochs", format!("{} to {}", d.first_epoch, d.last_epoch)),
                ("price", format!("{} credits per epoch", d.price_per_epoch)),
                ("escrow left", format!("{} credits", d.escrow_left)),
                ("proven epochs", d.proven_epochs.to_string()),
                ("faults", format!("{} ({} in a row)", d.faults, d.misses_in_row)),
                (
                    "challenge",
                    d.challenge
                        .map(|c| {
                            format!(
                                "chunk {} (epoch {}, before height {})",
                                c.index, c.epoch, c.deadline
                            )
                        })
                        .unwrap_or_else(|| "none open".into()),
                ),
                ("status", serde_json::to_string(&d.status)?),
            ]);
        }
    }
    Ok(())
}
