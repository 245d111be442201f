//! `cairn bench transfers`: committed transfers per second on a solo node in this process
//! (HTTP batch submission, mempool, block production, redb commits), reported beside raw
//! ed25519 batch verification of the same signatures, and their ratio.

use crate::measure::{baseline_verify, sign_transfers, start_node, tx_items};
use anyhow::{Context, bail};
use cairn_types::{Keypair, Params};
use std::time::{Duration, Instant};

#[derive(Debug, serde::Serialize)]
pub struct TransfersReport {
    pub txs: usize,
    pub accounts: usize,
    pub threads: usize,
    pub baseline_batch_verify_per_s: f64,
    pub committed_per_s: f64,
    pub admitted_per_s: f64,
    pub ratio_committed_to_verify: f64,
    pub blocks: u64,
    pub seconds: f64,
}

/// Commits `txs` transfers from `accounts` accounts, submitted in HTTP batches of `batch`,
/// on a node making a block every `block_ms`.
pub async fn run(
    txs: usize,
    accounts: usize,
    block_ms: u64,
    batch: usize,
) -> anyhow::Result<TransfersReport> {
    if accounts == 0 || txs == 0 || batch == 0 {
        bail!("--txs, --accounts and --batch must be positive");
    }
    let per_account = txs.div_ceil(accounts);
    if per_account > 256 {
        bail!(
            "{per_account} transfers per account exceeds the mempool's per-sender limit (256); add accounts"
        );
    }
    let chain_id = "cairn-bench";
    let keys: Vec<Keypair> =
        (0..accounts).map(|i| Keypair::from_label(&format!("bench-{i}"))).collect();
    let params = Params::default();
    // Sign everything up front; signing is not what is measured.
    let signed = sign_transfers(chain_id, &keys, txs);

    // Baseline: the same signatures, batch-verified on all cores as the node's stateless
    // phase does it.
    let items = tx_items(&signed);
    let baseline_before = baseline_verify(&items)?;

    // A real node in this process on a temporary data directory.
    let funded: Vec<&Keypair> = keys.iter().collect();
    let (node, client, dir) = start_node(chain_id, &funded, params, block_ms).await?;
    let start_height = client.status().await?.height;

    let started = Instant::now();
    for chunk in signed.chunks(batch) {
        let results = client.submit_batch(chunk).await?;
        if let Some(err) = results.iter().find_map(|r| r.error.as_ref()) {
            bail!("the node refused a transfer: {} ({})", err.message, err.code);
        }
    }
    let admitted_s = started.elapsed().as_secs_f64();
    let committed = &node.shared.metrics.chain.txs_committed;
    let deadline = Instant::now() + Duration::from_secs(600);
    while (committed.get() as usize) < txs {
        if Instant::now() > deadline {
            bail!("only {} of {txs} transfers committed in 10 minutes", committed.get());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let commit_s = started.elapsed().as_secs_f64();
    let end_height = client.status().await?.height;
    node.shutdown().await;
    std::fs::remove_dir_all(&dir).context("removing the benchmark data directory")?;

    // Measured before and after the run, and averaged, so that load changing on a shared
    // machine during the run moves both sides of the ratio alike.
    let baseline = (baseline_before + baseline_verify(&items)?) / 2.0;
    let committed_per_s = txs as f64 / commit_s;
    Ok(TransfersReport {
        txs,
        accounts,
        threads: rayon::current_num_threads(),
        baseline_batch_verify_per_s: baseline,
        committed_per_s,
        admitted_per_s: txs as f64 / admitted_s,
        ratio_committed_to_verify: committed_per_s / baseline,
        blocks: end_height - start_height,
        seconds: commit_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_transfer_commits_and_too_many_per_account_is_refused() {
        let r = run(300, 30, 50, 100).await.unwrap();
        assert_eq!((r.txs, r.accounts), (300, 30));
        assert!(r.blocks >= 1 && r.committed_per_s > 0.0);
        assert!(run(300, 1, 50, 100).await.is_err());
    }
}
