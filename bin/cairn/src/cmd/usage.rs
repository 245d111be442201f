//! `cairn usage …`: usage channels between a consumer and a provider device.

use super::Ctx;
use super::tx::{SendOpts, load_key, send};
use crate::output;
use anyhow::Context;
use cairn_types::usage::{SignedUsageReceipt, UsageReceipt, channel_id};
use cairn_types::{Hash, TxBody};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum UsageCmd {
    /// As a consumer, open a channel to a relay, energy, storage or compute device.
    Open {
        /// Consumer key in the keystore.
        #[arg(long)]
        from: String,
        #[arg(long)]
        device: Hash,
        /// Escrow in data credits.
        #[arg(long)]
        escrow: u128,
        /// Price of one unit in data credits.
        #[arg(long)]
        price: u128,
        #[command(flatten)]
        send: SendOpts,
    },
    /// As the consumer, sign a cumulative receipt off-chain (writes it to a file for the
    /// provider).
    Receipt {
        #[arg(long)]
        consumer: String,
        #[arg(long)]
        channel: Hash,
        /// Total units delivered so far.
        #[arg(long)]
        units: u64,
        /// Receipt sequence number; later receipts have higher ones.
        #[arg(long)]
        seq: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// As the provider's owner, settle with a receipt; opens the dispute window.
    Settle {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        receipt: PathBuf,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Replace the settled receipt with a higher one before the window closes.
    Dispute {
        #[arg(long)]
        from: String,
        #[arg(long)]
        receipt: PathBuf,
        #[command(flatten)]
        send: SendOpts,
    },
    /// As the consumer, take back the escrow of a channel never settled before its timeout.
    Close {
        #[arg(long)]
        from: String,
        #[arg(long)]
        channel: Hash,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show a channel.
    Show { channel: Hash },
}

fn read_receipt(path: &PathBuf) -> anyhow::Result<SignedUsageReceipt> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub async fn run(ctx: &Ctx, cmd: UsageCmd) -> anyhow::Result<()> {
    match cmd {
        UsageCmd::Open { from, device, escrow, price, send: opts } => {
            let key = load_key(ctx, &from)?;
            let price_per_unit = price;
            let nonce = match opts.nonce {
                Some(n) => n,
                None => ctx.client()?.account(&key.address(), false).await?.next_nonce,
            };
            let opts = SendOpts { nonce: Some(nonce), ..opts };
            send(ctx, &key, TxBody::OpenChannel { device, escrow, price_per_unit }, &opts).await?;
            let id = channel_id(&key.address(), nonce);
            if ctx.json {
                return output::json(&serde_json::json!({ "channel": id }));
            }
            output::fields(&[("channel", id.to_string())]);
        }
        UsageCmd::Receipt { consumer, channel, units, seq, out } => {
            let key = load_key(ctx, &consumer)?;
            let chain_id = ctx.client()?.status().await?.chain_id;
            let receipt = UsageReceipt { channel, total_units: units, seq };
            let signature = key.sign_raw(&receipt.signing_message(&chain_id));
            let signed = SignedUsageReceipt { receipt, signature };
            std::fs::write(&out, serde_json::to_string_pretty(&signed)?)
                .with_context(|| format!("writing {}", out.display()))?;
            if ctx.json {
                return output::json(&signed);
            }
            output::fields(&[
                ("channel", channel.to_string()),
                ("units", units.to_string()),
                ("seq", seq.to_string()),
                ("file", out.display().to_string()),
            ]);
        }
        UsageCmd::Settle { owner, receipt, send: opts } => {
            let key = load_key(ctx, &owner)?;
            send(ctx, &key, TxBody::SettleChannel { receipt: read_receipt(&receipt)? }, &opts)
                .await?;
        }
        UsageCmd::Dispute { from, receipt, send: opts } => {
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::DisputeChannel { receipt: read_receipt(&receipt)? }, &opts)
                .await?;
        }
        UsageCmd::Close { from, channel, send: opts } => {
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::CloseChannel { channel }, &opts).await?;
        }
        UsageCmd::Show { channel } => {
            let c = ctx.client()?.channel(&channel).await?;
            if ctx.json {
                return output::json(&c);
            }
            output::fields(&[
                ("channel", c.id.to_string()),
                ("consumer", c.consumer.to_string()),
                ("device", c.device.to_string()),
                ("escrow", format!("{} credits", c.escrow)),
                ("price per unit", format!("{} credits", c.price_per_unit)),
                ("opened at", c.opened_height.to_string()),
                ("timeout at", c.timeout_height.to_string()),
                ("status", serde_json::to_string(&c.status)?),
            ]);
        }
    }
    Ok(())
}
