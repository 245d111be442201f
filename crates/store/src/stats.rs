//! A diagnostic walk of the store: per table, its rows and the bytes its keys and values,
//! its B-tree's inner pages and its unused page space take. `cairn bench node` reports it to
//! show where a node's disk goes.

use crate::tables::*;
use crate::{Store, StoreError};
use redb::{
    ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use std::collections::BTreeMap;

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

/// The latest values of one kind of state key (see [`Store::state_prefix_bytes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PrefixBytes {
    /// Keys with the prefix.
    pub keys: u64,
    /// Their key and value bytes.
    pub bytes: u64,
}

/// The kind of a state key: its bytes up to and including the first `/`, or the second one
/// for the query indexes (`idx/owner/`, `idx/class/`, `idx/cell/`), or the whole key when it
/// has no `/`.
pub fn state_prefix(key: &[u8]) -> &[u8] {
    let Some(first) = key.iter().position(|b| *b == b'/') else { return key };
    let end = if key.starts_with(b"idx/") {
        key[first + 1..].iter().position(|b| *b == b'/').map_or(key.len(), |i| first + i + 2)
    } else {
        first + 1
    };
    &key[..end]
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
            OWNER_REWARDS,
            DEVICE_INDEX
        ))
    }

    /// The latest state's keys and their key and value bytes, by key prefix
    /// ([`state_prefix`]), from one read transaction: what kinds of records the state is
    /// made of. It reads every latest value: a diagnostic, not for a hot path.
    pub fn state_prefix_bytes(&self) -> Result<BTreeMap<String, PrefixBytes>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(LATEST)?;
        let mut out: BTreeMap<String, PrefixBytes> = BTreeMap::new();
        for entry in t.iter()? {
            let (k, v) = entry?;
            let (k, v) = (k.value(), v.value());
            let p = out.entry(String::from_utf8_lossy(state_prefix(k)).into_owned()).or_default();
            p.keys += 1;
            p.bytes = p.bytes.saturating_add((k.len() + v.len()) as u64);
        }
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::state_prefix;

    #[test]
    fn a_state_key_is_counted_under_its_first_segment_or_its_index_name() {
        assert_eq!(state_prefix(b"dev/\x01\x02"), b"dev/");
        assert_eq!(state_prefix(b"devep/\x01/\x00"), b"devep/");
        assert_eq!(state_prefix(b"idx/owner/abc/\x01"), b"idx/owner/");
        assert_eq!(state_prefix(b"idx/cell/\x00\x2f"), b"idx/cell/");
        assert_eq!(state_prefix(b"idx/"), b"idx/");
        assert_eq!(state_prefix(b"plain"), b"plain");
    }
}
