//! `cairn bench bft`: committed transfers per second and commit latency on a local BFT
//! cluster — N `cairn node` processes on loopback ([`crate::testnet`]), transfers offered at
//! a fixed rate through every validator's API.
//!
//! Latency of a transfer: from the moment its batch request is sent to the moment a
//! watcher polling validator 0 sees the block that holds it (polling every 10 ms, so
//! figures are rounded up by up to that much). Throughput: transfers committed divided by
//! the time from the first request to the last commit.

use crate::measure::{VerifyItem, baseline_verify, percentile, sign_transfers, temp_dir};
use crate::testnet::{self, Spec};
use anyhow::{Context, bail};
use cairn_client::Client;
use cairn_types::genesis::GenesisAccount;
use cairn_types::{Hash, Keypair, Params, SignedTx, UNITS_PER_CRN};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to run: the cluster and the load offered to it.
#[derive(Debug, Clone)]
pub struct BftOptions {
    /// The `cairn` executable the validator processes run (`cairn node`).
    pub node_exe: PathBuf,
    /// Validator processes.
    pub validators: usize,
    /// Transfers to commit.
    pub txs: usize,
    /// Sending accounts (each sends txs/accounts transfers, at most 256).
    pub accounts: usize,
    /// Offered load, transfers per second over all validators (0: as fast as accepted).
    pub rate: u64,
    /// Transfers per HTTP batch request.
    pub batch: usize,
    /// Target milliseconds per block.
    pub block_ms: u64,
    /// First of the 2 × validators loopback ports the cluster uses.
    pub base_port: u16,
    /// Most transactions per proposal.
    pub max_proposal_txs: u32,
    /// Keep the cluster's directory (node logs) after the run.
    pub keep: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct BftReport {
    pub validators: usize,
    pub txs: usize,
    pub offered_per_s: u64,
    pub committed_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub blocks: u64,
    pub max_block_txs: usize,
    pub seconds: f64,
    /// Raw ed25519 batch verification of the same transfers' signatures on all cores, in
    /// this process with the cluster stopped (mean of a run before and one after it): the
    /// baseline the throughput is compared with, since the machine's speed drifts.
    pub baseline_batch_verify_per_s: f64,
    pub ratio_committed_to_verify: f64,
}

/// Signs `txs` transfers from `keys` (round-robin, so every account's nonces are
/// consecutive); returns them grouped by the validator each account talks to.
fn sign_all(chain_id: &str, keys: &[Keypair], txs: usize, validators: usize) -> Vec<Vec<SignedTx>> {
    let accounts = keys.len();
    let signed = sign_transfers(chain_id, keys, txs);
    let mut per_node = vec![Vec::new(); validators];
    for (i, t) in signed.into_iter().enumerate() {
        per_node[(i % accounts) % validators].push(t);
    }
    per_node
}

/// Writes a testnet in a temporary directory, starts its validators, offers the load and
/// measures; the nodes stop when this returns.
pub async fn run(a: BftOptions) -> anyhow::Result<BftReport> {
    if a.validators == 0 || a.accounts == 0 || a.txs == 0 || a.batch == 0 {
        bail!("--validators, --txs, --accounts and --batch must be positive");
    }
    if a.txs.div_ceil(a.accounts) > 256 {
        bail!("more than 256 transfers per account exceed the mempool's per-sender limit");
    }
    let chain_id = "cairn-bench-bft";
    let keys: Vec<Keypair> =
        (0..a.accounts).map(|i| Keypair::from_label(&format!("bft-bench-{i}"))).collect();
    let batches: Vec<Vec<Vec<SignedTx>>> = sign_all(chain_id, &keys, a.txs, a.validators)
        .into_iter()
        .map(|txs| txs.chunks(a.batch).map(<[SignedTx]>::to_vec).collect())
        .collect();
    let items: Vec<VerifyItem> = batches
        .iter()
        .flatten()
        .flatten()
        .map(|t| (t.tx.signer, t.signature, t.signing_message()))
        .collect();
    let baseline_before = baseline_verify(&items)?;

    let dir = temp_dir()?;
    let spec = Spec {
        validators: a.validators,
        base_port: a.base_port,
        chain_id: chain_id.into(),
        blocks_per_epoch: Params::default().blocks_per_epoch,
        propose_timeout_ms: 2_000,
        max_proposal_txs: Some(a.max_proposal_txs),
        accounts: keys
            .iter()
            .map(|k| GenesisAccount { address: k.address(), balance: 1_000 * UNITS_PER_CRN })
            .collect(),
    };
    let layout = testnet::write(&dir, spec)?;
    let children = testnet::spawn(&a.node_exe, &layout, a.block_ms)?;
    let result = measure(&a, &layout, batches).await;
    // Logs are complete only once the nodes stop.
    drop(children);
    let result = result.and_then(|mut r| {
        let baseline = (baseline_before + baseline_verify(&items)?) / 2.0;
        r.baseline_batch_verify_per_s = baseline;
        r.ratio_committed_to_verify = r.committed_per_s / baseline.max(1e-9);
        Ok(r)
    });
    if result.is_ok() && !a.keep {
        std::fs::remove_dir_all(&dir).context("removing the benchmark data directory")?;
    } else {
        eprintln!("node logs are kept in {}", dir.display());
    }
    result
}

async fn measure(
    a: &BftOptions,
    layout: &testnet::TestnetLayout,
    batches: Vec<Vec<Vec<SignedTx>>>,
) -> anyhow::Result<BftReport> {
    let clients: Vec<Client> =
        layout.nodes.iter().map(|n| Client::new(&n.api)).collect::<Result<_, _>>()?;
    let ready = Instant::now() + Duration::from_secs(60);
    for c in &clients {
        while !c.status().await.is_ok_and(|s| s.height >= 2) {
            if Instant::now() > ready {
                bail!("the cluster did not start committing within a minute");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // When each transfer was sent, and when its block was seen.
    let sent: Arc<Mutex<HashMap<Hash, Instant>>> = Arc::default();
    let seen: Arc<Mutex<HashMap<Hash, Instant>>> = Arc::default();
    let start_height = clients[0].status().await?.height;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (c, seen, done) = (clients[0].clone(), seen.clone(), done.clone());
        tokio::spawn(async move {
            let mut next = start_height + 1;
            let mut largest = 0usize;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let head = c.status().await.map(|s| s.height).unwrap_or(0);
                while next <= head {
                    let Ok(block) = c.raw_block(next).await else { break };
                    let now = Instant::now();
                    largest = largest.max(block.txs.len());
                    let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
                    for t in &block.txs {
                        s.insert(t.hash(), now);
                    }
                    next += 1;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (next - 1, largest)
        })
    };

    let started = Instant::now();
    let per_node_rate = a.rate as f64 / a.validators as f64;
    let mut senders = Vec::new();
    for (c, node_batches) in clients.iter().cloned().zip(batches) {
        let sent = sent.clone();
        senders.push(tokio::spawn(async move {
            for (i, batch) in node_batches.into_iter().enumerate() {
                if per_node_rate > 0.0 {
                    let due =
                        started + Duration::from_secs_f64((i * batch.len()) as f64 / per_node_rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let now = Instant::now();
                {
                    let mut s = sent.lock().unwrap_or_else(|e| e.into_inner());
                    for t in &batch {
                        s.insert(t.hash(), now);
                    }
                }
                let results = c.submit_batch(&batch).await?;
                if let Some(err) = results.iter().find_map(|r| r.error.as_ref()) {
                    bail!("a validator refused a transfer: {} ({})", err.message, err.code);
                }
            }
            Ok(())
        }));
    }
    for s in senders {
        s.await??;
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let committed = seen.lock().unwrap_or_else(|e| e.into_inner()).len();
        if committed >= a.txs {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {committed} of {} transfers committed in 5 minutes", a.txs);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (end_height, max_block_txs) = watcher.await?;

    let sent = sent.lock().unwrap_or_else(|e| e.into_inner());
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(h, t0)| {
            seen.get(h).map(|t1| t1.saturating_duration_since(*t0).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let last = seen.values().max().copied().unwrap_or(started);
    let seconds = last.saturating_duration_since(started).as_secs_f64();
    Ok(BftReport {
        validators: a.validators,
        txs: a.txs,
        offered_per_s: a.rate,
        committed_per_s: a.txs as f64 / seconds.max(1e-9),
        latency_p50_ms: percentile(&latencies, 50.0),
        latency_p99_ms: percentile(&latencies, 99.0),
        latency_max_ms: latencies.last().copied().unwrap_or(0.0),
        blocks: end_height.saturating_sub(start_height),
        max_block_txs,
        seconds,
        // Filled in by `run` once the cluster has stopped.
        baseline_batch_verify_per_s: 0.0,
        ratio_committed_to_verify: 0.0,
    })
}
