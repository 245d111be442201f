//! The authenticated state commitment: a Jellyfish Merkle tree (jmt) over SHA-256, one
//! version per block height. Keys are hashed with SHA-256 before they enter the tree.

use crate::{ChangeSet, StateError, ValueAt};
use cairn_types::Hash;
use jmt::proof::SparseMerkleProof;
use jmt::storage::{LeafNode, NibblePath, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, RootHash, Sha256Jmt, Version};
use rayon::prelude::*;
use sha2::Sha256;
use std::collections::HashMap;

/// The tree key of a state key.
pub fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash::with::<Sha256>(key)
}

fn tree_err(e: impl std::fmt::Display) -> StateError {
    StateError::Tree(e.to_string())
}

/// Applies `changes` on top of the tree in `reader` as `version` and returns the new root
/// and the nodes to persist. Nothing is written: the caller commits the batch.
///
/// A change set without deletions goes down the tree once, in key-hash order, so every new
/// node is built and hashed once however many of the block's keys lie below it; key by key
/// ([`apply_changes_one_by_one`]), the nodes near the root are rebuilt and rehashed for
/// every key. Both give the same root, nodes and stale-node index (a property test says so):
/// the tree of a key set is one tree. The batched walk cannot delete, so a change set with a
/// deletion, or none at all, goes key by key.
pub fn apply_changes<R: TreeReader + Sync>(
    reader: &R,
    changes: &ChangeSet,
    version: u64,
) -> Result<(Hash, TreeUpdateBatch), StateError> {
    if changes.is_empty() || changes.values().any(Option::is_none) {
        return apply_changes_one_by_one(reader, changes, version);
    }
    let set: Vec<(KeyHash, OwnedValue)> =
        changes.iter().filter_map(|(k, v)| Some((key_hash(k), v.clone()?))).collect();
    let hashes: Vec<KeyHash> = set.iter().map(|(k, _)| *k).collect();
    let read = Prefetched::new(reader, &hashes, version)?;
    // The batched walk starts from the root of the version before and, unlike the key by
    // key one, does not take a missing root for an empty tree (a tree first written at a
    // version after 0, as in the test vectors): such a tree goes key by key.
    if version > 0 && !read.has_root(version - 1)? {
        return apply_changes_one_by_one(reader, changes, version);
    }
    let tree = Sha256Jmt::new(&read);
    let (roots, batch) = tree.batch_put_value_sets(vec![set], None, version).map_err(tree_err)?;
    let root = roots.first().ok_or_else(|| tree_err("the batched update gave no root"))?;
    Ok((Hash(root.0), batch))
}

/// The tree's reader for one update: the nodes the update will visit (the paths of its
/// keys in the tree of the version before), read beforehand on all cores, level by level;
/// anything else from the reader itself. The reader does not change during the update, so
/// every node read is the one the reader would have returned.
struct Prefetched<'r, R> {
    reader: &'r R,
    nodes: HashMap<NodeKey, Option<Node>>,
}

impl<'r, R: TreeReader + Sync> Prefetched<'r, R> {
    fn new(reader: &'r R, hashes: &[KeyHash], version: u64) -> Result<Self, StateError> {
        let mut nodes = HashMap::new();
        let Some(before) = version.checked_sub(1) else {
            return Ok(Prefetched { reader, nodes });
        };
        let mut sorted = hashes.to_vec();
        sorted.sort_unstable();
        // Each frontier entry: a node key and the sorted key hashes whose path crosses it.
        let mut frontier: Vec<(NodeKey, &[KeyHash])> =
            vec![(node_key(before, &[0; 32], 0)?, &sorted)];
        let mut depth = 0usize;
        while !frontier.is_empty() {
            let read: Vec<Option<Node>> = frontier
                .par_iter()
                .map(|(key, _)| reader.get_node_option(key))
                .collect::<Result<_, _>>()
                .map_err(tree_err)?;
            let mut next = Vec::new();
            for ((key, below), node) in frontier.into_iter().zip(read) {
                if let (Some(Node::Internal(internal)), true) = (&node, depth < 64) {
                    let mut children = [None; 16];
                    for (nibble, child) in internal.children_unsorted() {
                        if let Some(slot) = children.get_mut(usize::from(u8::from(nibble))) {
                            *slot = Some(child.version);
                        }
                    }
                    let mut rest = below;
                    while let Some(first) = rest.first() {
                        let n = nibble(first, depth);
                        let end =
                            rest.iter().position(|k| nibble(k, depth) != n).unwrap_or(rest.len());
                        let (group, later) = rest.split_at(end);
                        if let Some(Some(v)) = children.get(usize::from(n)) {
                            next.push((node_key(*v, &first.0, depth + 1)?, group));
                        }
                        rest = later;
                    }
                }
                nodes.insert(key, node);
            }
            frontier = next;
            depth += 1;
        }
        Ok(Prefetched { reader, nodes })
    }
}

impl<R: TreeReader> Prefetched<'_, R> {
    /// Whether the tree has a root at `version`.
    fn has_root(&self, version: u64) -> Result<bool, StateError> {
        Ok(self.get_node_option(&node_key(version, &[0; 32], 0)?).map_err(tree_err)?.is_some())
    }
}

/// Nibble `i` of a key hash (the high half of a byte first).
fn nibble(k: &KeyHash, i: usize) -> u8 {
    let b = k.0.get(i / 2).copied().unwrap_or(0);
    if i.is_multiple_of(2) { b >> 4 } else { b & 0x0f }
}

/// The key of the node at `version` on the path of the first `nibbles` nibbles of `path`,
/// through the nibble path's borsh form (its constructors are jmt's own): the nibble count
/// as a u64, then the bytes that hold them, an odd count's last low half zero.
fn node_key(version: u64, path: &[u8; 32], nibbles: usize) -> Result<NodeKey, StateError> {
    let mut bytes: Vec<u8> = path.iter().copied().take(nibbles.div_ceil(2)).collect();
    if !nibbles.is_multiple_of(2)
        && let Some(last) = bytes.last_mut()
    {
        *last &= 0xf0;
    }
    let mut enc = Vec::with_capacity(8 + 4 + bytes.len());
    enc.extend_from_slice(&(nibbles as u64).to_le_bytes());
    enc.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    enc.extend_from_slice(&bytes);
    let path: NibblePath = borsh::from_slice(&enc).map_err(tree_err)?;
    Ok(NodeKey::new(version, path))
}

impl<R: TreeReader> TreeReader for Prefetched<'_, R> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        match self.nodes.get(node_key) {
            Some(node) => Ok(node.clone()),
            None => self.reader.get_node_option(node_key),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        self.reader.get_value_option(max_version, key_hash)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        self.reader.get_rightmost_leaf()
    }
}

/// [`apply_changes`] one key at a time, deletions included.
pub fn apply_changes_one_by_one<R: TreeReader>(
    reader: &R,
    changes: &ChangeSet,
    version: u64,
) -> Result<(Hash, TreeUpdateBatch), StateError> {
    let tree = Sha256Jmt::new(reader);
    let set = changes.iter().map(|(k, v)| (key_hash(k), v.clone()));
    let (root, batch) = tree.put_value_set(set, version).map_err(tree_err)?;
    Ok((Hash(root.0), batch))
}

/// Root hash at `version`.
pub fn root_at<R: TreeReader>(reader: &R, version: u64) -> Result<Hash, StateError> {
    let tree = Sha256Jmt::new(reader);
    tree.get_root_hash(version).map(|r| Hash(r.0)).map_err(tree_err)
}

/// The value of `key` at `version` and a proof of it (or of its absence), the proof
/// borsh-encoded. A version older than the store keeps is [`StateError::Pruned`].
pub fn prove<R: TreeReader + ValueAt>(
    reader: &R,
    key: &[u8],
    version: u64,
) -> Result<(Option<Vec<u8>>, Vec<u8>), StateError> {
    let oldest = reader.oldest_version()?;
    if version < oldest {
        return Err(StateError::Pruned { version, oldest });
    }
    let keyed = Keyed { reader, key, hash: key_hash(key) };
    let tree = Sha256Jmt::new(&keyed);
    let (value, proof) = tree.get_with_proof(key_hash(key), version).map_err(tree_err)?;
    let bytes = borsh::to_vec(&proof).map_err(tree_err)?;
    Ok((value, bytes))
}

/// The tree's reader for a proof of one key: jmt asks the value by key hash, the store
/// keeps past values by key ([`ValueAt`]).
struct Keyed<'a, R> {
    reader: &'a R,
    key: &'a [u8],
    hash: KeyHash,
}

impl<R: TreeReader + ValueAt> TreeReader for Keyed<'_, R> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        self.reader.get_node_option(node_key)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        if key_hash != self.hash {
            anyhow::bail!("a proof of one key asked the value of another");
        }
        Ok(self.reader.value_at(self.key, max_version)?)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        self.reader.get_rightmost_leaf()
    }
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("proof bytes are malformed: {0}")]
    Malformed(String),
    #[error("proof does not match root {root}: {reason}")]
    Mismatch { root: Hash, reason: String },
}

/// Checks that `key` has `value` (or, for `None`, is absent) under `root`.
pub fn verify_proof(
    root: Hash,
    key: &[u8],
    value: Option<&[u8]>,
    proof: &[u8],
) -> Result<(), ProofError> {
    if proof.len() > 64 * 1024 {
        return Err(ProofError::Malformed(format!("{} bytes is too large", proof.len())));
    }
    let proof: SparseMerkleProof<Sha256> =
        borsh::from_slice(proof).map_err(|e| ProofError::Malformed(e.to_string()))?;
    proof
        .verify(RootHash(root.0), key_hash(key), value)
        .map_err(|e| ProofError::Mismatch { root, reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;

    fn changes(pairs: &[(&str, Option<&str>)]) -> ChangeSet {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn roots_proofs_and_versions() {
        let mut store = MemStore::default();
        let c0 = changes(&[("a", Some("1")), ("b", Some("2"))]);
        let (r0, b0) = apply_changes(&store, &c0, 0).unwrap();
        store.apply(0, &c0, &b0);
        let c1 = changes(&[("a", Some("3")), ("b", None)]);
        let (r1, b1) = apply_changes(&store, &c1, 1).unwrap();
        store.apply(1, &c1, &b1);
        assert_ne!(r0, r1);
        assert_eq!(root_at(&store, 0).unwrap(), r0);
        assert_eq!(root_at(&store, 1).unwrap(), r1);

        // Inclusion at both versions, exclusion of a deleted key.
        let (v, p) = prove(&store, b"a", 1).unwrap();
        assert_eq!(v.as_deref(), Some(b"3".as_slice()));
        verify_proof(r1, b"a", Some(b"3"), &p).unwrap();
        assert!(verify_proof(r1, b"a", Some(b"1"), &p).is_err());
        assert!(verify_proof(r0, b"a", Some(b"3"), &p).is_err());
        let (v, p) = prove(&store, b"b", 1).unwrap();
        assert_eq!(v, None);
        verify_proof(r1, b"b", None, &p).unwrap();
        let (v, p) = prove(&store, b"a", 0).unwrap();
        assert_eq!(v.as_deref(), Some(b"1".as_slice()));
        verify_proof(r0, b"a", Some(b"1"), &p).unwrap();
        assert!(matches!(verify_proof(r0, b"a", None, b"junk"), Err(ProofError::Malformed(_))));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Blocks of inserts, updates and (now and then) deletions over a pool of keys: the
        /// batched walk and the key-by-key one give the same root, the same new nodes and
        /// values and the same stale-node index at every version, so the store persists the
        /// same tree either way.
        #[test]
        fn the_batched_update_gives_the_tree_of_the_key_by_key_one(
            blocks in proptest::collection::vec(
                (
                    proptest::collection::btree_map(0u16..600, 0u8..4, 1..200),
                    proptest::bool::weighted(0.2),
                ),
                1..8,
            ),
            first in proptest::prop_oneof![proptest::strategy::Just(0u64), 1u64..50],
        ) {
            let mut batched = MemStore::default();
            let mut one_by_one = MemStore::default();
            for (version, (writes, deleting)) in blocks.into_iter().enumerate() {
                // The first tree at a version after 0, as in the test vectors.
                let version = version as u64 + first;
                let changes: ChangeSet = writes
                    .into_iter()
                    .map(|(k, v)| {
                        let key = format!("key/{k}").into_bytes();
                        let value = (!(deleting && v == 0)).then(|| vec![v; 1 + usize::from(v)]);
                        (key, value)
                    })
                    .collect();
                let (r1, b1) = apply_changes(&batched, &changes, version).unwrap();
                let (r2, b2) = apply_changes_one_by_one(&one_by_one, &changes, version).unwrap();
                proptest::prop_assert_eq!(r1, r2);
                proptest::prop_assert_eq!(&b1.node_batch, &b2.node_batch);
                proptest::prop_assert_eq!(&b1.stale_node_index_batch, &b2.stale_node_index_batch);
                batched.apply(version, &changes, &b1);
                one_by_one.apply(version, &changes, &b2);
            }
        }
    }

    /// A reader that counts the nodes asked of it.
    struct Counting<'a>(&'a MemStore, std::sync::atomic::AtomicUsize);

    impl TreeReader for Counting<'_> {
        fn get_node_option(&self, key: &NodeKey) -> anyhow::Result<Option<Node>> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.get_node_option(key)
        }
        fn get_value_option(&self, v: Version, k: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
            self.0.get_value_option(v, k)
        }
        fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
            self.0.get_rightmost_leaf()
        }
    }

    /// The nodes read beforehand are all the update asks for: once they are in, the update
    /// itself reads nothing more from the store.
    #[test]
    fn the_prefetch_reads_every_node_the_update_visits() {
        let mut store = MemStore::default();
        let first: ChangeSet =
            (0..3_000).map(|i| (format!("k{i}").into_bytes(), Some(vec![1]))).collect();
        let (_, b) = apply_changes(&store, &first, 0).unwrap();
        store.apply(0, &first, &b);
        // Updates of existing keys and new keys.
        let second: ChangeSet = (0..3_000)
            .step_by(7)
            .chain(5_000..5_400)
            .map(|i| (format!("k{i}").into_bytes(), Some(vec![2])))
            .collect();
        let hashes: Vec<KeyHash> = second.keys().map(|k| key_hash(k)).collect();
        let counting = Counting(&store, 0.into());
        let read = Prefetched::new(&counting, &hashes, 1).unwrap();
        let before = counting.1.load(std::sync::atomic::Ordering::Relaxed);
        assert!(before > second.len(), "{before} nodes read beforehand");
        let set: Vec<(KeyHash, OwnedValue)> =
            second.iter().map(|(k, v)| (key_hash(k), v.clone().unwrap())).collect();
        let (root, _) = Sha256Jmt::new(&read).batch_put_value_sets(vec![set], None, 1).unwrap();
        assert_eq!(counting.1.load(std::sync::atomic::Ordering::Relaxed), before);
        assert_eq!(Hash(root[0].0), apply_changes_one_by_one(&store, &second, 1).unwrap().0);
    }

    #[test]
    fn same_changes_same_root_regardless_of_history_shape() {
        // Writing a,b in one version or over two gives the same final root.
        let mut s1 = MemStore::default();
        let c = changes(&[("a", Some("1")), ("b", Some("2"))]);
        let (r, b) = apply_changes(&s1, &c, 0).unwrap();
        s1.apply(0, &c, &b);
        let mut s2 = MemStore::default();
        let ca = changes(&[("a", Some("1"))]);
        let (_, b) = apply_changes(&s2, &ca, 0).unwrap();
        s2.apply(0, &ca, &b);
        let cb = changes(&[("b", Some("2"))]);
        let (r2, b) = apply_changes(&s2, &cb, 1).unwrap();
        s2.apply(1, &cb, &b);
        assert_eq!(r, r2);
    }
}
