//! `cairn bench transfers`: committed transfers per second on a solo node, reported beside
//! raw ed25519 batch verification measured in the same process, and their ratio.

use super::Ctx;
use crate::output;
use anyhow::{Context, bail};
use cairn_app::check::SIG_BATCH;
use cairn_client::Client;
use cairn_node::NodeConfig;
use cairn_types::crypto::{self, BatchItem};
use cairn_types::genesis::GenesisAccount;
use cairn_types::{Genesis, Keypair, Params, SignedTx, Transaction, TxBody};
use clap::Subcommand;
use rayon::prelude::*;
use std::time::{Duration, Instant};

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Commit signed transfers through a real node (HTTP batch submission, mempool, block
    /// production, redb commits) and compare with raw signature verification.
    Transfers {
        /// Transfers to commit.
        #[arg(long, default_value_t = 20_000)]
        txs: usize,
        /// Sending accounts (each sends txs/accounts transfers, at most 256).
        #[arg(long, default_value_t = 1_000)]
        accounts: usize,
        /// Milliseconds between blocks.
        #[arg(long, default_value_t = 200)]
        block_ms: u64,
        /// Transactions per HTTP batch request.
        #[arg(long, default_value_t = 2_000)]
        batch: usize,
    },
    /// Heartbeat reports through the whole pipeline (API batches to committed blocks),
    /// compared with raw batch verification of the same signatures.
    Reports {
        /// Registered devices.
        #[arg(long, default_value_t = 2_000)]
        devices: usize,
        /// Heartbeats per device.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Reports per gateway transaction.
        #[arg(long, default_value_t = 1_000)]
        per_tx: usize,
        /// Milliseconds between blocks.
        #[arg(long, default_value_t = 1_000)]
        block_ms: u64,
    },
    /// Mixed proofs of physical work (beacons, witnesses, sensor readings, storage
    /// answers) through the whole pipeline, compared with raw batch verification.
    Mixed {
        /// Hotspots: half beacon during set-up and witness each other in the run, half
        /// beacon in the run.
        #[arg(long, default_value_t = 8_000)]
        hotspots: usize,
        #[arg(long, default_value_t = 4_000)]
        sensors: usize,
        /// Readings per sensor.
        #[arg(long, default_value_t = 5)]
        readings: usize,
        /// Storage deals, one challenge answer each.
        #[arg(long, default_value_t = 2_000)]
        deals: usize,
        #[arg(long, default_value_t = 500)]
        block_ms: u64,
    },
    /// The epoch reward run (sensor and density scoring, reward report, Merkle root) for
    /// N devices with an epoch of realistic work in state: seconds and peak memory.
    Rewards {
        #[arg(long, default_value_t = 100_000)]
        devices: usize,
        /// Runs on the same state (the first gives the figures; all are listed).
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// A local BFT cluster (validator processes on loopback): committed transfers per
    /// second and commit latency (p50, p99) at an offered load.
    Bft(super::bench_bft::BftArgs),
    /// The store's write pattern: execute blocks of transfers and commit each (state
    /// changes, tree nodes, block, receipts) in one redb write transaction with fsync.
    Commit {
        /// Transfers per block; one line of results per value.
        #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
        per_block: Vec<usize>,
        /// Blocks per size.
        #[arg(long, default_value_t = 10)]
        blocks: usize,
        /// Funded accounts (the state size the tree works against).
        #[arg(long, default_value_t = 10_000)]
        accounts: usize,
    },
}

#[derive(serde::Serialize)]
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

/// `txs` transfers of 1 base unit from `keys` round-robin to the next key, at the minimum
/// fee of a 256-byte transaction, signed on all cores: every account's nonces are
/// consecutive from 0, and transaction i comes from account i mod keys.
pub fn sign_transfers(chain_id: &str, keys: &[Keypair], txs: usize) -> Vec<SignedTx> {
    let accounts = keys.len().max(1);
    let fee = Params::default().min_fee(256);
    (0..txs)
        .into_par_iter()
        .filter_map(|i| {
            let from = keys.get(i % accounts)?;
            let to = keys.get((i + 1) % accounts)?;
            let tx = Transaction {
                chain_id: chain_id.into(),
                signer: from.address(),
                nonce: (i / accounts) as u64,
                max_fee: fee,
                expiry_height: 1_000_000,
                body: TxBody::Transfer { to: to.address(), amount: 1 },
            };
            Some(tx.sign(from))
        })
        .collect()
}

pub async fn run(ctx: &Ctx, cmd: BenchCmd) -> anyhow::Result<()> {
    let (txs, accounts, block_ms, batch) = match cmd {
        BenchCmd::Transfers { txs, accounts, block_ms, batch } => (txs, accounts, block_ms, batch),
        BenchCmd::Rewards { devices, runs } => {
            let r = tokio::task::spawn_blocking(move || super::bench_rewards::run(devices, runs))
                .await??;
            if ctx.json {
                return output::json(&r);
            }
            measures(&[
                ("devices", r.devices.to_string()),
                ("paid", r.paid.to_string()),
                ("root", r.root.to_string()),
                ("report digest", r.report_digest.to_string()),
                ("state built in (s)", format!("{:.2}", r.build_seconds)),
                ("reward run (s)", format!("{:.3}", r.run_seconds)),
                ("processor time of the run (s)", format!("{:.2}", r.run_cpu_seconds)),
                ("the report alone, again (s)", format!("{:.3}", r.report_only_seconds)),
                ("  reading every device (s)", format!("{:.3}", r.gather_seconds)),
                ("  density and sensor scores (s)", format!("{:.3}", r.score_seconds)),
                ("  detectors, run and root (s)", format!("{:.3}", r.settle_seconds)),
                ("devices per second", format!("{:.0}", r.devices_per_second)),
                (
                    "baseline: ed25519 batch verifications per second",
                    format!("{:.0}", r.baseline_batch_verify_per_s),
                ),
                (
                    "devices per second / verifications per second",
                    format!("{:.2}", r.ratio_devices_to_verify),
                ),
                ("state RSS (MiB)", format!("{:.0}", r.state_rss_mib)),
                ("peak RSS during the run (MiB)", format!("{:.0}", r.peak_rss_mib)),
            ]);
            if r.repeats.len() > 1 {
                let list = |f: fn(&super::bench_rewards::Repeat) -> String| {
                    r.repeats.iter().map(f).collect::<Vec<_>>().join(", ")
                };
                measures(&[
                    ("every run (s)", list(|x| format!("{:.3}", x.run_seconds))),
                    ("every run's ratio", list(|x| format!("{:.2}", x.ratio_devices_to_verify))),
                ]);
            }
            return Ok(());
        }
        BenchCmd::Mixed { hotspots, sensors, readings, deals, block_ms } => {
            let r = super::bench_mixed::run(hotspots, sensors, readings, deals, block_ms).await?;
            if ctx.json {
                return output::json(&r);
            }
            measures(&[
                ("beacons", r.beacons.to_string()),
                ("witnesses", r.witnesses.to_string()),
                ("sensor readings", r.readings.to_string()),
                ("storage answers", r.storage_answers.to_string()),
                ("threads", r.threads.to_string()),
                (
                    "raw ed25519 batch verification (sig/s)",
                    format!("{:.0}", r.baseline_batch_verify_per_s),
                ),
                ("verified and committed (proofs/s)", format!("{:.0}", r.committed_per_s)),
                (
                    "ratio committed / raw verification",
                    format!("{:.3}", r.ratio_committed_to_verify),
                ),
                ("blocks", r.blocks.to_string()),
                ("seconds", format!("{:.2}", r.seconds)),
            ]);
            return Ok(());
        }
        BenchCmd::Reports { devices, rounds, per_tx, block_ms } => {
            let r = super::bench_reports::run(devices, rounds, per_tx, block_ms).await?;
            if ctx.json {
                return output::json(&r);
            }
            measures(&[
                ("devices", r.devices.to_string()),
                ("heartbeat reports", r.reports.to_string()),
                ("reports per transaction", r.reports_per_tx.to_string()),
                ("threads", r.threads.to_string()),
                (
                    "raw ed25519 batch verification (sig/s)",
                    format!("{:.0}", r.baseline_batch_verify_per_s),
                ),
                ("admitted through the API (reports/s)", format!("{:.0}", r.admitted_per_s)),
                ("verified and committed (reports/s)", format!("{:.0}", r.committed_per_s)),
                (
                    "ratio committed / raw verification",
                    format!("{:.3}", r.ratio_committed_to_verify),
                ),
                ("blocks", r.blocks.to_string()),
            ]);
            return Ok(());
        }
        BenchCmd::Bft(a) => {
            let r = super::bench_bft::run(a).await?;
            if ctx.json {
                return output::json(&r);
            }
            measures(&[
                ("validators", r.validators.to_string()),
                ("transfers", r.txs.to_string()),
                ("offered (tx/s)", r.offered_per_s.to_string()),
                ("committed (tx/s)", format!("{:.0}", r.committed_per_s)),
                ("commit latency p50 (ms)", format!("{:.0}", r.latency_p50_ms)),
                ("commit latency p99 (ms)", format!("{:.0}", r.latency_p99_ms)),
                ("commit latency max (ms)", format!("{:.0}", r.latency_max_ms)),
                ("blocks", r.blocks.to_string()),
                ("largest block (txs)", r.max_block_txs.to_string()),
                ("seconds", format!("{:.1}", r.seconds)),
                (
                    "raw batch verification (sig/s, all cores)",
                    format!("{:.0}", r.baseline_batch_verify_per_s),
                ),
                (
                    "ratio committed / raw verification",
                    format!("{:.3}", r.ratio_committed_to_verify),
                ),
            ]);
            return Ok(());
        }
        BenchCmd::Commit { per_block, blocks, accounts } => {
            let rows =
                tokio::task::spawn_blocking(move || commit(&per_block, blocks, accounts)).await??;
            if ctx.json {
                return output::json(&rows);
            }
            output::table(
                &[
                    "transfers/block",
                    "execute+root ms (median)",
                    "commit ms (median)",
                    "commit ms (last block)",
                    "tree nodes/block",
                    "committed tx/s",
                ],
                rows.iter()
                    .map(|r| {
                        vec![
                            r.per_block.to_string(),
                            format!("{:.2}", r.execute_ms_median),
                            format!("{:.2}", r.commit_ms_median),
                            format!("{:.2}", r.commit_ms_last),
                            r.tree_nodes_per_block.to_string(),
                            format!("{:.0}", r.tx_per_s),
                        ]
                    })
                    .collect(),
            );
            return Ok(());
        }
    };
    let report = transfers(txs, accounts, block_ms, batch).await?;
    if ctx.json {
        return output::json(&report);
    }
    measures(&[
        ("transfers", report.txs.to_string()),
        ("threads", report.threads.to_string()),
        (
            "raw ed25519 batch verification (sig/s)",
            format!("{:.0}", report.baseline_batch_verify_per_s),
        ),
        ("admitted through the API (tx/s)", format!("{:.0}", report.admitted_per_s)),
        ("committed (tx/s)", format!("{:.0}", report.committed_per_s)),
        ("ratio committed / raw verification", format!("{:.3}", report.ratio_committed_to_verify)),
        ("blocks", report.blocks.to_string()),
    ]);
    Ok(())
}

pub async fn transfers(
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
    let items: Vec<(cairn_types::Address, cairn_types::Signature, Vec<u8>)> =
        signed.par_iter().map(|t| (t.tx.signer, t.signature, t.signing_message())).collect();
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

    // Averaged over before and after the run (see bench_reports).
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

#[derive(serde::Serialize)]
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Executes and commits blocks straight on the store (no HTTP, no mempool): the write
/// pattern that ADR 0002 is about.
pub fn commit(sizes: &[usize], blocks: usize, accounts: usize) -> anyhow::Result<Vec<CommitRow>> {
    use cairn_app::{App, Parent, SizedTx};
    use cairn_types::{Block, Certificate};
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
        let dir = tempfile_dir()?;
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
                e.rewards.as_ref(),
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

/// Starts a solo node in this process on a fresh temporary data directory, with `funded`
/// accounts holding plenty of CRN.
pub async fn start_node(
    chain_id: &str,
    funded: &[&Keypair],
    params: Params,
    block_ms: u64,
) -> anyhow::Result<(cairn_node::NodeHandle, Client, std::path::PathBuf)> {
    let dir = tempfile_dir()?;
    let validator = Keypair::generate();
    let genesis = Genesis {
        chain_id: chain_id.into(),
        genesis_time_ms: 0,
        validator: validator.address(),
        validators: Vec::new(),
        accounts: funded
            .iter()
            .map(|k| GenesisAccount { address: k.address(), balance: 1_000_000_000_000 })
            .collect(),
        params,
    };
    cairn_node::write_validator_key(&dir, &validator)?;
    std::fs::write(dir.join(cairn_node::GENESIS_FILE), serde_json::to_vec(&genesis)?)?;
    let mut config = NodeConfig::new(dir.clone());
    config.listen = "127.0.0.1:0".parse()?;
    config.block_interval = Duration::from_millis(block_ms);
    let node = cairn_node::start(config).await?;
    let client = Client::new(&format!("http://{}", node.addr))?;
    Ok((node, client, dir))
}

/// Raw ed25519 batch verification of `items` on all cores, in batches of [`SIG_BATCH`]:
/// the baseline every throughput is compared with. Returns signatures per second.
pub fn baseline_verify(
    items: &[(cairn_types::Address, cairn_types::Signature, Vec<u8>)],
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let valid: usize = items
        .par_chunks(SIG_BATCH)
        .map(|chunk| {
            let refs: Vec<BatchItem<'_>> =
                chunk.iter().map(|(a, s, m)| (a, s, m.as_slice())).collect();
            crypto::verify_batch(&refs).into_iter().filter(|ok| *ok).count()
        })
        .sum();
    let secs = started.elapsed().as_secs_f64();
    if valid != items.len() {
        bail!("baseline verification rejected {} signatures", items.len() - valid);
    }
    Ok(items.len() as f64 / secs)
}

pub fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("cairn-bench-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Prints a two-column table of measures.
fn measures(rows: &[(&str, String)]) {
    output::table(
        &["measure", "value"],
        rows.iter().map(|(k, v)| vec![k.to_string(), v.clone()]).collect(),
    );
}
