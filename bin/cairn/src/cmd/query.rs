//! `cairn query status|account|block|tx`.

use super::Ctx;
use crate::output;
use anyhow::{Context, bail};
use cairn_app::accounts::Account;
use cairn_state::tree;
use cairn_types::api::{AccountView, BlockView};
use cairn_types::{Address, Hash, TxStatus, format_crn};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum QueryCmd {
    /// Height, last block, state root, epoch.
    Status,
    /// An account's balance and nonce.
    Account {
        address: Address,
        /// Fetch a Merkle proof and check it against the block header's state root.
        #[arg(long)]
        prove: bool,
    },
    /// A block by height, hash, or `latest`.
    Block { id: String },
    /// A transaction and its receipt.
    Tx { hash: Hash },
    /// Validator candidates, their stake and their power in the next block's set.
    Validators,
}

pub async fn run(ctx: &Ctx, cmd: QueryCmd) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match cmd {
        QueryCmd::Validators => {
            let v = client.validators().await?;
            if ctx.json {
                return output::json(&v);
            }
            output::fields(&[
                ("next height", v.height.to_string()),
                ("total power", v.total_power.to_string()),
            ]);
            output::table(
                &[
                    "validator",
                    "power",
                    "bonded CRN",
                    "self-bond",
                    "unbonding",
                    "slashed",
                    "status",
                ],
                v.validators
                    .iter()
                    .map(|x| {
                        vec![
                            x.address.to_string(),
                            x.power.to_string(),
                            cairn_types::format_crn(x.tokens),
                            cairn_types::format_crn(x.self_bond),
                            cairn_types::format_crn(x.unbonding),
                            cairn_types::format_crn(x.slashed),
                            if x.tombstoned {
                                "tombstoned"
                            } else if x.power > 0 {
                                "active"
                            } else {
                                "candidate"
                            }
                            .to_string(),
                        ]
                    })
                    .collect(),
            );
        }
        QueryCmd::Status => {
            let s = client.status().await?;
            if ctx.json {
                return output::json(&s);
            }
            output::fields(&[
                ("chain id", s.chain_id),
                ("height", s.height.to_string()),
                ("epoch", s.epoch.to_string()),
                ("last block", s.last_block_hash.to_string()),
                ("state root", s.state_root.to_string()),
                ("mempool", s.mempool_size.to_string()),
            ]);
        }
        QueryCmd::Account { address, prove } => {
            let view = client.account(&address, prove).await?;
            let checked =
                if prove { Some(check_account_proof(&client, &view).await?) } else { None };
            if ctx.json {
                let mut v = serde_json::to_value(&view)?;
                if let Some(c) = &checked {
                    v["proof_verified_against"] = serde_json::json!(c);
                }
                return output::json(&v);
            }
            let mut rows = vec![
                ("address", view.address.to_string()),
                ("balance", format!("{} CRN", format_crn(view.balance))),
                ("balance (units)", view.balance.to_string()),
                ("nonce", view.nonce.to_string()),
                ("height", view.height.to_string()),
            ];
            if let Some(c) = checked {
                rows.push(("proof", format!("verified against {c}")));
            }
            output::fields(&rows);
        }
        QueryCmd::Block { id } => {
            let b = if id == "latest" {
                client.latest_block().await?
            } else if let Ok(h) = id.parse::<u64>() {
                client.block(h).await?
            } else {
                let hash: Hash =
                    id.parse().context("block id must be a height, a hash or `latest`")?;
                client.block_by_hash(&hash).await?
            };
            print_block(ctx, &b)?;
        }
        QueryCmd::Tx { hash } => {
            let t = client.tx(&hash).await?;
            if ctx.json {
                return output::json(&t);
            }
            let mut rows = vec![
                ("hash", t.hash.to_string()),
                ("state", t.state.clone()),
                ("signer", t.tx.signer.to_string()),
                ("nonce", t.tx.nonce.to_string()),
                ("body", serde_json::to_string(&t.tx.body)?),
                ("fee", t.tx.max_fee.to_string()),
            ];
            if let Some(r) = &t.receipt {
                rows.push(("height", r.height.to_string()));
                rows.push((
                    "status",
                    match &r.status {
                        TxStatus::Success => "success".into(),
                        TxStatus::Failed { error } => format!("failed: {} ({error})", error.code()),
                    },
                ));
            }
            output::fields(&rows);
        }
    }
    Ok(())
}

/// Checks an account proof against the state root of the block header at the proof's
/// height (fetched separately), and that the proven value is the balance and nonce shown.
/// Returns a description of what it was checked against.
pub async fn check_account_proof(
    client: &cairn_client::Client,
    view: &AccountView,
) -> anyhow::Result<String> {
    let proof = view.proof.as_ref().context("the node returned no proof")?;
    let root = if proof.height == 0 {
        let status = client.status().await?;
        if status.height != 0 {
            bail!("proof is for height 0 but the chain is at {}", status.height);
        }
        status.state_root
    } else {
        let header = client.block(proof.height).await?.header;
        if header.state_root != proof.state_root {
            bail!(
                "proof root {} differs from block {}'s state root {}",
                proof.state_root,
                proof.height,
                header.state_root
            );
        }
        header.state_root
    };
    let key = hex::decode(&proof.key).context("proof key is not hex")?;
    if key != cairn_app::state_key::account(&view.address) {
        bail!("proof is for another key than this account");
    }
    let value =
        proof.value.as_deref().map(hex::decode).transpose().context("proof value is not hex")?;
    let bytes = hex::decode(&proof.proof).context("proof is not hex")?;
    tree::verify_proof(root, &key, value.as_deref(), &bytes)?;
    let proven: Account = match value {
        Some(v) => cairn_types::codec::decode(&v, 1024, "account")?,
        None => Account::default(),
    };
    if proven.balance != view.balance || proven.nonce != view.nonce {
        bail!(
            "proven account {:?} differs from the reported balance {} / nonce {}",
            proven,
            view.balance,
            view.nonce
        );
    }
    Ok(format!("block {} state root {root}", proof.height))
}

fn print_block(ctx: &Ctx, b: &BlockView) -> anyhow::Result<()> {
    if ctx.json {
        return output::json(b);
    }
    let h = &b.header;
    output::fields(&[
        ("height", h.height.to_string()),
        ("hash", b.hash.to_string()),
        ("parent", h.parent_hash.to_string()),
        ("time", format!("{} ({} ms)", crate::output::utc_ms(h.timestamp_ms), h.timestamp_ms)),
        ("epoch", h.epoch.to_string()),
        ("proposer", h.proposer.to_string()),
        ("tx root", h.tx_root.to_string()),
        ("receipts root", h.receipts_root.to_string()),
        ("state root", h.state_root.to_string()),
        ("transactions", b.txs.len().to_string()),
    ]);
    if !b.txs.is_empty() {
        output::table(
            &["tx", "signer", "nonce", "kind", "status"],
            b.txs
                .iter()
                .map(|t| {
                    vec![
                        t.hash.to_string(),
                        t.tx.signer.to_string(),
                        t.tx.nonce.to_string(),
                        t.tx.body.kind().to_string(),
                        t.receipt
                            .as_ref()
                            .map(|r| match &r.status {
                                TxStatus::Success => "success".to_string(),
                                TxStatus::Failed { error } => error.code().to_string(),
                            })
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
        );
    }
    Ok(())
}
