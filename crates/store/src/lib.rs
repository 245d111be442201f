//! The on-disk store: one redb file holding the state (latest values and the versioned
//! Merkle tree), blocks, transaction index and receipts, and the blocks the BFT driver
//! keeps for heights not yet committed ([`pending`]).
//!
//! Crash safety: a block, its receipts, its state changes and its tree nodes are written in
//! ONE redb write transaction committed with fsync, so after a kill at any moment the store
//! holds either all of a block or none of it. See docs/adr/0002-store-redb.md.

pub mod device_index;
pub mod pending;
mod prune;
mod rewards;
mod stats;
mod tables;

pub use prune::Retention;
pub use stats::{PrefixBytes, STATE_TABLES, TableBytes, state_prefix};

use cairn_state::{ChangeSet, CommittedState, StateError, StateRead};
use cairn_types::device::RejectReason;
use cairn_types::device_key::DeviceId;
use cairn_types::{
    Block, BlockHeader, Genesis, Hash, Height, Receipt, Report, TxBody, TxOutcome, codec,
};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, Version};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable};
use std::path::Path;
use tables::*;

/// Bumped whenever the layout of any table changes. A node refuses to open a store written
/// with another version instead of misreading it. Version 5: reward entries carry density
/// factors and sensor quality; the device and its epoch activity hold all counted work.
/// Version 6: receipts are keyed by (height, index), not by transaction hash. Version 7: a
/// hotspot's witnessed beaconers are one list over the reciprocity window (`heard/<id>`),
/// not one per epoch. Version 8: the fraud parameters gain the ring leak share and the
/// unheard rule; a hotspot's beacon before its last is kept (`devbeaconprev/<id>`).
/// Version 9: epoch activity and reward entries count the deferred units and jobs that met
/// the uptime gate in the epoch they were done (`units_pregated`, `jobs_pregated`).
/// Version 10: `tree_values` holds only replaced values (the latest are in `state_latest`),
/// the tree can be pruned (`tree_stale_*`), `device_report_pos` is keyed epoch first and
/// holds the verdicts; the `reports` table is gone (reports are read from their block).
pub const SCHEMA_VERSION: u32 = 10;

/// Largest stored object decoded (blocks are the largest).
const MAX_OBJECT: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    #[error(
        "the store was written with schema version {found} and this cairn reads version \
         {expected}: run the cairn that wrote it, or start this one on a new data directory \
         and sync the chain again (the store is not migrated)"
    )]
    SchemaMismatch { found: u32, expected: u32 },
    #[error("store is empty: genesis has not been written")]
    NotInitialized,
    #[error("store already holds a chain")]
    AlreadyInitialized,
    #[error("block {got} does not follow the stored head {head}")]
    NotNext { head: Height, got: Height },
    #[error("corrupt {what} in store: {reason}")]
    Corrupt { what: &'static str, reason: String },
    /// Every version reads the genesis of every older one (crates/types/src/appended.rs), so
    /// this is a store written by a newer version, or a damaged one.
    #[error(
        "the genesis in this store cannot be read by cairn {version} ({reason}): it was written \
         by a newer version of cairn, or the store is damaged"
    )]
    UnreadableGenesis { version: &'static str, reason: String },
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error(
        "{what} {at} is pruned: this node keeps {what}s from {kept_from}; \
         older ones need an archive node (cairn node --archive)"
    )]
    Pruned { what: &'static str, at: u64, kept_from: u64 },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.into()) }
        }
    )*};
}
db_err!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<StoreError> for StateError {
    fn from(e: StoreError) -> Self {
        StateError::Storage(e.to_string())
    }
}

fn corrupt(what: &'static str) -> impl Fn(codec::DecodeError) -> StoreError {
    move |e| StoreError::Corrupt { what, reason: e.to_string() }
}

/// The default of the node's bound on redb's page cache (`cairn node --store-cache-mib`):
/// 512 MiB, a quarter of the 2 GiB a node with a million devices is to stay within, the
/// rest for block execution, the reward run and the mempool; the pages beyond it are read
/// through the system's page cache (docs/adr/0038-node-memory-at-scale.md).
pub const DEFAULT_CACHE_BYTES: usize = 512 * 1024 * 1024;

/// The node's database.
pub struct Store {
    db: Database,
    retention: Retention,
    /// The version whose values a pruning commit must keep whatever `retention` says
    /// (`u64::MAX`: none): the snapshot of a reward run not yet settled, set by the node
    /// ([`Store::hold_tree_version`]; docs/adr/0034-deferred-reward-run.md,
    /// docs/adr/0044-pinned-reward-snapshot.md).
    tree_hold: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens (or creates) the store at `path` with the default page cache bound
    /// ([`DEFAULT_CACHE_BYTES`]) and checks its schema version.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the store at `path`, keeping at most `cache_bytes` of its pages
    /// cached in memory, and checks its schema version. It keeps everything
    /// ([`Retention::ARCHIVE`]) unless told otherwise ([`Store::open_with`]).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store, StoreError> {
        Store::open_with(path, cache_bytes, Retention::ARCHIVE)
    }

    /// [`Store::open_with_cache`] keeping what `retention` says: each commit from then on
    /// prunes, in its own write transaction, what falls out of it.
    pub fn open_with(
        path: &Path,
        cache_bytes: usize,
        retention: Retention,
    ) -> Result<Store, StoreError> {
        let db = Database::builder().set_cache_size(cache_bytes).create(path)?;
        let w = db.begin_write()?;
        {
            // The version first: a store of another schema may hold tables of other types,
            // which opening them as this schema's would refuse with a less useful error.
            let mut meta = w.open_table(META)?;
            let found = meta.get(SCHEMA_KEY)?.map(|v| v.value().to_vec());
            match found {
                None => {
                    meta.insert(SCHEMA_KEY, SCHEMA_VERSION.to_le_bytes().as_slice())?;
                }
                Some(bytes) => {
                    let arr: [u8; 4] =
                        bytes.as_slice().try_into().map_err(|_| StoreError::Corrupt {
                            what: "schema version",
                            reason: format!("{} bytes", bytes.len()),
                        })?;
                    let found = u32::from_le_bytes(arr);
                    if found != SCHEMA_VERSION {
                        return Err(StoreError::SchemaMismatch { found, expected: SCHEMA_VERSION });
                    }
                }
            }
            drop(meta);
            create_tables(&w)?;
        }
        w.commit()?;
        Ok(Store { db, retention, tree_hold: std::sync::atomic::AtomicU64::new(u64::MAX) })
    }

    /// What this store keeps.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Keeps the values of `version` readable ([`cairn_state::ValueAt`], what
    /// [`cairn_state::AtVersion`] reads) through the following commits, however few
    /// versions the retention keeps (`None` lifts the hold). Only its values: its tree nodes,
    /// and the versions between it and the kept ones, are pruned as the retention says, so
    /// a proof at it is refused once it falls out. A version already pruned stays pruned.
    pub fn hold_tree_version(&self, version: Option<u64>) {
        self.tree_hold.store(version.unwrap_or(u64::MAX), std::sync::atomic::Ordering::SeqCst);
    }

    /// The version [`Store::hold_tree_version`] holds.
    pub fn tree_hold(&self) -> Option<u64> {
        let v = self.tree_hold.load(std::sync::atomic::Ordering::SeqCst);
        (v != u64::MAX).then_some(v)
    }

    /// A consistent read-only view of everything committed so far.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Snapshot::new(self.db.begin_read()?)
    }

    /// Writes genesis: the file itself and the state at version 0.
    pub fn commit_genesis(
        &self,
        genesis: &Genesis,
        changes: &ChangeSet,
        batch: &TreeUpdateBatch,
    ) -> Result<(), StoreError> {
        let w = self.db.begin_write()?;
        {
            let mut meta = w.open_table(META)?;
            if meta.get(GENESIS_KEY)?.is_some() {
                return Err(StoreError::AlreadyInitialized);
            }
            meta.insert(GENESIS_KEY, codec::encode(genesis).as_slice())?;
            meta.insert(STATE_VERSION_KEY, 0u64.to_le_bytes().as_slice())?;
        }
        write_state(&w, changes, batch, 0, self.retention, None, &mut CommitTimes::default())?;
        w.commit()?;
        Ok(())
    }

    /// Commits a block with its receipts, state changes and tree nodes in one write
    /// transaction. The block must be the next one after the stored head.
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        changes: &ChangeSet,
        batch: &TreeUpdateBatch,
        rewards: Option<&cairn_types::rewards::RewardIndexChunk>,
    ) -> Result<CommitTimes, StoreError> {
        let mut times = CommitTimes::default();
        let mut lap = Lap::new();
        let height = block.header.height;
        let w = self.db.begin_write()?;
        {
            let mut meta = w.open_table(META)?;
            let head = match meta.get(STATE_VERSION_KEY)? {
                Some(v) => read_u64(v.value(), "state version")?,
                None => return Err(StoreError::NotInitialized),
            };
            if height != head + 1 {
                return Err(StoreError::NotNext { head, got: height });
            }
            meta.insert(STATE_VERSION_KEY, height.to_le_bytes().as_slice())?;
            let hash = block.hash();
            w.open_table(BLOCKS)?.insert(height, codec::encode(block).as_slice())?;
            w.open_table(BLOCK_HASHES)?.insert(hash.0, height)?;
            let mut txs = w.open_table(TX_INDEX)?;
            let mut rs = w.open_table(RECEIPTS)?;
            for r in receipts {
                txs.insert(r.tx_hash.0, (height, r.index))?;
                rs.insert((height, r.index), codec::encode(r).as_slice())?;
            }
            index_reports(&w, block, receipts)?;
            if let Some(r) = rewards {
                rewards::index_rewards(&w, r)?;
            }
        }
        times.history = lap.next();
        write_state(&w, changes, batch, height, self.retention, self.tree_hold(), &mut times)?;
        // `write_state` timed its own parts.
        lap = Lap::new();
        prune::prune_history(&w, &block.header, self.retention)?;
        times.prune_history = lap.next();
        w.commit()?;
        times.flush = lap.next();
        Ok(times)
    }
}

/// Where one block's commit spent its time, part by part, in the order they run (for the
/// producer's debug log and `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitTimes {
    /// The block, its hash, transaction index, receipts, report positions and reward rows.
    pub history: std::time::Duration,
    /// The latest values and the device index.
    pub latest: std::time::Duration,
    /// The values the block replaced (and, pruning, their index).
    pub past_values: std::time::Duration,
    /// The tree's new nodes.
    pub tree_nodes: std::time::Duration,
    /// The index of the nodes the block made stale (a pruning store only).
    pub stale_index: std::time::Duration,
    /// Deleting tree nodes and past values no kept version reaches.
    pub prune_tree: std::time::Duration,
    /// Deleting blocks, receipts and indexes of epochs no longer kept.
    pub prune_history: std::time::Duration,
    /// redb's commit: the dirty pages written (a write each) and the header, then one fsync.
    pub flush: std::time::Duration,
}

impl CommitTimes {
    /// Every part, named as on `/metrics` and in the log.
    pub fn parts(&self) -> [(&'static str, std::time::Duration); 8] {
        [
            ("history", self.history),
            ("latest", self.latest),
            ("past_values", self.past_values),
            ("tree_nodes", self.tree_nodes),
            ("stale_index", self.stale_index),
            ("prune_tree", self.prune_tree),
            ("prune_history", self.prune_history),
            ("flush", self.flush),
        ]
    }
}

/// Successive laps of one clock.
struct Lap(std::time::Instant);

impl Lap {
    fn new() -> Lap {
        Lap(std::time::Instant::now())
    }

    /// The time since the last lap (or the start).
    fn next(&mut self) -> std::time::Duration {
        let now = std::time::Instant::now();
        let d = now - self.0;
        self.0 = now;
        d
    }
}

/// A report found in the index, with where it was included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedReport {
    pub height: Height,
    pub tx_index: u32,
    pub report_index: u32,
    pub report: Report,
    /// `None` for an accepted report.
    pub reason: Option<RejectReason>,
}

/// Position of a report in the chain, for paging: (height, tx index, report index).
pub type ReportCursorPos = (Height, u32, u32);

/// One report of a device in a block: (tx index, report index, why it was rejected).
type ReportPos = (u32, u32, Option<RejectReason>);

/// Indexes every report of the block's report batches, from the receipts' verdicts, outside
/// the authenticated state: per device and block, where that device's reports are in the
/// block and the verdict on each. The reports themselves are read from the block, which
/// holds them already (ADR 0025); one random-order row per device per block (ADR 0006).
fn index_reports(
    w: &redb::WriteTransaction,
    block: &Block,
    receipts: &[Receipt],
) -> Result<(), StoreError> {
    let height = block.header.height;
    let epoch = block.header.epoch;
    let mut positions: std::collections::BTreeMap<[u8; 32], Vec<ReportPos>> = Default::default();
    for (stx, receipt) in block.txs.iter().zip(receipts) {
        let TxBody::SubmitReports { reports } = &stx.tx.body else { continue };
        let TxOutcome::Reports { rejected: rejections, .. } = &receipt.outcome else { continue };
        let mut reasons = rejections.iter().map(|r| (r.index, &r.reason)).peekable();
        for (i, signed) in reports.iter().enumerate() {
            let i = i as u32;
            let reason = reasons.next_if(|(idx, _)| *idx == i).map(|(_, r)| r.clone());
            positions.entry(signed.report.device.id().0).or_default().push((
                receipt.index,
                i,
                reason,
            ));
        }
    }
    let mut pos_table = w.open_table(DEVICE_REPORT_POS)?;
    for (device, list) in positions {
        pos_table.insert((epoch, device, height), codec::encode(&list).as_slice())?;
    }
    Ok(())
}

fn read_u64(bytes: &[u8], what: &'static str) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt { what, reason: format!("{} bytes", bytes.len()) })?;
    Ok(u64::from_le_bytes(arr))
}

/// Writes a version's state: the latest values, the values they replace (for proofs of
/// earlier versions) and the tree's new nodes; a store that prunes its tree also records
/// what became stale and drops what no kept version reaches ([`prune::prune_tree`]).
fn write_state(
    w: &redb::WriteTransaction,
    changes: &ChangeSet,
    batch: &TreeUpdateBatch,
    version: u64,
    retention: Retention,
    hold: Option<u64>,
    times: &mut CommitTimes,
) -> Result<(), StoreError> {
    let mut lap = Lap::new();
    let pruning = retention.tree_versions.is_some();
    let mut latest = w.open_table(LATEST)?;
    let mut index = w.open_table(DEVICE_INDEX)?;
    // The values the changes replace, by key hash. Each table below is written in its own
    // key order (the change set is in state-key order, which is neither the key hashes' nor
    // the tree nodes' stored order): consecutive inserts then walk down to the same or the
    // next leaf page, instead of one at random per change. Same rows either way.
    let mut replaced: Vec<([u8; 32], Vec<u8>)> = Vec::new();
    for (k, v) in changes {
        let old = match v {
            Some(v) => latest.insert(k.as_slice(), v.as_slice())?,
            None => latest.remove(k.as_slice())?,
        };
        let old = old.map(|g| g.value().to_vec());
        if device_index::is_device_key(k) {
            device_index::update(&mut index, old.as_deref(), v.as_deref())?;
        }
        // Genesis replaces nothing: no proof is asked before version 0.
        if version > 0 && old.as_deref() != v.as_deref() {
            let kh = cairn_state::tree::key_hash(k).0;
            replaced.push((kh, encode_versioned(old.as_deref())));
        }
    }
    drop((latest, index));
    times.latest = lap.next();
    // A stable sort: two keys under one hash (never seen with SHA-256) keep their order, the
    // later one's row written last, as key by key.
    replaced.sort_by_key(|a| a.0);
    let mut values = w.open_table(VALUES)?;
    for (kh, old) in &replaced {
        values.insert((*kh, version), old.as_slice())?;
    }
    drop(values);
    if pruning {
        let mut stale_values = w.open_table(STALE_VALUES)?;
        for (kh, _) in &replaced {
            stale_values.insert((version, *kh), ())?;
        }
    }
    drop(replaced);
    times.past_values = lap.next();
    let mut rows: Vec<(Vec<u8>, Vec<u8>)> = batch
        .node_batch
        .nodes()
        .iter()
        .map(|(key, node)| (codec::encode(key), codec::encode(node)))
        .collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut nodes = w.open_table(NODES)?;
    for (key, node) in &rows {
        nodes.insert(key.as_slice(), node.as_slice())?;
    }
    drop((nodes, rows));
    times.tree_nodes = lap.next();
    if pruning {
        prune::record_stale_nodes(w, batch, version)?;
        times.stale_index = lap.next();
        let added = (batch.stale_node_index_batch.len(), changes.len());
        prune::prune_tree(w, version, retention, hold, added)?;
        times.prune_tree = lap.next();
    }
    Ok(())
}

/// Versioned values: a tag byte (0 deleted, 1 present) then the value.
fn encode_versioned(v: Option<&[u8]>) -> Vec<u8> {
    match v {
        None => vec![0],
        Some(v) => {
            let mut out = Vec::with_capacity(v.len() + 1);
            out.push(1);
            out.extend_from_slice(v);
            out
        }
    }
}

fn decode_versioned(bytes: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    match bytes.split_first() {
        Some((0, [])) => Ok(None),
        Some((1, rest)) => Ok(Some(rest.to_vec())),
        _ => Err(StoreError::Corrupt { what: "versioned value", reason: "bad tag".into() }),
    }
}

/// A consistent read view. Implements the state traits, so the state machine executes
/// against it and the tree reads its nodes from it.
pub struct Snapshot {
    meta: redb::ReadOnlyTable<&'static str, &'static [u8]>,
    latest: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    nodes: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    values: redb::ReadOnlyTable<([u8; 32], u64), &'static [u8]>,
    blocks: redb::ReadOnlyTable<u64, &'static [u8]>,
    block_hashes: redb::ReadOnlyTable<[u8; 32], u64>,
    tx_index: redb::ReadOnlyTable<[u8; 32], (u64, u32)>,
    receipts: redb::ReadOnlyTable<(u64, u32), &'static [u8]>,
    device_report_pos: redb::ReadOnlyTable<(u64, [u8; 32], u64), &'static [u8]>,
    reward_entries: redb::ReadOnlyTable<(u64, u32), &'static [u8]>,
    device_rewards: redb::ReadOnlyTable<([u8; 32], u64), u32>,
    owner_rewards: redb::ReadOnlyTable<([u8; 32], u64, u64), u32>,
    /// `tree_kept_from` of this view, read once: a read transaction sees one watermark.
    tree_kept_from: u64,
    /// An older version whose values this view keeps (a held snapshot), read once.
    values_held: Option<u64>,
    device_index: redb::ReadOnlyTable<&'static [u8], ()>,
}

impl Snapshot {
    fn new(r: ReadTransaction) -> Result<Snapshot, StoreError> {
        let meta = r.open_table(META)?;
        let tree_kept_from = match meta.get(TREE_KEPT_FROM_KEY)? {
            None => 0,
            Some(v) => read_u64(v.value(), "pruning watermark")?,
        };
        let values_held = prune::values_held(
            meta.get(TREE_VALUES_HELD_KEY)?.map(|v| v.value().to_vec()).as_deref(),
        )?
        .map(|(version, _)| version);
        Ok(Snapshot {
            tree_kept_from,
            values_held,
            meta,
            latest: r.open_table(LATEST)?,
            nodes: r.open_table(NODES)?,
            values: r.open_table(VALUES)?,
            blocks: r.open_table(BLOCKS)?,
            block_hashes: r.open_table(BLOCK_HASHES)?,
            tx_index: r.open_table(TX_INDEX)?,
            receipts: r.open_table(RECEIPTS)?,
            device_report_pos: r.open_table(DEVICE_REPORT_POS)?,
            reward_entries: r.open_table(REWARD_ENTRIES)?,
            device_rewards: r.open_table(DEVICE_REWARDS)?,
            owner_rewards: r.open_table(OWNER_REWARDS)?,
            device_index: r.open_table(DEVICE_INDEX)?,
        })
    }

    pub fn genesis(&self) -> Result<Option<Genesis>, StoreError> {
        match self.meta.get(GENESIS_KEY)? {
            None => Ok(None),
            Some(v) => codec::decode(v.value(), MAX_OBJECT, "genesis").map(Some).map_err(|e| {
                StoreError::UnreadableGenesis {
                    version: env!("CARGO_PKG_VERSION"),
                    reason: e.to_string(),
                }
            }),
        }
    }

    /// Height of the last committed block (0 = genesis only), or `None` before genesis.
    pub fn height(&self) -> Result<Option<Height>, StoreError> {
        match self.meta.get(STATE_VERSION_KEY)? {
            None => Ok(None),
            Some(v) => read_u64(v.value(), "state version").map(Some),
        }
    }

    fn meta_u64(&self, key: &str, absent: u64) -> Result<u64, StoreError> {
        match self.meta.get(key)? {
            None => Ok(absent),
            Some(v) => read_u64(v.value(), "pruning watermark"),
        }
    }

    /// The oldest tree version whose nodes and values are whole: proofs at it and after
    /// verify, earlier ones are refused (0 on a store that never pruned).
    pub fn tree_kept_from(&self) -> Result<u64, StoreError> {
        Ok(self.tree_kept_from)
    }

    /// The version older than [`Snapshot::tree_kept_from`] whose values are kept, without
    /// its tree ([`Store::hold_tree_version`]), if any.
    pub fn values_held(&self) -> Option<u64> {
        self.values_held
    }

    /// The lowest height whose block, receipts and report index are stored (1 on a store
    /// that never pruned).
    pub fn blocks_kept_from(&self) -> Result<Height, StoreError> {
        self.meta_u64(BLOCKS_KEPT_FROM_KEY, 1)
    }

    /// The oldest epoch whose report and reward indexes are whole (0 on a store that never
    /// pruned).
    pub fn epochs_kept_from(&self) -> Result<u64, StoreError> {
        self.meta_u64(EPOCHS_KEPT_FROM_KEY, 0)
    }

    /// `Err(Pruned)` for a height whose block this store no longer holds.
    pub fn check_height(&self, height: Height) -> Result<(), StoreError> {
        let kept_from = self.blocks_kept_from()?;
        if height < kept_from {
            return Err(StoreError::Pruned { what: "block", at: height, kept_from });
        }
        Ok(())
    }

    /// `Err(Pruned)` for an epoch whose report and reward indexes this store no longer
    /// holds.
    pub fn check_epoch(&self, epoch: u64) -> Result<(), StoreError> {
        let kept_from = self.epochs_kept_from()?;
        if epoch < kept_from {
            return Err(StoreError::Pruned { what: "epoch", at: epoch, kept_from });
        }
        Ok(())
    }

    /// The block at `height`: `Ok(None)` above the head, `Err(Pruned)` below what a pruned
    /// store keeps.
    pub fn block(&self, height: Height) -> Result<Option<Block>, StoreError> {
        self.check_height(height)?;
        match self.blocks.get(height)? {
            None => Ok(None),
            Some(v) => {
                codec::decode(v.value(), MAX_OBJECT, "block").map(Some).map_err(corrupt("block"))
            }
        }
    }

    /// The raw stored bytes of a block.
    pub fn block_bytes(&self, height: Height) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_height(height)?;
        Ok(self.blocks.get(height)?.map(|v| v.value().to_vec()))
    }

    pub fn height_of(&self, hash: &Hash) -> Result<Option<Height>, StoreError> {
        Ok(self.block_hashes.get(hash.0)?.map(|v| v.value()))
    }

    /// The last committed block, or `None` if only genesis is stored.
    pub fn head_block(&self) -> Result<Option<Block>, StoreError> {
        match self.height()? {
            None | Some(0) => Ok(None),
            Some(h) => self.block(h),
        }
    }

    /// The header of the last committed block, or `None` if only genesis is stored.
    ///
    /// Only the header is decoded: it is the first field of a stored block, so the
    /// transactions after it are not read (status requests poll this).
    pub fn head(&self) -> Result<Option<BlockHeader>, StoreError> {
        let height = match self.height()? {
            None | Some(0) => return Ok(None),
            Some(h) => h,
        };
        let Some(v) = self.blocks.get(height)? else { return Ok(None) };
        let mut bytes = v.value();
        borsh::BorshDeserialize::deserialize(&mut bytes).map(Some).map_err(|e| {
            StoreError::Corrupt { what: "block header", reason: format!("height {height}: {e}") }
        })
    }

    /// Where a committed transaction sits: (height, index in block).
    pub fn tx_location(&self, hash: &Hash) -> Result<Option<(Height, u32)>, StoreError> {
        Ok(self.tx_index.get(hash.0)?.map(|v| v.value()))
    }

    /// A device's reports processed in blocks of `epoch`, accepted or rejected, in chain
    /// order, at most `limit`, after the position `after` when given.
    pub fn device_reports(
        &self,
        device: &DeviceId,
        epoch: u64,
        rejected: bool,
        after: Option<ReportCursorPos>,
        limit: usize,
    ) -> Result<Vec<IndexedReport>, StoreError> {
        let start_height = after.map_or(0, |(h, _, _)| h);
        self.check_epoch(epoch)?;
        let range = (epoch, device.0, start_height)..=(epoch, device.0, u64::MAX);
        let mut out = Vec::new();
        // The block of the last report read: a device's reports of a block come together.
        let mut block: Option<Block> = None;
        for entry in self.device_report_pos.range(range)? {
            let (k, v) = entry?;
            let (_, _, height) = k.value();
            let list: Vec<ReportPos> = codec::decode(v.value(), MAX_OBJECT, "report positions")
                .map_err(corrupt("report positions"))?;
            for (tx_index, report_index, reason) in list {
                if reason.is_some() != rejected
                    || after.is_some_and(|a| (height, tx_index, report_index) <= a)
                {
                    continue;
                }
                if out.len() >= limit {
                    return Ok(out);
                }
                if block.as_ref().is_none_or(|b: &Block| b.header.height != height) {
                    block = self.block(height)?;
                }
                let report = block
                    .as_ref()
                    .and_then(|b| b.txs.get(tx_index as usize))
                    .and_then(|stx| match &stx.tx.body {
                        TxBody::SubmitReports { reports } => reports.get(report_index as usize),
                        _ => None,
                    })
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "report index",
                        reason: format!("no report at {height}.{tx_index}.{report_index}"),
                    })?;
                out.push(IndexedReport {
                    height,
                    tx_index,
                    report_index,
                    report: report.report.clone(),
                    reason,
                });
            }
        }
        Ok(out)
    }

    pub fn receipt(&self, hash: &Hash) -> Result<Option<Receipt>, StoreError> {
        let Some(at) = self.tx_location(hash)? else { return Ok(None) };
        match self.receipts.get(at)? {
            None => Ok(None),
            Some(v) => codec::decode(v.value(), MAX_OBJECT, "receipt")
                .map(Some)
                .map_err(corrupt("receipt")),
        }
    }
}

impl StateRead for Snapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.latest.get(key).map_err(StoreError::from)?.map(|v| v.value().to_vec()))
    }
}

impl cairn_state::StateScan for Snapshot {
    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<cairn_state::Entry>, StateError> {
        scan_table(&self.latest, prefix, after, limit, |v| v.value().to_vec())
    }
}

/// The rows of a table keyed by state-style byte keys that start with `prefix`, after
/// `after` (exclusive) when given, at most `limit`, each value made by `value`.
fn scan_table<V: redb::Value + 'static>(
    table: &redb::ReadOnlyTable<&'static [u8], V>,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
    value: impl Fn(redb::AccessGuard<'_, V>) -> Vec<u8>,
) -> Result<Vec<cairn_state::Entry>, StateError> {
    let start = cairn_state::scan_start(prefix, after);
    let start_ref: std::ops::Bound<&[u8]> = match &start {
        std::ops::Bound::Included(k) => std::ops::Bound::Included(k.as_slice()),
        std::ops::Bound::Excluded(k) => std::ops::Bound::Excluded(k.as_slice()),
        std::ops::Bound::Unbounded => std::ops::Bound::Unbounded,
    };
    let range =
        table.range::<&[u8]>((start_ref, std::ops::Bound::Unbounded)).map_err(StoreError::from)?;
    let mut out = Vec::new();
    for entry in range {
        let (k, v) = entry.map_err(StoreError::from)?;
        if !k.value().starts_with(prefix) || out.len() >= limit {
            break;
        }
        out.push((k.value().to_vec(), value(v)));
    }
    Ok(out)
}

/// The node's device query indexes ([`device_index`]) as a key scan, each row with an empty
/// value: what a listing reads under the compact layout, where they are not in state.
pub struct DeviceIndex<'a>(&'a Snapshot);

impl Snapshot {
    /// The node's device query indexes of this view.
    pub fn device_index(&self) -> DeviceIndex<'_> {
        DeviceIndex(self)
    }
}

impl cairn_state::StateScan for DeviceIndex<'_> {
    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<cairn_state::Entry>, StateError> {
        scan_table(&self.0.device_index, prefix, after, limit, |_| Vec::new())
    }
}

impl TreeReader for Snapshot {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        match self.nodes.get(codec::encode(node_key).as_slice())? {
            None => Ok(None),
            Some(v) => Ok(Some(borsh::from_slice(v.value())?)),
        }
    }

    fn get_value_option(
        &self,
        _max_version: Version,
        _key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        anyhow::bail!("this store reads past values by key (tree::prove), not by key hash")
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("tree restore is not supported by this store")
    }
}

impl cairn_state::ValueAt for Snapshot {
    fn value_at(&self, key: &[u8], version: u64) -> Result<Option<Vec<u8>>, StateError> {
        if !self.values_kept(version)? {
            return Err(StateError::Pruned { version, oldest: self.tree_kept_from()? });
        }
        let kh = cairn_state::tree::key_hash(key).0;
        let first_after = self
            .values
            .range((kh, version.saturating_add(1))..=(kh, u64::MAX))
            .map_err(StoreError::from)?
            .next();
        match first_after {
            Some(entry) => {
                let (_, v) = entry.map_err(StoreError::from)?;
                Ok(decode_versioned(v.value())?)
            }
            None => self.get(key),
        }
    }

    fn oldest_version(&self) -> Result<u64, StateError> {
        Ok(self.tree_kept_from()?)
    }

    fn values_kept(&self, version: u64) -> Result<bool, StateError> {
        Ok(version >= self.tree_kept_from()? || self.values_held == Some(version))
    }
}

impl CommittedState for Snapshot {
    fn version(&self) -> Result<Option<u64>, StateError> {
        Ok(self.height()?)
    }
}

#[cfg(test)]
mod tests;
