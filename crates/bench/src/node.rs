//! `cairn bench node`: a solo node in this process, at scale. N devices of all six classes
//! are registered and located through the node (signed transactions through the HTTP API,
//! the mempool and block execution, never written into state directly), then E epochs of
//! device traffic go through it: every hotspot beacons once an epoch and half of them
//! witness four beacons each, every device sends heartbeats, every sensor sends readings.
//! Storage deals, compute jobs and usage channels are not part of the traffic.
//!
//! The bench drives the node's block production itself (the node runs with blocks on
//! demand): a block every `block_ms` while the epoch's traffic is in flight, then blocks
//! back to back up to the next epoch boundary. With no settle delay, before each boundary
//! block the reward run of the epoch ending (`block::boundary_report`, what the boundary
//! block computes) is timed on the same state, alone. With a settle delay (the default, as
//! a new chain's), the node computes the run in the background once the epoch's last block
//! commits (docs/adr/0034-deferred-reward-run.md); the bench makes the boundary block and
//! the blocks up to the settle block one every `block_ms`, and takes the run's time from
//! the node. Blocks are made as the ticking node makes them, each committed beside the
//! next one's execution (ADR 0045): every block is timed from its start to being handed
//! to its commit, and from its start to durable.
//!
//! The bench's own memory does not grow with N: a device's key is derived from its index
//! whenever it signs, set-up transactions are signed a wave at a time, and each traffic
//! phase is made, signed and submitted [`CHUNK_DEVICES`] devices at a time, the next chunk
//! once the mempool has room (docs/adr/0038-node-memory-at-scale.md).
//!
//! The report holds the memory peak of the process, the store's size per device and per
//! accepted report, block and reward-run times, every store table's bytes and the
//! throughput of the traffic as a ratio to raw batch verification in the same process.
//! docs/benchmarks.md defines every field.

use crate::measure::{PER_SENDER, VerifyItem, baseline_verify, start_node_with, submit_all};
use anyhow::{Context, bail};
use cairn_node::{NodeConfig, Shared};
use cairn_store::TableBytes;
use cairn_types::device::beacon_data;
use cairn_types::device_key::{DeviceId, DeviceKey, DeviceSignature, DeviceSigner};
use cairn_types::tx::sign_tx;
use cairn_types::{
    Address, DeviceClass, Hash, Keypair, Params, Report, ReportPayload, Signature, SignedReport,
    SignedTx, TxBody,
};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CHAIN: &str = "cairn-bench-node";
/// Witnesses each listening hotspot sends an epoch, of beacons of the other owner.
const WITNESSES: usize = 4;
const FREQ: u32 = 868_100;
/// Most reports in one gateway transaction (a device's reports of a phase are never split).
const REPORTS_PER_TX: usize = 1_000;
/// Transactions per HTTP batch request: set-up transactions are small, report batches not.
const SETUP_PER_REQUEST: usize = 2_000;
/// The bench chain's epoch by default, in blocks: 120, or one block for every
/// [`DEVICES_PER_BLOCK`] devices when that is more. An epoch carries about four reports a
/// device (plus the spread settlement of the run before), so a fleet's traffic needs
/// epochs that grow with it: 1,000,000 devices send 3.8 M reports an epoch, about 950 a
/// block over 4,000 blocks, within what a loaded standard machine commits.
pub fn default_blocks_per_epoch(devices: usize) -> u64 {
    (devices.div_ceil(DEVICES_PER_BLOCK) as u64).max(120)
}

/// Devices for each block of the bench chain's default epoch ([`default_blocks_per_epoch`]).
pub const DEVICES_PER_BLOCK: usize = 250;

/// Set-up transactions submitted at once, within the mempool's 100,000: the registrations
/// and locations of 20,000 devices, a multiple of an owner pair's 200 devices.
const SETUP_WAVE: usize = 40_000;
const REPORTS_TXS_PER_REQUEST: usize = 8;
/// Devices whose reports of a phase are signed and submitted at once (by default): about
/// 26,000 reports, 6 MiB of transactions, in the second phase. A chunk's beacons name the
/// head's entropy when it is signed and must commit within the chain's entropy window
/// (256 blocks): a chunk and the backlog allowed before it ([`MEMPOOL_LOW_BYTES`]) are
/// about 50 blocks at the slowest rate seen (1,000 reports a block, at 1,000,000 devices on
/// a loaded machine), where 50,000 devices behind 32 MiB were past the window.
pub const CHUNK_DEVICES: usize = 10_000;
/// The next chunk of reports is signed once the mempool holds at most this (of its 128 MiB):
/// a few blocks' worth, so blocks stay full while the next chunk is signed.
const MEMPOOL_LOW_BYTES: usize = 8 << 20;
/// Signatures of the baseline (a sample of the traffic's report signatures).
const BASELINE_SAMPLE: usize = 32_768;

/// What `cairn bench node` runs.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Devices, of all six classes (see [`class_of`]).
    pub devices: usize,
    /// Epochs of traffic.
    pub epochs: u64,
    /// Blocks of an epoch.
    pub blocks_per_epoch: u64,
    /// Milliseconds between blocks while traffic is in flight.
    pub block_ms: u64,
    /// Heartbeats of every device per epoch (at least 1).
    pub heartbeats: usize,
    /// Readings of every sensor per epoch.
    pub readings: usize,
    /// The store's page cache bound, MiB.
    pub store_cache_mib: usize,
    /// Keep every epoch's history (`cairn node --archive`).
    pub archive: bool,
    /// Epochs of history kept (`cairn node --keep-epochs`; `None`: the chain's least).
    pub keep_epochs: Option<u64>,
    /// Tree versions kept (`cairn node --keep-versions`; 0: all).
    pub keep_versions: u64,
    /// Blocks after the boundary that settle each reward run
    /// (`Params::reward_settle_delay_blocks`; 0: the run inside the boundary block).
    pub settle_delay_blocks: u64,
    /// The chain's state layout (ADR 0036).
    pub state_layout: cairn_types::genesis::StateLayout,
    /// Entries of a reward run a block settles at least
    /// (`Params::reward_settle_entries_per_block`; 0: the whole run in its due block).
    pub settle_entries_per_block: u64,
    /// Devices whose reports of a phase the bench signs and submits at once.
    pub chunk_devices: usize,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            devices: 10_000,
            epochs: 3,
            blocks_per_epoch: 120,
            block_ms: 500,
            heartbeats: 2,
            readings: 3,
            store_cache_mib: cairn_store::DEFAULT_CACHE_BYTES >> 20,
            archive: false,
            keep_epochs: None,
            keep_versions: cairn_node::DEFAULT_KEEP_VERSIONS,
            settle_delay_blocks: cairn_types::genesis::default_reward_settle_delay(120),
            state_layout: cairn_types::genesis::StateLayout::Folded,
            settle_entries_per_block: cairn_types::genesis::DEFAULT_REWARD_SETTLE_ENTRIES_PER_BLOCK,
            chunk_devices: CHUNK_DEVICES,
        }
    }
}

/// One epoch of traffic.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpochRun {
    pub epoch: u64,
    pub reports: u64,
    /// Seconds from the first submission to the last report committed.
    pub traffic_seconds: f64,
    /// This epoch's boundary block (the one that rewards it), start to durable, ms.
    pub boundary_block_ms: f64,
    /// The reward run of this epoch, ms: with no settle delay, alone, on the state before
    /// the boundary block; with one, as the node computed it in the background.
    pub reward_run_ms: f64,
    /// The longest, start to durable, of the blocks that settled this epoch's run, ms (with a
    /// settle delay).
    pub settle_block_ms: f64,
    /// How many blocks settled this epoch's run (with a settle delay; more than one when
    /// the settlement is spread, ADR 0041).
    pub settle_blocks: u64,
    /// How far the process's peak resident memory rose during that reward run, MiB.
    pub reward_run_peak_rise_mib: f64,
    /// Resident memory after the boundary block, MiB.
    pub rss_mib: f64,
    /// The store file's size after the boundary block, bytes.
    pub store_file_bytes: u64,
    /// Bytes of the file's pages in use after the boundary block.
    pub store_allocated_bytes: u64,
    /// Key and value bytes of the state tables after the boundary block.
    pub state_bytes: u64,
}

/// The report of `cairn bench node`. docs/benchmarks.md defines every field.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeBench {
    pub devices: usize,
    pub devices_by_class: BTreeMap<String, usize>,
    pub epochs: u64,
    pub blocks_per_epoch: u64,
    pub block_ms: u64,
    /// How long the producer spends at most on a block before it stops taking candidates
    /// (`cairn_app::proposal_time` of `block_ms`; ADR 0039).
    pub propose_within_ms: u64,
    pub store_cache_mib: usize,
    pub archive: bool,
    /// Epochs of history the node kept.
    pub keep_epochs: Option<u64>,
    /// Tree versions the node kept (0: all).
    pub keep_versions: u64,
    /// The chain's state layout.
    pub state_layout: cairn_types::genesis::StateLayout,
    pub setup_transactions: u64,
    pub reports_accepted: u64,
    pub reports_rejected: u64,
    pub blocks: u64,
    pub peak_rss_mib: f64,
    pub rss_after_setup_mib: f64,
    pub rss_end_mib: f64,
    pub state_bytes: u64,
    pub state_bytes_per_device: f64,
    pub store_file_bytes: u64,
    /// Bytes of the file's pages in use at the end (the rest is free space).
    pub store_allocated_bytes: u64,
    pub store_bytes_per_device: f64,
    pub store_bytes_per_report: f64,
    /// A block's time from its start to durable, made as the ticking node makes it (its
    /// commit beside the next block's execution, ADR 0049).
    pub mean_block_ms: f64,
    pub max_block_ms: f64,
    /// The longest a block held the producer: from its start to being handed to its commit
    /// (its execution and the wait for the block before's commit).
    pub max_block_handoff_ms: f64,
    pub boundary_block_ms: f64,
    pub reward_run_ms: f64,
    /// Blocks after the boundary that settle each reward run.
    pub settle_delay_blocks: u64,
    /// Entries of a reward run a block settles at least (0: the whole run in one block).
    pub settle_entries_per_block: u64,
    /// The longest, start to durable, of the traffic epochs' settle blocks, ms.
    pub settle_block_ms: f64,
    /// The most blocks one run's settlement took.
    pub settle_blocks: u64,
    /// The longest, start to durable, of any block from the first traffic epoch on (set-up's
    /// registration blocks left out), ms.
    pub max_traffic_block_ms: f64,
    pub mempool_peak_bytes: usize,
    pub reports_per_s: f64,
    pub baseline_batch_verify_per_s: f64,
    pub ratio_mixed_to_verify: f64,
    pub per_epoch: Vec<EpochRun>,
    /// Every store table at the end.
    pub tables: Vec<TableBytes>,
    /// Every table's growth in stored (key and value) bytes over the traffic, per report.
    pub table_bytes_per_report: BTreeMap<String, f64>,
    /// The latest state at the end by kind of key (`dev/`, `devep/`, `idx/owner/`, …): keys
    /// and their key and value bytes.
    pub state_by_prefix: BTreeMap<String, cairn_store::PrefixBytes>,
    pub seconds: f64,
}

/// The class of device `i`: of every ten, four hotspots, two sensors and one of each other
/// class.
pub fn class_of(i: usize) -> DeviceClass {
    match i % 10 {
        0..=3 => DeviceClass::Hotspot,
        4 | 5 => DeviceClass::Sensor,
        6 => DeviceClass::Storage,
        7 => DeviceClass::Compute,
        8 => DeviceClass::Energy,
        _ => DeviceClass::Relay,
    }
}

/// The owner of device `i`: each owner has `PER_SENDER / 2` devices (a registration and a
/// location each, the mempool's limit per sender), and owners alternate with the device's
/// parity, so hotspots next to each other in the list of hotspots (which alternate in
/// parity, see [`class_of`]) have different owners.
pub fn owner_of(i: usize) -> usize {
    let per_owner = PER_SENDER / 2;
    2 * (i / (2 * per_owner)) + i % 2
}

/// `(bytes, rows)` divided by a count, 0 for a count of 0.
pub fn per(bytes: u64, count: u64) -> f64 {
    if count == 0 { 0.0 } else { bytes as f64 / count as f64 }
}

/// Key and value bytes of the state tables ([`cairn_store::STATE_TABLES`]).
pub fn state_bytes(tables: &[TableBytes]) -> u64 {
    tables
        .iter()
        .filter(|t| cairn_store::STATE_TABLES.contains(&t.name.as_str()))
        .map(|t| t.stored_bytes)
        .sum()
}

/// Each table's growth in stored bytes from `before` to `after`, per `reports`.
pub fn growth_per_report(
    before: &[TableBytes],
    after: &[TableBytes],
    reports: u64,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|a| {
            let b = before.iter().find(|b| b.name == a.name).map_or(0, |b| b.stored_bytes);
            (a.name.clone(), per(a.stored_bytes.saturating_sub(b), reports))
        })
        .collect()
}

/// `VmRSS` or `VmHWM` of this process from /proc, in MiB (0 where /proc is missing).
pub fn proc_mib(field: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    parse_status_mib(&text, field)
}

/// A `kB` field of a /proc status text, in MiB (0 when missing).
pub fn parse_status_mib(text: &str, field: &str) -> f64 {
    text.lines()
        .find(|l| l.split(':').next() == Some(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak-RSS counter (Linux: writing 5 to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Block production driven by the bench, with what it measured.
struct Blocks {
    shared: Arc<Shared>,
    params: Params,
    block_ms: u64,
    /// Each block's time from its start to durable, by height.
    durable_ms: BTreeMap<u64, f64>,
    /// Each block's time in the producer: from its start to being handed to its commit,
    /// the wait for the block before's commit included (ADR 0045).
    handoff_ms: Vec<f64>,
    mempool_peak: usize,
    /// The largest `VmHWM` read before each reset of the peak counter (MiB).
    rss_peak_before_resets: f64,
    /// Per reward run (by the epoch it rewards), the blocks that settled it: a spread
    /// settlement (ADR 0041) runs on beside the next epoch's traffic, so its blocks are
    /// noted as they are made.
    settlements: BTreeMap<u64, Vec<u64>>,
}

impl Blocks {
    /// The height of the last block made: the one still being committed, if any.
    fn height(&self) -> anyhow::Result<u64> {
        if let Some(flight) = self.shared.in_flight().as_ref() {
            return Ok(flight.height());
        }
        Ok(self.shared.snapshot()?.height()?.unwrap_or(0))
    }

    /// Produces one block as the ticking node does (`produce_ahead`: built on the block
    /// before while that one commits, then left committing). Its time to durable is known
    /// once the next block is handed on, or [`Blocks::finish_in_flight`]. Returns its height.
    async fn produce(&mut self) -> anyhow::Result<u64> {
        self.mempool_peak = self.mempool_peak.max(self.shared.mempool().bytes());
        let before = self.shared.in_flight().as_ref().map(cairn_node::pipeline::InFlight::height);
        let s = self.shared.clone();
        let started = Instant::now();
        let handed =
            tokio::task::spawn_blocking(move || cairn_node::producer::produce_ahead(&s)).await??;
        self.handoff_ms.push(started.elapsed().as_secs_f64() * 1e3);
        if let (Some(height), Some(took)) = (before, handed.before) {
            self.durable_ms.insert(height, took.as_secs_f64() * 1e3);
        }
        let flight = self.shared.in_flight();
        let made = flight.as_ref().context("a block made is in flight")?;
        let height = made.height();
        // The deferred reward run whose entries the block settled, if any.
        let deferred = self.params.reward_settle_delay_blocks > 0;
        let settled = made.executed.reward_index.as_ref().filter(|c| deferred && c.to > c.from);
        if let Some(epoch) = settled.map(|c| c.epoch()) {
            self.settlements.entry(epoch).or_default().push(height);
        }
        Ok(height)
    }

    /// Waits until the block still being committed is durable.
    async fn finish_in_flight(&mut self) -> anyhow::Result<()> {
        let height = self.shared.in_flight().as_ref().map(cairn_node::pipeline::InFlight::height);
        let s = self.shared.clone();
        let durable =
            tokio::task::spawn_blocking(move || cairn_node::producer::finish_in_flight(&s))
                .await??;
        if let (Some(height), Some(took)) = (height, durable) {
            self.durable_ms.insert(height, took.as_secs_f64() * 1e3);
        }
        Ok(())
    }

    /// Block `height`'s time from its start to durable, ms (0 if not made by the bench).
    fn durable(&self, height: u64) -> f64 {
        self.durable_ms.get(&height).copied().unwrap_or(0.0)
    }

    /// Makes a block every `block_ms` until no reward run is pending, and waits for the
    /// last to be durable.
    async fn finish_settlement(&mut self) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(Duration::from_millis(self.block_ms.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while self.run_pending()? {
            tick.tick().await;
            self.produce().await?;
        }
        self.finish_in_flight().await
    }

    /// Whether a reward run is pending after the last block made, the one still being
    /// committed included.
    fn run_pending(&self) -> anyhow::Result<bool> {
        let snap = self.shared.snapshot()?;
        let head = snap.height()?;
        let flight = self.shared.in_flight();
        let pending = match flight.as_ref().filter(|f| head != Some(f.height())) {
            Some(f) => {
                let tip = cairn_node::pipeline::Ahead::new(&snap, &f.executed)?;
                cairn_app::rewards::deferred::pending(&tip)?
            }
            None => cairn_app::rewards::deferred::pending(&snap)?,
        };
        Ok(pending.is_some())
    }

    /// Makes a block every `block_ms` until `done` holds; fails rather than make the next
    /// epoch's first block.
    async fn until(&mut self, what: &str, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(Duration::from_millis(self.block_ms.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !done() {
            tick.tick().await;
            let next = self.height()? + 1;
            if self.params.starts_epoch(next) {
                bail!(
                    "{what} did not commit within the epoch; raise --blocks-per-epoch or lower \
                     --devices"
                );
            }
            self.produce().await?;
        }
        Ok(())
    }

    /// Makes blocks back to back up to the next epoch's first block. With no settle delay,
    /// times the reward run it will do on the same state before that block; with one,
    /// makes the boundary block and the blocks up to the first settle block one every
    /// `block_ms`, and takes the run's time from the node; a spread settlement goes on
    /// beside the next epoch's traffic ([`Blocks::settlements`] counts its blocks). Returns
    /// the times.
    async fn run_to_boundary(&mut self) -> anyhow::Result<BoundaryTimes> {
        let gauge = self.shared.metrics.chain.reward_run_seconds.clone();
        gauge.set(0.0);
        while !self.params.starts_epoch(self.height()? + 1) {
            self.produce().await?;
        }
        let boundary = self.height()? + 1;
        let delay = self.params.reward_settle_delay_blocks;
        if delay > 0 {
            let mut tick = tokio::time::interval(Duration::from_millis(self.block_ms.max(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            self.produce().await?;
            while self.height()? < boundary + delay {
                tick.tick().await;
                self.produce().await?;
            }
            // The node's time of the run it computed in the background (set as the run
            // ends, which the settle block may have waited for).
            let waited = Instant::now();
            while gauge.get() == 0.0 && waited.elapsed() < Duration::from_secs(10) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let run_seconds = gauge.get();
            if run_seconds == 0.0 {
                bail!("the node computed no reward run in the background");
            }
            return Ok(BoundaryTimes { boundary, reward_ms: run_seconds * 1e3, rise_mib: 0.0 });
        }
        // The run is timed on the state before the boundary block, committed.
        self.finish_in_flight().await?;
        let (s, params) = (self.shared.clone(), self.params.clone());
        // The counter is reset for the reward run: keep the peak so far.
        self.rss_peak_before_resets = self.rss_peak_before_resets.max(proc_mib("VmHWM"));
        let (reward_ms, rise) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let snap = s.snapshot()?;
            let before = proc_mib("VmRSS");
            reset_peak();
            let started = Instant::now();
            let report =
                cairn_app::block::boundary_report(&snap, &params, boundary, Some(s.key.address()))?;
            let ms = started.elapsed().as_secs_f64() * 1e3;
            report.context("the boundary block makes no reward report")?;
            Ok((ms, (proc_mib("VmHWM") - before).max(0.0)))
        })
        .await??;
        let boundary = self.produce().await?;
        Ok(BoundaryTimes { boundary, reward_ms, rise_mib: rise })
    }
}

/// What [`Blocks::run_to_boundary`] timed, ms (and MiB).
struct BoundaryTimes {
    /// The boundary block's height (its time is known once it is durable).
    boundary: u64,
    reward_ms: f64,
    rise_mib: f64,
}

/// A submission running in a task of its own and the flag it raises when a request is
/// refused (its error is the task's result), so a wait for its blocks can end at once.
type Submission = (tokio::task::JoinHandle<anyhow::Result<()>>, Arc<std::sync::atomic::AtomicBool>);

/// Submits `txs`, `per_request` a request, from a task of its own.
fn submit_in_background(
    client: &cairn_client::Client,
    txs: Vec<SignedTx>,
    per_request: usize,
) -> Submission {
    let client = client.clone();
    let refused = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = refused.clone();
    let task = tokio::spawn(async move {
        let r = submit_all(&client, &txs, per_request).await;
        flag.store(r.is_err(), std::sync::atomic::Ordering::Release);
        r
    });
    (task, refused)
}

/// Submits `txs` from a task of its own, `per_request` a request, while the bench makes
/// blocks until `target` transactions are committed in all; fails on any refusal.
async fn submit_and_commit(
    blocks: &mut Blocks,
    client: &cairn_client::Client,
    txs: Vec<SignedTx>,
    per_request: usize,
    what: &str,
) -> anyhow::Result<()> {
    let committed = blocks.shared.metrics.chain.txs_committed.clone();
    let target = committed.get() + txs.len() as u64;
    let (task, refused) = submit_in_background(client, txs, per_request);
    // A refused submission ends the wait at once (its error is the task's result).
    blocks
        .until(what, || {
            committed.get() >= target || refused.load(std::sync::atomic::Ordering::Acquire)
        })
        .await?;
    task.await??;
    if committed.get() < target {
        bail!("{what}: only {} of {} transactions committed", committed.get(), target);
    }
    Ok(())
}

/// Packs each device's reports, in order, into gateway transactions of at most
/// [`REPORTS_PER_TX`] reports, never splitting one device's reports, so they commit in
/// sequence order. Gateways are taken in turn from `gateways`, each at most [`PER_SENDER`]
/// transactions of a phase: `batch` counts the phase's transactions so far (over its
/// chunks), and `nonces` holds each gateway's next nonce.
fn pack(
    per_device: Vec<Vec<SignedReport>>,
    gateways: &[Keypair],
    nonces: &mut [u64],
    batch: &mut usize,
    params: &Params,
) -> anyhow::Result<Vec<SignedTx>> {
    let mut batches: Vec<Vec<SignedReport>> = vec![Vec::new()];
    for reports in per_device.into_iter().filter(|r| !r.is_empty()) {
        if batches.last().is_some_and(|b| b.len() + reports.len() > REPORTS_PER_TX) {
            batches.push(Vec::new());
        }
        if let Some(b) = batches.last_mut() {
            b.extend(reports);
        }
    }
    batches.retain(|b| !b.is_empty());
    let mut signing: Vec<(usize, u64, Vec<SignedReport>)> = Vec::with_capacity(batches.len());
    for b in batches {
        let g = *batch / PER_SENDER;
        let Some(n) = nonces.get_mut(g) else {
            bail!("{} report batches need more gateways than {}", *batch + 1, gateways.len());
        };
        signing.push((g, *n, b));
        *n += 1;
        *batch += 1;
    }
    Ok(signing
        .into_par_iter()
        .map(|(g, n, reports)| {
            sign_tx(CHAIN, &gateways[g], n, params, TxBody::SubmitReports { reports })
        })
        .collect())
}

/// The bench device `i`: derived from its index whenever it signs, so the bench holds no
/// key per device.
fn device(i: usize) -> DeviceSigner {
    crate::measure::device(0x4e, i)
}

/// Hotspots among devices `0..i` (four of every ten, the first four; see [`class_of`]).
pub fn hotspots_before(i: usize) -> usize {
    4 * (i / 10) + (i % 10).min(4)
}

/// The device index of the hotspot of rank `k` in the list of hotspots.
pub fn hotspot(k: usize) -> usize {
    10 * (k / 4) + k % 4
}

/// Where device `i` of `n` is placed in [`crate::measure::spots`]: the hotspots take the
/// first spots in device order, then the other devices, so neighbours in the list of
/// hotspots are neighbours on the map.
pub fn spot_index(i: usize, n: usize) -> usize {
    if class_of(i) == DeviceClass::Hotspot {
        hotspots_before(i)
    } else {
        hotspots_before(n) + i - hotspots_before(i)
    }
}

/// A phase of an epoch's traffic and what its reports name. Its beacons name the entropy
/// of the head when their chunk is signed ([`Phase::name_entropy`]): a phase of a large
/// fleet lasts longer than the chain keeps entropy ([`cairn_app::ENTROPY_WINDOW`] blocks).
enum Phase<'a> {
    /// The listeners beacon; every device sends a heartbeat.
    First { entropy: Hash, height: u64 },
    /// The listeners witness four beacons each (of the first phase, at `beacon_height`,
    /// by listener), the other hotspots beacon, sensors send readings, every device its
    /// other heartbeats.
    Second { entropy: Hash, height: u64, beacon_height: &'a [u64] },
}

/// The device traffic: what each device sends in a phase, made and signed a chunk of
/// devices at a time.
struct Fleet {
    /// The hotspots' ids, by rank in the list of hotspots (witnesses name them).
    hotspot_ids: Vec<DeviceId>,
    /// The first `listeners` hotspots beacon first and witness each other.
    listeners: usize,
    heartbeats: usize,
    readings: usize,
}

/// The listener whose beacon listener `k` (of `listeners`) witnesses `w`-th: `2w + 1` ranks
/// before it; when there are not that many before, as many after it, and only when there
/// are not that many after either (a fleet of a few dozen) round from the end. Never the
/// same beaconer twice for one listener: a forward and a wrapped offset could meet only if
/// `k < 2w + 1 ≤ listeners − k`, both at once, which no `k` is.
fn witnessed(k: usize, w: usize, listeners: usize) -> usize {
    let offset = 2 * w + 1;
    let listeners = listeners.max(1);
    match k.checked_sub(offset) {
        Some(b) => b,
        None if k + offset < listeners => k + offset,
        None => (k + listeners - offset % listeners) % listeners,
    }
}

impl Phase<'_> {
    /// Beacons signed from now on name `entropy`, the chain entropy of block `at`.
    fn name_entropy(&mut self, entropy: Hash, at: u64) {
        match self {
            Phase::First { entropy: e, height } | Phase::Second { entropy: e, height, .. } => {
                (*e, *height) = (entropy, at);
            }
        }
    }
}

impl Fleet {
    /// Device `i`'s reports of `phase`, signed, in the order they commit; `seq` is its
    /// last sequence number.
    fn device_reports(
        &self,
        i: usize,
        seq: &mut u64,
        epoch: u64,
        phase: &Phase<'_>,
    ) -> Vec<SignedReport> {
        let dev = device(i);
        let class = class_of(i);
        let rank = (class == DeviceClass::Hotspot).then(|| hotspots_before(i));
        let beacon = |entropy: &Hash, height: u64| ReportPayload::Beacon {
            entropy_height: height,
            data: beacon_data(entropy, &dev.id()),
            frequency_khz: FREQ,
            tx_power_dbm: 14,
        };
        let heartbeat = ReportPayload::Heartbeat { uptime_secs: 3_600 };
        let mut payloads = Vec::new();
        match phase {
            Phase::First { entropy, height } => {
                if rank.is_some_and(|k| k < self.listeners) {
                    payloads.push(beacon(entropy, *height));
                }
                payloads.push(heartbeat);
            }
            Phase::Second { entropy, height, beacon_height } => {
                match rank {
                    Some(k) if k < self.listeners => {
                        for w in 0..WITNESSES {
                            // Odd offsets: the beaconer is of the other owner. Backwards, or
                            // forwards for the first listeners: wrapping round to the end of
                            // the spiral of hexes would name a beaconer too far away to hear
                            // (`too_far`) once the fleet is large.
                            let b = witnessed(k, w, self.listeners);
                            payloads.push(ReportPayload::Witness {
                                beaconer: self.hotspot_ids[b],
                                beacon_height: beacon_height[b],
                                rssi_cdbm: -12_000,
                                frequency_khz: FREQ,
                            });
                        }
                    }
                    Some(_) => payloads.push(beacon(entropy, *height)),
                    None => {}
                }
                if class == DeviceClass::Sensor {
                    for r in 0..self.readings {
                        payloads.push(ReportPayload::Reading { value: 20_000 + r as i64 });
                    }
                }
                for _ in 1..self.heartbeats {
                    payloads.push(heartbeat.clone());
                }
            }
        }
        let key = dev.public_key();
        payloads
            .into_iter()
            .map(|payload| {
                *seq += 1;
                let report =
                    Report { device: key, seq: *seq, epoch, timestamp_ms: now_ms(), payload };
                let signature = dev
                    .sign(&report.signing_message(CHAIN))
                    .unwrap_or(DeviceSignature::Ed25519([0; 64]));
                SignedReport { report, signature }
            })
            .collect()
    }

    /// The reports of devices `from..from + seq.len()` in `phase`, signed on all cores,
    /// grouped by device in device order.
    fn sign(
        &self,
        from: usize,
        seq: &mut [u64],
        epoch: u64,
        phase: &Phase<'_>,
    ) -> Vec<Vec<SignedReport>> {
        seq.par_iter_mut()
            .enumerate()
            .map(|(j, s)| self.device_reports(from + j, s, epoch, phase))
            .collect()
    }
}

/// The baseline's items: the signatures of `reports`.
fn report_items(reports: &[Vec<SignedReport>], max: usize) -> Vec<VerifyItem> {
    reports
        .iter()
        .flatten()
        .filter_map(|r| match (r.report.device, r.signature) {
            (DeviceKey::Ed25519(k), DeviceSignature::Ed25519(s)) => {
                Some((Address(k), Signature(s), r.report.signing_message(CHAIN)))
            }
            _ => None,
        })
        .take(max)
        .collect()
}

/// Where a phase's signed transactions go and what the bench keeps of them.
struct PhaseRun<'a> {
    gateways: &'a [Keypair],
    nonces: &'a mut [u64],
    params: &'a Params,
    /// Devices signed and submitted at once.
    chunk: usize,
}

impl PhaseRun<'_> {
    /// Signs and submits `phase`'s reports `chunk` devices at a time, making blocks
    /// meanwhile: the next chunk is signed once the last one is in the mempool and the
    /// mempool holds at most [`MEMPOOL_LOW_BYTES`], so neither the bench nor the mempool
    /// holds more than about a chunk's reports. Returns once every transaction is
    /// committed; `on_reports` sees each chunk's signed reports, `on_txs` its transactions.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &mut self,
        blocks: &mut Blocks,
        client: &cairn_client::Client,
        fleet: &Fleet,
        seq: &mut [u64],
        epoch: u64,
        phase: &mut Phase<'_>,
        mut on_reports: impl FnMut(&[Vec<SignedReport>]),
        mut on_txs: impl FnMut(&[SignedTx]),
        what: &str,
    ) -> anyhow::Result<()> {
        let shared = blocks.shared.clone();
        let committed = shared.metrics.chain.txs_committed.clone();
        let mut target = committed.get();
        let n = seq.len();
        let mut batch = 0;
        let mut from = 0;
        while from < n {
            let to = (from + self.chunk.max(1)).min(n);
            // Signing is the devices' and gateways' work, not the node's: it waits for the
            // block in flight, so as not to share the cores with that block's commit.
            blocks.finish_in_flight().await?;
            let head = client.status().await?;
            phase.name_entropy(client.entropy(head.height).await?, head.height);
            let signed = fleet.sign(from, &mut seq[from..to], epoch, phase);
            on_reports(&signed);
            let txs = pack(signed, self.gateways, self.nonces, &mut batch, self.params)?;
            on_txs(&txs);
            target += txs.len() as u64;
            let last = to == n;
            let (task, refused) = submit_in_background(client, txs, REPORTS_TXS_PER_REQUEST);
            // A refused submission ends the wait at once (its error is the task's result).
            blocks
                .until(what, || {
                    refused.load(std::sync::atomic::Ordering::Acquire)
                        || if last {
                            committed.get() >= target
                        } else {
                            task.is_finished() && shared.mempool().bytes() <= MEMPOOL_LOW_BYTES
                        }
                })
                .await?;
            task.await??;
            from = to;
        }
        if committed.get() < target {
            bail!("{what}: only {} of {} transactions committed", committed.get(), target);
        }
        Ok(())
    }
}

pub async fn run(opts: NodeOptions) -> anyhow::Result<NodeBench> {
    let started = Instant::now();
    let n = opts.devices;
    if n < 50 || opts.epochs == 0 || opts.heartbeats == 0 || opts.blocks_per_epoch < 10 {
        bail!(
            "need at least 50 devices, 1 epoch, 1 heartbeat and 10 blocks per epoch \
             (got {n}, {}, {}, {})",
            opts.epochs,
            opts.heartbeats,
            opts.blocks_per_epoch
        );
    }
    let mut params = Params { blocks_per_epoch: opts.blocks_per_epoch, ..Params::default() };
    params.reward_settle_delay_blocks = opts.settle_delay_blocks;
    params.reward_settle_entries_per_block = opts.settle_entries_per_block;
    params.coverage.entropy_max_age_blocks = opts.blocks_per_epoch;
    params.coverage.beacon_interval_blocks = 1;
    // Witnesses name beacons of their own epoch (the first phase's).
    params.coverage.witness_lag_blocks = opts.blocks_per_epoch;
    params.state_layout = opts.state_layout;
    params.coverage.reciprocity_blocks = 100_000;
    // Signing a phase's reports in a debug build takes a while: reports stay fresh.
    params.devices.max_report_age_ms = 3_600_000;

    let owner_count = owner_of(n - 1) + 2;
    let owners: Vec<Keypair> =
        (0..owner_count).map(|i| Keypair::from_label(&format!("bench-node-owner-{i}"))).collect();
    // The largest phase: every device's reports of the second phase, in batches.
    let most_reports = n * (opts.heartbeats + opts.readings + WITNESSES + 1);
    // Batches are over half full but for the last of each chunk.
    let batches = most_reports.div_ceil(REPORTS_PER_TX / 2) + n.div_ceil(opts.chunk_devices.max(1));
    let gateway_count = batches.div_ceil(PER_SENDER) + 1;
    let gateways: Vec<Keypair> = (0..gateway_count)
        .map(|i| Keypair::from_label(&format!("bench-node-gateway-{i}")))
        .collect();
    let mut gateway_nonces = vec![0u64; gateway_count];
    let funded: Vec<&Keypair> = owners.iter().chain(&gateways).collect();
    let mut config = NodeConfig::new(std::path::PathBuf::new());
    config.blocks_on_demand = true;
    // The bench makes its blocks one every `block_ms`, as a timed node: the producer stops
    // taking candidates at its share of the interval (ADR 0039).
    // The interval is also what the producer's pace aims its blocks at.
    config.block_interval = Duration::from_millis(opts.block_ms.max(1));
    let propose_within = cairn_app::proposal_time(config.block_interval);
    config.propose_within = Some(propose_within);
    config.store_cache_bytes = opts.store_cache_mib.saturating_mul(1 << 20);
    config.archive = opts.archive;
    config.keep_epochs = opts.keep_epochs;
    config.keep_versions = opts.keep_versions;
    let keep_epochs = config.retention(&params)?.epochs;
    let (node, client, dir) = start_node_with(CHAIN, &funded, params.clone(), config).await?;
    let shared = node.shared.clone();
    let m = shared.metrics.chain.clone();
    let mut blocks = Blocks {
        shared: shared.clone(),
        params: params.clone(),
        block_ms: opts.block_ms,
        durable_ms: BTreeMap::new(),
        handoff_ms: Vec::new(),
        mempool_peak: 0,
        rss_peak_before_resets: 0.0,
        settlements: BTreeMap::new(),
    };

    // Set-up: every device registered and located, through the node, in waves the mempool
    // holds (each owner's transactions within one wave), each wave's devices derived and
    // its transactions signed just before it goes.
    let cells = crate::measure::spots(n)?;
    let hotspot_count = hotspots_before(n);
    let mut hotspot_ids = Vec::with_capacity(hotspot_count);
    let mut owner_nonces = vec![0u64; owner_count];
    let mut setup_transactions = 0u64;
    for from in (0..n).step_by(SETUP_WAVE / 2) {
        let to = (from + SETUP_WAVE / 2).min(n);
        // As a phase's chunks ([`PhaseRun::run`]): signed with no block's commit beside.
        blocks.finish_in_flight().await?;
        let made: Vec<(DeviceId, [TxBody; 2])> = (from..to)
            .into_par_iter()
            .map(|i| -> anyhow::Result<_> {
                let d = device(i);
                let o = owner_of(i);
                let cell = *cells.get(spot_index(i, n)).context("a device without a spot")?;
                let register =
                    crate::measure::register_device(CHAIN, &d, &owners[o].address(), class_of(i));
                Ok((d.id(), [register, TxBody::AssertLocation { device: d.id(), cell }]))
            })
            .collect::<anyhow::Result<_>>()?;
        let mut signing = Vec::with_capacity(2 * made.len());
        for (i, (id, bodies)) in (from..to).zip(made) {
            if class_of(i) == DeviceClass::Hotspot {
                hotspot_ids.push(id);
            }
            let o = owner_of(i);
            for body in bodies {
                signing.push((o, owner_nonces[o], body));
                owner_nonces[o] += 1;
            }
        }
        let wave: Vec<SignedTx> = signing
            .into_par_iter()
            .map(|(o, nonce, body)| sign_tx(CHAIN, &owners[o], nonce, &params, body))
            .collect();
        setup_transactions += wave.len() as u64;
        submit_and_commit(&mut blocks, &client, wave, SETUP_PER_REQUEST, "set-up").await?;
    }
    drop(cells);
    if m.txs_failed.get() > 0 {
        bail!("{} set-up transactions failed", m.txs_failed.get());
    }
    blocks.run_to_boundary().await?;
    let rss_after_setup_mib = proc_mib("VmRSS");
    let file = dir.join(cairn_node::STORE_FILE);
    let file_before = std::fs::metadata(&file)?.len();
    let tables_before = shared.store.table_bytes()?;

    let listeners = (hotspot_count / 2) & !1;
    let fleet =
        Fleet { hotspot_ids, listeners, heartbeats: opts.heartbeats, readings: opts.readings };
    let mut seq = vec![0u64; n];
    let mut phases = PhaseRun {
        gateways: &gateways,
        nonces: &mut gateway_nonces,
        params: &params,
        chunk: opts.chunk_devices,
    };
    let (a0, r0) = (m.reports_accepted.get(), m.reports_rejected.get());
    let traffic_from = blocks.height()? + 1;
    let mut per_epoch = Vec::new();
    let mut boundaries = Vec::new();
    let mut items = Vec::new();
    for _ in 0..opts.epochs {
        let head = client.status().await?;
        let epoch = head.epoch;
        let t0 = Instant::now();
        let accepted_before = m.reports_accepted.get();
        // Phase 1, and which transaction carries each listener's beacon.
        let listener_of: BTreeMap<Hash, usize> =
            fleet.hotspot_ids[..listeners].iter().enumerate().map(|(k, id)| (*id, k)).collect();
        let mut carriers: Vec<(Hash, Vec<usize>)> = Vec::new();
        let mut phase = Phase::First { entropy: Hash::default(), height: 0 };
        let note_carriers = |txs: &[SignedTx]| {
            for t in txs {
                let mut ks = Vec::new();
                if let TxBody::SubmitReports { reports } = &t.tx.body {
                    for r in reports {
                        if let ReportPayload::Beacon { .. } = r.report.payload {
                            ks.extend(listener_of.get(&r.report.device.id()));
                        }
                    }
                }
                if !ks.is_empty() {
                    carriers.push((t.hash(), ks));
                }
            }
        };
        phases
            .run(
                &mut blocks,
                &client,
                &fleet,
                &mut seq,
                epoch,
                &mut phase,
                |_| {},
                note_carriers,
                "the first phase",
            )
            .await?;
        drop(listener_of);
        // The listeners' beacon heights, from the receipts of the batches that carried them.
        let mut beacon_height = vec![0u64; listeners];
        for (hash, ks) in &carriers {
            let height = client.receipt(hash).await?.height;
            for k in ks {
                beacon_height[*k] = height;
            }
        }
        drop(carriers);
        // Phase 2.
        let mut phase =
            Phase::Second { entropy: Hash::default(), height: 0, beacon_height: &beacon_height };
        let sample = |signed: &[Vec<SignedReport>]| {
            if items.len() < BASELINE_SAMPLE {
                items.extend(report_items(signed, BASELINE_SAMPLE - items.len()));
            }
        };
        phases
            .run(
                &mut blocks,
                &client,
                &fleet,
                &mut seq,
                epoch,
                &mut phase,
                sample,
                |_| {},
                "the second phase",
            )
            .await?;
        let traffic_seconds = t0.elapsed().as_secs_f64();
        if m.reports_rejected.get() > r0 || m.txs_failed.get() > 0 {
            bail!(
                "{} reports were rejected and {} transactions failed",
                m.reports_rejected.get() - r0,
                m.txs_failed.get()
            );
        }
        let reports = m.reports_accepted.get() - accepted_before;
        let times = blocks.run_to_boundary().await?;
        boundaries.push(times.boundary);
        per_epoch.push(EpochRun {
            epoch,
            reports,
            traffic_seconds,
            boundary_block_ms: 0.0,
            reward_run_ms: times.reward_ms,
            settle_block_ms: 0.0,
            settle_blocks: 0,
            reward_run_peak_rise_mib: times.rise_mib,
            rss_mib: proc_mib("VmRSS"),
            store_file_bytes: std::fs::metadata(&file)?.len(),
            store_allocated_bytes: shared.store.allocated_bytes()?,
            state_bytes: state_bytes(&shared.store.table_bytes()?),
        });
    }
    // The last run's settlement, every block durable; then each traffic epoch's boundary
    // and settle blocks' times.
    blocks.finish_settlement().await?;
    for (e, boundary) in per_epoch.iter_mut().zip(boundaries) {
        e.boundary_block_ms = blocks.durable(boundary);
        if let Some(settled) = blocks.settlements.get(&e.epoch) {
            e.settle_block_ms = settled.iter().map(|h| blocks.durable(*h)).fold(0.0, f64::max);
            e.settle_blocks = settled.len() as u64;
        }
    }
    // Before the baseline and the table walk, which are the bench's, not the node's.
    let peak_rss_mib = blocks.rss_peak_before_resets.max(proc_mib("VmHWM"));
    let baseline = (baseline_verify(&items)? + baseline_verify(&items)?) / 2.0;
    let reports_accepted = m.reports_accepted.get() - a0;
    let reports_rejected = m.reports_rejected.get() - r0;
    let tables = shared.store.table_bytes()?;
    let state_by_prefix = shared.store.state_prefix_bytes()?;
    let store_file_bytes = std::fs::metadata(&file)?.len();
    let store_allocated_bytes = shared.store.allocated_bytes()?;
    let state = state_bytes(&tables);
    let traffic: f64 = per_epoch.iter().map(|e| e.traffic_seconds).sum();
    let reports_per_s = per(reports_accepted, 1) / traffic.max(1e-9);
    let max = |v: &mut dyn Iterator<Item = f64>| v.fold(0.0, f64::max);
    let mut by_class = BTreeMap::new();
    for i in 0..n {
        *by_class.entry(class_of(i).to_string()).or_insert(0) += 1;
    }
    let height = blocks.height()?;
    let report = NodeBench {
        devices: n,
        devices_by_class: by_class,
        epochs: opts.epochs,
        blocks_per_epoch: opts.blocks_per_epoch,
        block_ms: opts.block_ms,
        propose_within_ms: propose_within.as_millis() as u64,
        store_cache_mib: opts.store_cache_mib,
        archive: opts.archive,
        keep_epochs,
        keep_versions: opts.keep_versions,
        state_layout: opts.state_layout,
        setup_transactions,
        reports_accepted,
        reports_rejected,
        blocks: height,
        peak_rss_mib,
        rss_after_setup_mib,
        rss_end_mib: proc_mib("VmRSS"),
        state_bytes: state,
        state_bytes_per_device: per(state, n as u64),
        store_file_bytes,
        store_allocated_bytes,
        store_bytes_per_device: per(store_file_bytes, n as u64),
        store_bytes_per_report: per(store_file_bytes.saturating_sub(file_before), reports_accepted),
        mean_block_ms: blocks.durable_ms.values().sum::<f64>()
            / blocks.durable_ms.len().max(1) as f64,
        max_block_ms: max(&mut blocks.durable_ms.values().copied()),
        max_block_handoff_ms: max(&mut blocks.handoff_ms.iter().copied()),
        boundary_block_ms: max(&mut per_epoch.iter().map(|e| e.boundary_block_ms)),
        reward_run_ms: max(&mut per_epoch.iter().map(|e| e.reward_run_ms)),
        settle_delay_blocks: opts.settle_delay_blocks,
        settle_entries_per_block: opts.settle_entries_per_block,
        settle_block_ms: max(&mut per_epoch.iter().map(|e| e.settle_block_ms)),
        settle_blocks: per_epoch.iter().map(|e| e.settle_blocks).max().unwrap_or(0),
        max_traffic_block_ms: max(&mut blocks.durable_ms.range(traffic_from..).map(|(_, ms)| *ms)),
        mempool_peak_bytes: blocks.mempool_peak,
        reports_per_s,
        baseline_batch_verify_per_s: baseline,
        ratio_mixed_to_verify: reports_per_s / baseline.max(1e-9),
        per_epoch,
        table_bytes_per_report: growth_per_report(&tables_before, &tables, reports_accepted),
        tables,
        state_by_prefix,
        seconds: started.elapsed().as_secs_f64(),
    };
    drop(blocks);
    drop(shared);
    node.shutdown().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, stored: u64) -> TableBytes {
        TableBytes {
            name: name.into(),
            entries: 1,
            stored_bytes: stored,
            metadata_bytes: 7,
            fragmented_bytes: 9,
        }
    }

    #[test]
    fn a_listener_witnesses_nearby_beaconers_of_the_other_owner_without_wrapping_round() {
        let listeners = 400_000;
        for k in [0, 1, 2, 6, 7, 8, 199_999, 399_999] {
            for w in 0..WITNESSES {
                let b = witnessed(k, w, listeners);
                // Neighbours in the spiral, of the other owner (odd distance), never itself.
                assert!(b.abs_diff(k) < 2 * WITNESSES && b.abs_diff(k) % 2 == 1, "{k} {w}");
            }
        }
        // A small fleet's listeners name four distinct beaconers each, never themselves.
        for listeners in [8, 10, 12, 14, 20] {
            for k in 0..listeners {
                let named: std::collections::BTreeSet<usize> =
                    (0..WITNESSES).map(|w| witnessed(k, w, listeners)).collect();
                assert_eq!(named.len(), WITNESSES, "{k} of {listeners}");
                assert!(!named.contains(&k) && named.iter().all(|b| *b < listeners));
            }
        }
    }

    #[test]
    fn the_default_epoch_grows_with_the_fleet_above_30000_devices() {
        assert_eq!(default_blocks_per_epoch(50), 120);
        assert_eq!(default_blocks_per_epoch(10_000), 120);
        assert_eq!(default_blocks_per_epoch(30_000), 120);
        assert_eq!(default_blocks_per_epoch(30_001), 121);
        assert_eq!(default_blocks_per_epoch(100_000), 400);
        assert_eq!(default_blocks_per_epoch(1_000_000), 4_000);
    }

    #[test]
    fn state_bytes_sum_the_key_and_value_bytes_of_the_three_state_tables_only() {
        let t = [
            row("state_latest", 100),
            row("tree_nodes", 20),
            row("tree_values", 3),
            row("blocks", 1_000),
            row("reports", 5_000),
        ];
        assert_eq!(state_bytes(&t), 123);
    }

    #[test]
    fn growth_per_report_divides_each_tables_growth_and_counts_new_tables_whole() {
        let before = [row("blocks", 100), row("reports", 0)];
        let after = [row("blocks", 300), row("reports", 1_000), row("receipts", 50)];
        let g = growth_per_report(&before, &after, 10);
        assert_eq!(g["blocks"], 20.0);
        assert_eq!(g["reports"], 100.0);
        assert_eq!(g["receipts"], 5.0);
        assert!(growth_per_report(&before, &after, 0).values().all(|v| *v == 0.0));
    }

    #[test]
    fn status_fields_are_read_in_mib_by_exact_name() {
        let text = "VmPeak:\t  9999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(parse_status_mib(text, "VmHWM"), 2.0);
        assert_eq!(parse_status_mib(text, "VmRSS"), 1.0);
        assert_eq!(parse_status_mib(text, "VmSwap"), 0.0);
        assert!(proc_mib("VmHWM") > 0.0);
    }

    #[test]
    fn classes_cover_all_six_and_neighbouring_hotspots_have_other_owners() {
        let classes: std::collections::BTreeSet<_> = (0..10).map(class_of).collect();
        assert_eq!(classes.len(), DeviceClass::ALL.len());
        let hotspots: Vec<usize> =
            (0..2_000).filter(|i| class_of(*i) == DeviceClass::Hotspot).collect();
        for w in hotspots.windows(2) {
            assert_ne!(owner_of(w[0]), owner_of(w[1]), "hotspots {} and {}", w[0], w[1]);
        }
        // No owner has more devices than half the mempool's limit per sender.
        let mut per_owner = BTreeMap::new();
        for i in 0..2_000 {
            *per_owner.entry(owner_of(i)).or_insert(0) += 1;
        }
        assert!(per_owner.values().all(|c| *c <= PER_SENDER / 2));
    }

    #[test]
    fn hotspots_take_the_first_spots_in_device_order_and_the_others_the_rest() {
        for n in [50, 51, 54, 57, 1_000, 1_003] {
            let hotspots: Vec<usize> =
                (0..n).filter(|i| class_of(*i) == DeviceClass::Hotspot).collect();
            let others = (0..n).filter(|i| class_of(*i) != DeviceClass::Hotspot);
            let mut spots: Vec<Option<usize>> = vec![None; n];
            for (k, i) in hotspots.iter().copied().chain(others).enumerate() {
                spots[i] = Some(k);
            }
            for (i, spot) in spots.iter().enumerate() {
                assert_eq!(Some(spot_index(i, n)), *spot, "device {i} of {n}");
            }
            assert_eq!(hotspots_before(n), hotspots.len());
            for (k, i) in hotspots.iter().enumerate() {
                assert_eq!((hotspot(k), hotspots_before(*i)), (*i, k));
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_node_run_accepts_every_report_and_reports_sane_fields() {
        // Room for each phase's blocks on a loaded machine (a block every 50 ms while the
        // submissions are slow ends the epoch before the traffic).
        const EPOCH: u64 = 40;
        let delay = cairn_types::genesis::default_reward_settle_delay(EPOCH);
        let opts = NodeOptions {
            devices: 60,
            epochs: 2,
            blocks_per_epoch: EPOCH,
            settle_delay_blocks: delay,
            block_ms: 50,
            heartbeats: 2,
            readings: 2,
            store_cache_mib: 16,
            // Three chunks a phase, the last one short.
            chunk_devices: 25,
            // Each run settled over several blocks, beside the next epoch's traffic.
            settle_entries_per_block: 5,
            ..NodeOptions::default()
        };
        let r = run(opts).await.unwrap();
        // Per epoch: 24 hotspots beacon once, 12 listeners witness 4 times, every device
        // 2 heartbeats, 12 sensors 2 readings.
        let per_epoch = 24 + 12 * 4 + 60 * 2 + 12 * 2;
        assert_eq!(r.reports_accepted, 2 * per_epoch);
        assert_eq!(r.reports_rejected, 0);
        assert_eq!(r.per_epoch.len(), 2);
        // Every device has its record in state; a compact chain keeps no query index there.
        assert_eq!(r.state_by_prefix["dev/"].keys, 60);
        assert!(!r.state_by_prefix.keys().any(|p| p.starts_with("idx/")));
        // A folded chain (the default, ADR 0037) keeps a device's nonce, cursor, beacon
        // heights, locations and activity in its record, under no key of their own.
        assert_eq!(r.state_layout, cairn_types::genesis::StateLayout::Folded);
        for p in ["devep/", "devseq/", "devnonce/", "devloc/", "devbeacon/", "devbeaconprev/"] {
            assert!(!r.state_by_prefix.contains_key(p), "{p}");
        }
        let keys: u64 = r.state_by_prefix.values().map(|p| p.keys).sum();
        let latest = r.tables.iter().find(|t| t.name == "state_latest").unwrap();
        assert_eq!(keys, latest.entries);
        assert!(r.per_epoch.iter().all(|e| e.reports == per_epoch));
        assert_eq!(r.setup_transactions, 120);
        assert_eq!(r.devices_by_class.len(), 6);
        assert_eq!(r.devices_by_class["hotspot"], 24);
        assert!(r.peak_rss_mib >= r.rss_after_setup_mib && r.rss_after_setup_mib > 0.0);
        assert!(r.state_bytes_per_device > 0.0);
        assert!(r.store_bytes_per_device * 60.0 == r.store_file_bytes as f64);
        assert!(r.store_allocated_bytes <= r.store_file_bytes);
        let pages: u64 = r.tables.iter().map(TableBytes::total_bytes).sum();
        assert!(pages <= r.store_allocated_bytes);
        assert!(r.max_block_ms >= r.mean_block_ms && r.mean_block_ms > 0.0);
        // A block is handed on before it is durable, its commit beside the next.
        assert!(r.max_block_handoff_ms > 0.0 && r.max_block_handoff_ms <= r.max_block_ms);
        assert!(r.boundary_block_ms > 0.0 && r.boundary_block_ms <= r.max_block_ms);
        assert!(r.reward_run_ms > 0.0);
        assert!(r.baseline_batch_verify_per_s > 0.0 && r.ratio_mixed_to_verify > 0.0);
        assert!(r.table_bytes_per_report["device_report_pos"] > 0.0);
        // A pruning node by default, its size read after every epoch.
        assert!(
            !r.archive
                && r.keep_epochs.is_some()
                && r.keep_versions == cairn_node::DEFAULT_KEEP_VERSIONS
        );
        for e in &r.per_epoch {
            assert!(e.state_bytes > 0 && e.store_allocated_bytes <= e.store_file_bytes);
        }
        for e in &r.per_epoch {
            assert!(e.settle_blocks > 1 && e.settle_block_ms > 0.0, "{e:?}");
        }
        let last = r.per_epoch.last().map_or(0, |e| e.settle_blocks);
        assert_eq!(
            r.blocks.checked_sub(delay + last - 1).map(|b| b % EPOCH),
            Some(0),
            "the run ends where the last boundary's reward run is settled"
        );
    }
}
