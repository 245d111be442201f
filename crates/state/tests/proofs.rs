#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests of state proofs: for random key/value sets committed to the tree, every
//! key's proof verifies against the root, and any damaged proof, wrong value, wrong root or
//! arbitrary bytes is refused with an error (never a panic).

use cairn_state::tree::{ProofError, apply_changes, prove, verify_proof};
use cairn_state::{ChangeSet, MemStore};
use cairn_types::Hash;
use proptest::prelude::*;
use std::collections::BTreeMap;

type Kv = BTreeMap<Vec<u8>, Vec<u8>>;

fn arb_kv() -> impl Strategy<Value = Kv> {
    prop::collection::btree_map(
        prop::collection::vec(any::<u8>(), 0..12),
        prop::collection::vec(any::<u8>(), 0..24),
        1..24,
    )
}

/// Commits `changes` as `version` and returns the new root.
fn commit(store: &mut MemStore, changes: &ChangeSet, version: u64) -> Hash {
    let (root, batch) = apply_changes(store, changes, version).unwrap();
    store.apply(version, changes, &batch);
    root
}

fn inserts(kv: &Kv) -> ChangeSet {
    kv.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()
}

/// How many bytes of a proof to damage: every one, or every `n`th starting at `start`.
#[derive(Clone, Copy)]
enum Flips {
    All,
    Every { n: usize, start: usize },
}

/// Checks `key` at `version` against `expected`, plus the negative cases.
fn check_key(
    store: &MemStore,
    root: Hash,
    version: u64,
    key: &[u8],
    expected: Option<&[u8]>,
    flips: Flips,
) {
    let (value, proof) = prove(store, key, version).unwrap();
    assert_eq!(value.as_deref(), expected, "prove returned the wrong value");
    verify_proof(root, key, expected, &proof).unwrap();

    // Wrong values: a different value, presence instead of absence and vice versa.
    match expected {
        Some(v) => {
            let mut other = v.to_vec();
            other.push(0);
            assert!(verify_proof(root, key, Some(&other), &proof).is_err());
            assert!(verify_proof(root, key, None, &proof).is_err());
        }
        None => assert!(verify_proof(root, key, Some(b"x"), &proof).is_err()),
    }

    // Another root.
    let mut other_root = root;
    other_root.0[0] ^= 1;
    assert!(verify_proof(other_root, key, expected, &proof).is_err());

    // A flipped byte anywhere in the proof.
    let (step, start) = match flips {
        Flips::All => (1, 0),
        Flips::Every { n, start } => (n.max(1), start % n.max(1)),
    };
    for i in (start..proof.len()).step_by(step) {
        let mut bad = proof.clone();
        bad[i] ^= 0x5a;
        assert!(
            verify_proof(root, key, expected, &bad).is_err(),
            "proof with byte {i} flipped still verifies"
        );
    }
    // Truncated and extended proofs are malformed.
    if !proof.is_empty() {
        assert!(matches!(
            verify_proof(root, key, expected, &proof[..proof.len() - 1]),
            Err(ProofError::Malformed(_))
        ));
    }
    let mut longer = proof.clone();
    longer.push(0);
    assert!(matches!(verify_proof(root, key, expected, &longer), Err(ProofError::Malformed(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_key_proves_against_the_root(
        kv in arb_kv(),
        absent in prop::collection::vec(any::<u8>(), 12..16),
        start in 0usize..1000,
    ) {
        let mut store = MemStore::default();
        let root = commit(&mut store, &inserts(&kv), 0);
        // Every byte of one inclusion and one exclusion proof is damaged in turn; for the
        // other keys, a spread-out sample of bytes (debug builds hash slowly).
        for (i, (k, v)) in kv.iter().enumerate() {
            let flips = if i == 0 { Flips::All } else { Flips::Every { n: 13, start: start + i } };
            check_key(&store, root, 0, k, Some(v), flips);
        }
        // Keys in the set are shorter than 12 bytes, so `absent` is never among them.
        check_key(&store, root, 0, &absent, None, Flips::All);
    }

    #[test]
    fn proofs_follow_updates_and_deletes(
        kv in arb_kv(),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::option::of(prop::collection::vec(any::<u8>(), 0..24))),
            1..8,
        ),
        fresh in prop::collection::btree_map(
            prop::collection::vec(any::<u8>(), 12..14),
            prop::collection::vec(any::<u8>(), 0..8),
            0..4,
        ),
    ) {
        let mut store = MemStore::default();
        let root0 = commit(&mut store, &inserts(&kv), 0);

        let keys: Vec<_> = kv.keys().cloned().collect();
        let mut changes: ChangeSet = edits
            .iter()
            .map(|(i, v)| (keys[i.index(keys.len())].clone(), v.clone()))
            .collect();
        changes.extend(inserts(&fresh));
        let root1 = commit(&mut store, &changes, 1);

        let mut after = kv.clone();
        for (k, v) in &changes {
            match v {
                Some(v) => after.insert(k.clone(), v.clone()),
                None => after.remove(k),
            };
        }
        let flips = Flips::Every { n: 29, start: keys.len() };
        for k in kv.keys().chain(fresh.keys()) {
            check_key(&store, root1, 1, k, after.get(k).map(Vec::as_slice), flips);
            // The old version still proves the old values.
            check_key(&store, root0, 0, k, kv.get(k).map(Vec::as_slice), flips);
        }
        // A proof at one version does not verify against the other version's root
        // (unless the two roots are equal, when every value is unchanged).
        if root0 != root1 {
            for k in changes.keys() {
                let (_, p1) = prove(&store, k, 1).unwrap();
                if kv.get(k) != after.get(k) {
                    prop_assert!(
                        verify_proof(root0, k, after.get(k).map(Vec::as_slice), &p1).is_err()
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_proof_bytes_are_refused(
        kv in arb_kv(),
        key in prop::collection::vec(any::<u8>(), 0..12),
        value in prop::option::of(prop::collection::vec(any::<u8>(), 0..24)),
        proof in prop::collection::vec(any::<u8>(), 0..300),
        random_root in any::<[u8; 32]>(),
    ) {
        let mut store = MemStore::default();
        let root = commit(&mut store, &inserts(&kv), 0);
        prop_assert!(verify_proof(root, &key, value.as_deref(), &proof).is_err());
        prop_assert!(verify_proof(Hash(random_root), &key, value.as_deref(), &proof).is_err());
    }

    /// Noise shaped like a borsh proof (leaf option tag, sibling count, node tags and
    /// 64-byte node bodies), so that decoding succeeds often and verification runs.
    #[test]
    fn structured_proof_noise_is_refused(
        leaf in prop::option::of(prop::collection::vec(any::<u8>(), 64)),
        siblings in prop::collection::vec((0u8..4, prop::collection::vec(any::<u8>(), 64)), 0..8),
        count_delta in -1i64..=1,
        key in prop::collection::vec(any::<u8>(), 0..12),
        value in prop::option::of(prop::collection::vec(any::<u8>(), 0..24)),
        root in any::<[u8; 32]>(),
    ) {
        let mut proof = Vec::new();
        match &leaf {
            Some(bytes) => {
                proof.push(1);
                proof.extend_from_slice(bytes);
            }
            None => proof.push(0),
        }
        let count = u32::try_from((siblings.len() as i64 + count_delta).max(0)).unwrap();
        proof.extend_from_slice(&count.to_le_bytes());
        for (tag, bytes) in &siblings {
            proof.push(*tag);
            if *tag != 0 {
                proof.extend_from_slice(bytes);
            }
        }
        prop_assert!(verify_proof(Hash(root), &key, value.as_deref(), &proof).is_err());
    }
}

#[test]
fn oversized_and_empty_proofs_are_malformed() {
    let root = Hash::sha256(b"root");
    assert!(matches!(verify_proof(root, b"k", None, &[]), Err(ProofError::Malformed(_))));
    let huge = vec![0u8; 64 * 1024 + 1];
    assert!(matches!(verify_proof(root, b"k", None, &huge), Err(ProofError::Malformed(_))));
    // A sibling count far beyond the bytes present must not allocate or panic.
    let mut lying = vec![0u8];
    lying.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(verify_proof(root, b"k", None, &lying), Err(ProofError::Malformed(_))));
}
