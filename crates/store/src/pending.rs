//! Blocks the BFT driver proposed or accepted for heights not yet committed, kept here
//! until their height commits.
//!
//! The engine's write-ahead log records only block hashes. A validator that voted for a
//! block and then crashed must still be able to produce it (to commit it once decided, or
//! to re-send it), and a proposer that crashed after proposing must propose the very same
//! block again rather than a second one. So the driver writes every such block here, with
//! fsync, before it tells the engine about it. The records are the driver's own (borsh);
//! the store keys them by height and block hash and never reads inside them.
//!
//! They share the chain's database, but not its transactions: a record is written when a
//! block is seen, and dropped after its height commits ([`Store::prune_pending_through`]).

use crate::tables::PENDING_BLOCKS;
use crate::{MAX_OBJECT, Store, StoreError, corrupt};
use borsh::{BorshDeserialize, BorshSerialize};
use cairn_types::{Hash, Height, codec};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

/// (height, block hash).
type PendingKey = (u64, [u8; 32]);

/// The table of the file consensus kept its pending blocks in before they moved here
/// (`consensus.redb`); same layout as [`PENDING_BLOCKS`].
const LEGACY_BLOCKS: TableDefinition<PendingKey, &[u8]> = TableDefinition::new("pending_blocks");

impl Store {
    /// Stores `record` for the block `hash` of `height`, replacing any record of that block.
    /// Durable: the write is fsynced before this returns.
    pub fn put_pending<T: BorshSerialize>(
        &self,
        height: Height,
        hash: &Hash,
        record: &T,
    ) -> Result<(), StoreError> {
        let w = self.db.begin_write()?;
        w.open_table(PENDING_BLOCKS)?.insert((height, hash.0), codec::encode(record).as_slice())?;
        w.commit()?;
        Ok(())
    }

    /// The record of the block `hash` of `height`, if any.
    pub fn pending<T: BorshDeserialize>(
        &self,
        height: Height,
        hash: &Hash,
    ) -> Result<Option<T>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(PENDING_BLOCKS)?;
        match t.get((height, hash.0))? {
            Some(v) => Ok(Some(
                codec::decode(v.value(), MAX_OBJECT, "pending block")
                    .map_err(corrupt("pending block"))?,
            )),
            None => Ok(None),
        }
    }

    /// The records of every block of `height`, by block hash.
    pub fn pending_at<T: BorshDeserialize>(&self, height: Height) -> Result<Vec<T>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(PENDING_BLOCKS)?;
        let mut out = Vec::new();
        for item in t.range((height, [0u8; 32])..=(height, [0xffu8; 32]))? {
            let (_, v) = item?;
            out.push(
                codec::decode(v.value(), MAX_OBJECT, "pending block")
                    .map_err(corrupt("pending block"))?,
            );
        }
        Ok(out)
    }

    /// Drops the records of every height up to `height` (they are committed). Not fsynced:
    /// the next durable write (a block or a pending record) makes it durable, and a prune
    /// lost in a crash only leaves records of committed heights behind, which nothing reads
    /// and the next prune drops.
    pub fn prune_pending_through(&self, height: Height) -> Result<(), StoreError> {
        let mut w = self.db.begin_write()?;
        w.set_durability(redb::Durability::None)?;
        {
            let mut t = w.open_table(PENDING_BLOCKS)?;
            t.retain_in(..=(height, [0xffu8; 32]), |_, _| false)?;
        }
        w.commit()?;
        Ok(())
    }

    /// Moves the records of a separate pending-block file (where consensus kept them
    /// before, `consensus.redb`) into this store, durably, then deletes the file. Returns
    /// how many were moved; none when there is no file. A crash before the deletion leaves
    /// the file to be moved again, which rewrites the same records.
    pub fn adopt_pending_file(&self, path: &Path) -> Result<usize, StoreError> {
        if !path.exists() {
            return Ok(0);
        }
        let moved = {
            let old = Database::open(path)?;
            let r = old.begin_read()?;
            let rows: Vec<(PendingKey, Vec<u8>)> = match r.open_table(LEGACY_BLOCKS) {
                Ok(t) => t
                    .iter()?
                    .map(|item| item.map(|(k, v)| (k.value(), v.value().to_vec())))
                    .collect::<Result<_, _>>()?,
                Err(redb::TableError::TableDoesNotExist(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let w = self.db.begin_write()?;
            {
                let mut t = w.open_table(PENDING_BLOCKS)?;
                for (k, v) in &rows {
                    t.insert(*k, v.as_slice())?;
                }
            }
            w.commit()?;
            rows.len()
        };
        std::fs::remove_file(path).map_err(|e| StoreError::File {
            path: path.display().to_string(),
            reason: format!("removing it after moving its pending blocks: {e}"),
        })?;
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A stand-in for the driver's record.
    #[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
    struct Rec {
        round: u32,
        body: Vec<u8>,
    }

    fn rec(round: u32) -> (Hash, Rec) {
        let r = Rec { round, body: vec![round as u8; 40] };
        (Hash::sha256(&codec::encode(&r)), r)
    }

    #[test]
    fn pending_records_survive_a_reopen_until_their_height_is_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let ((ha, a), (hb, b), (hc, c)) = (rec(1), rec(2), rec(3));
        {
            let s = Store::open(&path).unwrap();
            s.put_pending(5, &ha, &a).unwrap();
            s.put_pending(5, &hb, &b).unwrap();
            s.put_pending(6, &hc, &c).unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.pending::<Rec>(5, &ha).unwrap(), Some(a));
        assert_eq!(s.pending::<Rec>(6, &ha).unwrap(), None, "keyed by height and hash");
        assert_eq!(s.pending_at::<Rec>(5).unwrap().len(), 2);
        s.prune_pending_through(5).unwrap();
        assert!(s.pending_at::<Rec>(5).unwrap().is_empty());
        assert_eq!(s.pending_at::<Rec>(6).unwrap(), vec![c]);
    }

    /// Where the child process of the abort test writes; unset in the parent.
    const ABORT_DIR: &str = "CAIRN_STORE_PENDING_ABORT_DIR";

    #[test]
    fn records_written_before_an_abort_survive_it_and_so_does_a_prune_followed_by_a_write() {
        let ((ha, a), (hb, b), (hc, c)) = (rec(1), rec(2), rec(3));
        if let Ok(dir) = std::env::var(ABORT_DIR) {
            // The child: write, prune without fsync, write again, then die without
            // unwinding or closing anything, as under kill -9.
            let s = Store::open(&Path::new(&dir).join("chain.redb")).unwrap();
            s.put_pending(5, &ha, &a).unwrap();
            s.put_pending(6, &hb, &b).unwrap();
            s.prune_pending_through(5).unwrap();
            s.put_pending(7, &hc, &c).unwrap();
            std::process::abort();
        }
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "pending::tests::records_written_before_an_abort_survive_it_and_so_does_a_prune_followed_by_a_write",
                "--test-threads=1",
            ])
            .env(ABORT_DIR, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "the child aborts");
        let s = Store::open(&dir.path().join("chain.redb")).unwrap();
        assert!(s.pending_at::<Rec>(5).unwrap().is_empty(), "the prune was made durable");
        assert_eq!(s.pending_at::<Rec>(6).unwrap(), vec![b]);
        assert_eq!(s.pending_at::<Rec>(7).unwrap(), vec![c], "the last write was durable");
    }

    #[test]
    fn a_corrupt_pending_record_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("chain.redb")).unwrap();
        let (h, _) = rec(1);
        s.put_pending(5, &h, &7u8).unwrap();
        let e = s.pending::<Rec>(5, &h).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { what: "pending block", .. }), "{e}");
    }

    #[test]
    fn records_of_a_separate_pending_file_move_into_the_store_and_the_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("consensus.redb");
        let ((ha, a), (hb, b)) = (rec(1), rec(2));
        {
            let db = Database::create(&old).unwrap();
            let w = db.begin_write().unwrap();
            {
                let mut t = w.open_table(LEGACY_BLOCKS).unwrap();
                t.insert((5, ha.0), codec::encode(&a).as_slice()).unwrap();
                t.insert((6, hb.0), codec::encode(&b).as_slice()).unwrap();
            }
            w.commit().unwrap();
        }
        let s = Store::open(&dir.path().join("chain.redb")).unwrap();
        assert_eq!(s.adopt_pending_file(&old).unwrap(), 2);
        assert!(!old.exists());
        assert_eq!(s.pending::<Rec>(5, &ha).unwrap(), Some(a));
        assert_eq!(s.pending_at::<Rec>(6).unwrap(), vec![b]);
        assert_eq!(s.adopt_pending_file(&old).unwrap(), 0, "nothing left to move");
    }
}
