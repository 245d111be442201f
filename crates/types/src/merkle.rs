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

/// Root over items already hashed by the caller (each is hashed again as a leaf).
pub fn root(items: &[Hash]) -> Hash {
    if items.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = items.iter().map(|h| leaf_hash(&h.0)).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => inner_hash(l, r),
                [one] => *one,
                _ => Hash::ZERO,
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
