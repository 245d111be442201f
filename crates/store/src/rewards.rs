//! The reward reports the node keeps outside the authenticated state (state holds each
//! epoch's totals and the Merkle root of its leaves): every entry by (epoch, position), and
//! indexes by device and by owner for claims.

use crate::tables::{DEVICE_REWARDS, OWNER_REWARDS, REWARD_ENTRIES};
use crate::{MAX_OBJECT, Snapshot, StoreError, corrupt};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{RewardEntry, RewardIndexChunk};
use cairn_types::{Address, Hash, codec};
use redb::ReadableTable as _;

/// Writes the entries of `chunk` and their indexes (in the block's write transaction): all
/// of a report when a block settles it whole, or the share a block of a spread settlement
/// settles (docs/adr/0041-reward-settle-spread.md). The shares of an epoch come in order in
/// consecutive blocks, each in the transaction that commits the state recording it, so the
/// index holds exactly the entries the committed state counts as settled; a share that does
/// not continue the epoch's index where it ends is refused.
pub(crate) fn index_rewards(
    w: &redb::WriteTransaction,
    chunk: &RewardIndexChunk,
) -> Result<(), StoreError> {
    let epoch = chunk.epoch();
    let mut entries = w.open_table(REWARD_ENTRIES)?;
    let mut by_device = w.open_table(DEVICE_REWARDS)?;
    let mut by_owner = w.open_table(OWNER_REWARDS)?;
    let next = match entries.range((epoch, 0)..=(epoch, u32::MAX))?.next_back() {
        None => 0,
        Some(row) => row?.0.value().1.saturating_add(1),
    };
    if next != chunk.from {
        return Err(StoreError::Corrupt {
            what: "reward index",
            reason: format!(
                "epoch {epoch} is indexed up to entry {next}, a block settles entries {} to {}",
                chunk.from, chunk.to
            ),
        });
    }
    let mut leaf = chunk.first_leaf;
    for (pos, e) in chunk.entries().map_err(corrupt("reward entry"))? {
        entries.insert((epoch, pos), codec::encode(&e).as_slice())?;
        by_device.insert((e.device.0, epoch), pos)?;
        if e.is_leaf() {
            by_owner.insert((e.owner.0, epoch, leaf), pos)?;
            leaf += 1;
        }
    }
    Ok(())
}

impl Snapshot {
    fn reward_entry(&self, epoch: u64, pos: u32) -> Result<RewardEntry, StoreError> {
        let Some(v) = self.reward_entries.get((epoch, pos))? else {
            return Err(StoreError::Corrupt {
                what: "reward index",
                reason: format!("no entry {pos} of epoch {epoch}"),
            });
        };
        codec::decode(v.value(), MAX_OBJECT, "reward entry").map_err(corrupt("reward entry"))
    }

    /// Entries of `epoch` after position `after`, at most `limit`, with their positions.
    pub fn reward_entries(
        &self,
        epoch: u64,
        after: Option<u32>,
        limit: usize,
    ) -> Result<Vec<(u32, RewardEntry)>, StoreError> {
        self.check_epoch(epoch)?;
        let start = after.map_or(0, |a| a.saturating_add(1));
        if after == Some(u32::MAX) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for row in self.reward_entries.range((epoch, start)..=(epoch, u32::MAX))? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = row?;
            let e: RewardEntry = codec::decode(v.value(), MAX_OBJECT, "reward entry")
                .map_err(corrupt("reward entry"))?;
            out.push((k.value().1, e));
        }
        Ok(out)
    }

    /// A device's entry in an epoch's report, if it had one.
    pub fn device_reward(
        &self,
        device: &DeviceId,
        epoch: u64,
    ) -> Result<Option<RewardEntry>, StoreError> {
        self.check_epoch(epoch)?;
        match self.device_rewards.get((device.0, epoch))? {
            None => Ok(None),
            Some(pos) => self.reward_entry(epoch, pos.value()).map(Some),
        }
    }

    /// A device's entry of `epoch` with its leaf index among the epoch's leaves (the index is
    /// None when the entry is not a leaf: nothing paid, or flagged).
    pub fn device_reward_leaf(
        &self,
        device: &DeviceId,
        epoch: u64,
    ) -> Result<Option<(RewardEntry, Option<u64>)>, StoreError> {
        let Some(pos) = self.device_rewards.get((device.0, epoch))?.map(|v| v.value()) else {
            return Ok(None);
        };
        let entry = self.reward_entry(epoch, pos)?;
        if !entry.is_leaf() {
            return Ok(Some((entry, None)));
        }
        let owner = entry.owner.0;
        for row in self.owner_rewards.range((owner, epoch, 0)..=(owner, epoch, u64::MAX))? {
            let (k, v) = row?;
            if v.value() == pos {
                return Ok(Some((entry, Some(k.value().2))));
            }
        }
        Err(StoreError::Corrupt {
            what: "reward index",
            reason: format!("entry {pos} of epoch {epoch} is a leaf but not indexed by owner"),
        })
    }

    /// Every leaf an owner was paid: (epoch, leaf index, entry), oldest first.
    pub fn owner_rewards(
        &self,
        owner: &Address,
    ) -> Result<Vec<(u64, u64, RewardEntry)>, StoreError> {
        let mut out = Vec::new();
        for row in self.owner_rewards.range((owner.0, 0, 0)..=(owner.0, u64::MAX, u64::MAX))? {
            let (k, pos) = row?;
            let (_, epoch, leaf) = k.value();
            out.push((epoch, leaf, self.reward_entry(epoch, pos.value())?));
        }
        Ok(out)
    }

    /// The leaf hashes of `epoch`, in order (to build claim paths).
    pub fn reward_leaves(&self, epoch: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_epoch(epoch)?;
        let mut out = Vec::new();
        for row in self.reward_entries.range((epoch, 0)..=(epoch, u32::MAX))? {
            let (_, v) = row?;
            let e: RewardEntry = codec::decode(v.value(), MAX_OBJECT, "reward entry")
                .map_err(corrupt("reward entry"))?;
            if e.is_leaf() {
                out.push(e.leaf().hash());
            }
        }
        Ok(out)
    }
}
