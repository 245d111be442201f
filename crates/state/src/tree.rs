//! The authenticated state commitment: a Jellyfish Merkle tree (jmt) over SHA-256, one
//! version per block height. Keys are hashed with SHA-256 before they enter the tree.

use crate::{ChangeSet, StateError, ValueAt};
use cairn_types::Hash;
use jmt::proof::SparseMerkleProof;
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, RootHash, Sha256Jmt, Version};
use sha2::Sha256;

/// The tree key of a state key.
pub fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash::with::<Sha256>(key)
}

fn tree_err(e: impl std::fmt::Display) -> StateError {
    StateError::Tree(e.to_string())
}

/// Applies `changes` on top of the tree in `reader` as `version` and returns the new root
/// and the nodes to persist. Nothing is written: the caller commits the batch.
pub fn apply_changes<R: TreeReader>(
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
