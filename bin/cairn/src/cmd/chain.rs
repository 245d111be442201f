//! `cairn chain verify`: replay a node's chain from genesis on a fresh in-memory state and
//! check every block's certificate, parent link and roots.

use super::Ctx;
use super::replay::Replayer;
use crate::output;
use cairn_types::Hash;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ChainCmd {
    /// Fetch every block from the node and re-execute it; fails at the first block whose
    /// certificate, parent, or transaction, receipts or state root does not check out.
    Verify {
        /// Stop at this height (default: the node's current height).
        #[arg(long)]
        to: Option<u64>,
    },
}

#[derive(serde::Serialize)]
struct VerifyReport {
    chain_id: String,
    blocks: u64,
    transactions: u64,
    state_root: Hash,
}

pub async fn run(ctx: &Ctx, cmd: ChainCmd) -> anyhow::Result<()> {
    let ChainCmd::Verify { to } = cmd;
    let client = ctx.client()?;
    let mut r = Replayer::start(&client).await?;
    let head = client.status().await?.height;
    let to = to.unwrap_or(head).min(head);
    while r.height < to {
        r.next(&client).await?;
    }
    let (root, txs) = (r.root, r.txs);
    let genesis = r.genesis;
    let report = VerifyReport {
        chain_id: genesis.chain_id,
        blocks: to,
        transactions: txs,
        state_root: root,
    };
    if ctx.json {
        output::json(&report)?;
    } else {
        output::fields(&[
            ("chain id", report.chain_id),
            ("blocks replayed", report.blocks.to_string()),
            ("transactions", report.transactions.to_string()),
            ("state root", format!("{} (matches block {})", report.state_root, report.blocks)),
        ]);
    }
    Ok(())
}
