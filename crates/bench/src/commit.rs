//! `cairn bench commit`: the store's write pattern (ADR 0002). Blocks of transfers are
//! executed and committed straight on the store (no HTTP, no mempool, no signature checks):
//! state changes, tree nodes, block and receipts in one redb write transaction with fsync.

use crate::measure::{median, temp_dir};
use anyhow::bail;
use cairn_app::{App, Parent, SizedTx};
use cairn_types::genesis::GenesisAccount;
use cairn_types::{Block, Certificate, Genesis, Keypair, Params, Transaction, TxBody};
use rayon::prelude::*;
use std::time::Instant;

/// The figures of one block size.
#[derive(Debug, serde::Serialize)]
pub struct CommitRow {
    pub per_block: usize,
    pub blocks: usize,
    pub execute_ms_median: f64,
    pub commit_ms_median: f64,
    /// The last block's commit: the store's tables are largest then.
    pub commit_ms_last: f64,
    pub tree_nodes_per_block: usize,
    pub tx_per_s: f64,
}

/// For each of `sizes` (transfers per block), executes and commits `blocks` blocks on a
/// fresh store holding `accounts` funded accounts.
pub fn run(sizes: &[usize], blocks: usize, accounts: usize) -> anyhow::Result<Vec<CommitRow>> {
    if accounts < 2 {
        bail!("--accounts must be at least 2");
    }
    let keys: Vec<Keypair> =
        (0..accounts).map(|i| Keypair::from_label(&format!("commit-{i}"))).collect();
    let validator = Keypair::from_label("commit-validator");
    let genesis = Genesis {
        chain_id: "cairn-bench-commit".into(),
        genesis_time_ms: 0,
        validator: validator.address(),
        validators: Vec::new(),
        accounts: keys
            .iter()
            .map(|k| GenesisAccount { address: k.address(), balance: 1_000_000_000_000 })
            .collect(),
        params: Params {
            max_block_txs: u32::MAX,
            max_block_bytes: cairn_types::genesis::MAX_BLOCK_BYTES,
            ..Params::default()
        },
    };
    let mut rows = Vec::new();
    for &per_block in sizes {
        let dir = temp_dir()?;
        let store = cairn_node::open_store(&dir, &genesis)?;
        let app = App::new(genesis.chain_id.clone());
        let mut nonces = vec![0u64; accounts];
        let (mut exec_ms, mut commit_ms, mut nodes) = (Vec::new(), Vec::new(), 0usize);
        for b in 0..blocks {
            let senders: Vec<(usize, u64)> = (0..per_block)
                .map(|i| {
                    let from = (b * per_block + i) % accounts;
                    nonces[from] += 1;
                    (from, nonces[from] - 1)
                })
                .collect();
            let txs: Vec<SizedTx> = senders
                .into_par_iter()
                .map(|(from, nonce)| {
                    SizedTx::new(
                        Transaction {
                            chain_id: genesis.chain_id.clone(),
                            signer: keys[from].address(),
                            nonce,
                            max_fee: genesis.params.min_fee(256),
                            expiry_height: u64::MAX,
                            body: TxBody::Transfer {
                                to: keys[(from + 7) % accounts].address(),
                                amount: 1,
                            },
                        }
                        .sign(&keys[from]),
                    )
                })
                .collect();
            let snap = store.snapshot()?;
            let parent = match snap.head_block()? {
                Some(b) => Parent::of_block(&b),
                None => Parent::of_genesis(&genesis),
            };
            let t0 = Instant::now();
            let p =
                app.propose(&snap, parent, parent.timestamp_ms + 1000, validator.address(), txs)?;
            exec_ms.push(t0.elapsed().as_secs_f64() * 1e3);
            if p.txs.len() != per_block {
                bail!("only {} of {per_block} transfers were included", p.txs.len());
            }
            nodes += p.executed.tree_batch.node_batch.nodes().len();
            let certificate = Certificate::solo(&validator, &genesis.chain_id, &p.header.hash());
            let block = Block { header: p.header, txs: p.txs, certificate };
            let t1 = Instant::now();
            let e = &p.executed;
            store.commit_block(
                &block,
                &e.receipts,
                &e.changes,
                &e.tree_batch,
                e.reward_index.as_ref(),
            )?;
            commit_ms.push(t1.elapsed().as_secs_f64() * 1e3);
        }
        let busy_s = (exec_ms.iter().sum::<f64>() + commit_ms.iter().sum::<f64>()) / 1e3;
        rows.push(CommitRow {
            per_block,
            blocks,
            execute_ms_median: median(exec_ms),
            commit_ms_last: commit_ms.last().copied().unwrap_or(0.0),
            commit_ms_median: median(commit_ms),
            tree_nodes_per_block: nodes / blocks.max(1),
            tx_per_s: (per_block * blocks) as f64 / busy_s.max(1e-9),
        });
        drop(store);
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_size_gets_a_row_with_every_transfer_committed() {
        let rows = run(&[3, 10], 2, 20).unwrap();
        assert_eq!(rows.iter().map(|r| r.per_block).collect::<Vec<_>>(), [3, 10]);
        assert!(rows.iter().all(|r| r.blocks == 2 && r.tree_nodes_per_block > 0));
        assert!(run(&[3], 1, 1).is_err());
    }
}
