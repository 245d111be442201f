//! In-memory committed state, for tests and for client-side recomputation.

use crate::{ChangeSet, CommittedState, StateError, StateRead};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, Version};
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct MemStore {
    latest: BTreeMap<Vec<u8>, Vec<u8>>,
    nodes: BTreeMap<NodeKey, Node>,
    values: BTreeMap<(KeyHash, Version), Option<OwnedValue>>,
    version: Option<u64>,
}

impl MemStore {
    /// Applies a committed version: the latest values and the tree batch.
    pub fn apply(&mut self, version: u64, changes: &ChangeSet, batch: &TreeUpdateBatch) {
        for (k, v) in changes {
            match v {
                Some(v) => self.latest.insert(k.clone(), v.clone()),
                None => self.latest.remove(k),
            };
        }
        for (key, node) in batch.node_batch.nodes() {
            self.nodes.insert(key.clone(), node.clone());
        }
        for ((ver, kh), v) in batch.node_batch.values() {
            self.values.insert((*kh, *ver), v.clone());
        }
        self.version = Some(version);
    }

    /// Sets a latest value directly (tests of readers only; bypasses the tree).
    pub fn set_latest(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.latest.insert(key, value);
    }

    /// Number of latest keys.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}

impl StateRead for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.latest.get(key).cloned())
    }

    fn read_with(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StateError> {
        f(self.latest.get(key).map(Vec::as_slice));
        Ok(())
    }
}

impl crate::StateScan for MemStore {
    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<crate::Entry>, StateError> {
        let start = crate::scan_start(prefix, after);
        Ok(self
            .latest
            .range((start, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

impl TreeReader for MemStore {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.nodes.get(node_key).cloned())
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self
            .values
            .range((key_hash, 0)..=(key_hash, max_version))
            .next_back()
            .and_then(|(_, v)| v.clone()))
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("tree restore is not supported by this store")
    }
}

impl CommittedState for MemStore {
    fn version(&self) -> Result<Option<u64>, StateError> {
        Ok(self.version)
    }
}
