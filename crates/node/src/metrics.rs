//! One typed metrics struct per component, exported at `/metrics` as OpenMetrics text
//! (content type [`CONTENT_TYPE`]). Names carry their base unit. Rates are left to the
//! scraper: the node exports counters, never per-second gauges.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// Blocks committed by this node.
    pub blocks_committed: Counter,
    /// Chain time covered by the committed blocks: the sum of the intervals between
    /// consecutive header timestamps. Transactions per second of chain time over a window
    /// are `increase(txs_committed_total) / increase(block_time_seconds_total)`; per
    /// second of wall time, `rate(txs_committed_total)`.
    pub block_time_seconds: Counter<f64, AtomicU64>,
    /// Time between the last two block timestamps.
    pub block_interval_seconds: Gauge<f64, AtomicU64>,
    /// Time to build, execute and commit a block.
    pub block_build_seconds: Histogram,
    /// Build time of the last block that ran an epoch's reward run (its sensor and density
    /// scoring, the reward report and the fraud detectors, with the block's other work).
    pub epoch_boundary_block_seconds: Gauge<f64, AtomicU64>,
    /// Time of the last reward run computed in the background, ahead of the block that
    /// settles it (a chain with a settle delay; docs/adr/0034-deferred-reward-run.md).
    pub reward_run_seconds: Gauge<f64, AtomicU64>,
    /// The execution budget the proposer grants its next block, after its pace
    /// ([`crate::pace::Pace`]); 0 when it has none (blocks on demand).
    pub proposer_budget_seconds: Gauge<f64, AtomicU64>,
    /// What the proposer expects each key a block writes to add to the block's tail (end
    /// of block, state tree, commit), learned from its blocks ([`crate::pace::Pace`]); 0
    /// until learned.
    pub proposer_tail_per_write_seconds: Gauge<f64, AtomicU64>,
    /// Time the store's block commits spent in each part (`cairn_store::CommitTimes`),
    /// summed over blocks: the mean of a part over a window is its increase over
    /// `blocks_committed`'s.
    pub commit_part_seconds: Family<PartLabel, Counter<f64, AtomicU64>>,
}

/// A part of a block's commit (`cairn_store::CommitTimes::parts`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartLabel {
    pub part: &'static str,
}

/// The node process and its store on disk.
#[derive(Clone)]
pub struct ProcessMetrics {
    /// Resident memory of the process (Linux; 0 elsewhere).
    pub resident_memory_bytes: Gauge,
    /// Size of the store file.
    pub store_bytes: Gauge,
    /// The allocator's returns of freed memory ([`crate::memory`]): how many, and the last
    /// one's time and the resident memory it gave back.
    pub memory_trims: Counter,
    pub memory_trim_seconds: Gauge<f64, AtomicU64>,
    pub memory_trimmed_bytes: Gauge,
    /// The store's walk of its tables, refreshed once an epoch ([`StoreMetrics`]).
    pub store: StoreMetrics,
}

/// What the store's tables take, from a walk of every table (`Store::table_bytes`) in a
/// read transaction on a thread of its own, once an epoch: the walk reads every page, so
/// it is not done per block, and a read transaction does not hold up block commits. Zero
/// until the first walk is done.
#[derive(Clone, Default)]
pub struct StoreMetrics {
    /// Bytes of the pages the tables take (keys and values, branch pages, unused space on
    /// their pages): the file less the free pages redb keeps for reuse and its own.
    pub used_bytes: Gauge,
    /// Key and value bytes of the authenticated state (`cairn_store::STATE_TABLES`).
    pub state_bytes: Gauge,
    /// Height of the head the last walk read.
    pub stats_height: Gauge,
    /// Wall time of the last walk.
    pub stats_seconds: Gauge<f64, AtomicU64>,
    /// The epoch last walked (or being walked), so each epoch is walked once.
    walked_epoch: Arc<std::sync::Mutex<Option<u64>>>,
    /// A walk is under way.
    walking: Arc<AtomicBool>,
}

impl StoreMetrics {
    /// Starts a walk of `store` on a thread of its own if `epoch` was not walked yet and no
    /// walk is under way; the gauges are set when it is done.
    pub fn walk_once_per_epoch(
        &self,
        store: &Arc<cairn_store::Store>,
        epoch: u64,
    ) -> Option<std::thread::JoinHandle<()>> {
        {
            let Ok(mut walked) = self.walked_epoch.lock() else { return None };
            if walked.is_some_and(|w| w >= epoch) || self.walking.swap(true, Ordering::AcqRel) {
                return None;
            }
            *walked = Some(epoch);
        }
        let (me, store) = (self.clone(), Arc::clone(store));
        let spawned = std::thread::Builder::new().name("store-stats".into()).spawn(move || {
            me.walk(&store);
            me.walking.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.walking.store(false, Ordering::Release);
        }
        spawned.ok()
    }

    /// Walks `store` now and sets the gauges (an error leaves them as they were).
    pub fn walk(&self, store: &cairn_store::Store) {
        let started = std::time::Instant::now();
        let height = store.snapshot().ok().and_then(|s| s.height().ok().flatten());
        match store.table_bytes() {
            Ok(tables) => {
                let (used, state) = table_sums(&tables);
                self.used_bytes.set(i64::try_from(used).unwrap_or(i64::MAX));
                self.state_bytes.set(i64::try_from(state).unwrap_or(i64::MAX));
                if let Some(h) = height {
                    self.stats_height.set(i64::try_from(h).unwrap_or(i64::MAX));
                }
                self.stats_seconds.set(started.elapsed().as_secs_f64());
            }
            Err(e) => tracing::warn!(error = %e, "walking the store's tables for /metrics"),
        }
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "store_used_bytes",
            "Bytes of the store's pages its tables take (file less free pages), once an epoch",
            self.used_bytes.clone(),
        );
        registry.register(
            "store_state_bytes",
            "Key and value bytes of the authenticated state tables, once an epoch",
            self.state_bytes.clone(),
        );
        registry.register(
            "store_stats_height",
            "Height of the head the last walk of the store's tables read",
            self.stats_height.clone(),
        );
        registry.register(
            "store_stats_seconds",
            "Wall time of the last walk of the store's tables",
            self.stats_seconds.clone(),
        );
    }
}

/// `(pages the tables take, key and value bytes of the state tables)`.
pub fn table_sums(tables: &[cairn_store::TableBytes]) -> (u64, u64) {
    let used = tables.iter().map(cairn_store::TableBytes::total_bytes).sum();
    let state = tables
        .iter()
        .filter(|t| cairn_store::STATE_TABLES.contains(&t.name.as_str()))
        .map(|t| t.stored_bytes)
        .sum();
    (used, state)
}

/// The process's resident memory, bytes (Linux; `None` elsewhere).
pub fn resident_bytes() -> Option<i64> {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse::<i64>().ok()))
            .map(|kib| kib.saturating_mul(1024))
    })
}

impl ProcessMetrics {
    /// Reads the process's resident memory and the store file's size.
    pub fn refresh(&self, store_file: &std::path::Path) {
        if let Some(bytes) = resident_bytes() {
            self.resident_memory_bytes.set(bytes);
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

/// The content type of [`Metrics::encode`]'s output. prometheus-client writes the
/// OpenMetrics layout (a counter family `x` with its sample `x_total`, a closing `# EOF`);
/// served as the older `text/plain; version=0.0.4`, parsers read each counter as an empty
/// counter plus an untyped metric.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
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
            blocks_committed: Counter::default(),
            block_time_seconds: Counter::default(),
            block_interval_seconds: Gauge::default(),
            block_build_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            epoch_boundary_block_seconds: Gauge::default(),
            reward_run_seconds: Gauge::default(),
            proposer_budget_seconds: Gauge::default(),
            proposer_tail_per_write_seconds: Gauge::default(),
            commit_part_seconds: Family::default(),
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
            "blocks_committed",
            "Blocks committed by this node",
            chain.blocks_committed.clone(),
        );
        registry.register(
            "block_time_seconds",
            "Chain time covered by the committed blocks (sum of header timestamp intervals)",
            chain.block_time_seconds.clone(),
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
        registry.register(
            "reward_run_seconds",
            "Time of the last reward run computed in the background, ahead of its settle block",
            chain.reward_run_seconds.clone(),
        );
        registry.register(
            "proposer_budget_seconds",
            "Execution time the proposer grants its next block after learning from its last",
            chain.proposer_budget_seconds.clone(),
        );
        registry.register(
            "proposer_tail_per_write_seconds",
            "Time the proposer expects each key a block writes to add after its transactions",
            chain.proposer_tail_per_write_seconds.clone(),
        );
        registry.register(
            "commit_part_seconds",
            "Time the store's block commits spent in each part, summed over blocks",
            chain.commit_part_seconds.clone(),
        );
        let process = ProcessMetrics {
            resident_memory_bytes: Gauge::default(),
            store_bytes: Gauge::default(),
            memory_trims: Counter::default(),
            memory_trim_seconds: Gauge::default(),
            memory_trimmed_bytes: Gauge::default(),
            store: StoreMetrics::default(),
        };
        registry.register(
            "memory_trims",
            "Times the node asked the allocator to return freed memory to the system",
            process.memory_trims.clone(),
        );
        registry.register(
            "memory_trim_seconds",
            "Time the last return of freed memory took",
            process.memory_trim_seconds.clone(),
        );
        registry.register(
            "memory_trimmed_bytes",
            "Resident memory the last return of freed memory gave back",
            process.memory_trimmed_bytes.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the node process",
            process.resident_memory_bytes.clone(),
        );
        registry.register("store_bytes", "Size of the store file", process.store_bytes.clone());
        process.store.register(&mut registry);
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

    /// The OpenMetrics text exposition, to be served as [`CONTENT_TYPE`].
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_walk_of_the_store_sets_its_used_and_state_bytes_once_an_epoch() {
        use cairn_types::{Genesis, Keypair, genesis::GenesisAccount};
        let dir = tempfile::tempdir().unwrap();
        let genesis = Genesis {
            chain_id: "stats-test".into(),
            genesis_time_ms: 0,
            validator: Keypair::from_label("stats-validator").address(),
            validators: Vec::new(),
            accounts: vec![GenesisAccount {
                address: Keypair::from_label("stats-a").address(),
                balance: 1_000,
            }],
            params: Default::default(),
        };
        let store = Arc::new(crate::open_store(dir.path(), &genesis).unwrap());
        let m = StoreMetrics::default();
        assert_eq!((m.used_bytes.get(), m.state_bytes.get()), (0, 0));
        m.walk(&store);
        let (used, state) = (m.used_bytes.get(), m.state_bytes.get());
        let (want_used, want_state) = table_sums(&store.table_bytes().unwrap());
        assert_eq!((used as u64, state as u64), (want_used, want_state));
        // The genesis state (an account, the parameters) is in it, on fewer bytes than
        // the tables' pages.
        assert!(state > 0 && used > state, "used {used}, state {state}");
        // Once per epoch: a second call for the same epoch starts no walk.
        m.walk_once_per_epoch(&store, 0);
        while m.walking.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        m.used_bytes.set(-1);
        m.walk_once_per_epoch(&store, 0);
        assert!(!m.walking.load(Ordering::Acquire));
        assert_eq!(m.used_bytes.get(), -1);
        m.walk_once_per_epoch(&store, 1);
        while m.walking.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(m.used_bytes.get(), used);
    }

    /// Checks `text` against the OpenMetrics text format's rules that a parser relies on:
    /// every sample belongs to a family declared before it with `# TYPE`, under a name the
    /// family's type allows (a counter's samples end in `_total` or `_created`; a
    /// histogram's in `_bucket`, `_sum`, `_count` or `_created`; a gauge's is the family
    /// name), families are declared once (so their samples, which follow the family's
    /// `# TYPE`, are contiguous), every value is a
    /// number (non-negative for counters), and the text ends with `# EOF`. Returns the
    /// declared families and their types.
    fn check_openmetrics(text: &str) -> Result<BTreeMap<String, String>, String> {
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        let mut current: Option<String> = None;
        let Some(body) = text.strip_suffix("# EOF\n") else {
            return Err("does not end with \"# EOF\\n\"".into());
        };
        for (n, line) in body.lines().enumerate() {
            let n = n + 1;
            if line.is_empty() {
                return Err(format!("line {n} is empty"));
            }
            if let Some(rest) = line.strip_prefix("# ") {
                let mut parts = rest.splitn(3, ' ');
                let (kind, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                match kind {
                    "TYPE" => {
                        let ty = parts.next().unwrap_or("").to_string();
                        let known = [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "info",
                            "stateset",
                            "gaugehistogram",
                            "unknown",
                        ];
                        if !known.contains(&ty.as_str()) {
                            return Err(format!("line {n}: unknown type {ty:?}"));
                        }
                        if types.insert(name.to_string(), ty).is_some() {
                            return Err(format!("line {n}: family {name} declared twice"));
                        }
                        current = Some(name.to_string());
                    }
                    "HELP" | "UNIT" => {
                        if current.as_deref() != Some(name) && types.contains_key(name) {
                            return Err(format!("line {n}: {kind} of {name} after its samples"));
                        }
                    }
                    _ => return Err(format!("line {n}: unknown descriptor {line:?}")),
                }
                continue;
            }
            let (series, value) =
                line.rsplit_once(' ').ok_or_else(|| format!("line {n}: no value in {line:?}"))?;
            let name = series.split('{').next().unwrap_or(series);
            let family = current
                .as_deref()
                .ok_or_else(|| format!("line {n}: sample {name} before any # TYPE"))?;
            let ty = types.get(family).map(String::as_str).unwrap_or("");
            let suffix = name
                .strip_prefix(family)
                .ok_or_else(|| format!("line {n}: sample {name} outside its family {family}"))?;
            let allowed: &[&str] = match ty {
                "counter" => &["_total", "_created"],
                "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            if !allowed.contains(&suffix) {
                return Err(format!("line {n}: sample {name} is not allowed in {ty} {family}"));
            }
            let v: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().map_err(|_| format!("line {n}: value {v:?} is not a number"))?,
            };
            if ty == "counter" && (v < 0.0 || v.is_nan()) {
                return Err(format!("line {n}: counter {name} is {v}"));
            }
        }
        Ok(types)
    }

    #[test]
    fn the_exposition_follows_the_openmetrics_rules_for_every_family() {
        let m = Metrics::new();
        m.chain.txs_committed.inc_by(3);
        m.chain.blocks_committed.inc();
        m.chain.block_time_seconds.inc_by(0.5);
        m.chain.block_build_seconds.observe(0.01);
        m.chain.block_interval_seconds.set(0.5);
        m.rejected("fee_too_low");
        let text = m.encode();
        let types = check_openmetrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(types.get("cairn_txs_committed").map(String::as_str), Some("counter"));
        assert_eq!(types.get("cairn_blocks_committed").map(String::as_str), Some("counter"));
        assert_eq!(types.get("cairn_block_time_seconds").map(String::as_str), Some("counter"));
        assert_eq!(types.get("cairn_height").map(String::as_str), Some("gauge"));
        assert_eq!(types.get("cairn_block_build_seconds").map(String::as_str), Some("histogram"));
        // No rate gauge: rates come from the counters.
        assert!(!types.keys().any(|k| k.contains("per_second")), "{types:?}");
        assert!(text.contains("cairn_txs_committed_total 3\n"), "{text}");
        assert!(text.contains("cairn_api_txs_rejected_total{code=\"fee_too_low\"} 1\n"));
        // The format served is the one written.
        assert!(CONTENT_TYPE.starts_with("application/openmetrics-text; version=1.0.0"));
    }

    #[test]
    fn the_checker_refuses_what_a_parser_would_misread() {
        let ok = "# TYPE a counter\n# HELP a A.\na_total 1\n# EOF\n";
        assert!(check_openmetrics(ok).is_ok());
        // A counter sample without _total: read as another, untyped metric.
        assert!(check_openmetrics("# TYPE a counter\na 1\n# EOF\n").is_err());
        // No # EOF.
        assert!(check_openmetrics("# TYPE a counter\na_total 1\n").is_err());
        // A sample of no declared family.
        assert!(check_openmetrics("b 1\n# EOF\n").is_err());
        // A gauge sample under another name.
        assert!(check_openmetrics("# TYPE g gauge\ng_total 1\n# EOF\n").is_err());
        // A family declared twice.
        assert!(check_openmetrics("# TYPE g gauge\ng 1\n# TYPE g gauge\ng 2\n# EOF\n").is_err());
        // A negative counter.
        assert!(check_openmetrics("# TYPE a counter\na_total -1\n# EOF\n").is_err());
    }
}
