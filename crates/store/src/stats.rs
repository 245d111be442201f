//! A diagnostic walk of the store: per table, its rows and the bytes its keys and values,
//! its B-tree's inner pages and its unused page space take. `cairn bench node` reports it to
//! show where a node's disk goes.

use crate::tables::*;
use crate::{Store, StoreError};
use redb::{ReadTransaction, ReadableDatabase, ReadableTableMetadata, TableDefinition};

/// The size of one table of the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableBytes {
    /// The table's name in the file (`state_latest`, `tree_nodes`, …).
    pub name: String,
    /// Rows.
    pub entries: u64,
    /// Bytes of the keys and values, as written (redb's `stored_bytes`).
    pub stored_bytes: u64,
    /// Bytes of the B-tree's branch pages and other per-table metadata.
    pub metadata_bytes: u64,
    /// Bytes of the table's pages left unused (page slack and fragmentation).
    pub fragmented_bytes: u64,
}

impl TableBytes {
    /// Everything the table takes on its pages: stored, metadata and fragmented bytes.
    pub fn total_bytes(&self) -> u64 {
        self.stored_bytes.saturating_add(self.metadata_bytes).saturating_add(self.fragmented_bytes)
    }
}

/// The tables that hold the authenticated state: latest values, the versioned tree and, on
/// a store that prunes it, the tree's index of what became stale when.
pub const STATE_TABLES: [&str; 5] =
    ["state_latest", "tree_nodes", "tree_values", "tree_stale_nodes", "tree_stale_values"];

fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
    r: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<TableBytes, StoreError> {
    let t = r.open_table(def)?;
    let s = t.stats()?;
    Ok(TableBytes {
        name: redb::TableHandle::name(&def).to_string(),
        entries: t.len()?,
        stored_bytes: s.stored_bytes(),
        metadata_bytes: s.metadata_bytes(),
        fragmented_bytes: s.fragmented_bytes(),
    })
}

macro_rules! tables {
    ($r:expr, $($def:ident),*) => {
        vec![$(table($r, $def)?),*]
    };
}

impl Store {
    /// The size of every table, in the order of `tables.rs`, from one read transaction
    /// (a consistent view). It reads every table's pages: a diagnostic, not for a hot path.
    pub fn table_bytes(&self) -> Result<Vec<TableBytes>, StoreError> {
        let r = self.db.begin_read()?;
        Ok(tables!(
            &r,
            META,
            LATEST,
            NODES,
            VALUES,
            STALE_NODES,
            STALE_VALUES,
            BLOCKS,
            BLOCK_HASHES,
            TX_INDEX,
            RECEIPTS,
            DEVICE_REPORT_POS,
            REWARD_ENTRIES,
            DEVICE_REWARDS,
            OWNER_REWARDS
        ))
    }

    /// Bytes of the file's pages in use (every table's pages and redb's own): the file's
    /// size less this is free space redb keeps for reuse. It opens a write transaction
    /// (and aborts it), so it waits for a block being committed.
    pub fn allocated_bytes(&self) -> Result<u64, StoreError> {
        let w = self.db.begin_write()?;
        let stats = w.stats()?;
        w.abort()?;
        Ok(stats.allocated_pages().saturating_mul(stats.page_size() as u64))
    }
}
