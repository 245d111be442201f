//! Storage deals: a consumer pays a provider device to keep a file, committed as a Merkle
//! root over fixed-size chunks; each epoch the chain challenges one chunk chosen from chain
//! entropy and the provider answers with the chunk and its Merkle path.
//!
//! The chunk tree: leaves are BLAKE3 of the chunk bytes under a leaf prefix; an inner node
//! is BLAKE3 of its two children under an inner prefix; an odd node at the end of a level is
//! carried up unchanged. A proof is the list of siblings from the leaf up, skipping levels
//! where the node was carried.
//!
//! The root a deal commits to covers the leaf count too: BLAKE3("cairn/storage-root/v1" ‖
//! leaf count as u64 big-endian ‖ tree root). The count fixes which indexes exist and how
//! long each index's path is, so a root proves chunks only under the count it was built
//! with, and a deal's size (count × chunk size) follows from what the consumer committed.

use crate::device_key::DeviceId;
use crate::{Address, Amount, Hash, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A leaf of the chunk tree: BLAKE3(0x00 ‖ chunk).
pub fn leaf_hash(chunk: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[0]);
    h.update(chunk);
    Hash(*h.finalize().as_bytes())
}

/// An inner node of the chunk tree: BLAKE3(0x01 ‖ left ‖ right).
pub fn inner_hash(l: &Hash, r: &Hash) -> Hash {
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
    let mut levels = vec![chunks.iter().map(|c| leaf_hash(c)).collect::<Vec<_>>()];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let prev = levels.last().map(Vec::as_slice).unwrap_or_default();
        let next = prev
            .chunks(2)
            .map(|p| match p {
                [l, r] => inner_hash(l, r),
                [one] => *one,
                _ => Hash::ZERO,
            })
            .collect();
        levels.push(next);
    }
    levels
}

/// The Merkle root of the chunk tree alone (all-zero for no chunks); a deal commits to
/// [`chunk_root`], which binds it to the leaf count.
pub fn tree_root(chunks: &[&[u8]]) -> Hash {
    levels(chunks).last().and_then(|l| l.first().copied()).unwrap_or(Hash::ZERO)
}

/// The committed root of a tree of `count` leaves whose Merkle root is `tree`:
/// BLAKE3("cairn/storage-root/v1" ‖ count (u64 big-endian) ‖ tree).
pub fn committed_root(count: u64, tree: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"cairn/storage-root/v1");
    h.update(&count.to_be_bytes());
    h.update(&tree.0);
    Hash(*h.finalize().as_bytes())
}

/// The root a deal over these chunks commits to: the tree root bound to the chunk count.
pub fn chunk_root(chunks: &[&[u8]]) -> Hash {
    committed_root(chunks.len() as u64, &tree_root(chunks))
}

/// How many siblings the path of leaf `index` in a tree of `count` leaves has (None if
/// the index is out of range): one per level where the node has a sibling, at most 64.
pub fn path_len(count: u64, index: u64) -> Option<usize> {
    if index >= count {
        return None;
    }
    let (mut i, mut len, mut n) = (index, count, 0usize);
    while len > 1 {
        if i ^ 1 < len {
            n += 1;
        }
        i /= 2;
        len = len.div_ceil(2);
    }
    Some(n)
}

/// The bytes a deal of `chunks` chunks of `chunk_size` counts (None on overflow).
pub fn deal_bytes(chunks: u64, chunk_size: u32) -> Option<u64> {
    chunks.checked_mul(u64::from(chunk_size))
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

/// Checks that `chunk` is chunk `index` of `count` under the committed `root`: the index
/// is below the count, the path has exactly the length the count gives that index, and
/// the tree root it leads to, bound to `count`, is `root`.
pub fn verify_chunk(root: &Hash, count: u64, index: u64, chunk: &[u8], path: &[Hash]) -> bool {
    if path_len(count, index) != Some(path.len()) {
        return false;
    }
    let (mut i, mut len, mut node) = (index, count, leaf_hash(chunk));
    let mut siblings = path.iter();
    while len > 1 {
        let sibling = i ^ 1;
        if sibling < len {
            let Some(s) = siblings.next() else { return false };
            node = if i % 2 == 0 { inner_hash(&node, s) } else { inner_hash(s, &node) };
        }
        i /= 2;
        len = len.div_ceil(2);
    }
    siblings.next().is_none() && committed_root(count, &node) == *root
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
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Challenge {
    pub epoch: u64,
    pub index: u64,
    /// The answer must be in a block after the one that issued the challenge and before
    /// this height.
    pub deadline: Height,
}

/// Where a deal stands. New states are appended (the encoding is by position).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DealStatus {
    /// Accepted by the provider: challenged every epoch from `first_epoch` to `last_epoch`.
    Active,
    /// Ended at `height`: ran its course, or `faulted` after too many misses in a row.
    Ended {
        height: Height,
        faulted: bool,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        refunded: Amount,
    },
    /// Opened, waiting for the provider's `AcceptDeal` in a block at most `accept_by`:
    /// never challenged, faulted or paid in this state.
    Pending { accept_by: Height },
    /// Never accepted by `accept_by`: expired at `height` (the first epoch start after it),
    /// with the whole escrow `refunded` to the consumer.
    Expired {
        accept_by: Height,
        height: Height,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        refunded: Amount,
    },
}

#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Deal {
    pub id: Hash,
    pub consumer: Address,
    pub device: DeviceId,
    pub root: Hash,
    pub size: u64,
    pub chunks: u64,
    /// Paid to the provider for each epoch it proves.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub price_per_epoch: Amount,
    /// First and last epoch challenged.
    pub first_epoch: u64,
    pub last_epoch: u64,
    #[schema(value_type = crate::openapi::AmountString)]
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
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct StorageParams {
    pub chunk_size: u32,
    /// Blocks after the start of an epoch within which a challenge must be answered.
    pub response_blocks: u64,
    /// Taken from the provider's bond for each missed challenge.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub fault_fee: Amount,
    /// Misses in a row that end the deal.
    pub max_misses: u32,
    pub max_duration_epochs: u64,
    /// Largest deal: chunk count × chunk size may not exceed it (`deal_too_large`).
    pub max_deal_bytes: u64,
    /// Blocks after the opening block within which the provider must accept a deal
    /// (`AcceptDeal`); an unaccepted deal then expires and its escrow returns. At least 1.
    pub accept_window_blocks: u64,
}

/// Default largest deal: 64 GiB.
pub const DEFAULT_MAX_DEAL_BYTES: u64 = 64 << 30;

/// Default accept window: 1,000 blocks, as long as a consumer waits on an unsettled usage
/// channel (`usage.channel_timeout_blocks`) — time to hand the provider a large file.
pub const DEFAULT_ACCEPT_WINDOW_BLOCKS: u64 = 1_000;

impl Default for StorageParams {
    fn default() -> Self {
        StorageParams {
            chunk_size: 1024,
            response_blocks: 20,
            fault_fee: crate::UNITS_PER_CRN,
            max_misses: 3,
            max_duration_epochs: 10_000,
            max_deal_bytes: DEFAULT_MAX_DEAL_BYTES,
            accept_window_blocks: DEFAULT_ACCEPT_WINDOW_BLOCKS,
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
    fn a_root_proves_chunks_only_under_the_leaf_count_it_commits() {
        // Four identical chunks. The bare tree root of four leaves also proves leaf 0 of a
        // three-leaf tree with the same path (the third leaf's node is carried up), so a
        // root without the count lets the count be chosen; the committed root does not.
        let same = [b"same".as_slice(); 4];
        let path = chunk_proof(&same, 0).unwrap();
        let bare = tree_root(&same);
        assert_eq!(path.len(), 2);
        assert_eq!(path_len(3, 0), Some(2));
        let root = chunk_root(&same);
        assert!(verify_chunk(&root, 4, 0, b"same", &path));
        assert!(!verify_chunk(&root, 3, 0, b"same", &path));
        // The bare root proves nothing under any count.
        for count in 1..=8 {
            assert!(!verify_chunk(&bare, count, 0, b"same", &path), "count {count}");
        }
        // A self-similar tree of 2^k identical leaves: its committed root proves under 2^k
        // and under no other count, whatever path length the other count asks for.
        let k = 12u32;
        let mut node = leaf_hash(b"x");
        let mut siblings = Vec::new();
        for _ in 0..k {
            siblings.push(node);
            node = inner_hash(&node, &node);
        }
        let big = committed_root(1 << k, &node);
        assert!(verify_chunk(&big, 1 << k, 5, b"x", &siblings));
        for count in [(1u64 << k) - 1, (1 << k) + 1, 1 << (k + 1), 1 << (k - 1)] {
            let want = path_len(count, 5).unwrap();
            let mut p = siblings.clone();
            p.resize(want, node);
            assert!(!verify_chunk(&big, count, 5, b"x", &p), "count {count}");
        }
        assert_ne!(chunk_root(&same[..3]), root);
    }

    #[test]
    fn path_lengths_follow_from_the_leaf_count() {
        for n in 1..=70u64 {
            let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let cs = chunks(&data, 1);
            for i in 0..n {
                assert_eq!(path_len(n, i), chunk_proof(&cs, i).map(|p| p.len()), "n={n} i={i}");
            }
            assert_eq!(path_len(n, n), None);
        }
        assert_eq!(path_len(1, 0), Some(0));
        assert_eq!(path_len(u64::MAX, 0), Some(64));
        assert_eq!(deal_bytes(u64::MAX, 2), None);
        assert_eq!(deal_bytes(3, 1024), Some(3072));
    }

    proptest::proptest! {
        #[test]
        fn a_valid_proof_exists_for_every_index_below_the_count_and_none_beyond(
            n in 1usize..160,
            size in 1usize..5,
            seed in proptest::prelude::any::<u8>(),
            extra in 0u64..4,
        ) {
            let data: Vec<u8> =
                (0..n * size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let cs = chunks(&data, size);
            proptest::prop_assert_eq!(cs.len(), n);
            let root = chunk_root(&cs);
            let count = n as u64;
            for i in 0..count {
                let path = chunk_proof(&cs, i).unwrap();
                proptest::prop_assert!(verify_chunk(&root, count, i, cs[i as usize], &path));
                // A path of any other length is refused, padded or cut.
                let mut longer = path.clone();
                longer.push(path.first().copied().unwrap_or(root));
                proptest::prop_assert!(!verify_chunk(&root, count, i, cs[i as usize], &longer));
                if let Some((_, shorter)) = path.split_last() {
                    proptest::prop_assert!(
                        !verify_chunk(&root, count, i, cs[i as usize], shorter)
                    );
                }
                // The same proof under another count fails.
                proptest::prop_assert!(
                    !verify_chunk(&root, count + 1 + extra, i, cs[i as usize], &path)
                );
            }
            // No index at or beyond the count proves, with any chunk and any path the tree
            // gives.
            let beyond = count + extra;
            proptest::prop_assert!(chunk_proof(&cs, beyond).is_none());
            for j in 0..count {
                let path = chunk_proof(&cs, j).unwrap();
                proptest::prop_assert!(
                    !verify_chunk(&root, count, beyond, cs[j as usize], &path)
                );
            }
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
