//! Storage deals: a consumer pays a provider device to keep a file, committed as a Merkle
//! root over fixed-size chunks; each epoch the chain challenges one chunk chosen from chain
//! entropy and the provider answers with the chunk and its Merkle path.
//!
//! The chunk tree: leaves are BLAKE3 of the chunk bytes under a leaf prefix; an inner node
//! is BLAKE3 of its two children under an inner prefix; an odd node at the end of a level is
//! carried up unchanged. A proof is the list of siblings from the leaf up, skipping levels
//! where the node was carried.

use crate::device_key::DeviceId;
use crate::{Address, Amount, Hash, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

fn leaf(chunk: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[0]);
    h.update(chunk);
    Hash(*h.finalize().as_bytes())
}

fn inner(l: &Hash, r: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[1]);
    h.update(&l.0);
    h.update(&r.0);
    Hash(*h.finalize().as_bytes())
}

/// Splits `data` into chunks of `chunk_size` (the last may be shorter; empty data has none).
pub fn chunks(data: &[u8], chunk_size: usize) -> Vec<&[u8]> {
    data.chunks(chunk_size.max(1)).collect()
}

fn levels(chunks: &[&[u8]]) -> Vec<Vec<Hash>> {
    let mut levels = vec![chunks.iter().map(|c| leaf(c)).collect::<Vec<_>>()];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let prev = levels.last().map(Vec::as_slice).unwrap_or_default();
        let next = prev
            .chunks(2)
            .map(|p| match p {
                [l, r] => inner(l, r),
                [one] => *one,
                _ => Hash::ZERO,
            })
            .collect();
        levels.push(next);
    }
    levels
}

/// The root over the chunks (all-zero for no chunks).
pub fn chunk_root(chunks: &[&[u8]]) -> Hash {
    levels(chunks).last().and_then(|l| l.first().copied()).unwrap_or(Hash::ZERO)
}

/// The Merkle path of chunk `index`, or `None` if out of range.
pub fn chunk_proof(chunks: &[&[u8]], index: u64) -> Option<Vec<Hash>> {
    let mut i = usize::try_from(index).ok()?;
    if i >= chunks.len() {
        return None;
    }
    let mut path = Vec::new();
    for level in levels(chunks).iter().take_while(|l| l.len() > 1) {
        let sibling = i ^ 1;
        if let Some(h) = level.get(sibling) {
            path.push(*h);
        }
        i /= 2;
    }
    Some(path)
}

/// Checks that `chunk` is chunk `index` of `count` under `root`.
pub fn verify_chunk(root: &Hash, count: u64, index: u64, chunk: &[u8], path: &[Hash]) -> bool {
    if index >= count {
        return false;
    }
    let (mut i, mut len, mut node) = (index, count, leaf(chunk));
    let mut siblings = path.iter();
    while len > 1 {
        let sibling = i ^ 1;
        if sibling < len {
            let Some(s) = siblings.next() else { return false };
            node = if i % 2 == 0 { inner(&node, s) } else { inner(s, &node) };
        }
        i /= 2;
        len = len.div_ceil(2);
    }
    siblings.next().is_none() && node == *root
}

/// The chunk a deal is challenged on in an epoch: SHA-256(entropy ‖ deal id) mod chunks.
pub fn challenge_index(entropy: &Hash, deal: &Hash, chunks: u64) -> u64 {
    let h = Hash::sha256_parts(&[b"cairn/storage-challenge/v1", &entropy.0, &deal.0]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.0[..8]);
    u64::from_be_bytes(first) % chunks.max(1)
}

/// An open challenge.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Challenge {
    pub epoch: u64,
    pub index: u64,
    /// The answer must be in a block after the one that issued the challenge and before
    /// this height.
    pub deadline: Height,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DealStatus {
    Active,
    /// Ended at `height`: ran its course, or `faulted` after too many misses in a row.
    Ended {
        height: Height,
        faulted: bool,
        #[serde(with = "crate::api::amount_str")]
        refunded: Amount,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deal {
    pub id: Hash,
    pub consumer: Address,
    pub device: DeviceId,
    pub root: Hash,
    pub size: u64,
    pub chunks: u64,
    /// Paid to the provider for each epoch it proves.
    #[serde(with = "crate::api::amount_str")]
    pub price_per_epoch: Amount,
    /// First and last epoch challenged.
    pub first_epoch: u64,
    pub last_epoch: u64,
    #[serde(with = "crate::api::amount_str")]
    pub escrow_left: Amount,
    pub challenge: Option<Challenge>,
    pub proven_epochs: u64,
    pub faults: u64,
    pub misses_in_row: u32,
    pub status: DealStatus,
}

/// The id of the deal a consumer opens with the transaction of nonce `nonce`.
pub fn deal_id(consumer: &Address, nonce: u64) -> Hash {
    Hash::sha256_parts(&[b"cairn/deal-id/v1", consumer.as_bytes(), &nonce.to_be_bytes()])
}

/// Parameters of storage deals.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageParams {
    pub chunk_size: u32,
    /// Blocks after the start of an epoch within which a challenge must be answered.
    pub response_blocks: u64,
    /// Taken from the provider's bond for each missed challenge.
    #[serde(with = "crate::api::amount_str")]
    pub fault_fee: Amount,
    /// Misses in a row that end the deal.
    pub max_misses: u32,
    pub max_duration_epochs: u64,
}

impl Default for StorageParams {
    fn default() -> Self {
        StorageParams {
            chunk_size: 1024,
            response_blocks: 20,
            fault_fee: crate::UNITS_PER_CRN,
            max_misses: 3,
            max_duration_epochs: 10_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_proves_and_nothing_else_does() {
        for n in [1usize, 2, 3, 5, 8, 13] {
            let data: Vec<u8> = (0..n * 10).map(|i| i as u8).collect();
            let cs = chunks(&data, 10);
            assert_eq!(cs.len(), n);
            let root = chunk_root(&cs);
            for i in 0..n as u64 {
                let path = chunk_proof(&cs, i).unwrap();
                assert!(verify_chunk(&root, n as u64, i, cs[i as usize], &path), "n={n} i={i}");
                assert!(!verify_chunk(&root, n as u64, i, b"other bytes", &path));
                if n > 1 {
                    let j = (i + 1) % n as u64;
                    assert!(
                        !verify_chunk(&root, n as u64, j, cs[i as usize], &path),
                        "n={n} i={i}"
                    );
                }
                let mut longer = path.clone();
                longer.push(Hash::ZERO);
                assert!(!verify_chunk(&root, n as u64, i, cs[i as usize], &longer));
            }
            assert!(chunk_proof(&cs, n as u64).is_none());
            assert!(!verify_chunk(&root, n as u64, n as u64, cs[0], &[]));
        }
    }

    #[test]
    fn challenges_spread_over_the_chunks() {
        let deal = Hash([3; 32]);
        let mut seen = std::collections::BTreeSet::new();
        for e in 0..200u8 {
            let i = challenge_index(&Hash::sha256(&[e]), &deal, 16);
            assert!(i < 16);
            seen.insert(i);
        }
        assert_eq!(seen.len(), 16);
    }
}
