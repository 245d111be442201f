//! In-memory committed state, for tests and for client-side recomputation.

use crate::{ChangeSet, CommittedState, OrderedRead, StateError, StateRead, ValueAt};
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

    fn ordered(&self) -> Box<dyn OrderedRead + '_> {
        Box::new(Walk {
            map: &self.latest,
            rest: self.latest.range::<[u8], _>(..),
            next: None,
            last: None,
        })
    }
}

/// Entries stepped over before a read searches the map afresh.
const WALK: usize = 8;

/// The ordered reader of a [`MemStore`]: a key at or after the last one asked is found by
/// stepping on through the map's entries from there (a few steps when the keys come in
/// order, where a search from the root compares some fifty keys), any other by a search.
struct Walk<'a> {
    map: &'a BTreeMap<Vec<u8>, Vec<u8>>,
    /// The entries after `next`.
    rest: std::collections::btree_map::Range<'a, Vec<u8>, Vec<u8>>,
    /// The first entry at or after `last` (None past the end).
    next: Option<(&'a Vec<u8>, &'a Vec<u8>)>,
    /// The last key asked (None before the first).
    last: Option<Vec<u8>>,
}

impl Walk<'_> {
    /// Steps on to the first entry at or after `key`, which is at or after the last key
    /// asked; false if that takes more than [`WALK`] steps.
    fn step_to(&mut self, key: &[u8]) -> bool {
        for _ in 0..WALK {
            match self.next {
                Some((k, _)) if k.as_slice() < key => self.next = self.rest.next(),
                _ => return true,
            }
        }
        !matches!(self.next, Some((k, _)) if k.as_slice() < key)
    }
}

impl OrderedRead for Walk<'_> {
    fn read_with(
        &mut self,
        key: &[u8],
        f: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<(), StateError> {
        let onward = self.last.as_deref().is_some_and(|last| last <= key);
        if !(onward && self.step_to(key)) {
            self.rest = self
                .map
                .range::<[u8], _>((std::ops::Bound::Included(key), std::ops::Bound::Unbounded));
            self.next = self.rest.next();
        }
        let last = self.last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(key);
        f(self.next.filter(|(k, _)| k.as_slice() == key).map(|(_, v)| v.as_slice()));
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

impl ValueAt for MemStore {
    fn value_at(&self, key: &[u8], version: u64) -> Result<Option<Vec<u8>>, StateError> {
        self.get_value_option(version, crate::tree::key_hash(key))
            .map_err(|e| StateError::Tree(e.to_string()))
    }
}

impl CommittedState for MemStore {
    fn version(&self) -> Result<Option<u64>, StateError> {
        Ok(self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StateScan;
    use proptest::prelude::*;

    /// Writes and deletes of short and long keys, through both entry points.
    fn op() -> impl Strategy<Value = (Vec<u8>, Option<Vec<u8>>, bool)> {
        (
            proptest::collection::vec(0u8..3, 0..60),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..4)),
            any::<bool>(),
        )
    }

    proptest! {
        /// Point reads and scans see what an ordered map of the same writes holds.
        #[test]
        fn reads_and_scans_match_an_ordered_map(
            ops in proptest::collection::vec(op(), 0..200),
            prefix in proptest::collection::vec(0u8..3, 0..3),
            after in proptest::option::of(proptest::collection::vec(0u8..3, 0..5)),
        ) {
            let mut store = MemStore::default();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for (k, v, direct) in &ops {
                match (v, direct) {
                    (Some(v), true) => store.set_latest(k.clone(), v.clone()),
                    _ => {
                        let changes: ChangeSet = [(k.clone(), v.clone())].into_iter().collect();
                        store.apply(1, &changes, &TreeUpdateBatch::default());
                    }
                }
                match v {
                    Some(v) => model.insert(k.clone(), v.clone()),
                    None => model.remove(k),
                };
            }
            prop_assert_eq!(store.len(), model.len());
            for (k, _, _) in &ops {
                prop_assert_eq!(store.get(k).unwrap(), model.get(k).cloned());
                let mut lent = None;
                store.read_with(k, &mut |v| lent = Some(v.map(<[u8]>::to_vec))).unwrap();
                prop_assert_eq!(lent, Some(model.get(k).cloned()));
            }
            let want: Vec<crate::Entry> = model
                .range((crate::scan_start(&prefix, after.as_deref()), std::ops::Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(&prefix))
                .take(7)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            prop_assert_eq!(store.scan_prefix(&prefix, after.as_deref(), 7).unwrap(), want);
            // Ordered reads, of keys in order (as the reward run asks them) and then in the
            // order written, read what point reads read.
            let mut asked: Vec<Vec<u8>> = ops.iter().map(|(k, _, _)| k.clone()).collect();
            asked.sort();
            asked.extend(ops.iter().map(|(k, _, _)| k.clone()));
            let mut ordered = store.ordered();
            for k in &asked {
                let mut lent = None;
                ordered.read_with(k, &mut |v| lent = Some(v.map(<[u8]>::to_vec))).unwrap();
                prop_assert_eq!(lent, Some(model.get(k).cloned()));
            }
        }
    }
}
