//! The authenticated state commitment: a Jellyfish Merkle tree (jmt) over SHA-256, one
//! version per block height. Keys are hashed with SHA-256 before they enter the tree.

use crate::{ChangeSet, StateError, ValueAt};
use cairn_types::Hash;
use jmt::proof::SparseMerkleProof;
use jmt::storage::{
    LeafNode, NibblePath, Node, NodeBatch, NodeKey, NodeStats, StaleNodeIndex, TreeReader,
    TreeUpdateBatch,
};
use jmt::{KeyHash, OwnedValue, RootHash, Sha256Jmt, ValueHash, Version};
use rayon::prelude::*;
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
/// The change set goes down the tree once, in key-hash order ([`Walk`]), so every new node
/// is built and hashed once however many of the block's keys lie below it; key by key
/// ([`apply_changes_one_by_one`]), the nodes near the root are rebuilt and rehashed for
/// every key. Both give the same root, nodes, values and stale-node index, deletions
/// included (a property test says so). An empty change set, and a tree first written at a
/// version after 0 (as in the test vectors), go key by key.
pub fn apply_changes<R: TreeReader + Sync>(
    reader: &R,
    changes: &ChangeSet,
    version: u64,
) -> Result<(Hash, TreeUpdateBatch), StateError> {
    if changes.is_empty() {
        return apply_changes_one_by_one(reader, changes, version);
    }
    let ops = ops_of(changes);
    let keys: Vec<(KeyHash, bool)> = ops.iter().map(|op| (op.hash, op.value.is_none())).collect();
    let read = Prefetched::new(reader, &keys, version)?;
    // The walk starts from the root of the version before, or from an empty tree at
    // version 0. jmt takes a missing root after version 0 for an empty tree and starts
    // version 0 from a pre-genesis root where there is one: both go key by key.
    let before = match version.checked_sub(1) {
        Some(before) => match read.get_node_option(&node_key(before, &[0; 32], 0)?) {
            Ok(Some(root)) => root,
            Ok(None) => return apply_changes_one_by_one(reader, changes, version),
            Err(e) => return Err(tree_err(e)),
        },
        None => {
            if read
                .get_node_option(&node_key(PRE_GENESIS, &[0; 32], 0)?)
                .map_err(tree_err)?
                .is_some()
            {
                return apply_changes_one_by_one(reader, changes, version);
            }
            Node::Null
        }
    };
    Walk { reader: &read, version }.apply(before, ops, changes)
}

/// The version jmt gives a tree restored before genesis.
const PRE_GENESIS: u64 = u64::MAX;

/// The change set as the walk takes it: in key-hash order, each change with its place in
/// the change set (the order the key-by-key update applies them in). Keys and values are
/// hashed on all cores.
fn ops_of(changes: &ChangeSet) -> Vec<Op> {
    let entries: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = changes.iter().collect();
    let mut ops: Vec<Op> = entries
        .par_iter()
        .enumerate()
        .map(|(order, (k, v))| Op {
            hash: key_hash(k),
            value: v.as_ref().map(ValueHash::with::<Sha256>),
            order,
            delta: 0,
        })
        .collect();
    // Two keys under one hash (never seen with SHA-256): the later one, as key by key.
    ops.sort_unstable_by_key(|op| (op.hash, std::cmp::Reverse(op.order)));
    ops.dedup_by_key(|op| op.hash);
    ops
}

/// One change of the walk.
#[derive(Debug, Clone)]
struct Op {
    hash: KeyHash,
    /// The hash of the new value; `None` deletes.
    value: Option<ValueHash>,
    /// Its place in the change set.
    order: usize,
    /// What it does to the number of keys in the tree, as the walk finds: 1 adds a key, -1
    /// deletes one, 0 updates one or deletes a key that is not there.
    delta: i8,
}

/// A child of an internal node: what its parent holds of it.
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: [u8; 32],
    version: u64,
    leaf: bool,
    leaf_count: usize,
}

/// A subtree after the walk.
enum Sub {
    /// Unchanged: every change below it deletes a key that is not there.
    Same,
    /// Empty: every key below it is deleted.
    Gone,
    /// A new leaf, not yet written: where it is written depends on its parent, which it
    /// replaces when it is the parent's only child.
    Leaf(LeafNode, [u8; 32]),
    /// A new internal node (its new children written), not yet written itself.
    Internal(Node, [u8; 32], usize),
}

impl Sub {
    fn leaf(leaf: LeafNode) -> Sub {
        let hash = leaf.hash::<Sha256>();
        Sub::Leaf(leaf, hash)
    }

    /// Its slot in its parent, for a new node.
    fn slot(&self, version: u64) -> Option<Slot> {
        match self {
            Sub::Leaf(_, hash) => Some(Slot { hash: *hash, version, leaf: true, leaf_count: 1 }),
            Sub::Internal(_, hash, leaf_count) => {
                Some(Slot { hash: *hash, version, leaf: false, leaf_count: *leaf_count })
            }
            Sub::Same | Sub::Gone => None,
        }
    }

    /// The node to write, for a new node.
    fn into_node(self) -> Option<Node> {
        match self {
            Sub::Leaf(leaf, _) => Some(Node::Leaf(leaf)),
            Sub::Internal(node, _, _) => Some(node),
            Sub::Same | Sub::Gone => None,
        }
    }
}

/// What the walk writes: the new nodes and the nodes it makes stale.
#[derive(Default)]
struct Acc {
    nodes: Vec<(NodeKey, Node)>,
    stale: Vec<NodeKey>,
    stale_leaves: usize,
}

impl Acc {
    fn retire(&mut self, key: NodeKey, leaf: bool) {
        self.stale.push(key);
        self.stale_leaves += usize::from(leaf);
    }

    fn merge(&mut self, other: Acc) {
        self.nodes.extend(other.nodes);
        self.stale.extend(other.stale);
        self.stale_leaves += other.stale_leaves;
    }
}

/// Change sets at least this large walk the subtrees under the root on all cores.
const PARALLEL_FROM: usize = 256;

/// The batched update: one walk down the tree of the version before, in key-hash order.
///
/// It builds the tree the key-by-key update ([`apply_changes_one_by_one`]) builds, node for
/// node, and retires the same nodes. jmt's tree of a key set has one shape: a leaf sits at
/// the shortest prefix of its key hash no other key shares, an internal node at every
/// prefix two keys share, and a subtree a deletion leaves with one leaf collapses to that
/// leaf, up as many levels as hold nothing else. Every node on the path of a change that
/// changes something is rewritten at `version` and the old one retired; a change that
/// changes nothing (the deletion of a key that is not there) rewrites nothing. One thing
/// depends on the order of the changes: key by key, a leaf no change touches is moved up
/// while the deletions before have left it alone under its parent, and moved back down by
/// the insertions after, so it is rewritten although it ends where it was. The walk counts
/// the keys under each internal node in change-set order to find such a leaf
/// ([`drops_to_one`]).
struct Walk<'r, R> {
    reader: &'r R,
    version: u64,
}

impl<R: TreeReader + Sync> Walk<'_, R> {
    /// The new root and the batch, from `before` (the root of the version before).
    fn apply(
        &self,
        before: Node,
        mut ops: Vec<Op>,
        changes: &ChangeSet,
    ) -> Result<(Hash, TreeUpdateBatch), StateError> {
        // Every change's value, as key by key (a deletion of a key not there included).
        let in_order: Vec<&Option<Vec<u8>>> = changes.values().collect();
        let values: BTreeMap<(Version, KeyHash), Option<OwnedValue>> = ops
            .iter()
            .filter_map(|op| Some(((self.version, op.hash), (*in_order.get(op.order)?).clone())))
            .collect();
        let version = self.version;
        let mut acc = Acc::default();
        let old_root = node_key(version.saturating_sub(1), &[0; 32], 0)?;
        let sub = self.update_node(&mut acc, old_root, before.clone(), 0, &mut ops)?;
        let root_key = node_key(version, &[0; 32], 0)?;
        let (root, node) = match sub {
            // Nothing changed: the root of the version before, again at this version.
            Sub::Same => (node_hash(&before), before),
            Sub::Gone => (node_hash(&Node::Null), Node::Null),
            Sub::Leaf(leaf, hash) => (hash, Node::Leaf(leaf)),
            Sub::Internal(node, hash, _) => (hash, node),
        };
        acc.nodes.push((root_key, node));
        let written = acc.nodes.len();
        let nodes: BTreeMap<NodeKey, Node> = acc.nodes.into_iter().collect();
        let retired = acc.stale.len();
        let stale: BTreeSet<StaleNodeIndex> = acc
            .stale
            .into_iter()
            .map(|node_key| StaleNodeIndex { stale_since_version: version, node_key })
            .collect();
        if nodes.len() != written || stale.len() != retired {
            return Err(tree_err("the batched update wrote or retired a node twice"));
        }
        let stats = NodeStats {
            new_nodes: nodes.len(),
            new_leaves: nodes.values().filter(|n| matches!(n, Node::Leaf(_))).count(),
            stale_nodes: stale.len(),
            stale_leaves: acc.stale_leaves,
        };
        let batch = TreeUpdateBatch {
            node_batch: NodeBatch::new(nodes, values),
            stale_node_index_batch: stale,
            node_stats: vec![stats],
        };
        Ok((Hash(root), batch))
    }

    /// The subtree of the node under `key` after `ops` (all below it, in key-hash order).
    fn update(
        &self,
        acc: &mut Acc,
        key: NodeKey,
        depth: usize,
        ops: &mut [Op],
    ) -> Result<Sub, StateError> {
        let node = self.reader.get_node(&key).map_err(tree_err)?;
        self.update_node(acc, key, node, depth, ops)
    }

    fn update_node(
        &self,
        acc: &mut Acc,
        key: NodeKey,
        node: Node,
        depth: usize,
        ops: &mut [Op],
    ) -> Result<Sub, StateError> {
        if depth >= 64 {
            return Err(tree_err("the batched update went below the last nibble"));
        }
        match node {
            Node::Internal(internal) => {
                let mut old = [None; 16];
                for (nibble, child) in internal.children_unsorted() {
                    if let Some(slot) = old.get_mut(usize::from(u8::from(nibble))) {
                        *slot = Some(Slot {
                            hash: child.hash,
                            version: child.version,
                            leaf: child.is_leaf(),
                            leaf_count: child.leaf_count(),
                        });
                    }
                }
                self.update_internal(acc, key, old, internal.leaf_count(), depth, ops)
            }
            Node::Leaf(leaf) => self.update_leaf(acc, key, leaf, depth, ops),
            // An empty tree: its null root is never retired (nor is it key by key).
            Node::Null if depth == 0 => self.create(acc, depth, ops),
            Node::Null => Err(tree_err(format!("a null node below the root at {key:?}"))),
        }
    }

    fn update_internal(
        &self,
        acc: &mut Acc,
        key: NodeKey,
        old: [Option<Slot>; 16],
        leaf_count: usize,
        depth: usize,
        ops: &mut [Op],
    ) -> Result<Sub, StateError> {
        let first = ops.first().map(|op| op.hash).ok_or_else(|| tree_err("no change below"))?;
        let groups = split_by_nibble(ops, depth);
        let go = |acc: &mut Acc, nibble: usize, group: &mut [Op]| -> Result<Sub, StateError> {
            match old.get(nibble).copied().flatten() {
                Some(child) => {
                    let key =
                        node_key(child.version, &child_path(&first, depth, nibble), depth + 1)?;
                    self.update(acc, key, depth + 1, group)
                }
                None => self.create(acc, depth + 1, group),
            }
        };
        let done: Vec<(usize, Sub)> = if depth == 0 && ops_len(&groups) >= PARALLEL_FROM {
            let parts: Vec<Result<(usize, Sub, Acc), StateError>> = groups
                .into_par_iter()
                .map(|(nibble, group)| {
                    let mut part = Acc::default();
                    let sub = go(&mut part, nibble, group)?;
                    Ok((nibble, sub, part))
                })
                .collect();
            let mut done = Vec::with_capacity(parts.len());
            for part in parts {
                let (nibble, sub, part) = part?;
                acc.merge(part);
                done.push((nibble, sub));
            }
            done
        } else {
            let mut done = Vec::with_capacity(groups.len());
            for (nibble, group) in groups {
                done.push((nibble, go(acc, nibble, group)?));
            }
            done
        };
        let mut slots = old;
        let mut new: [Option<Sub>; 16] = std::array::from_fn(|_| None);
        let mut changed = false;
        for (nibble, sub) in done {
            let (Some(slot), Some(fresh)) = (slots.get_mut(nibble), new.get_mut(nibble)) else {
                continue;
            };
            match sub {
                Sub::Same => {}
                Sub::Gone => {
                    *slot = None;
                    changed = true;
                }
                sub => {
                    *slot = sub.slot(self.version);
                    *fresh = Some(sub);
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(Sub::Same);
        }
        acc.retire(key, false);
        let left: Vec<usize> = (0..16).filter(|&n| matches!(slots.get(n), Some(Some(_)))).collect();
        // The leaves no change rewrote, with the node they hang from before.
        let kept_leaves: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&n| {
                matches!(slots.get(n), Some(Some(s)) if s.leaf) && matches!(new.get(n), Some(None))
            })
            .collect();
        match (left.as_slice(), kept_leaves.as_slice()) {
            ([], _) => return Ok(Sub::Gone),
            // One leaf left: it replaces this node.
            ([only], _) if matches!(slots.get(*only), Some(Some(s)) if s.leaf) => {
                return match new.get_mut(*only).and_then(Option::take) {
                    Some(sub) => Ok(sub),
                    None => self.move_leaf(acc, &old, &first, depth, *only).map(Sub::leaf),
                };
            }
            // Key by key, the one leaf no change touches moves up while the changes
            // before leave it alone here, and down again with the insertions after.
            (_, [lone]) if drops_to_one(ops, leaf_count) => {
                let leaf = self.move_leaf(acc, &old, &first, depth, *lone)?;
                let sub = Sub::leaf(leaf);
                if let (Some(slot), Some(fresh)) = (slots.get_mut(*lone), new.get_mut(*lone)) {
                    *slot = sub.slot(self.version);
                    *fresh = Some(sub);
                }
            }
            _ => {}
        }
        for (nibble, sub) in new.into_iter().enumerate() {
            if let Some(node) = sub.and_then(Sub::into_node) {
                acc.nodes.push((
                    node_key(self.version, &child_path(&first, depth, nibble), depth + 1)?,
                    node,
                ));
            }
        }
        internal_node(&slots)
    }

    /// Reads the old leaf child `nibble` of the node at depth `depth` on the path of `first`,
    /// and retires it: it moves.
    fn move_leaf(
        &self,
        acc: &mut Acc,
        old: &[Option<Slot>; 16],
        first: &KeyHash,
        depth: usize,
        nibble: usize,
    ) -> Result<LeafNode, StateError> {
        let slot = old
            .get(nibble)
            .copied()
            .flatten()
            .ok_or_else(|| tree_err("a leaf left behind that was not there"))?;
        let key = node_key(slot.version, &child_path(first, depth, nibble), depth + 1)?;
        match self.reader.get_node(&key).map_err(tree_err)? {
            Node::Leaf(leaf) => {
                acc.retire(key, true);
                Ok(leaf)
            }
            _ => Err(tree_err(format!("a leaf child is not a leaf at {key:?}"))),
        }
    }

    fn update_leaf(
        &self,
        acc: &mut Acc,
        key: NodeKey,
        leaf: LeafNode,
        depth: usize,
        ops: &mut [Op],
    ) -> Result<Sub, StateError> {
        let own = leaf.key_hash();
        let mut changed = false;
        let mut kept = true;
        let mut entries = Vec::with_capacity(ops.len() + 1);
        for op in ops.iter_mut() {
            if op.hash == own {
                changed = true;
                kept = false;
                match op.value {
                    Some(value) => entries.push(LeafNode::new(own, value)),
                    None => op.delta = -1,
                }
            } else if let Some(value) = op.value {
                changed = true;
                op.delta = 1;
                entries.push(LeafNode::new(op.hash, value));
            }
        }
        if !changed {
            return Ok(Sub::Same);
        }
        acc.retire(key, true);
        if kept {
            let at = entries.partition_point(|e| e.key_hash() < own);
            entries.insert(at, leaf);
        }
        self.build(acc, depth, &entries)
    }

    /// A subtree where there was none: the insertions of `ops`.
    fn create(&self, acc: &mut Acc, depth: usize, ops: &mut [Op]) -> Result<Sub, StateError> {
        let mut entries = Vec::new();
        for op in ops.iter_mut() {
            if let Some(value) = op.value {
                op.delta = 1;
                entries.push(LeafNode::new(op.hash, value));
            }
        }
        if entries.is_empty() {
            return Ok(Sub::Same);
        }
        self.build(acc, depth, &entries)
    }

    /// The subtree of `leaves` (in key-hash order) at depth `depth`, all new.
    fn build(&self, acc: &mut Acc, depth: usize, leaves: &[LeafNode]) -> Result<Sub, StateError> {
        match leaves {
            [] => Ok(Sub::Gone),
            [one] => Ok(Sub::leaf(one.clone())),
            _ if depth >= 64 => Err(tree_err("two leaves under one key hash")),
            _ => {
                let mut slots = [None; 16];
                let mut rest = leaves;
                while let Some(first) = rest.first() {
                    let first = first.key_hash();
                    let n = nibble(&first, depth);
                    let end = rest
                        .iter()
                        .position(|l| nibble(&l.key_hash(), depth) != n)
                        .unwrap_or(rest.len());
                    let (group, later) = rest.split_at(end);
                    rest = later;
                    let sub = self.build(acc, depth + 1, group)?;
                    if let Some(slot) = slots.get_mut(usize::from(n)) {
                        *slot = sub.slot(self.version);
                    }
                    if let Some(node) = sub.into_node() {
                        acc.nodes.push((node_key(self.version, &first.0, depth + 1)?, node));
                    }
                }
                internal_node(&slots)
            }
        }
    }
}

/// The groups of `ops` (in key-hash order) by their nibble at `depth`.
fn split_by_nibble(ops: &mut [Op], depth: usize) -> Vec<(usize, &mut [Op])> {
    let mut groups = Vec::new();
    let mut rest = ops;
    while let Some(first) = rest.first() {
        let n = nibble(&first.hash, depth);
        let end = rest.iter().position(|op| nibble(&op.hash, depth) != n).unwrap_or(rest.len());
        let (group, later) = std::mem::take(&mut rest).split_at_mut(end);
        groups.push((usize::from(n), group));
        rest = later;
    }
    groups
}

fn ops_len(groups: &[(usize, &mut [Op])]) -> usize {
    groups.iter().map(|(_, g)| g.len()).sum()
}

/// Whether the keys under an internal node that held `leaf_count` keys come down to one at
/// some point when `ops` (all the changes below it, their `delta` found) are applied in
/// change-set order.
fn drops_to_one(ops: &[Op], leaf_count: usize) -> bool {
    let deletions = ops.iter().filter(|op| op.delta < 0).count();
    if deletions.saturating_add(1) < leaf_count {
        return false;
    }
    let mut moves: Vec<(usize, i8)> =
        ops.iter().filter(|op| op.delta != 0).map(|op| (op.order, op.delta)).collect();
    moves.sort_unstable();
    let mut keys = i128::try_from(leaf_count).unwrap_or(i128::MAX);
    moves.into_iter().any(|(_, delta)| {
        keys += i128::from(delta);
        keys == 1
    })
}

/// `path` with nibble `depth` set to `nibble`: the path of child `nibble` of the node at
/// depth `depth` on `path` (the nibbles after it do not matter).
fn child_path(path: &KeyHash, depth: usize, nibble: usize) -> [u8; 32] {
    let mut out = path.0;
    if let Some(b) = out.get_mut(depth / 2) {
        let n = (nibble & 0x0f) as u8;
        *b = if depth.is_multiple_of(2) { (*b & 0x0f) | (n << 4) } else { (*b & 0xf0) | n };
    }
    out
}

/// The hash of a node of the tree.
fn node_hash(node: &Node) -> [u8; 32] {
    match node {
        Node::Null => Sha256Jmt::<crate::MemStore>::EMPTY_ROOT.0,
        Node::Leaf(leaf) => leaf.hash::<Sha256>(),
        Node::Internal(internal) => internal.hash::<Sha256>(),
    }
}

/// An internal node of `slots`, through its borsh form (jmt keeps its constructor's types to
/// itself): the `Node::Internal` tag, the 16 optional children (hash, version, then the
/// type: 0 a leaf, 1 an internal node and its leaf count), the child count, the leaf count.
fn internal_node(slots: &[Option<Slot>; 16]) -> Result<Sub, StateError> {
    let mut enc = Vec::with_capacity(1 + 16 * 50 + 16);
    enc.push(1u8);
    let mut children = 0u64;
    let mut leaves = 0u64;
    for slot in slots {
        match slot {
            None => enc.push(0),
            Some(s) => {
                enc.push(1);
                enc.extend_from_slice(&s.hash);
                enc.extend_from_slice(&s.version.to_le_bytes());
                if s.leaf {
                    enc.push(0);
                } else {
                    enc.push(1);
                    enc.extend_from_slice(&(s.leaf_count as u64).to_le_bytes());
                }
                children += 1;
                leaves += s.leaf_count as u64;
            }
        }
    }
    enc.extend_from_slice(&children.to_le_bytes());
    enc.extend_from_slice(&leaves.to_le_bytes());
    let node: Node = borsh::from_slice(&enc).map_err(tree_err)?;
    match &node {
        Node::Internal(internal) => {
            let hash = internal.hash::<Sha256>();
            let count = internal.leaf_count();
            Ok(Sub::Internal(node, hash, count))
        }
        _ => Err(tree_err("an internal node decoded as another kind")),
    }
}

/// The tree's reader for one update: the nodes the update will visit (the paths of its
/// keys in the tree of the version before, and the leaves its deletions may move up), read
/// beforehand on all cores, level by level; anything else from the reader itself. The
/// reader does not change during the update, so every node read is the one the reader
/// would have returned.
struct Prefetched<'r, R> {
    reader: &'r R,
    nodes: HashMap<NodeKey, Option<Node>>,
}

impl<'r, R: TreeReader + Sync> Prefetched<'r, R> {
    /// `keys`: the key hashes of the update in ascending order, each with whether it is
    /// deleted.
    fn new(reader: &'r R, keys: &[(KeyHash, bool)], version: u64) -> Result<Self, StateError> {
        let mut nodes = HashMap::new();
        let Some(before) = version.checked_sub(1) else {
            return Ok(Prefetched { reader, nodes });
        };
        // Each frontier entry: a node key and the sorted keys whose path crosses it.
        let mut frontier: Vec<(NodeKey, &[(KeyHash, bool)])> =
            vec![(node_key(before, &[0; 32], 0)?, keys)];
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
                            *slot = Some((child.version, child.is_leaf()));
                        }
                    }
                    let mut crossed = [false; 16];
                    let mut rest = below;
                    while let Some(first) = rest.first() {
                        let n = nibble(&first.0, depth);
                        let end = rest
                            .iter()
                            .position(|k| nibble(&k.0, depth) != n)
                            .unwrap_or(rest.len());
                        let (group, later) = rest.split_at(end);
                        if let Some(Some((v, _))) = children.get(usize::from(n)) {
                            next.push((node_key(*v, &first.0.0, depth + 1)?, group));
                        }
                        if let Some(c) = crossed.get_mut(usize::from(n)) {
                            *c = true;
                        }
                        rest = later;
                    }
                    // Deletions that may leave one key under this node move a leaf no
                    // key crosses (see `Walk`): that takes as many deletions as it holds
                    // keys but one.
                    let deletions = below.iter().filter(|k| k.1).count();
                    if let Some(first) = below.first()
                        && deletions > 0
                        && deletions + 1 >= internal.leaf_count()
                    {
                        for (n, child) in children.iter().enumerate() {
                            if let (Some((v, true)), Some(false)) = (child, crossed.get(n)) {
                                let path = child_path(&first.0, depth, n);
                                next.push((node_key(*v, &path, depth + 1)?, &[]));
                            }
                        }
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

    /// Keys whose hashes share their first three nibbles (and some of them more): deleting
    /// most of them leaves subtrees with one leaf several levels down.
    fn cluster() -> &'static [Vec<u8>] {
        static CLUSTER: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        CLUSTER.get_or_init(|| {
            (0u32..)
                .map(|i| format!("deep/{i}").into_bytes())
                .filter(|k| {
                    let h = key_hash(k).0;
                    h[0] == 0xab && h[1] >> 4 == 0xc
                })
                .take(48)
                .collect()
        })
    }

    /// Key `k` of the pool the property test draws from: the last 48 are the cluster.
    fn pool_key(k: u16) -> Vec<u8> {
        match usize::from(k).checked_sub(552) {
            Some(i) => cluster()[i].clone(),
            None => format!("key/{k}").into_bytes(),
        }
    }

    /// Applies `changes` both ways on the two stores and checks they give the same batch.
    fn both_ways(
        batched: &mut MemStore,
        one_by_one: &mut MemStore,
        changes: &ChangeSet,
        version: u64,
    ) -> Result<TreeUpdateBatch, proptest::test_runner::TestCaseError> {
        let (r1, b1) = apply_changes(batched, changes, version).unwrap();
        let (r2, b2) = apply_changes_one_by_one(one_by_one, changes, version).unwrap();
        proptest::prop_assert_eq!(r1, r2);
        proptest::prop_assert_eq!(&b1.node_batch, &b2.node_batch);
        proptest::prop_assert_eq!(&b1.stale_node_index_batch, &b2.stale_node_index_batch);
        proptest::prop_assert_eq!(&b1.node_stats, &b2.node_stats);
        batched.apply(version, changes, &b1);
        one_by_one.apply(version, changes, &b2);
        Ok(b1)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

        /// Blocks of inserts, updates and deletions over a pool of keys (some of them with
        /// hashes that share several nibbles): deletions of many keys in one block, of keys
        /// that are not there, of every key (then inserting again), deletions and
        /// insertions under one node. The batched walk and the key-by-key one give the same
        /// root, the same new nodes and values, the same stale-node index and node counts
        /// at every version, so the store persists and prunes the same tree either way.
        #[test]
        fn the_batched_update_gives_the_tree_of_the_key_by_key_one(
            blocks in proptest::collection::vec(
                (proptest::collection::btree_map(0u16..600, 0u8..6, 1..200), 0u8..8),
                1..8,
            ),
            first in proptest::prop_oneof![proptest::strategy::Just(0u64), 1u64..50],
        ) {
            let mut batched = MemStore::default();
            let mut one_by_one = MemStore::default();
            let mut present = std::collections::BTreeSet::new();
            for (version, (writes, mode)) in blocks.into_iter().enumerate() {
                // The first tree at a version after 0, as in the test vectors.
                let version = version as u64 + first;
                let value = |v: u8| Some(vec![v; 1 + usize::from(v)]);
                let changes: ChangeSet = match mode {
                    // Inserts and updates only.
                    0 => writes.into_iter().map(|(k, v)| (pool_key(k), value(v))).collect(),
                    // Every key deleted, and a few that are not there.
                    1 => present
                        .iter()
                        .map(|k| (pool_key(*k), None))
                        .chain(writes.into_keys().take(5).map(|k| (pool_key(k), None)))
                        .collect(),
                    // Every key deleted but the drawn ones, which are written.
                    2 => present
                        .iter()
                        .map(|k| (pool_key(*k), None))
                        .chain(writes.into_iter().map(|(k, v)| (pool_key(k), value(v))))
                        .collect(),
                    // A third of the keys deleted (present or not), the rest written.
                    _ => writes
                        .into_iter()
                        .map(|(k, v)| (pool_key(k), (v >= 2).then(|| value(v)).flatten()))
                        .collect(),
                };
                both_ways(&mut batched, &mut one_by_one, &changes, version)?;
                for (k, v) in &changes {
                    let k = (0u16..600).find(|i| &pool_key(*i) == k).unwrap();
                    if v.is_some() { present.insert(k); } else { present.remove(&k); }
                }
            }
        }
    }

    /// The leaf of `hash` among `batch`'s new nodes, with the length of its path.
    fn new_leaf(batch: &TreeUpdateBatch, hash: KeyHash) -> Option<(u64, usize)> {
        batch.node_batch.nodes().iter().find_map(|(k, n)| match n {
            Node::Leaf(l) if l.key_hash() == hash => {
                Some((k.version(), k.nibble_path().num_nibbles()))
            }
            _ => None,
        })
    }

    /// Two keys whose hashes share four nibbles, among 300 others that share at most one with
    /// them: deleting one moves the other up from below the fourth nibble to where the
    /// others are, three levels or more, as key by key.
    #[test]
    fn a_deletion_leaving_one_leaf_collapses_it_up_several_levels() {
        let deep: Vec<Vec<u8>> = (0u32..)
            .map(|i| format!("pair/{i}").into_bytes())
            .filter(|k| key_hash(k).0[..2] == [0x12, 0x34])
            .take(2)
            .collect();
        let mut batched = MemStore::default();
        let mut one_by_one = MemStore::default();
        let first: ChangeSet = (0..300)
            .map(|i| format!("k{i}").into_bytes())
            .filter(|k| key_hash(k).0[0] != 0x12)
            .chain(deep.iter().cloned())
            .map(|k| (k, Some(vec![1])))
            .collect();
        both_ways(&mut batched, &mut one_by_one, &first, 0).unwrap();
        let before = new_leaf(&batched_batch(&first), key_hash(&deep[1])).unwrap();
        assert!(before.1 > 4, "the pair's leaves sit below the fourth nibble: {before:?}");
        let delete: ChangeSet = [(deep[0].clone(), None), (b"absent".to_vec(), None)].into();
        let batch = both_ways(&mut batched, &mut one_by_one, &delete, 1).unwrap();
        // It sits one nibble below the longest prefix it shares with another key.
        let shared = |a: &KeyHash, b: &KeyHash| {
            (0..64).take_while(|&i| nibble(a, i) == nibble(b, i)).count()
        };
        let want = first
            .keys()
            .filter(|k| **k != deep[0] && **k != deep[1])
            .map(|k| shared(&key_hash(k), &key_hash(&deep[1])))
            .max()
            .unwrap()
            + 1;
        assert_eq!(new_leaf(&batch, key_hash(&deep[1])), Some((1, want)));
        assert!(before.1 >= want + 3, "moved up from {} to {want}", before.1);
    }

    /// The batch of `changes` on an empty tree at version 0.
    fn batched_batch(changes: &ChangeSet) -> TreeUpdateBatch {
        apply_changes(&MemStore::default(), changes, 0).unwrap().1
    }

    /// Key by key, a deletion that leaves a leaf alone under the root moves it up, and an
    /// insertion after moves it back down: it ends where it was, rewritten. In the other
    /// order it stays untouched. The batched walk follows the change set's order both ways.
    #[test]
    fn a_leaf_left_alone_and_joined_again_is_rewritten_as_key_by_key() {
        // Changes apply in key order: "a…" before "b…" before "c…".
        let named = |prefix: &str, not: &[u8]| -> Vec<u8> {
            (0u32..)
                .map(|i| format!("{prefix}/{i}").into_bytes())
                .find(|k| !not.contains(&(key_hash(k).0[0] >> 4)))
                .unwrap()
        };
        let b = named("b", &[]);
        let nb = key_hash(&b).0[0] >> 4;
        let a = named("a", &[nb]);
        let c = named("c", &[nb, key_hash(&a).0[0] >> 4]);
        for (first_deleted, rewritten) in [(true, true), (false, false)] {
            let (gone, joined) = if first_deleted { (&a, &c) } else { (&c, &a) };
            let mut batched = MemStore::default();
            let mut one_by_one = MemStore::default();
            let start: ChangeSet =
                [(gone.clone(), Some(vec![1])), (b.clone(), Some(vec![2]))].into();
            both_ways(&mut batched, &mut one_by_one, &start, 0).unwrap();
            let next: ChangeSet = [(gone.clone(), None), (joined.clone(), Some(vec![3]))].into();
            let batch = both_ways(&mut batched, &mut one_by_one, &next, 1).unwrap();
            assert_eq!(new_leaf(&batch, key_hash(&b)).is_some(), rewritten);
            assert_eq!(batch.stale_node_index_batch.len(), if rewritten { 3 } else { 2 });
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

    /// The nodes read beforehand are all the update asks for: once they are in, the walk
    /// itself reads nothing more from the store, for insertions and updates, and for
    /// deletions that move leaves up (many, every key under a node but one, most of the
    /// cluster, keys that are not there).
    #[test]
    fn the_prefetch_reads_every_node_the_update_visits() {
        let mut store = MemStore::default();
        let first: ChangeSet = (0..3_000)
            .map(|i| format!("k{i}").into_bytes())
            .chain(cluster().iter().cloned())
            .map(|k| (k, Some(vec![1])))
            .collect();
        let (_, b) = apply_changes(&store, &first, 0).unwrap();
        store.apply(0, &first, &b);
        // Updates of existing keys and new keys.
        let inserts: ChangeSet = (0..3_000)
            .step_by(7)
            .chain(5_000..5_400)
            .map(|i| (format!("k{i}").into_bytes(), Some(vec![2])))
            .collect();
        // Deletions of every third key, of all of the cluster but one key, of keys that
        // are not there, with a few inserts.
        let deletions: ChangeSet = (0..3_000)
            .step_by(3)
            .map(|i| (format!("k{i}").into_bytes(), None))
            .chain(cluster().iter().skip(1).map(|k| (k.clone(), None)))
            .chain((9_000..9_050).map(|i| (format!("k{i}").into_bytes(), None)))
            .chain((1..3_000).step_by(10).map(|i| (format!("k{i}").into_bytes(), Some(vec![3]))))
            .collect();
        for changes in [inserts, deletions] {
            let ops = ops_of(&changes);
            let keys: Vec<(KeyHash, bool)> =
                ops.iter().map(|op| (op.hash, op.value.is_none())).collect();
            let counting = Counting(&store, 0.into());
            let read = Prefetched::new(&counting, &keys, 1).unwrap();
            let before = counting.1.load(std::sync::atomic::Ordering::Relaxed);
            assert!(before > changes.len(), "{before} nodes read beforehand");
            let root = read.get_node(&node_key(0, &[0; 32], 0).unwrap()).unwrap();
            let (root, batch) =
                Walk { reader: &read, version: 1 }.apply(root, ops, &changes).unwrap();
            assert_eq!(counting.1.load(std::sync::atomic::Ordering::Relaxed), before);
            let (want, want_batch) = apply_changes_one_by_one(&store, &changes, 1).unwrap();
            assert_eq!(root, want);
            assert_eq!(batch, want_batch);
        }
    }

    /// Not a check, a measurement (run it in release: `cargo test --release -p cairn-state
    /// --lib -- --ignored --nocapture update_times`): on a tree of 200,000 keys, a block of
    /// updates, insertions and deletions (a spread reward expiry's) through the batched walk
    /// and key by key, and a block without deletions through the walk and through jmt's own
    /// batched update.
    #[test]
    #[ignore]
    fn update_times() {
        let mut store = MemStore::default();
        let first: ChangeSet =
            (0..200_000).map(|i| (format!("k{i}").into_bytes(), Some(vec![1; 40]))).collect();
        let (_, b) = apply_changes(&store, &first, 0).unwrap();
        store.apply(0, &first, &b);
        let key = |i: u32| format!("k{i}").into_bytes();
        let mixed: ChangeSet = (0..200_000)
            .step_by(50)
            .map(|i| (key(i), Some(vec![2; 40])))
            .chain((100_000..103_000).map(|i| (key(i), None)))
            .chain((300_000..300_500).map(|i| (key(i), Some(vec![3; 40]))))
            .chain((400_000..400_050).map(|i| (key(i), None)))
            .collect();
        let inserts: ChangeSet = mixed.keys().map(|k| (k.clone(), Some(vec![4; 40]))).collect();
        let time = |f: &dyn Fn() -> Hash| {
            let mut best = f64::MAX;
            let mut root = Hash([0; 32]);
            for _ in 0..5 {
                let t = std::time::Instant::now();
                root = f();
                best = best.min(t.elapsed().as_secs_f64() * 1e3);
            }
            (best, root)
        };
        let (walk, r1) = time(&|| apply_changes(&store, &mixed, 1).unwrap().0);
        let (kbk, r2) = time(&|| apply_changes_one_by_one(&store, &mixed, 1).unwrap().0);
        assert_eq!(r1, r2);
        println!(
            "{} changes ({} deletions): batched {walk:.1} ms, key by key {kbk:.1} ms, {:.2}x",
            mixed.len(),
            mixed.values().filter(|v| v.is_none()).count(),
            kbk / walk
        );
        let (walk, r1) = time(&|| apply_changes(&store, &inserts, 1).unwrap().0);
        let (jmt, r2) = time(&|| {
            let set: Vec<(KeyHash, OwnedValue)> =
                inserts.iter().map(|(k, v)| (key_hash(k), v.clone().unwrap())).collect();
            let keys: Vec<(KeyHash, bool)> =
                ops_of(&inserts).iter().map(|o| (o.hash, false)).collect();
            let read = Prefetched::new(&store, &keys, 1).unwrap();
            let (roots, _) =
                Sha256Jmt::new(&read).batch_put_value_sets(vec![set], None, 1).unwrap();
            Hash(roots[0].0)
        });
        assert_eq!(r1, r2);
        println!("{} insertions: batched {walk:.1} ms, jmt's batch {jmt:.1} ms", inserts.len());
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
