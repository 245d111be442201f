//! `cairn tx transfer`.

use super::{Ctx, PASSPHRASE_ENV};
use crate::keystore::passphrase;
use crate::output;
use anyhow::Context;
use cairn_types::{Address, Receipt, Transaction, TxBody, TxStatus, format_crn, parse_crn};
use clap::Subcommand;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum TxCmd {
    /// Send CRN from a keystore key to an address (or another keystore key's name).
    Transfer {
        /// Name of the sending key in the keystore.
        #[arg(long)]
        from: String,
        /// Recipient: a cairn1… address or a keystore key name.
        #[arg(long)]
        to: String,
        /// Amount in CRN (up to 6 decimals), e.g. 1.5.
        #[arg(long)]
        amount: String,
        /// Fee in base units (default: the chain's minimum for this transaction).
        #[arg(long)]
        fee: Option<u128>,
        /// Nonce (default: the account's next nonce, counting pending transactions).
        #[arg(long)]
        nonce: Option<u64>,
        /// Blocks from now after which the transaction expires.
        #[arg(long, default_value_t = 600)]
        expiry_blocks: u64,
        /// Return after submitting instead of waiting for the receipt.
        #[arg(long)]
        no_wait: bool,
        /// Seconds to wait for the receipt.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
}

pub async fn run(ctx: &Ctx, cmd: TxCmd) -> anyhow::Result<()> {
    match cmd {
        TxCmd::Transfer { from, to, amount, fee, nonce, expiry_blocks, no_wait, timeout } => {
            let ks = ctx.keystore()?;
            let to: Address = match to.parse() {
                Ok(a) => a,
                Err(parse_err) => {
                    ks.show(&to).map(|k| k.address).map_err(|_| parse_err).with_context(|| {
                        format!("--to {to:?} is neither an address nor a key name")
                    })?
                }
            };
            let amount = parse_crn(&amount)?;
            let pass = passphrase(&format!("Passphrase for {from}: "), PASSPHRASE_ENV)?;
            let key = ks.load(&from, &pass)?;
            let client = ctx.client()?;
            let status = client.status().await?;
            let params = client.params().await?;
            let nonce = match nonce {
                Some(n) => n,
                None => client.account(&key.address(), false).await?.next_nonce,
            };
            let mut tx = Transaction {
                chain_id: status.chain_id.clone(),
                signer: key.address(),
                nonce,
                max_fee: 0,
                expiry_height: status.height.saturating_add(expiry_blocks),
                body: TxBody::Transfer { to, amount },
            };
            // The encoding has a fixed width per field, so the size does not depend on the fee.
            let size = tx.clone().sign(&key).to_bytes().len();
            tx.max_fee = fee.unwrap_or_else(|| params.min_fee(size));
            let stx = tx.sign(&key);
            let hash = client.submit_tx(&stx).await?;
            if no_wait {
                if ctx.json {
                    output::json(&serde_json::json!({ "hash": hash }))?;
                } else {
                    output::fields(&[("submitted", hash.to_string())]);
                }
                return Ok(());
            }
            let receipt = client.wait_for_receipt(&hash, Duration::from_secs(timeout)).await?;
            print_receipt(ctx, &receipt)?;
            if let TxStatus::Failed { error } = &receipt.status {
                anyhow::bail!("transaction {hash} failed: {error}");
            }
            Ok(())
        }
    }
}

pub fn print_receipt(ctx: &Ctx, r: &Receipt) -> anyhow::Result<()> {
    if ctx.json {
        return output::json(r);
    }
    let status = match &r.status {
        TxStatus::Success => "success".to_string(),
        TxStatus::Failed { error } => format!("failed: {} ({error})", error.code()),
    };
    output::fields(&[
        ("tx", r.tx_hash.to_string()),
        ("height", r.height.to_string()),
        ("index", r.index.to_string()),
        ("fee paid", format!("{} CRN", format_crn(r.fee_paid))),
        ("status", status),
    ]);
    Ok(())
}
