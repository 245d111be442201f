//! Blocks this node proposed or accepted for heights not yet committed, and how they were
//! proposed, kept in the node's store until their height commits (the table and its
//! durability are the store's, `cairn_store::pending`; the record is this crate's).
//!
//! The engine's write-ahead log records only block hashes. A node that voted for a block and
//! then crashed must still be able to produce it (to commit it once decided, or to re-send
//! it), and a proposer that crashed after proposing must propose the very same block again
//! rather than a second one. So every block is written there, with fsync, before the engine
//! is told about it.

use crate::parts::ProposedBlock;
use borsh::{BorshDeserialize, BorshSerialize};
use cairn_store::{Store, StoreError};
use cairn_types::{Address, Hash, Height};
use std::sync::Arc;

/// The file pending blocks were kept in before they moved into the store; moved in on start.
pub const LEGACY_FILE: &str = "consensus.redb";

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

/// The pending blocks in the node's store.
pub struct Pending {
    store: Arc<Store>,
}

impl Pending {
    pub fn new(store: Arc<Store>) -> Pending {
        Pending { store }
    }

    /// Stores a block for `height` (durably: the write is fsynced before this returns).
    pub fn put(&self, height: Height, p: &PendingBlock) -> Result<(), StoreError> {
        self.store.put_pending(height, &p.block.hash(), p)
    }

    pub fn get(&self, height: Height, hash: &Hash) -> Result<Option<PendingBlock>, StoreError> {
        self.store.pending(height, hash)
    }

    /// Every block stored for `height`.
    pub fn at(&self, height: Height) -> Result<Vec<PendingBlock>, StoreError> {
        self.store.pending_at(height)
    }

    /// The block this node built for `height` and `round`, if any.
    pub fn built(&self, height: Height, round: u32) -> Result<Option<PendingBlock>, StoreError> {
        Ok(self.at(height)?.into_iter().find(|p| p.built && p.round == round))
    }

    /// Drops every block of heights up to `height` (they are committed). Not fsynced; see
    /// [`Store::prune_pending_through`].
    pub fn prune_through(&self, height: Height) -> Result<(), StoreError> {
        self.store.prune_pending_through(height)
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
        let path = dir.path().join("chain.redb");
        let (a, b, c) = (block(5, 1), block(5, 2), block(6, 3));
        {
            let p = Pending::new(Arc::new(Store::open(&path).unwrap()));
            for (h, x) in [(5, &a), (5, &b), (6, &c)] {
                p.put(h, x).unwrap();
            }
        }
        let p = Pending::new(Arc::new(Store::open(&path).unwrap()));
        assert_eq!(p.get(5, &a.block.hash()).unwrap(), Some(a.clone()));
        assert_eq!(p.at(5).unwrap().len(), 2);
        assert_eq!(p.built(5, 1).unwrap(), Some(a.clone()));
        assert_eq!(p.built(5, 2).unwrap(), None, "received, not built");
        p.prune_through(5).unwrap();
        assert!(p.at(5).unwrap().is_empty());
        assert_eq!(p.at(6).unwrap(), vec![c]);
    }
}
