//! Table definitions. Every table and meta key the store uses is named here.

use redb::{TableDefinition, TableError, WriteTransaction};

/// Small named values: schema version, genesis, committed state version (= head height).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Latest state: key → value.
pub const LATEST: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state_latest");
/// Merkle tree nodes: borsh(NodeKey) → borsh(Node).
pub const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tree_nodes");
/// Past values for proofs: (key hash, version that replaced it) → tag byte + the value the
/// key held before that version (tag 0: absent). A key's value at version v is the first
/// row after (key hash, v), or its latest value when there is none. The latest values are
/// not repeated here.
pub const VALUES: TableDefinition<([u8; 32], u64), &[u8]> = TableDefinition::new("tree_values");
/// Tree nodes no version from the given one on reaches: (stale since version,
/// borsh(NodeKey)) → (). Written only by a store that prunes its tree.
pub const STALE_NODES: TableDefinition<(u64, &[u8]), ()> = TableDefinition::new("tree_stale_nodes");
/// Rows of `tree_values` by the version that wrote them: (version, key hash) → (). Written
/// only by a store that prunes its tree.
pub const STALE_VALUES: TableDefinition<(u64, [u8; 32]), ()> =
    TableDefinition::new("tree_stale_values");
/// Blocks by height: borsh(Block).
pub const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Block hash → height.
pub const BLOCK_HASHES: TableDefinition<[u8; 32], u64> = TableDefinition::new("block_hashes");
/// Transaction hash → (height, index).
pub const TX_INDEX: TableDefinition<[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
/// (height, index in block) → borsh(Receipt). Keys only grow, so a block's receipts append
/// at the end of the tree instead of landing on random pages (a receipt is found by hash
/// through `tx_index`).
pub const RECEIPTS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("receipts");

/// Where a device's reports of an epoch are: (block epoch, device id, height) →
/// borsh(Vec<(tx index, report index, reject reason)>), one row per device per block; the
/// reports themselves are read from the block. Epoch first, so a pruned node drops
/// an old epoch's rows from the front of the table.
pub const DEVICE_REPORT_POS: TableDefinition<(u64, [u8; 32], u64), &[u8]> =
    TableDefinition::new("device_report_pos");

/// Every entry of every epoch's reward report: (epoch, position) → borsh(RewardEntry).
pub const REWARD_ENTRIES: TableDefinition<(u64, u32), &[u8]> =
    TableDefinition::new("reward_entries");
/// (device, epoch) → position of its entry.
pub const DEVICE_REWARDS: TableDefinition<([u8; 32], u64), u32> =
    TableDefinition::new("device_rewards");
/// (owner, epoch, leaf index) → position of the entry: what an owner can claim.
pub const OWNER_REWARDS: TableDefinition<([u8; 32], u64, u64), u32> =
    TableDefinition::new("owner_rewards");

/// The node's device query indexes (`device_index.rs`, ADR 0036): the legacy layout's
/// `idx/owner/…`, `idx/class/…` and `idx/cell/…` keys, kept outside the state.
pub const DEVICE_INDEX: TableDefinition<&[u8], ()> = TableDefinition::new("device_index");

/// Blocks the BFT driver proposed or accepted for heights not yet committed: (height,
/// block hash) → the driver's record of it (borsh). Not part of the chain: dropped once
/// the height commits (see `pending.rs`).
pub const PENDING_BLOCKS: TableDefinition<(u64, [u8; 32]), &[u8]> =
    TableDefinition::new("pending_blocks");

pub const SCHEMA_KEY: &str = "schema_version";
pub const GENESIS_KEY: &str = "genesis";
pub const STATE_VERSION_KEY: &str = "state_version";
/// The oldest tree version whose nodes and values are whole (u64; absent: 0).
pub const TREE_KEPT_FROM_KEY: &str = "tree_kept_from";
/// A version older than `tree_kept_from` whose values (not its tree) are kept, the held
/// snapshot of a pending reward run, and the last version whose replaced values were swept
/// for it: two u64 (absent: none held).
pub const TREE_VALUES_HELD_KEY: &str = "tree_values_held";
/// The lowest height whose block, receipts and reports are stored (u64; absent: 1).
pub const BLOCKS_KEPT_FROM_KEY: &str = "blocks_kept_from";
/// The oldest epoch whose report and reward indexes are whole (u64; absent: 0).
pub const EPOCHS_KEPT_FROM_KEY: &str = "epochs_kept_from";
/// How far the pruning of reward indexes got inside an epoch: (epoch, leaves dropped) as two
/// u64 (absent: none yet).
pub const REWARDS_PRUNE_AT_KEY: &str = "rewards_prune_at";

/// Creates every table so read transactions can open them on a fresh store.
pub fn create_tables(w: &WriteTransaction) -> Result<(), TableError> {
    w.open_table(META)?;
    w.open_table(LATEST)?;
    w.open_table(NODES)?;
    w.open_table(VALUES)?;
    w.open_table(STALE_NODES)?;
    w.open_table(STALE_VALUES)?;
    w.open_table(BLOCKS)?;
    w.open_table(BLOCK_HASHES)?;
    w.open_table(TX_INDEX)?;
    w.open_table(RECEIPTS)?;
    w.open_table(DEVICE_REPORT_POS)?;
    w.open_table(REWARD_ENTRIES)?;
    w.open_table(DEVICE_REWARDS)?;
    w.open_table(OWNER_REWARDS)?;
    w.open_table(PENDING_BLOCKS)?;
    w.open_table(DEVICE_INDEX)?;
    Ok(())
}
