//! `cairn bench …`: the command line and the output of the benchmarks. What they run and
//! measure is the `cairn-bench` crate; each prints a table of measures, or with `--json` the
//! crate's report as it is.

use super::Ctx;
use crate::output;
use anyhow::Context;
use cairn_bench::bft::BftOptions;
use clap::Subcommand;

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
    /// A node at scale: registers and locates N devices of every class through a solo node
    /// in this process, runs E epochs of device traffic (beacons, witnesses, heartbeats,
    /// readings), and reports peak memory, store bytes per device and per report, block
    /// and reward-run times and the table sizes of the store.
    Node {
        /// Devices, of all six classes (4 in 10 hotspots, 2 sensors, 1 of each other).
        #[arg(long, default_value_t = 10_000)]
        devices: usize,
        /// Epochs of traffic.
        #[arg(long, default_value_t = 3)]
        epochs: u64,
        /// Blocks of an epoch (traffic must commit within one; default: 120, or one block
        /// for every 250 devices above 30,000: 400 at 100,000, 4,000 at 1,000,000).
        #[arg(long)]
        blocks_per_epoch: Option<u64>,
        /// Milliseconds between blocks while traffic is in flight.
        #[arg(long, default_value_t = 500)]
        block_ms: u64,
        /// Heartbeats of every device per epoch.
        #[arg(long, default_value_t = 2)]
        heartbeats: usize,
        /// Readings of every sensor per epoch.
        #[arg(long, default_value_t = 3)]
        readings: usize,
        /// The store's page cache bound, MiB (as `cairn node --store-cache-mib`).
        #[arg(long, default_value_t = cairn_store::DEFAULT_CACHE_BYTES >> 20)]
        store_cache_mib: usize,
        /// Keep every epoch's history (as `cairn node --archive`).
        #[arg(long, conflicts_with = "keep_epochs")]
        archive: bool,
        /// Epochs of history kept (as `cairn node --keep-epochs`; default: the least the
        /// bench chain's windows need).
        #[arg(long)]
        keep_epochs: Option<u64>,
        /// Tree versions kept (as `cairn node --keep-versions`; 0: all).
        #[arg(long, default_value_t = cairn_node::DEFAULT_KEEP_VERSIONS)]
        keep_versions: u64,
        /// Blocks after each boundary that settle its reward run, computed by the node in
        /// the background meanwhile (`reward_settle_delay_blocks`; 0: inside the boundary
        /// block; default: a new chain's, a third of an epoch up to 20).
        #[arg(long)]
        settle_delay_blocks: Option<u64>,
        /// The chain's state layout (ADR 0036, 0037): `folded`, as a new chain's, or
        /// `compact` or `legacy`, as chains started before it.
        #[arg(long, default_value = "folded", value_parser = parse_layout)]
        state_layout: cairn_types::genesis::StateLayout,
        /// Entries of a reward run each block settles at least
        /// (`reward_settle_entries_per_block`; 0: the whole run in its due block).
        #[arg(long, default_value_t = cairn_types::genesis::DEFAULT_REWARD_SETTLE_ENTRIES_PER_BLOCK)]
        settle_entries_per_block: u64,
    },
    /// A local BFT cluster (validator processes on loopback): committed transfers per
    /// second and commit latency (p50, p99) at an offered load.
    Bft(BftArgs),
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

#[derive(Debug, Clone, clap::Args)]
pub struct BftArgs {
    /// Validator processes.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Transfers to commit.
    #[arg(long, default_value_t = 60_000)]
    pub txs: usize,
    /// Sending accounts (each sends txs/accounts transfers, at most 256).
    #[arg(long, default_value_t = 2_000)]
    pub accounts: usize,
    /// Offered load, transfers per second over all validators (0: as fast as accepted).
    #[arg(long, default_value_t = 6_000)]
    pub rate: u64,
    /// Transfers per HTTP batch request.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Target milliseconds per block.
    #[arg(long, default_value_t = 300)]
    pub block_ms: u64,
    /// First of the 2 × validators loopback ports the cluster uses.
    #[arg(long, default_value_t = 26_700)]
    pub base_port: u16,
    /// Most transactions per proposal.
    #[arg(long, default_value_t = 5_000)]
    pub max_proposal_txs: u32,
    /// Keep the cluster's directory (node logs) after the run.
    #[arg(long)]
    pub keep: bool,
}

pub async fn run(ctx: &Ctx, cmd: BenchCmd) -> anyhow::Result<()> {
    let (txs, accounts, block_ms, batch) = match cmd {
        BenchCmd::Transfers { txs, accounts, block_ms, batch } => (txs, accounts, block_ms, batch),
        BenchCmd::Rewards { devices, runs } => {
            let r = tokio::task::spawn_blocking(move || cairn_bench::rewards::run(devices, runs))
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
                (
                    "report decoded / packed (MiB)",
                    format!(
                        "{:.0} / {:.0}",
                        r.report_decoded_bytes as f64 / 1048576.0,
                        r.report_packed_bytes as f64 / 1048576.0
                    ),
                ),
                ("peak RSS during the run (MiB)", format!("{:.0}", r.peak_rss_mib)),
            ]);
            if r.repeats.len() > 1 {
                let list = |f: fn(&cairn_bench::rewards::Repeat) -> String| {
                    r.repeats.iter().map(f).collect::<Vec<_>>().join(", ")
                };
                measures(&[
                    ("every run (s)", list(|x| format!("{:.3}", x.run_seconds))),
                    ("every run's ratio", list(|x| format!("{:.2}", x.ratio_devices_to_verify))),
                ]);
            }
            return Ok(());
        }
        BenchCmd::Node {
            devices,
            epochs,
            blocks_per_epoch,
            block_ms,
            heartbeats,
            readings,
            store_cache_mib,
            archive,
            keep_epochs,
            keep_versions,
            settle_delay_blocks,
            state_layout,
            settle_entries_per_block,
        } => {
            let blocks_per_epoch = blocks_per_epoch
                .unwrap_or_else(|| cairn_bench::node::default_blocks_per_epoch(devices));
            let settle_delay_blocks = settle_delay_blocks.unwrap_or_else(|| {
                cairn_types::genesis::default_reward_settle_delay(blocks_per_epoch)
            });
            let opts = cairn_bench::node::NodeOptions {
                devices,
                epochs,
                blocks_per_epoch,
                block_ms,
                heartbeats,
                readings,
                store_cache_mib,
                archive,
                keep_epochs,
                keep_versions,
                settle_delay_blocks,
                state_layout,
                settle_entries_per_block,
                chunk_devices: cairn_bench::node::CHUNK_DEVICES,
            };
            let r = cairn_bench::node::run(opts).await?;
            if ctx.json {
                return output::json(&r);
            }
            measures(&[
                ("devices", r.devices.to_string()),
                ("epochs", r.epochs.to_string()),
                ("reports accepted", r.reports_accepted.to_string()),
                (
                    "history kept",
                    match r.keep_epochs {
                        None => "every epoch (archive)".into(),
                        Some(k) => format!("{k} epochs"),
                    },
                ),
                (
                    "tree versions kept",
                    match r.keep_versions {
                        0 => "every version".into(),
                        k => k.to_string(),
                    },
                ),
                ("peak RSS (MiB)", format!("{:.0}", r.peak_rss_mib)),
                ("RSS after set-up (MiB)", format!("{:.0}", r.rss_after_setup_mib)),
                ("state bytes per device", format!("{:.0}", r.state_bytes_per_device)),
                ("store bytes per device", format!("{:.0}", r.store_bytes_per_device)),
                ("store bytes per report", format!("{:.0}", r.store_bytes_per_report)),
                ("block interval (ms)", r.block_ms.to_string()),
                ("proposer's time per block (ms)", r.propose_within_ms.to_string()),
                ("mean block, start to durable (ms)", format!("{:.1}", r.mean_block_ms)),
                ("max block, start to durable (ms)", format!("{:.1}", r.max_block_ms)),
                ("max block in the producer (ms)", format!("{:.1}", r.max_block_handoff_ms)),
                ("max block build after set-up (ms)", format!("{:.1}", r.max_traffic_block_ms)),
                ("boundary block (ms)", format!("{:.1}", r.boundary_block_ms)),
                ("settle delay (blocks)", r.settle_delay_blocks.to_string()),
                ("settle share (entries a block)", r.settle_entries_per_block.to_string()),
                ("settle blocks (most)", r.settle_blocks.to_string()),
                ("settle block (ms)", format!("{:.1}", r.settle_block_ms)),
                ("reward run (ms)", format!("{:.1}", r.reward_run_ms)),
                ("reports per second", format!("{:.0}", r.reports_per_s)),
                (
                    "raw ed25519 batch verification (sig/s)",
                    format!("{:.0}", r.baseline_batch_verify_per_s),
                ),
                ("ratio reports / raw verification", format!("{:.3}", r.ratio_mixed_to_verify)),
            ]);
            output::table(
                &["table", "rows", "stored bytes", "metadata bytes", "fragmented bytes"],
                r.tables
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.entries.to_string(),
                            t.stored_bytes.to_string(),
                            t.metadata_bytes.to_string(),
                            t.fragmented_bytes.to_string(),
                        ]
                    })
                    .collect(),
            );
            output::table(
                &["epoch", "reports", "store file MiB", "pages in use MiB", "state MiB"],
                r.per_epoch
                    .iter()
                    .map(|e| {
                        let mib = |b: u64| format!("{:.1}", b as f64 / f64::from(1 << 20));
                        vec![
                            e.epoch.to_string(),
                            e.reports.to_string(),
                            mib(e.store_file_bytes),
                            mib(e.store_allocated_bytes),
                            mib(e.state_bytes),
                        ]
                    })
                    .collect(),
            );
            return Ok(());
        }
        BenchCmd::Mixed { hotspots, sensors, readings, deals, block_ms } => {
            let r = cairn_bench::mixed::run(hotspots, sensors, readings, deals, block_ms).await?;
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
            let r = cairn_bench::reports::run(devices, rounds, per_tx, block_ms).await?;
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
            let node_exe = std::env::current_exe().context("locating the cairn binary")?;
            let r = cairn_bench::bft::run(BftOptions {
                node_exe,
                validators: a.validators,
                txs: a.txs,
                accounts: a.accounts,
                rate: a.rate,
                batch: a.batch,
                block_ms: a.block_ms,
                base_port: a.base_port,
                max_proposal_txs: a.max_proposal_txs,
                keep: a.keep,
            })
            .await?;
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
            let rows = tokio::task::spawn_blocking(move || {
                cairn_bench::commit::run(&per_block, blocks, accounts)
            })
            .await??;
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
    let report = cairn_bench::transfers::run(txs, accounts, block_ms, batch).await?;
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

/// Prints a two-column table of measures.
fn measures(rows: &[(&str, String)]) {
    output::table(
        &["measure", "value"],
        rows.iter().map(|(k, v)| vec![k.to_string(), v.clone()]).collect(),
    );
}

/// A state layout by its JSON name (`legacy`, `compact`, `folded`).
fn parse_layout(s: &str) -> Result<cairn_types::genesis::StateLayout, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("{s:?} is not a state layout (legacy, compact, folded)"))
}
