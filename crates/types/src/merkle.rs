//! Binary Merkle root over a list of leaf hashes (transaction and receipt roots).
//!
//! Leaves and inner nodes are domain-separated (prefix 0x00 / 0x01) so a leaf can never be
//! mistaken for an inner node. An odd node at any level is carried up unchanged. The root of
//! an empty list is the all-zero hash.

use crate::Hash;

pub fn leaf_hash(data: &[u8]) -> Hash {
    Hash::sha256_parts(&[&[0u8], data])
}

fn inner_hash(left: &Hash, right: &Hash) -> Hash {
    Hash::sha256_parts(&[&[1u8], &left.0, &right.0])
}

/// Levels at least this long are hashed on all cores (the result is the same).
const PARALLEL_FROM: usize = 8_192;

fn pair_hash(pair: &[Hash]) -> Hash {
    match pair {
        [l, r] => inner_hash(l, r),
        [one] => *one,
        _ => Hash::ZERO,
    }
}

/// The level above: pairs hashed together, an odd last node carried up.
fn up(level: &[Hash]) -> Vec<Hash> {
    use rayon::prelude::*;
    if level.len() >= PARALLEL_FROM {
        level.par_chunks(2).map(pair_hash).collect()
    } else {
        level.chunks(2).map(pair_hash).collect()
    }
}

/// Each item hashed as a leaf.
fn leaves(items: &[Hash]) -> Vec<Hash> {
    use rayon::prelude::*;
    if items.len() >= PARALLEL_FROM {
        items.par_iter().map(|h| leaf_hash(&h.0)).collect()
    } else {
        items.iter().map(|h| leaf_hash(&h.0)).collect()
    }
}

/// Root over items already hashed by the caller (each is hashed again as a leaf).
pub fn root(items: &[Hash]) -> Hash {
    if items.is_empty() {
        return Hash::ZERO;
    }
    let mut level = leaves(items);
    while level.len() > 1 {
        level = up(&level);
    }
    level[0]
}

/// Leaves per subtree that [`root_of_leaves`] reduces on one core: a power of two, so every
/// chunk but the last is a perfect subtree, the last one carries its odd nodes up exactly as
/// the whole level does, and the chunks' roots are the level above them.
const SUBTREE: usize = 4_096;

/// [`root`] of items whose leaf hashes ([`leaf_hash`] of each item) the caller computed:
/// `root_of_leaves(items.map(leaf_hash))` equals `root(items)`. Reduced in place, one
/// subtree per task, with no vector per level.
pub fn root_of_leaves(leaves: Vec<Hash>) -> Hash {
    use rayon::prelude::*;
    let mut level = leaves;
    while level.len() > SUBTREE {
        level = level.par_chunks_mut(SUBTREE).map(reduce_in_place).collect();
    }
    reduce_in_place(&mut level)
}

/// The root of `level` (the all-zero hash if empty), overwriting it: each level above is
/// written over the front of the one below (node i is written after nodes 2i and 2i + 1
/// are read).
fn reduce_in_place(level: &mut [Hash]) -> Hash {
    let mut n = level.len();
    while n > 1 {
        let half = n.div_ceil(2);
        for i in 0..half {
            let pair = level.get(2 * i..(2 * i + 2).min(n)).map_or(Hash::ZERO, pair_hash);
            if let Some(node) = level.get_mut(i) {
                *node = pair;
            }
        }
        n = half;
    }
    level.first().copied().unwrap_or(Hash::ZERO)
}

/// The sibling hashes from leaf `index` up to the root of `items` (an odd node carried up
/// has no sibling at that level, so the path skips it). `None` if `index` is out of range.
pub fn prove(items: &[Hash], index: u64) -> Option<Vec<Hash>> {
    let mut i = usize::try_from(index).ok()?;
    if i >= items.len() {
        return None;
    }
    let mut level = leaves(items);
    let mut path = Vec::new();
    while level.len() > 1 {
        let sibling = i ^ 1;
        if sibling < level.len() {
            path.push(level[sibling]);
        }
        level = up(&level);
        i /= 2;
    }
    Some(path)
}

/// Every level of the tree over some items, built once so that many paths can be read from
/// it: [`Tree::prove`] gives what [`prove`] gives, without hashing the tree again.
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[0]` are the leaf hashes; the last level is the root (none if empty).
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The tree over items already hashed by the caller (each is hashed again as a leaf).
    pub fn new(items: &[Hash]) -> Tree {
        let mut levels = Vec::new();
        if !items.is_empty() {
            levels.push(leaves(items));
            while let Some(last) = levels.last().filter(|l| l.len() > 1) {
                let next = up(last);
                levels.push(next);
            }
        }
        Tree { levels }
    }

    /// The number of leaves.
    pub fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hashes held, all levels together (for bounding a cache of trees).
    pub fn nodes(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// The root, as [`root`] gives it.
    pub fn root(&self) -> Hash {
        self.levels.last().and_then(|l| l.first()).copied().unwrap_or(Hash::ZERO)
    }

    /// The path of leaf `index`, as [`prove`] gives it.
    pub fn prove(&self, index: u64) -> Option<Vec<Hash>> {
        let mut i = usize::try_from(index).ok()?;
        if i >= self.len() {
            return None;
        }
        let mut path = Vec::new();
        for level in self.levels.iter().take(self.levels.len().saturating_sub(1)) {
            if let Some(sibling) = level.get(i ^ 1) {
                path.push(*sibling);
            }
            i /= 2;
        }
        Some(path)
    }
}

/// Whether `item` is leaf `index` of `count` leaves under `root`, by `path` from [`prove`].
pub fn verify(root: &Hash, count: u64, index: u64, item: &Hash, path: &[Hash]) -> bool {
    if index >= count {
        return false;
    }
    let (mut i, mut n) = (index, count);
    let mut node = leaf_hash(&item.0);
    let mut path = path.iter();
    while n > 1 {
        let sibling = i ^ 1;
        if sibling < n {
            let Some(s) = path.next() else { return false };
            node = if i % 2 == 0 { inner_hash(&node, s) } else { inner_hash(s, &node) };
        }
        i /= 2;
        n = n.div_ceil(2);
    }
    path.next().is_none() && node == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_of_hashed_leaves_is_the_root_of_the_items() {
        for n in [0usize, 1, 2, 3, 7, 8, 9, 100, 8_193, 20_001] {
            let items: Vec<Hash> = (0..n as u64).map(|i| Hash::sha256(&i.to_le_bytes())).collect();
            let leaves = items.iter().map(|h| leaf_hash(&h.0)).collect();
            assert_eq!(root_of_leaves(leaves), root(&items), "{n} items");
        }
    }

    #[test]
    fn roots_differ_by_content_and_order() {
        let a = Hash::sha256(b"a");
        let b = Hash::sha256(b"b");
        let c = Hash::sha256(b"c");
        assert_eq!(root(&[]), Hash::ZERO);
        assert_eq!(root(&[a]), leaf_hash(&a.0));
        assert_ne!(root(&[a, b]), root(&[b, a]));
        assert_ne!(root(&[a, b, c]), root(&[a, b]));
        assert_eq!(
            root(&[a, b, c]),
            inner_hash(&inner_hash(&leaf_hash(&a.0), &leaf_hash(&b.0)), &leaf_hash(&c.0))
        );
    }

    #[test]
    fn every_leaf_proves_against_the_root_and_nothing_else_does() {
        for n in 1..=9u64 {
            let items: Vec<Hash> = (0..n).map(|i| Hash::sha256(&i.to_be_bytes())).collect();
            let r = root(&items);
            for (i, item) in items.iter().enumerate() {
                let i = i as u64;
                let path = prove(&items, i).unwrap();
                assert!(verify(&r, n, i, item, &path), "leaf {i} of {n}");
                assert!(!verify(&r, n, i, &Hash::sha256(b"x"), &path));
                if n > 1 {
                    assert!(!verify(&r, n, (i + 1) % n, item, &path), "leaf {i} moved");
                    let mut bad = path.clone();
                    bad[0].0[0] ^= 1;
                    assert!(!verify(&r, n, i, item, &bad));
                    assert!(!verify(&r, n, i, item, &path[..path.len() - 1]));
                }
            }
            assert!(prove(&items, n).is_none());
            assert!(!verify(&r, n, n, &items[0], &[]));
        }
    }

    #[test]
    fn a_built_tree_gives_the_same_root_and_paths_as_the_one_shot_functions() {
        for n in [0u64, 1, 2, 3, 5, 8, 9, 33, 100] {
            let items: Vec<Hash> = (0..n).map(|i| Hash::sha256(&i.to_le_bytes())).collect();
            let tree = Tree::new(&items);
            assert_eq!(tree.len() as u64, n);
            assert_eq!(tree.root(), root(&items), "{n} items");
            for i in 0..=n {
                assert_eq!(tree.prove(i), prove(&items, i), "leaf {i} of {n}");
            }
        }
    }
}
