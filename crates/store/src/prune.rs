//! Pruning: what a node keeps of the past ([`Retention`]) and the deletes that drop the
//! rest. Every delete runs inside the write transaction that commits a block, and the
//! watermarks that say what is kept (`tree_kept_from`, `blocks_kept_from`,
//! `epochs_kept_from`) are written in the same transaction: a kill at any moment leaves the
//! store as it was before the block or after it, pruned with it (docs/adr/0025-pruning.md).
//!
//! - The tree: jmt lists, with each version, the nodes it made stale (no version from it on
//!   reaches them); the store records them by that version, and once a version falls out of
//!   the last `tree_versions` its stale nodes and the past values it replaced are deleted.
//!   A held version (a pending reward run's snapshot) keeps only the past values it reads,
//!   not its tree.
//! - History: blocks, receipts, the transaction and block-hash indexes and the report index
//!   of epochs older than the last `epochs`, and the reward indexes of those epochs. A
//!   commit deletes at most a few blocks' worth, so pruning never makes one block slow;
//!   it catches up because it deletes more per commit than a commit adds.

use crate::tables::*;
use crate::{MAX_OBJECT, StoreError, corrupt, read_u64};
use cairn_types::rewards::RewardEntry;
use cairn_types::{BlockHeader, Receipt, codec};
use jmt::storage::TreeUpdateBatch;
use redb::{ReadableTable, WriteTransaction};

/// What a store keeps of the past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Versions of the state tree kept for proofs: the head and the `n - 1` before it
    /// (`None`: every version).
    pub tree_versions: Option<u64>,
    /// Epochs of blocks, receipts, reports and reward indexes kept: the head's epoch and
    /// the `n - 1` before it (`None`: every epoch).
    pub epochs: Option<u64>,
}

impl Retention {
    /// Keeps everything (`cairn node --archive`).
    pub const ARCHIVE: Retention = Retention { tree_versions: None, epochs: None };

    /// The first tree version kept once `head` is committed.
    pub fn tree_kept_from(&self, head: u64) -> u64 {
        match self.tree_versions {
            None => 0,
            Some(k) => head.saturating_add(1).saturating_sub(k.max(1)),
        }
    }

    /// The first epoch kept once a block of epoch `head_epoch` is committed.
    pub fn epochs_kept_from(&self, head_epoch: u64) -> u64 {
        match self.epochs {
            None => 0,
            Some(k) => head_epoch.saturating_add(1).saturating_sub(k.max(1)),
        }
    }
}

/// Blocks whose history one commit deletes at most.
const BLOCKS_PER_COMMIT: usize = 4;
/// Rows of an epoch-keyed index (reports by device, reward entries) one commit deletes at
/// least; more when the commit added more.
const INDEX_ROWS_PER_COMMIT: usize = 4_096;
/// Stale tree nodes one commit deletes at least; more when the commit added more.
const TREE_ROWS_PER_COMMIT: usize = 4_096;
/// Past values one commit deletes at least; more when the commit replaced more. Fewer than
/// nodes: a past value is keyed by its key's hash, so each deletion lands on a page of its
/// own, where a version's stale nodes lie together.
const VALUE_ROWS_PER_COMMIT: usize = 1_024;

fn put_u64(w: &WriteTransaction, key: &str, v: u64) -> Result<(), StoreError> {
    w.open_table(META)?.insert(key, v.to_le_bytes().as_slice())?;
    Ok(())
}

fn get_u64(w: &WriteTransaction, key: &str, absent: u64) -> Result<u64, StoreError> {
    match w.open_table(META)?.get(key)? {
        None => Ok(absent),
        Some(v) => read_u64(v.value(), "pruning watermark"),
    }
}

/// Records the nodes `batch` made stale as of `version`, and the root of the version
/// before (which jmt leaves out when a version changes nothing: no later version reaches a
/// root of an earlier one).
pub(crate) fn record_stale_nodes(
    w: &WriteTransaction,
    batch: &TreeUpdateBatch,
    version: u64,
) -> Result<(), StoreError> {
    // In the table's key order (the encoded node keys sort otherwise than jmt's), so that
    // consecutive inserts land on the same leaf page.
    let mut rows: Vec<(u64, Vec<u8>)> = batch
        .stale_node_index_batch
        .iter()
        .map(|s| (s.stale_since_version, codec::encode(&s.node_key)))
        .collect();
    rows.sort_unstable();
    let mut stale = w.open_table(STALE_NODES)?;
    for (since, key) in &rows {
        stale.insert((*since, key.as_slice()), ())?;
    }
    if version > 0 {
        stale.insert((version, root_key_bytes(version - 1).as_slice()), ())?;
    }
    Ok(())
}

/// The stored key (borsh `NodeKey`) of the root of `version`: the version, then the empty
/// nibble path (no nibbles, no bytes). jmt keeps the path's constructors to itself.
pub(crate) fn root_key_bytes(version: u64) -> Vec<u8> {
    codec::encode(&(version, 0u64, Vec::<u8>::new()))
}

/// The held version and how far its sweep got, from `meta` (`None`: none held).
pub(crate) fn values_held(bytes: Option<&[u8]>) -> Result<Option<(u64, u64)>, StoreError> {
    let Some(b) = bytes else { return Ok(None) };
    if b.len() != 16 {
        return Err(StoreError::Corrupt {
            what: "held tree values",
            reason: format!("{} bytes", b.len()),
        });
    }
    Ok(Some((read_u64(&b[..8], "held tree values")?, read_u64(&b[8..], "held tree values")?)))
}

/// Deletes the tree nodes and past values no kept version reaches once `head` is
/// committed, and moves `tree_kept_from` up. A node stale since version s is reached only
/// by versions before s, a past value replaced at version s only by reads before s: both
/// go once s ≤ the first kept version.
///
/// `hold` is a version whose values are kept whatever `retention` says (the snapshot of a
/// pending reward run, which reads values, never tree nodes): the past values it reads,
/// for each key the first one replaced after it, stay; those replaced later and before the
/// first kept version are swept, since no kept version reads them. Its tree nodes go with
/// the retention, so a proof at it is refused once it falls out. A hold on a version whose
/// values were already pruned is not taken (they cannot come back).
pub(crate) fn prune_tree(
    w: &WriteTransaction,
    head: u64,
    retention: Retention,
    hold: Option<u64>,
    (nodes_added, values_added): (usize, usize),
) -> Result<(), StoreError> {
    let kept_from = retention.tree_kept_from(head);
    if kept_from == 0 {
        return Ok(());
    }
    // Each version ages out about as many rows of each table as it adds: twice that keeps
    // up, and catches up after the window shrinks or a hold lifts. Each table by its own
    // count: a change makes several nodes stale (its leaf's path), so past values caught
    // up at the nodes' rate after a hold lifted, each on a random page, and at a million
    // devices those commits took longer than the block interval (docs/benchmarks.md).
    let limit = TREE_ROWS_PER_COMMIT.max(nodes_added.saturating_mul(2));
    let values_limit = VALUE_ROWS_PER_COMMIT.max(values_added.saturating_mul(2));
    {
        let mut stale = w.open_table(STALE_NODES)?;
        let mut nodes = w.open_table(NODES)?;
        let doomed: Vec<(u64, Vec<u8>)> = stale
            .range(..(kept_from.saturating_add(1), [].as_slice()))?
            .take(limit)
            .map(|r| r.map(|(k, _)| (k.value().0, k.value().1.to_vec())))
            .collect::<Result<_, _>>()?;
        for (since, key) in &doomed {
            nodes.remove(key.as_slice())?;
            stale.remove((*since, key.as_slice()))?;
        }
    }
    let was_kept_from = get_u64(w, TREE_KEPT_FROM_KEY, 0)?;
    let was_held = values_held(
        w.open_table(META)?.get(TREE_VALUES_HELD_KEY)?.map(|v| v.value().to_vec()).as_deref(),
    )?;
    // The held version's values are whole only when they were before this commit: inside
    // the kept versions, or held already.
    let held = hold.filter(|p| {
        *p < kept_from && (*p >= was_kept_from || was_held.map(|(q, _)| q) == Some(*p))
    });
    let values_from = held.unwrap_or(kept_from);
    {
        let mut stale = w.open_table(STALE_VALUES)?;
        let mut values = w.open_table(VALUES)?;
        let doomed: Vec<(u64, [u8; 32])> = stale
            .range(..(values_from.saturating_add(1), [0u8; 32]))?
            .take(values_limit)
            .map(|r| r.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()?;
        for (since, kh) in &doomed {
            values.remove((*kh, *since))?;
            stale.remove((*since, *kh))?;
        }
    }
    let mut meta = w.open_table(META)?;
    match held {
        None => {
            meta.remove(TREE_VALUES_HELD_KEY)?;
        }
        Some(p) => {
            let from = match was_held {
                Some((q, swept)) if q == p => swept.max(p),
                _ => p,
            };
            let swept = sweep_values(w, p, from, kept_from, values_limit)?;
            let mut mark = p.to_le_bytes().to_vec();
            mark.extend_from_slice(&swept.to_le_bytes());
            meta.insert(TREE_VALUES_HELD_KEY, mark.as_slice())?;
        }
    }
    drop(meta);
    if kept_from > was_kept_from {
        put_u64(w, TREE_KEPT_FROM_KEY, kept_from)?;
    }
    Ok(())
}

/// Deletes the past values replaced at versions in (`from`, `kept_from`] that neither the
/// held version `held` nor a kept version reads: those of a key replaced once more after
/// `held` before them (a read at `held` finds that earlier row first; a read at a kept
/// version finds rows after it). Whole versions, about `limit` rows; returns the last
/// version swept.
fn sweep_values(
    w: &WriteTransaction,
    held: u64,
    from: u64,
    kept_from: u64,
    limit: usize,
) -> Result<u64, StoreError> {
    if from >= kept_from {
        return Ok(from);
    }
    let mut stale = w.open_table(STALE_VALUES)?;
    let mut values = w.open_table(VALUES)?;
    let mut rows: Vec<(u64, [u8; 32])> = Vec::new();
    let mut swept = kept_from;
    for r in stale
        .range((from.saturating_add(1), [0u8; 32])..(kept_from.saturating_add(1), [0u8; 32]))?
    {
        let (since, kh) = r?.0.value();
        if let Some((last, _)) = rows.last()
            && rows.len() >= limit
            && *last != since
        {
            swept = *last;
            break;
        }
        rows.push((since, kh));
    }
    for (since, kh) in rows {
        let replaced_before =
            values.range((kh, held.saturating_add(1))..(kh, since))?.next().transpose()?.is_some();
        if replaced_before {
            values.remove((kh, since))?;
            stale.remove((since, kh))?;
        }
    }
    Ok(swept)
}

/// Deletes the history of epochs before the kept ones, a bounded amount per commit, and
/// moves the watermarks up. `head` is the block being committed; it is never pruned.
pub(crate) fn prune_history(
    w: &WriteTransaction,
    head: &BlockHeader,
    retention: Retention,
) -> Result<(), StoreError> {
    let keep_epoch = retention.epochs_kept_from(head.epoch);
    if keep_epoch == 0 {
        return Ok(());
    }
    prune_blocks(w, head.height, keep_epoch)?;
    let reports_done = prune_report_positions(w, keep_epoch)?;
    let rewards_done = prune_rewards(w, keep_epoch)?;
    if reports_done && rewards_done && keep_epoch > get_u64(w, EPOCHS_KEPT_FROM_KEY, 0)? {
        put_u64(w, EPOCHS_KEPT_FROM_KEY, keep_epoch)?;
    }
    Ok(())
}

/// Deletes up to [`BLOCKS_PER_COMMIT`] blocks of epochs before `keep_epoch`, from the
/// lowest stored, with their hash, receipts and transaction index rows.
fn prune_blocks(w: &WriteTransaction, head: u64, keep_epoch: u64) -> Result<(), StoreError> {
    let mut next = get_u64(w, BLOCKS_KEPT_FROM_KEY, 1)?;
    let start = next;
    let mut blocks = w.open_table(BLOCKS)?;
    let mut hashes = w.open_table(BLOCK_HASHES)?;
    let mut receipts = w.open_table(RECEIPTS)?;
    let mut txs = w.open_table(TX_INDEX)?;
    for _ in 0..BLOCKS_PER_COMMIT {
        if next >= head {
            break;
        }
        let header: BlockHeader = {
            let Some(v) = blocks.get(next)? else {
                return Err(StoreError::Corrupt {
                    what: "block",
                    reason: format!("height {next} is missing below the head {head}"),
                });
            };
            let mut bytes = v.value();
            borsh::BorshDeserialize::deserialize(&mut bytes).map_err(|e| StoreError::Corrupt {
                what: "block header",
                reason: format!("height {next}: {e}"),
            })?
        };
        if header.epoch >= keep_epoch {
            break;
        }
        blocks.remove(next)?;
        hashes.remove(header.hash().0)?;
        let rows: Vec<(u32, Vec<u8>)> = receipts
            .range((next, 0)..=(next, u32::MAX))?
            .map(|r| r.map(|(k, v)| (k.value().1, v.value().to_vec())))
            .collect::<Result<_, _>>()?;
        for (index, bytes) in rows {
            let r: Receipt =
                codec::decode(&bytes, MAX_OBJECT, "receipt").map_err(corrupt("receipt"))?;
            txs.remove(r.tx_hash.0)?;
            receipts.remove((next, index))?;
        }
        next += 1;
    }
    drop((blocks, hashes, receipts, txs));
    if next != start {
        put_u64(w, BLOCKS_KEPT_FROM_KEY, next)?;
    }
    Ok(())
}

/// Deletes rows of the report-position index of epochs before `keep_epoch` (they lead the
/// table); true when none is left.
fn prune_report_positions(w: &WriteTransaction, keep_epoch: u64) -> Result<bool, StoreError> {
    let mut pos = w.open_table(DEVICE_REPORT_POS)?;
    let keys: Vec<(u64, [u8; 32], u64)> = pos
        .range(..(keep_epoch, [0u8; 32], 0))?
        .take(INDEX_ROWS_PER_COMMIT + 1)
        .map(|r| r.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    let done = keys.len() <= INDEX_ROWS_PER_COMMIT;
    for k in keys.into_iter().take(INDEX_ROWS_PER_COMMIT) {
        pos.remove(k)?;
    }
    Ok(done)
}

/// Deletes reward entries of epochs before `keep_epoch` with their device and owner index
/// rows, in entry order (the owner index numbers an epoch's paid entries in that order; how
/// many of the epoch's were dropped is kept in `rewards_prune_at`); true when none is left.
fn prune_rewards(w: &WriteTransaction, keep_epoch: u64) -> Result<bool, StoreError> {
    let (mut at_epoch, mut leaf) = match w.open_table(META)?.get(REWARDS_PRUNE_AT_KEY)? {
        None => (0, 0),
        Some(v) => {
            let b = v.value();
            if b.len() != 16 {
                return Err(StoreError::Corrupt {
                    what: "reward pruning mark",
                    reason: format!("{} bytes", b.len()),
                });
            }
            (read_u64(&b[..8], "reward pruning mark")?, read_u64(&b[8..], "reward pruning mark")?)
        }
    };
    let mut entries = w.open_table(REWARD_ENTRIES)?;
    let mut by_device = w.open_table(DEVICE_REWARDS)?;
    let mut by_owner = w.open_table(OWNER_REWARDS)?;
    let rows: Vec<((u64, u32), Vec<u8>)> = entries
        .range(..(keep_epoch, 0))?
        .take(INDEX_ROWS_PER_COMMIT + 1)
        .map(|r| r.map(|(k, v)| (k.value(), v.value().to_vec())))
        .collect::<Result<_, _>>()?;
    let done = rows.len() <= INDEX_ROWS_PER_COMMIT;
    if rows.is_empty() {
        return Ok(done);
    }
    for ((epoch, pos), bytes) in rows.into_iter().take(INDEX_ROWS_PER_COMMIT) {
        if epoch != at_epoch {
            (at_epoch, leaf) = (epoch, 0);
        }
        let e: RewardEntry =
            codec::decode(&bytes, MAX_OBJECT, "reward entry").map_err(corrupt("reward entry"))?;
        by_device.remove((e.device.0, epoch))?;
        if e.is_leaf() {
            by_owner.remove((e.owner.0, epoch, leaf))?;
            leaf += 1;
        }
        entries.remove((epoch, pos))?;
    }
    drop((entries, by_device, by_owner));
    let mut mark = at_epoch.to_le_bytes().to_vec();
    mark.extend_from_slice(&leaf.to_le_bytes());
    w.open_table(META)?.insert(REWARDS_PRUNE_AT_KEY, mark.as_slice())?;
    Ok(done)
}
