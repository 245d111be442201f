//! `cairn chain verify`: replay a node's chain from genesis on a fresh in-memory state and
//! check every block's certificate, parent link and roots.

use super::Ctx;
use crate::output;
use anyhow::{Context, bail};
use cairn_app::{App, Parent};
use cairn_state::MemStore;
use cairn_types::{Certificate, Hash};
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
    let genesis = client.genesis().await?;
    genesis.validate()?;
    let head = client.status().await?.height;
    let to = to.unwrap_or(head).min(head);
    let app = App::new(genesis.chain_id.clone());
    let mut state = MemStore::default();
    let changes = App::genesis_changes(&genesis)?;
    let (mut root, batch) = App::genesis_root(&state, &changes)?;
    state.apply(0, &changes, &batch);
    let mut parent = Parent::of_genesis(&genesis);
    let mut txs = 0u64;
    for height in 1..=to {
        let block =
            client.raw_block(height).await.with_context(|| format!("fetching block {height}"))?;
        match &block.certificate {
            Certificate::Solo { signer, .. } if *signer != genesis.validator => {
                bail!(
                    "block {height}: certified by {signer}, not the genesis validator {}",
                    genesis.validator
                )
            }
            c => {
                // The set that certifies this height is read from the state before it.
                let validators = App::validator_set(&state, height)?;
                c.verify_block(&genesis.chain_id, &block.header, &validators)
                    .with_context(|| format!("block {height}: bad certificate"))?
            }
        }
        let executed = app
            .verify(&state, parent, &block.header, &block.txs)
            .with_context(|| format!("block {height} does not replay"))?;
        state.apply(height, &executed.changes, &executed.tree_batch);
        parent = Parent::of_block(&block);
        root = executed.state_root;
        txs += block.txs.len() as u64;
    }
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
