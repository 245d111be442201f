//! Committing block n while block n + 1 executes
//! (docs/adr/0045-commit-beside-the-next-block.md).
//!
//! The solo producer hands each block it certifies to a commit thread of its own and starts
//! the next block at the next tick on [`Ahead`]: the store's view of the last committed
//! block with the block still being committed laid over it (its state changes and its new
//! tree nodes, from memory). At most one block is in flight: before a block is handed on,
//! the one before it must be durable, and a block built on one whose commit failed is
//! thrown away (its transactions are still in the mempool, which only a durable commit
//! prunes). Nothing is visible before its commit: the API, the events, the metrics and the
//! mempool all follow [`crate::producer::commit`], which the commit thread runs whole.

use crate::Shared;
use crate::producer::Lesson;
use cairn_app::{Executed, StatefulError};
use cairn_state::{ChangeSet, CommittedState, StateError, StateRead, ValueAt};
use cairn_store::Snapshot;
use cairn_types::{Block, Hash, Height};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Version};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A certified block handed to its commit thread, with what the next block needs of it
/// before the store has it.
pub struct InFlight {
    pub block: Arc<Block>,
    pub executed: Arc<Executed>,
    /// Its commit's result: how long the block took from its start to durable.
    thread: JoinHandle<anyhow::Result<Duration>>,
}

impl InFlight {
    /// Starts committing `block` ([`crate::producer::commit`], whole) on a thread of its own,
    /// which then teaches the pace `lesson`, if given.
    pub fn start(
        shared: &Arc<Shared>,
        block: Block,
        executed: Executed,
        dropped: Vec<(Hash, StatefulError)>,
        parent_timestamp_ms: u64,
        started: Instant,
        lesson: Option<Lesson>,
    ) -> anyhow::Result<InFlight> {
        let (block, executed) = (Arc::new(block), Arc::new(executed));
        let (s, b, e) = (shared.clone(), block.clone(), executed.clone());
        let thread = std::thread::Builder::new().name("block-commit".into()).spawn(move || {
            crate::producer::commit(&s, &b, &e, &dropped, parent_timestamp_ms, started)?;
            let took = started.elapsed();
            if let Some(lesson) = lesson {
                lesson.teach(&s, &e);
            }
            Ok(took)
        })?;
        Ok(InFlight { block, executed, thread })
    }

    pub fn height(&self) -> Height {
        self.block.header.height
    }

    /// Whether its commit has ended (well or not).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits until the block is durable (or its commit failed); how long it took from its
    /// start to durable.
    pub fn finish(self) -> anyhow::Result<Duration> {
        let height = self.height();
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => anyhow::bail!("the commit thread of block {height} panicked"),
        }
    }
}

/// The state after a block that is not committed yet: its changes and tree nodes over the
/// store's view of its parent (`base`, whose head must be the block's parent).
pub struct Ahead<'a> {
    base: &'a Snapshot,
    height: Height,
    changes: &'a ChangeSet,
    nodes: &'a BTreeMap<NodeKey, Node>,
}

impl<'a> Ahead<'a> {
    /// `executed` (block `executed.height`) over `base`; refused unless `base` stands at
    /// the block before.
    pub fn new(base: &'a Snapshot, executed: &'a Executed) -> Result<Ahead<'a>, StateError> {
        let head = base.version()?;
        if head != executed.height.checked_sub(1) {
            return Err(StateError::Storage(format!(
                "block {} laid over a view of height {head:?}",
                executed.height
            )));
        }
        Ok(Ahead {
            base,
            height: executed.height,
            changes: &executed.changes,
            nodes: executed.tree_batch.node_batch.nodes(),
        })
    }
}

impl StateRead for Ahead<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.changes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    fn read_with(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StateError> {
        match self.changes.get(key) {
            Some(v) => {
                f(v.as_deref());
                Ok(())
            }
            None => self.base.read_with(key, f),
        }
    }
}

impl ValueAt for Ahead<'_> {
    fn value_at(&self, key: &[u8], version: u64) -> Result<Option<Vec<u8>>, StateError> {
        if version >= self.height {
            return self.get(key);
        }
        // The base stands at the block before: every earlier version is whole in it.
        self.base.value_at(key, version)
    }

    fn oldest_version(&self) -> Result<u64, StateError> {
        self.base.oldest_version()
    }
}

impl TreeReader for Ahead<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        match self.nodes.get(node_key) {
            Some(node) => Ok(Some(node.clone())),
            None => self.base.get_node_option(node_key),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        // The block in flight's values are known by key ([`StateRead`]), not by key hash;
        // the tree's update never reads values, only proofs and reads through the tree do,
        // and none is made on a view ahead. Refused rather than answered from the base.
        if max_version >= self.height {
            anyhow::bail!(
                "the values of block {} are in flight: read them by key, not through the tree",
                self.height
            );
        }
        self.base.get_value_option(max_version, key_hash)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        self.base.get_rightmost_leaf()
    }
}

impl CommittedState for Ahead<'_> {
    fn version(&self) -> Result<Option<u64>, StateError> {
        Ok(Some(self.height))
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
