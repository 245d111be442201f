//! The node: wiring of the store, the state machine, the mempool, the block source (the
//! solo producer, or a BFT driver handed in by the binary), the HTTP API, transaction
//! forwarding to peers, and metrics.
//!
//! Data directory layout:
//! - `genesis.json`: the chain's genesis file;
//! - `validator_key.json`: the block producer's key (plain, mode 0600);
//! - `chain.redb`: the store.

pub mod api;
pub mod api_devices;
pub mod api_explorer;
pub mod api_gov;
pub mod api_rewards;
pub mod api_staking;
pub mod api_txs;
pub mod events;
pub mod memory;
pub mod mempool;
pub mod metrics;
pub mod pace;
pub mod pipeline;
pub mod producer;
pub mod relay;
pub mod reward_runs;

/// Secret-file writing lives with the keystore; re-exported for the node's callers.
pub use cairn_keystore::files::{self, write_private, write_private_new};

use anyhow::{Context, bail};
use cairn_app::{App, Parent};
use cairn_state::tree;
use cairn_store::{Snapshot, Store};
use cairn_types::{Genesis, Keypair};
use mempool::{Mempool, MempoolConfig};
use metrics::Metrics;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

pub const GENESIS_FILE: &str = "genesis.json";
pub const VALIDATOR_KEY_FILE: &str = "validator_key.json";
pub const STORE_FILE: &str = "chain.redb";

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub block_interval: Duration,
    /// Make blocks only when asked (`POST /v1/dev/blocks`), never on a timer: for scripts
    /// and tests that need to know which block a transaction lands in.
    pub blocks_on_demand: bool,
    /// How long the producer spends at most from starting a block to the end of executing
    /// its transactions (`cairn_app::proposal_time` of the interval, scaled
    /// by the proposer's pace, [`pace::Pace`]); the rest waits in
    /// the mempool for the next block. `None`: only the chain's limits and cost budget
    /// close a block (blocks on demand, whose caller waits for the block it asked for).
    pub propose_within: Option<Duration>,
    pub mempool: MempoolConfig,
    /// Largest HTTP request body accepted.
    pub max_request_bytes: usize,
    /// API base URLs of the other validators; transactions submitted here are forwarded to
    /// them (BFT mode).
    pub relay_peers: Vec<String>,
    /// Most bytes of the store's pages kept cached in memory (redb's cache); the default is
    /// [`cairn_store::DEFAULT_CACHE_BYTES`], 512 MiB.
    pub store_cache_bytes: usize,
    /// Most `GET /v1/events` streams open at once; one more gets 503 `too_many_streams`.
    pub max_event_streams: usize,
    /// Keep every block, receipt, report and reward index (`--archive`); the tree is kept
    /// as `keep_versions` says.
    pub archive: bool,
    /// Epochs of blocks, receipts, reports and reward indexes kept (`--keep-epochs`); the
    /// default and the least accepted is [`min_keep_epochs`] of the chain's parameters.
    pub keep_epochs: Option<u64>,
    /// Versions of the state tree kept for proofs (`--keep-versions`); 0 keeps every
    /// version. Any number is safe: the state a pending reward run reads is kept apart,
    /// whatever this says.
    pub keep_versions: u64,
    /// Walk the store's tables once an epoch for the `store_used_bytes` and
    /// `store_state_bytes` gauges of `/metrics` (`--no-store-stats` turns it off).
    pub store_stats: bool,
}

/// The default of [`NodeConfig::keep_versions`]: proofs of the last 16 blocks. Every proof
/// the API serves is at the head (accounts, reward roots) except a block's validator set,
/// proven at its parent for the explorer's certificate check: 16 blocks let it check the
/// blocks of the last 8 to 16 seconds at 0.5–1 s blocks; each version kept costs the nodes
/// its block made stale (docs/adr/0044-pinned-reward-snapshot.md).
pub const DEFAULT_KEEP_VERSIONS: u64 = 16;

/// The fewest epochs of history a pruned node keeps: what appeals, audits and challenge
/// windows read. A reward entry of epoch e is held in escrow until epoch e + 1 +
/// `escrow_epochs` and may be appealed and resolved until then, so its epoch's reports and
/// reward rows stay (`escrow_epochs` + 2 epochs); equivocation evidence and a channel
/// dispute reach back their windows in blocks (rounded up to whole epochs, plus the epoch
/// under way).
pub fn min_keep_epochs(params: &cairn_types::Params) -> u64 {
    let bpe = params.blocks_per_epoch.max(1);
    let windows = [params.staking.max_evidence_age_blocks, params.usage.dispute_window_blocks];
    let blocks = windows.into_iter().max().unwrap_or(0);
    let by_blocks = blocks.div_ceil(bpe).saturating_add(1);
    params.fraud.escrow_epochs.saturating_add(2).max(by_blocks)
}

impl NodeConfig {
    /// What the store keeps under this configuration on a chain with `params`; an error
    /// names the least accepted value when `keep_epochs` is below it.
    pub fn retention(
        &self,
        params: &cairn_types::Params,
    ) -> anyhow::Result<cairn_store::Retention> {
        // Any number of versions is safe: a pending reward run's snapshot is held apart
        // (reward_runs, docs/adr/0044-pinned-reward-snapshot.md).
        let tree_versions = (self.keep_versions > 0).then_some(self.keep_versions);
        if self.archive {
            return Ok(cairn_store::Retention { tree_versions, epochs: None });
        }
        let min = min_keep_epochs(params);
        let epochs = self.keep_epochs.unwrap_or(min);
        if epochs < min {
            bail!(
                "--keep-epochs {epochs} is too few: this chain's appeals, audits and challenge \
                 windows need at least {min} epochs (escrow of {} epochs + 2; evidence window \
                 of {} blocks and dispute window of {} blocks, at {} blocks an epoch); use \
                 --keep-epochs {min} or more, or --archive",
                params.fraud.escrow_epochs,
                params.staking.max_evidence_age_blocks,
                params.usage.dispute_window_blocks,
                params.blocks_per_epoch
            );
        }
        Ok(cairn_store::Retention { tree_versions, epochs: Some(epochs) })
    }
}

impl NodeConfig {
    pub fn new(data_dir: PathBuf) -> NodeConfig {
        NodeConfig {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            block_interval: Duration::from_millis(1000),
            blocks_on_demand: false,
            propose_within: None,
            mempool: MempoolConfig::default(),
            max_request_bytes: 4 * 1024 * 1024,
            relay_peers: Vec::new(),
            store_cache_bytes: cairn_store::DEFAULT_CACHE_BYTES,
            archive: false,
            keep_epochs: None,
            keep_versions: DEFAULT_KEEP_VERSIONS,
            store_stats: true,
            max_event_streams: events::DEFAULT_MAX_EVENT_STREAMS,
        }
    }
}

/// What every task of the node shares.
pub struct Shared {
    pub app: App,
    pub genesis: Genesis,
    /// Shared with the BFT driver, which reads blocks and state and keeps its pending
    /// blocks in it.
    pub store: Arc<Store>,
    pub mempool: Mutex<Mempool>,
    pub metrics: Metrics,
    pub key: Keypair,
    pub config: NodeConfig,
    /// Held while a block is built and committed, so two never overlap.
    pub producing: Mutex<()>,
    /// The block the ticking producer left committing, if any (taken under `producing`;
    /// docs/adr/0045-commit-beside-the-next-block.md).
    pub in_flight: Mutex<Option<pipeline::InFlight>>,
    /// Forwards admitted client transactions to the peers in `config.relay_peers`.
    pub relay: relay::Relay,
    /// Reward Merkle trees of recent epochs, for claim paths.
    pub reward_trees: api_rewards::TreeCache,
    /// Recent chain events for `GET /v1/events`.
    pub events: events::Hub,
    /// Threads working beside the blocks (reward runs, store walks) that read the store:
    /// shutdown waits for them, so the store is closed when it returns.
    pub background: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// How much of `config.propose_within` the producer grants its next block, learned from
    /// its last blocks.
    pub pace: pace::Pace,
}

impl Shared {
    /// Keeps `thread` for shutdown to wait on (forgetting those already finished).
    pub fn track(&self, thread: std::thread::JoinHandle<()>) {
        if let Ok(mut threads) = self.background.lock() {
            threads.retain(|t| !t.is_finished());
            threads.push(thread);
        }
    }

    pub fn mempool(&self) -> MutexGuard<'_, Mempool> {
        // A panic while holding the lock cannot leave the pool half-updated in a way that
        // matters more than stopping would; keep serving.
        self.mempool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The block left committing ([`Shared::in_flight`]).
    pub fn in_flight(&self) -> MutexGuard<'_, Option<pipeline::InFlight>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> anyhow::Result<Snapshot> {
        Ok(self.store.snapshot()?)
    }

    /// The parent of the next block.
    pub fn parent(&self, snap: &Snapshot) -> anyhow::Result<Parent> {
        Ok(match snap.head_block()? {
            Some(b) => Parent::of_block(&b),
            None => Parent::of_genesis(&self.genesis),
        })
    }
}

/// Reads the genesis file of a data directory.
pub fn read_genesis(data_dir: &Path) -> anyhow::Result<Genesis> {
    let path = data_dir.join(GENESIS_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let g: Genesis =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    g.validate()?;
    Ok(g)
}

/// The validator key file: the 32-byte seed, hex.
#[derive(serde::Serialize, serde::Deserialize)]
struct ValidatorKeyFile {
    address: cairn_types::Address,
    secret_hex: String,
}

pub fn write_validator_key(data_dir: &Path, key: &Keypair) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(VALIDATOR_KEY_FILE);
    let body = serde_json::to_string_pretty(&ValidatorKeyFile {
        address: key.address(),
        secret_hex: hex::encode(key.secret_bytes()),
    })?;
    write_private(&path, body.as_bytes())?;
    Ok(path)
}

pub fn read_validator_key(data_dir: &Path) -> anyhow::Result<Keypair> {
    let path = data_dir.join(VALIDATOR_KEY_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let f: ValidatorKeyFile =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let seed: [u8; 32] = hex::decode(&f.secret_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{}: secret_hex must be 64 hex digits", path.display()))?;
    let key = Keypair::from_secret(seed);
    if key.address() != f.address {
        bail!("{}: the secret does not match the address {}", path.display(), f.address);
    }
    Ok(key)
}

/// Opens the store of a data directory, writing genesis on first start, and checks that
/// the stored chain matches the genesis file and that the head's state root is the root of
/// the stored tree (the store is whole after any crash).
pub fn open_store(data_dir: &Path, genesis: &Genesis) -> anyhow::Result<Store> {
    open_store_with_cache(data_dir, genesis, cairn_store::DEFAULT_CACHE_BYTES)
}

/// [`open_store`] with at most `cache_bytes` of the store's pages cached in memory.
pub fn open_store_with_cache(
    data_dir: &Path,
    genesis: &Genesis,
    cache_bytes: usize,
) -> anyhow::Result<Store> {
    open_store_with(data_dir, genesis, cache_bytes, cairn_store::Retention::ARCHIVE)
}

/// [`open_store_with_cache`] keeping what `retention` says.
pub fn open_store_with(
    data_dir: &Path,
    genesis: &Genesis,
    cache_bytes: usize,
    retention: cairn_store::Retention,
) -> anyhow::Result<Store> {
    let store = Store::open_with(&data_dir.join(STORE_FILE), cache_bytes, retention)?;
    let snap = store.snapshot()?;
    match snap.genesis()? {
        None => {
            let changes = App::genesis_changes(genesis)?;
            let (root, batch) = App::genesis_root(&snap, &changes)?;
            drop(snap);
            store.commit_genesis(genesis, &changes, &batch)?;
            tracing::info!(chain_id = %genesis.chain_id, %root, "wrote genesis");
        }
        Some(stored) => {
            if stored.hash() != genesis.hash() {
                bail!(
                    "the store in {} holds chain {:?} with another genesis than {}",
                    data_dir.display(),
                    stored.chain_id,
                    GENESIS_FILE
                );
            }
            if let Some(head) = snap.head()? {
                let root = tree::root_at(&snap, head.height)?;
                if root != head.state_root {
                    bail!(
                        "store is inconsistent: head {} claims root {} but the tree holds {}",
                        head.height,
                        head.state_root,
                        root
                    );
                }
                tracing::info!(height = head.height, state_root = %head.state_root, "resumed from store");
            }
        }
    }
    Ok(store)
}

/// A running node.
pub struct NodeHandle {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    source_done: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl NodeHandle {
    /// Stops producing and serving, and waits for the tasks to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let threads = self.shared.background.lock().map(|mut t| std::mem::take(&mut *t));
        if let Ok(threads) = threads {
            let _ = tokio::task::spawn_blocking(move || {
                for t in threads {
                    let _ = t.join();
                }
            })
            .await;
        }
    }

    /// Resolves when the block source stops (after shutdown, or on a fatal error).
    pub async fn block_source_stopped(&mut self) {
        match self.source_done.take() {
            Some(rx) => {
                let _ = rx.await;
            }
            None => std::future::pending::<()>().await,
        }
    }

    /// Waits until the node stops (it stops only on shutdown or a fatal error).
    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// What makes blocks: started with the node's shared state and the shutdown signal, it
/// returns the task that runs until shutdown. The solo producer is built in; the BFT driver
/// comes from the `cairn-consensus` crate, wired to this crate's `Shared` by the binary.
pub type BlockSource = Box<
    dyn FnOnce(
            Arc<Shared>,
            watch::Receiver<bool>,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = anyhow::Result<tokio::task::JoinHandle<()>>> + Send>,
        > + Send,
>;

/// Starts a solo node on a data directory that holds a genesis file and a validator key.
pub async fn start(config: NodeConfig) -> anyhow::Result<NodeHandle> {
    start_with(config, None).await
}

/// Starts a node whose blocks come from `source` (the solo producer when `None`).
pub async fn start_with(
    config: NodeConfig,
    source: Option<BlockSource>,
) -> anyhow::Result<NodeHandle> {
    let genesis = read_genesis(&config.data_dir)?;
    let key = read_validator_key(&config.data_dir)?;
    match (&source, genesis.is_bft()) {
        (None, true) => bail!("the genesis lists validators: this chain runs BFT consensus"),
        (Some(_), false) => bail!("the genesis lists no validators: this chain runs solo"),
        (None, false) if key.address() != genesis.validator => bail!(
            "validator key {} is not the genesis validator {}",
            key.address(),
            genesis.validator
        ),
        _ => {}
    }
    let retention = config.retention(&genesis.params)?;
    let store = open_store_with(&config.data_dir, &genesis, config.store_cache_bytes, retention)?;
    let (tx, rx) = watch::channel(false);
    let (relay, mut tasks) =
        relay::spawn(&config.relay_peers, config.max_request_bytes, rx.clone())?;
    let shared = Arc::new(Shared {
        app: App::new(genesis.chain_id.clone()),
        mempool: Mutex::new(Mempool::new(config.mempool)),
        metrics: Metrics::new(),
        genesis,
        store: Arc::new(store),
        key,
        config: config.clone(),
        producing: Mutex::new(()),
        in_flight: Mutex::new(None),
        relay,
        reward_trees: Default::default(),
        pace: Default::default(),
        events: Default::default(),
        background: Default::default(),
    });
    producer::refresh_metrics(&shared)?;
    // A reward run fixed before a restart is computed again, and its snapshot held.
    reward_runs::after_commit(&shared)?;
    reward_runs::check_snapshot_kept(&shared)?;
    {
        // A node too old for a passed upgrade at its next height does not start.
        let snap = shared.snapshot()?;
        let next = snap.height()?.unwrap_or(0) + 1;
        shared.app.check_upgrade(&snap, next).with_context(|| {
            format!("this data directory's chain stands at height {}", next - 1)
        })?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the API to {}", config.listen))?;
    let addr = listener.local_addr()?;
    let producer_task = match source {
        // Blocks on demand: nothing produces on a timer; the source idles until shutdown.
        None if config.blocks_on_demand => {
            let mut stop = rx.clone();
            tokio::spawn(async move {
                let _ = stop.changed().await;
            })
        }
        None => tokio::spawn(producer::run(shared.clone(), rx.clone())),
        Some(source) => source(shared.clone(), rx.clone()).await?,
    };
    // Whoever holds the handle learns when the block source stops on its own.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    tasks.push(tokio::spawn(async move {
        let _ = producer_task.await;
        let _ = done_tx.send(());
    }));
    tasks.push(tokio::spawn(events::run(shared.clone(), rx.clone())));
    tasks.push(tokio::spawn(memory::run(shared.clone(), rx.clone())));
    tasks.push(tokio::spawn(api::serve(listener, shared.clone(), rx)));
    tracing::info!(
        %addr,
        chain_id = %shared.genesis.chain_id,
        on_demand = config.blocks_on_demand,
        "node started"
    );
    Ok(NodeHandle { addr, shared, shutdown: tx, tasks, source_done: Some(done_rx) })
}

#[cfg(test)]
mod api_routes_tests;
#[cfg(test)]
mod producer_tests;
#[cfg(test)]
mod pruning_tests;
