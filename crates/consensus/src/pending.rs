//! Blocks this node proposed or accepted for heights not yet committed, kept on disk
//! (`consensus.redb`) until their height commits.
//!
//! The engine's write-ahead log records only block hashes. A node that voted for a block and
//! then crashed must still be able to produce it (to commit it once decided, or to re-send
//! it), and a proposer that crashed after proposing must propose the very same block again
//! rather than a second one. So every block is written here, with fsync, before the engine
//! is told about it.

use crate::parts::ProposedBlock;
use borsh::{BorshDeserialize, BorshSerialize};
use cairn_types::{Address, Hash, Height, codec};
use redb::{Database, ReadableDatabase, TableDefinition};
use std::path::Path;

/// (height, block hash) → [`PendingBlock`].
const BLOCKS: TableDefinition<(u64, [u8; 32]), &[u8]> = TableDefinition::new("pending_blocks");

/// Largest record decoded.
const MAX_RECORD: usize = 256 * 1024 * 1024;

/// A block seen for an undecided height, and how it was proposed.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PendingBlock {
    /// The round it was (first) proposed in, and by whom.
    pub round: u32,
    pub pol_round: Option<u32>,
    pub proposer: Address,
    /// This node built it (as the proposer of `round`).
    pub built: bool,
    /// Whether it passed verification here.
    pub valid: bool,
    pub block: ProposedBlock,
}

#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    #[error("pending-block store: {0}")]
    Db(#[from] redb::Error),
    #[error("pending-block store holds a corrupt record: {0}")]
    Corrupt(#[from] codec::DecodeError),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for PendingError {
            fn from(e: $t) -> Self { PendingError::Db(e.into()) }
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

pub struct Pending {
    db: Database,
}

impl Pending {
    pub fn open(path: &Path) -> Result<Pending, PendingError> {
        let db = Database::create(path)?;
        let w = db.begin_write()?;
        w.open_table(BLOCKS)?;
        w.commit()?;
        Ok(Pending { db })
    }

    /// Stores a block for `height` (durably: the write is fsynced before this returns).
    pub fn put(&self, height: Height, p: &PendingBlock) -> Result<(), PendingError> {
        let w = self.db.begin_write()?;
        w.open_table(BLOCKS)?.insert((height, p.block.hash().0), codec::encode(p).as_slice())?;
        w.commit()?;
        Ok(())
    }

    pub fn get(&self, height: Height, hash: &Hash) -> Result<Option<PendingBlock>, PendingError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCKS)?;
        match t.get((height, hash.0))? {
            Some(v) => Ok(Some(codec::decode(v.value(), MAX_RECORD, "pending block")?)),
            None => Ok(None),
        }
    }

    /// Every block stored for `height`.
    pub fn at(&self, height: Height) -> Result<Vec<PendingBlock>, PendingError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCKS)?;
        let mut out = Vec::new();
        for item in t.range((height, [0u8; 32])..=(height, [0xffu8; 32]))? {
            let (_, v) = item?;
            out.push(codec::decode(v.value(), MAX_RECORD, "pending block")?);
        }
        Ok(out)
    }

    /// The block this node built for `height` and `round`, if any.
    pub fn built(&self, height: Height, round: u32) -> Result<Option<PendingBlock>, PendingError> {
        Ok(self.at(height)?.into_iter().find(|p| p.built && p.round == round))
    }

    /// Drops every block of heights up to `height` (they are committed). Not fsynced: the
    /// next `put` makes it durable, and a prune lost in a crash only leaves blocks of
    /// committed heights behind, which nothing reads and the next prune drops.
    pub fn prune_through(&self, height: Height) -> Result<(), PendingError> {
        let mut w = self.db.begin_write()?;
        w.set_durability(redb::Durability::None)?;
        {
            let mut t = w.open_table(BLOCKS)?;
            t.retain_in(..=(height, [0xffu8; 32]), |_, _| false)?;
        }
        w.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use cairn_types::{BlockHeader, Keypair};

    fn block(height: Height, salt: u8) -> PendingBlock {
        let key = Keypair::from_label("builder");
        let header = BlockHeader {
            height,
            parent_hash: Hash([salt; 32]),
            timestamp_ms: 1,
            proposer: key.address(),
            epoch: 0,
            tx_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            state_root: Hash::ZERO,
        };
        PendingBlock {
            round: u32::from(salt),
            pol_round: None,
            proposer: key.address(),
            built: salt == 1,
            valid: true,
            block: ProposedBlock::seal(&key, "c", header, vec![]),
        }
    }

    #[test]
    fn blocks_survive_a_reopen_until_their_height_is_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consensus.redb");
        let (a, b, c) = (block(5, 1), block(5, 2), block(6, 3));
        {
            let p = Pending::open(&path).unwrap();
            for (h, x) in [(5, &a), (5, &b), (6, &c)] {
                p.put(h, x).unwrap();
            }
        }
        let p = Pending::open(&path).unwrap();
        assert_eq!(p.get(5, &a.block.hash()).unwrap(), Some(a.clone()));
        assert_eq!(p.at(5).unwrap().len(), 2);
        assert_eq!(p.built(5, 1).unwrap(), Some(a.clone()));
        assert_eq!(p.built(5, 2).unwrap(), None, "received, not built");
        p.prune_through(5).unwrap();
        assert!(p.at(5).unwrap().is_empty());
        assert_eq!(p.at(6).unwrap(), vec![c]);
    }
}
