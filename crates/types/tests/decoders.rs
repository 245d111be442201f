#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests of the decoders that read untrusted input: wire transactions and blocks
//! (borsh), addresses (bech32m) and hashes (hex). Whatever the input, they must return an
//! error rather than panic, and whatever they accept must be canonical: encoding the decoded
//! value gives the input back, so one object has exactly one encoding and one hash.

use cairn_types::{
    Address, Block, BlockHeader, Certificate, Hash, Keypair, Params, SignedTx, Transaction, TxBody,
    codec,
};
use proptest::prelude::*;

/// The node's default limit for one transaction.
const MAX_TX: usize = 16 * 1024;
const MAX_BLOCK: usize = 1 << 20;

fn arb_tx() -> impl Strategy<Value = SignedTx> {
    (
        "[a-z0-9-]{0,20}",
        0u8..4,
        any::<u64>(),
        any::<u128>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u128>(),
    )
        .prop_map(|(chain_id, key, nonce, max_fee, expiry_height, to, amount)| {
            let key = Keypair::from_label(&format!("decoders-{key}"));
            Transaction {
                chain_id,
                signer: key.address(),
                nonce,
                max_fee,
                expiry_height,
                body: TxBody::Transfer { to: Address(to), amount },
            }
            .sign(&key)
        })
}

fn arb_block() -> impl Strategy<Value = Block> {
    (prop::collection::vec(arb_tx(), 0..4), any::<u64>(), any::<[u8; 32]>(), any::<u64>()).prop_map(
        |(txs, height, root, ts)| {
            let key = Keypair::from_label("decoders-proposer");
            let header = BlockHeader {
                height,
                parent_hash: Hash(root),
                timestamp_ms: ts,
                proposer: key.address(),
                epoch: height / 30,
                tx_root: cairn_types::merkle::root(
                    &txs.iter().map(SignedTx::hash).collect::<Vec<_>>(),
                ),
                receipts_root: Hash::ZERO,
                state_root: Hash(root),
            };
            let certificate = Certificate::solo(&key, "decoders", &header.hash());
            Block { header, txs, certificate }
        },
    )
}

/// One way of damaging a valid encoding.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip bit `bit` of byte `at` (index taken modulo the length).
    BitFlip { at: usize, bit: u8 },
    /// Set byte `at` to `value` (may leave it unchanged).
    Overwrite { at: usize, value: u8 },
    /// Keep only the first `len` bytes (modulo the length: always shorter).
    Truncate { len: usize },
    /// Append bytes.
    Extend { tail: Vec<u8> },
    /// Insert bytes at `at`.
    Insert { at: usize, bytes: Vec<u8> },
    /// Remove `n` bytes at `at`.
    Remove { at: usize, n: usize },
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::BitFlip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Overwrite { at, value }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(|tail| Mutation::Extend { tail }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..16).prop_map(|(at, n)| Mutation::Remove { at, n }),
    ]
}

fn mutate(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let len = out.len();
    match m {
        Mutation::BitFlip { at, bit } => out[at % len] ^= 1 << bit,
        Mutation::Overwrite { at, value } => out[at % len] = *value,
        Mutation::Truncate { len: keep } => out.truncate(keep % len),
        Mutation::Extend { tail } => out.extend_from_slice(tail),
        Mutation::Insert { at, bytes } => {
            let at = at % (len + 1);
            out.splice(at..at, bytes.iter().copied());
        }
        Mutation::Remove { at, n } => {
            let at = at % len;
            let end = (at + n).min(len);
            out.drain(at..end);
        }
    }
    out
}

/// Decodes a transaction as the node does; on success it must be canonical and the
/// stateless checks must not panic.
fn decode_tx(bytes: &[u8]) -> Option<SignedTx> {
    let stx = SignedTx::from_bytes(bytes, MAX_TX).ok()?;
    assert_eq!(stx.to_bytes(), bytes, "accepted a non-canonical transaction encoding");
    let _ = stx.check_stateless(&stx.tx.chain_id, &Params::default(), bytes.len());
    Some(stx)
}

fn decode_block(bytes: &[u8]) -> Option<Block> {
    let block = codec::decode::<Block>(bytes, MAX_BLOCK, "block").ok()?;
    assert_eq!(codec::encode(&block), bytes, "accepted a non-canonical block encoding");
    let _ = block.certificate.verify("decoders", &block.hash());
    Some(block)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn signed_tx_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        decode_tx(&bytes);
    }

    #[test]
    fn block_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        decode_block(&bytes);
    }

    /// Prefixes that look like a real encoding: a plausible length prefix then noise, so
    /// that decoding gets past the first fields more often than pure noise does.
    #[test]
    fn signed_tx_structured_noise(
        chain_len in 0u32..80,
        chain in prop::collection::vec(any::<u8>(), 0..80),
        rest in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = chain_len.to_le_bytes().to_vec();
        bytes.extend_from_slice(&chain);
        bytes.extend_from_slice(&rest);
        decode_tx(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn signed_tx_valid_round_trips(stx in arb_tx()) {
        let bytes = stx.to_bytes();
        let decoded = decode_tx(&bytes).expect("a valid encoding decodes");
        prop_assert_eq!(&decoded, &stx);
        prop_assert_eq!(decoded.hash(), stx.hash());
        // The size limit is exact.
        prop_assert!(SignedTx::from_bytes(&bytes, bytes.len()).is_ok());
        prop_assert!(SignedTx::from_bytes(&bytes, bytes.len() - 1).is_err());
    }

    #[test]
    fn signed_tx_mutations(stx in arb_tx(), m in arb_mutation()) {
        let bytes = stx.to_bytes();
        let mutated = mutate(&bytes, &m);
        let decoded = decode_tx(&mutated);
        match (&m, decoded) {
            // A strict decoder never accepts a proper prefix or trailing bytes.
            (Mutation::Truncate { .. } | Mutation::Extend { .. }, Some(d)) => {
                prop_assert!(false, "accepted {m:?}: {d:?}");
            }
            // Every byte is covered by the signature (or is the signature), so a changed
            // byte that still decodes must not pass the stateless checks.
            (Mutation::BitFlip { .. } | Mutation::Overwrite { .. }, Some(d))
                if mutated != bytes =>
            {
                prop_assert!(
                    d.check_stateless(&d.tx.chain_id, &Params::default(), mutated.len())
                        .is_err(),
                    "mutated transaction still passes its checks: {m:?}"
                );
            }
            _ => {}
        }
    }

    #[test]
    fn block_valid_round_trips(block in arb_block()) {
        let bytes = codec::encode(&block);
        let decoded = decode_block(&bytes).expect("a valid encoding decodes");
        prop_assert_eq!(&decoded, &block);
        prop_assert!(decoded.certificate.verify("decoders", &decoded.hash()).is_ok());
    }

    #[test]
    fn block_mutations(block in arb_block(), m in arb_mutation()) {
        let bytes = codec::encode(&block);
        let mutated = mutate(&bytes, &m);
        let decoded = decode_block(&mutated);
        if matches!(m, Mutation::Truncate { .. } | Mutation::Extend { .. }) {
            prop_assert!(decoded.is_none(), "accepted {m:?}");
        }
    }
}

/// Strings shaped like addresses: the right prefix and separator, then bech32 characters
/// (occasionally others), in either case.
fn address_like() -> impl Strategy<Value = String> {
    (
        prop_oneof!["cairn", "CAIRN", "cairm", "[a-z]{1,10}", ""],
        prop_oneof!["1", "", "11"],
        "[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{0,70}",
        any::<bool>(),
        "[b1io!A-Z]{0,2}",
    )
        .prop_map(|(hrp, sep, data, upper, junk)| {
            let s = format!("{hrp}{sep}{data}{junk}");
            if upper { s.to_uppercase() } else { s }
        })
}

fn check_address(s: &str) {
    if let Ok(addr) = Address::from_bech32(s) {
        let printed = addr.to_bech32();
        assert_eq!(Address::from_bech32(&printed), Ok(addr));
        assert_eq!(printed, s.to_ascii_lowercase(), "address accepted in a non-canonical form");
    }
}

fn check_hash(s: &str) {
    if let Ok(h) = Hash::from_hex(s) {
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        let digits = s.strip_prefix("0x").unwrap_or(s);
        assert_eq!(h.to_hex(), digits.to_ascii_lowercase());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn address_and_hash_parse_arbitrary_strings(s in any::<String>()) {
        check_address(&s);
        check_hash(&s);
    }

    #[test]
    fn address_like_strings(s in address_like()) {
        check_address(&s);
    }

    #[test]
    fn hash_like_strings(s in "(0x)?[0-9a-fA-Fg ]{0,70}") {
        check_hash(&s);
    }

    #[test]
    fn address_round_trip(bytes in any::<[u8; 32]>(), upper in any::<bool>()) {
        let a = Address(bytes);
        let s = a.to_bech32();
        prop_assert!(s.starts_with("cairn1"));
        let s = if upper { s.to_uppercase() } else { s };
        prop_assert_eq!(Address::from_bech32(&s), Ok(a));
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
    }

    #[test]
    fn address_single_char_change_is_rejected(bytes in any::<[u8; 32]>(), at in any::<usize>(), c in 0usize..32) {
        // bech32m detects any single substitution in the data part.
        const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        let s = Address(bytes).to_bech32().into_bytes();
        let data_start = "cairn1".len();
        let i = data_start + at % (s.len() - data_start);
        prop_assume!(s[i] != CHARSET[c]);
        let mut t = s.clone();
        t[i] = CHARSET[c];
        prop_assert!(Address::from_bech32(std::str::from_utf8(&t).unwrap()).is_err());
    }

    #[test]
    fn hash_round_trip(bytes in any::<[u8; 32]>()) {
        let h = Hash(bytes);
        prop_assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        prop_assert_eq!(Hash::from_hex(&format!("0x{}", h.to_hex().to_uppercase())), Ok(h));
        let json = serde_json::to_string(&h).unwrap();
        prop_assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
    }
}
