//! Test-only faults of one validator, in one place: a clock that runs ahead or behind, a
//! builder that hands out a different (equally valid) seal of its own blocks to every peer
//! that syncs them, and bad proposal streams ([`streams`]). They exist only in builds with the `byzantine` feature (the
//! integration tests), are off unless `consensus.json` has a `faults` section, and a
//! release build refuses a file that has one (`deny_unknown_fields`). `docs/reliability.md`
//! lists the tests that use them.

use crate::config::BftConfig;

#[cfg(feature = "byzantine")]
pub mod streams;
#[cfg(feature = "byzantine")]
use serde::{Deserialize, Serialize};
#[cfg(feature = "byzantine")]
pub use streams::{Injector, StreamFault};

/// The `faults` section of `consensus.json`.
#[cfg(feature = "byzantine")]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Added to this validator's clock wherever consensus reads it (the time it stamps on
    /// blocks it builds, and the time it checks proposals against); negative: behind.
    pub clock_offset_ms: i64,
    /// Every block this validator built is served to syncing peers with a fresh signature
    /// of its hash (same key, another nonce), so each peer gets another seal.
    pub reseal_served_blocks: bool,
}

/// This validator's clock in Unix milliseconds, as consensus reads it.
pub fn now_ms(config: &BftConfig) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    #[cfg(feature = "byzantine")]
    if let Some(f) = &config.faults {
        return now.saturating_add_signed(f.clock_offset_ms);
    }
    let _ = config;
    now
}

/// The seal this validator serves with a block it built, to a peer that syncs it: the
/// stored one, unless the reseal fault is on.
pub fn served_seal(
    config: &BftConfig,
    key: &cairn_types::Keypair,
    chain_id: &str,
    block: &crate::parts::ProposedBlock,
) -> cairn_types::Signature {
    #[cfg(feature = "byzantine")]
    if config.faults.as_ref().is_some_and(|f| f.reseal_served_blocks)
        && block.header.proposer == key.address()
    {
        return reseal(key, chain_id, &block.hash());
    }
    let _ = (config, key, chain_id);
    block.proposer_signature
}

/// Another valid signature of `hash` under `cairn/block/v1`: the same secret scalar with a
/// nonce prefix that changes on every call.
#[cfg(feature = "byzantine")]
fn reseal(
    key: &cairn_types::Keypair,
    chain_id: &str,
    hash: &cairn_types::Hash,
) -> cairn_types::Signature {
    use cairn_types::crypto::{domain, signing_message};
    use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let mut esk = ExpandedSecretKey::from(&key.secret_bytes());
    esk.hash_prefix = cairn_types::Hash::sha256_parts(&[&esk.hash_prefix, &call.to_be_bytes()]).0;
    let vk = ed25519_dalek::VerifyingKey::from(&esk);
    let msg = signing_message(domain::BLOCK, chain_id, hash);
    cairn_types::Signature(raw_sign::<sha2::Sha512>(&esk, &msg, &vk).to_bytes())
}

#[cfg(all(test, feature = "byzantine"))]
mod tests {
    use super::*;
    use crate::parts::ProposedBlock;
    use cairn_types::{BlockHeader, Hash, Keypair};

    #[test]
    fn a_resealed_block_verifies_with_a_seal_that_differs_on_every_serve() {
        let key = Keypair::from_label("builder");
        let header = BlockHeader {
            height: 1,
            parent_hash: Hash::ZERO,
            timestamp_ms: 1,
            proposer: key.address(),
            epoch: 0,
            tx_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            state_root: Hash::ZERO,
        };
        let block = ProposedBlock::seal(&key, "c", header, vec![]);
        let mut config = BftConfig::new("n".into(), "/ip4/127.0.0.1/tcp/1".into(), vec![], vec![]);
        assert_eq!(served_seal(&config, &key, "c", &block), block.proposer_signature);
        config.faults = Some(Faults { reseal_served_blocks: true, ..Faults::default() });
        let a = served_seal(&config, &key, "c", &block);
        let b = served_seal(&config, &key, "c", &block);
        assert!(a != b && a != block.proposer_signature);
        for s in [a, b] {
            assert!(ProposedBlock { proposer_signature: s, ..block.clone() }.seal_is_valid("c"));
        }
    }
}
