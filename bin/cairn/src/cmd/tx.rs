//! `cairn tx transfer`, and the staking transactions `bond`, `delegate`, `unbond`.

use super::{Ctx, PASSPHRASE_ENV};
use crate::output;
use crate::passphrase::passphrase;
use anyhow::Context;
use cairn_types::{
    Address, Keypair, Receipt, Transaction, TxBody, TxOutcome, TxStatus, format_crn, parse_crn,
};
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
        #[command(flatten)]
        send: SendOpts,
    },
    /// Bond CRN of a keystore key to itself as a validator candidate.
    Bond {
        #[arg(long)]
        from: String,
        /// Amount in CRN.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Bond CRN of a keystore key to a validator.
    Delegate {
        #[arg(long)]
        from: String,
        /// The validator: an address or a keystore key name.
        #[arg(long)]
        validator: String,
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Start unbonding CRN a key bonded to a validator (itself for a self-bond); it returns
    /// after the chain's unbonding delay.
    Unbond {
        #[arg(long)]
        from: String,
        #[arg(long)]
        validator: String,
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        send: SendOpts,
    },
}

/// How a transaction is sent.
#[derive(clap::Args, Debug, Clone)]
pub struct SendOpts {
    /// Fee in base units (default: the chain's minimum for this transaction).
    #[arg(long)]
    pub fee: Option<u128>,
    /// Nonce (default: the account's next nonce, counting pending transactions).
    #[arg(long)]
    pub nonce: Option<u64>,
    /// Blocks from now after which the transaction expires.
    #[arg(long, default_value_t = 600)]
    pub expiry_blocks: u64,
    /// Return after submitting instead of waiting for the receipt.
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for the receipt.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

/// Loads a keystore key, asking for its passphrase (or reading $CAIRN_PASSPHRASE).
pub fn load_key(ctx: &Ctx, name: &str) -> anyhow::Result<Keypair> {
    let ks = ctx.keystore()?;
    let pass = passphrase(&format!("Passphrase for {name}: "), PASSPHRASE_ENV)?;
    Ok(ks.load(name, &pass)?)
}

/// An address, or the name of a key in the keystore.
pub fn resolve_address(ctx: &Ctx, text: &str) -> anyhow::Result<Address> {
    match text.parse::<Address>() {
        Ok(a) => Ok(a),
        Err(parse_err) => {
            ctx.keystore()?.show(text).map(|k| k.address).map_err(|_| parse_err).with_context(
                || {
                    let dir =
                        ctx.keystore_dir().map(|d| d.display().to_string()).unwrap_or_default();
                    format!(
                        "{text:?} is neither an address nor a key name in the keystore {dir} \
                     (CAIRN_KEYSTORE or --keystore chooses another)"
                    )
                },
            )
        }
    }
}

/// Signs `body` with `key`, submits it, and (unless `no_wait`) waits for and prints the
/// receipt. Fails if the transaction's body failed.
pub async fn send(
    ctx: &Ctx,
    key: &Keypair,
    body: TxBody,
    opts: &SendOpts,
) -> anyhow::Result<Option<Receipt>> {
    let receipt = send_quiet(ctx, key, body, opts).await?;
    if let Some(r) = &receipt {
        print_receipt(ctx, r)?;
    }
    Ok(receipt)
}

/// [`send`] without printing the receipt (the caller prints its own result); fails as
/// [`send`] does.
pub async fn send_quiet(
    ctx: &Ctx,
    key: &Keypair,
    body: TxBody,
    opts: &SendOpts,
) -> anyhow::Result<Option<Receipt>> {
    let client = ctx.client()?;
    let status = client.status().await?;
    let params = client.params().await?;
    let nonce = match opts.nonce {
        Some(n) => n,
        None => client.account(&key.address(), false).await?.next_nonce,
    };
    let tx = Transaction {
        chain_id: status.chain_id.clone(),
        signer: key.address(),
        nonce,
        max_fee: opts.fee.unwrap_or(0),
        expiry_height: status.height.saturating_add(opts.expiry_blocks),
        body,
    };
    let stx = match opts.fee {
        Some(_) => tx.sign(key),
        None => tx.sign_with_min_fee(key, &params),
    };
    let hash = client.submit_tx(&stx).await?;
    if opts.no_wait {
        if ctx.json {
            output::json(&serde_json::json!({ "hash": hash }))?;
        } else {
            output::fields(&[("submitted", hash.to_string())]);
        }
        return Ok(None);
    }
    let receipt = client.wait_for_receipt(&hash, Duration::from_secs(opts.timeout)).await?;
    if let TxStatus::Failed { error } = &receipt.status {
        print_receipt(ctx, &receipt)?;
        anyhow::bail!("transaction {hash} failed: {} ({error})", error.code());
    }
    Ok(Some(receipt))
}

pub async fn run(ctx: &Ctx, cmd: TxCmd) -> anyhow::Result<()> {
    match cmd {
        TxCmd::Transfer { from, to, amount, send: opts } => {
            let to = resolve_address(ctx, &to)?;
            let amount = parse_crn(&amount)?;
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::Transfer { to, amount }, &opts).await?;
            Ok(())
        }
        TxCmd::Bond { from, amount, send: opts } => {
            let amount = parse_crn(&amount)?;
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::Bond { amount }, &opts).await?;
            Ok(())
        }
        TxCmd::Delegate { from, validator, amount, send: opts } => {
            let validator = resolve_address(ctx, &validator)?;
            let amount = parse_crn(&amount)?;
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::Delegate { validator, amount }, &opts).await?;
            Ok(())
        }
        TxCmd::Unbond { from, validator, amount, send: opts } => {
            let validator = resolve_address(ctx, &validator)?;
            let amount = parse_crn(&amount)?;
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::Unbond { validator, amount }, &opts).await?;
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
    if let TxOutcome::Proposal { id } = &r.outcome {
        output::fields(&[("proposal", id.to_string())]);
    }
    if let TxOutcome::Reports { accepted, rejected } = &r.outcome {
        output::fields(&[
            ("reports accepted", accepted.to_string()),
            ("reports rejected", rejected.len().to_string()),
        ]);
        if !rejected.is_empty() {
            output::table(
                &["index", "device", "seq", "reason", "detail"],
                rejected
                    .iter()
                    .map(|x| {
                        vec![
                            x.index.to_string(),
                            x.device.to_string(),
                            x.seq.to_string(),
                            x.reason.code().to_string(),
                            x.reason.to_string(),
                        ]
                    })
                    .collect(),
            );
        }
    }
    Ok(())
}
