//! One typed metrics struct per component, exported as Prometheus text at `/metrics`.
//! Names carry their base unit.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Block production and chain progress.
#[derive(Clone)]
pub struct ChainMetrics {
    pub height: Gauge,
    pub epoch: Gauge,
    pub txs_committed: Counter,
    pub txs_failed: Counter,
    /// Device reports accepted / rejected in committed blocks.
    pub reports_accepted: Counter,
    pub reports_rejected: Counter,
    /// Committed transactions per second over the last block interval.
    pub txs_per_second: Gauge<f64, AtomicU64>,
    /// Time between the last two block timestamps.
    pub block_interval_seconds: Gauge<f64, AtomicU64>,
    /// Time to build, execute and commit a block.
    pub block_build_seconds: Histogram,
    /// Build time of the last block that ran an epoch's reward run (its sensor and density
    /// scoring, the reward report and the fraud detectors, with the block's other work).
    pub epoch_boundary_block_seconds: Gauge<f64, AtomicU64>,
}

/// The node process and its store on disk.
#[derive(Clone)]
pub struct ProcessMetrics {
    /// Resident memory of the process (Linux; 0 elsewhere).
    pub resident_memory_bytes: Gauge,
    /// Size of the store file.
    pub store_bytes: Gauge,
}

impl ProcessMetrics {
    /// Reads the process's resident memory and the store file's size.
    pub fn refresh(&self, store_file: &std::path::Path) {
        if let Some(kib) = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse::<i64>().ok()))
        }) {
            self.resident_memory_bytes.set(kib.saturating_mul(1024));
        }
        if let Ok(m) = std::fs::metadata(store_file) {
            self.store_bytes.set(i64::try_from(m.len()).unwrap_or(i64::MAX));
        }
    }
}

/// Mempool occupancy.
#[derive(Clone)]
pub struct MempoolMetrics {
    pub size: Gauge,
    pub bytes: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: String,
}

/// Transaction admission through the API.
#[derive(Clone)]
pub struct ApiMetrics {
    pub txs_accepted: Counter,
    pub txs_rejected: Family<CodeLabel, Counter>,
}

/// BFT proposal streams (zero in solo mode).
#[derive(Clone, Default)]
pub struct ConsensusMetrics {
    /// Bytes held in proposal reassembly: open streams and blocks kept for later heights.
    pub reassembly_bytes: Gauge,
    /// Proposal streams refused or dropped, by reason.
    pub streams_refused: Family<ReasonLabel, Counter>,
    /// Decided blocks this node could not verify on the spot (then fetched by sync).
    pub decided_unverified: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

impl ConsensusMetrics {
    pub fn streams_refused(&self, reason: &str, n: u64) {
        self.streams_refused.get_or_create(&ReasonLabel { reason: reason.to_string() }).inc_by(n);
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "consensus_reassembly_bytes",
            "Bytes held in proposal reassembly (open streams and blocks for later heights)",
            self.reassembly_bytes.clone(),
        );
        registry.register(
            "consensus_streams_refused",
            "Proposal streams refused or dropped, by reason",
            self.streams_refused.clone(),
        );
        registry.register(
            "consensus_decided_unverified",
            "Decided blocks not verifiable on the spot, fetched by sync",
            self.decided_unverified.clone(),
        );
    }
}

pub struct Metrics {
    pub chain: ChainMetrics,
    pub process: ProcessMetrics,
    pub mempool: MempoolMetrics,
    pub api: ApiMetrics,
    pub consensus: ConsensusMetrics,
    registry: Registry,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("cairn");
        let chain = ChainMetrics {
            height: Gauge::default(),
            epoch: Gauge::default(),
            txs_committed: Counter::default(),
            txs_failed: Counter::default(),
            reports_accepted: Counter::default(),
            reports_rejected: Counter::default(),
            txs_per_second: Gauge::default(),
            block_interval_seconds: Gauge::default(),
            block_build_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            epoch_boundary_block_seconds: Gauge::default(),
        };
        registry.register("height", "Height of the last committed block", chain.height.clone());
        registry.register("epoch", "Epoch of the last committed block", chain.epoch.clone());
        registry.register(
            "txs_committed",
            "Transactions committed in blocks",
            chain.txs_committed.clone(),
        );
        registry.register(
            "txs_failed",
            "Committed transactions whose body failed",
            chain.txs_failed.clone(),
        );
        registry.register(
            "reports_accepted",
            "Device reports accepted in committed blocks",
            chain.reports_accepted.clone(),
        );
        registry.register(
            "reports_rejected",
            "Device reports rejected in committed blocks",
            chain.reports_rejected.clone(),
        );
        registry.register(
            "txs_per_second",
            "Committed transactions per second over the last block interval",
            chain.txs_per_second.clone(),
        );
        registry.register(
            "block_interval_seconds",
            "Time between the last two block timestamps",
            chain.block_interval_seconds.clone(),
        );
        registry.register(
            "block_build_seconds",
            "Time to build, execute and commit a block",
            chain.block_build_seconds.clone(),
        );
        registry.register(
            "epoch_boundary_block_seconds",
            "Build time of the last block that ran an epoch's reward run",
            chain.epoch_boundary_block_seconds.clone(),
        );
        let process = ProcessMetrics {
            resident_memory_bytes: Gauge::default(),
            store_bytes: Gauge::default(),
        };
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the node process",
            process.resident_memory_bytes.clone(),
        );
        registry.register("store_bytes", "Size of the store file", process.store_bytes.clone());
        let mempool = MempoolMetrics { size: Gauge::default(), bytes: Gauge::default() };
        registry.register(
            "mempool_size",
            "Transactions waiting in the mempool",
            mempool.size.clone(),
        );
        registry.register(
            "mempool_bytes",
            "Encoded bytes waiting in the mempool",
            mempool.bytes.clone(),
        );
        let api = ApiMetrics { txs_accepted: Counter::default(), txs_rejected: Family::default() };
        registry.register(
            "api_txs_accepted",
            "Transactions admitted through the API",
            api.txs_accepted.clone(),
        );
        registry.register(
            "api_txs_rejected",
            "Transactions refused through the API, by error code",
            api.txs_rejected.clone(),
        );
        let consensus = ConsensusMetrics::default();
        consensus.register(&mut registry);
        Metrics { chain, process, mempool, api, consensus, registry }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn rejected(&self, code: &str) {
        self.api.txs_rejected.get_or_create(&CodeLabel { code: code.to_string() }).inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
