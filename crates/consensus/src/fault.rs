//! Test-only faults of one validator, in one place: a clock that runs ahead or behind, a
//! builder that hands out a different (equally valid) seal of its own blocks to every peer
//! that syncs them or to every peer it proposes to, a node whose copy of the proposals it
//! receives for some heights is spoiled, a node that claims another software version
//! (to a passed upgrade), and bad proposal streams ([`streams`]). They exist only in
//! builds with the `byzantine` feature (the integration tests), are off unless
//! `consensus.json` has a `faults` section, and a release build refuses a file that has one
//! (`deny_unknown_fields`). `docs/reliability.md` lists the tests that use them.

use crate::config::BftConfig;
#[cfg(feature = "byzantine")]
use crate::parts::ProposalPart;
use crate::parts::ReceivedProposal;
#[cfg(feature = "byzantine")]
use malachitebft_app_channel::app::streaming::{StreamId, StreamMessage};

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
    /// Each of this validator's own proposals goes out as one stream per other validator,
    /// each with a fresh seal of the block and addressed to that validator (see
    /// [`addressed_elsewhere`]); the ordinary stream is not sent.
    pub reseal_proposals_per_peer: bool,
    /// Heights whose received proposals this node spoils after reassembly (one bit of the
    /// builder's seal flipped), as if its copy were corrupt: its own verdict on them is
    /// wrong, while the blocks themselves are honest.
    pub spoil_received_seals_at: Vec<u64>,
    /// The software version this validator's state machine claims instead of its own, as
    /// a passed upgrade compares it: `"99.0.0"` makes it the upgraded software, so a test
    /// can run upgraded and older validators side by side on one binary.
    pub software_version: Option<String>,
}

/// Marks a stream id as addressed to one validator: the honest id, this byte, the address.
#[cfg(feature = "byzantine")]
const ADDRESSED: u8 = 0xad;

/// The id of a proposal stream meant for `to` alone.
#[cfg(feature = "byzantine")]
fn addressed_id(height: u64, round: u32, to: &cairn_types::Address) -> StreamId {
    let mut b = crate::parts::stream_id(height, round).to_bytes().to_vec();
    b.push(ADDRESSED);
    b.extend_from_slice(&to.0);
    StreamId::new(bytes::Bytes::from(b))
}

/// Whether a stream is addressed to another validator than `me`. Gossip delivers every
/// stream to every peer; a Byzantine proposer with its own network stack can send each
/// peer something else. Builds with the `byzantine` feature model that: a node ignores a
/// stream addressed to someone else (honest proposers never address streams).
#[cfg(feature = "byzantine")]
pub fn addressed_elsewhere(id: &StreamId, me: &cairn_types::Address) -> bool {
    let b = id.to_bytes();
    let honest = crate::parts::stream_id(0, 0).to_bytes().len();
    b.len() == honest + 1 + me.0.len() && b[honest] == ADDRESSED && b[honest + 1..] != me.0
}

/// The streams of this validator's own proposal `p` when the per-peer reseal fault is on:
/// for every validator in `to` but itself, a stream of the block with a fresh seal,
/// addressed to it. `None` when the fault is off or the block was built by another
/// validator (a re-proposal: the ordinary stream goes out).
#[cfg(feature = "byzantine")]
pub fn per_peer_proposal(
    config: &BftConfig,
    key: &cairn_types::Keypair,
    chain_id: &str,
    p: &ReceivedProposal,
    to: &[cairn_types::Address],
) -> Option<Vec<StreamMessage<ProposalPart>>> {
    let me = key.address();
    if !config.faults.as_ref().is_some_and(|f| f.reseal_proposals_per_peer)
        || p.block.header.proposer != me
    {
        return None;
    }
    let mut out = Vec::new();
    for peer in to.iter().filter(|a| **a != me) {
        let seal = reseal(key, chain_id, &p.block.hash());
        tracing::warn!(height = p.height, round = p.round, %peer, seal = ?seal,
            "proposing with a seal for this peer alone (test configuration)");
        let copy = ReceivedProposal {
            block: crate::parts::ProposedBlock { proposer_signature: seal, ..p.block.clone() },
            ..p.clone()
        };
        let id = addressed_id(p.height, p.round, peer);
        out.extend(
            crate::parts::stream(&copy, key, chain_id)
                .into_iter()
                .map(|m| StreamMessage::new(id.clone(), m.sequence, m.content)),
        );
    }
    Some(out)
}

/// A proposal this node has just put back together, as it keeps it: spoiled (one bit of
/// the builder's seal flipped) at the heights of `spoil_received_seals_at`, else as is.
pub fn received(config: &BftConfig, p: &mut ReceivedProposal) {
    #[cfg(feature = "byzantine")]
    if config.faults.as_ref().is_some_and(|f| f.spoil_received_seals_at.contains(&p.height)) {
        tracing::warn!(height = p.height, round = p.round, block = %p.block.hash(),
            "spoiling the received copy of a proposal (test configuration)");
        p.block.proposer_signature.0[0] ^= 1;
    }
    let _ = (config, p);
}

/// The state machine this validator runs: `app`, claiming the version of the
/// `software_version` fault when it is set.
pub fn app(config: &BftConfig, app: cairn_app::App) -> cairn_app::App {
    #[cfg(feature = "byzantine")]
    if let Some(v) = config.faults.as_ref().and_then(|f| f.software_version.clone()) {
        tracing::warn!(version = %v, "claiming another software version (test configuration)");
        return app.with_version(v);
    }
    let _ = config;
    app
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

    #[test]
    fn a_per_peer_proposal_gives_each_peer_its_own_valid_seal_that_no_other_peer_takes() {
        use crate::parts::{Limits, Streams};
        use malachitebft_app_channel::app::types::PeerId;
        let key = Keypair::from_label("builder");
        let peers: Vec<Keypair> = (0..3).map(|i| Keypair::from_label(&format!("p{i}"))).collect();
        let mut to: Vec<_> = peers.iter().map(Keypair::address).collect();
        to.push(key.address());
        let header = BlockHeader {
            height: 3,
            parent_hash: Hash::ZERO,
            timestamp_ms: 1,
            proposer: key.address(),
            epoch: 0,
            tx_root: cairn_types::merkle::root(&[]),
            receipts_root: Hash::ZERO,
            state_root: Hash::ZERO,
        };
        let p = ReceivedProposal {
            height: 3,
            round: 1,
            pol_round: None,
            proposer: key.address(),
            block: ProposedBlock::seal(&key, "c", header, vec![]),
        };
        let mut config = BftConfig::new("n".into(), "/ip4/127.0.0.1/tcp/1".into(), vec![], vec![]);
        assert!(per_peer_proposal(&config, &key, "c", &p, &to).is_none(), "fault off");
        config.faults = Some(Faults { reseal_proposals_per_peer: true, ..Faults::default() });
        let parts = per_peer_proposal(&config, &key, "c", &p, &to).unwrap();
        let publisher = PeerId::from_bytes(&[&[0x00u8, 0x20][..], &[9u8; 32]].concat()).unwrap();
        let mut seals = Vec::new();
        for peer in &peers {
            let mut streams = Streams::new("c", Limits::new(10, 1 << 20, 1 << 22));
            let mut got = Vec::new();
            for m in parts.iter().filter(|m| !addressed_elsewhere(&m.stream_id, &peer.address())) {
                if let Some(r) = streams.insert(publisher, m.clone()) {
                    got.push(r.unwrap());
                }
            }
            assert_eq!(got.len(), 1, "one stream reaches each peer");
            let r = got.remove(0);
            assert_eq!(r.block.hash(), p.block.hash());
            assert!(r.block.seal_is_valid("c"));
            seals.push(r.block.proposer_signature);
        }
        seals.push(p.block.proposer_signature);
        seals.sort_by_key(|s| s.0);
        seals.dedup();
        assert_eq!(seals.len(), 4, "three peers and the builder hold four different seals");
        // An honest stream is never addressed.
        let honest = crate::parts::stream(&p, &key, "c");
        assert!(honest.iter().all(|m| !addressed_elsewhere(&m.stream_id, &peers[0].address())));
        // A re-proposal of another builder's block goes out as it is.
        let other = ReceivedProposal { proposer: peers[0].address(), ..p.clone() };
        assert!(per_peer_proposal(&config, &peers[0], "c", &other, &to).is_none());
    }

    #[test]
    fn a_spoiled_copy_of_a_received_proposal_no_longer_verifies_at_the_listed_heights_only() {
        let key = Keypair::from_label("builder");
        let header = |height| BlockHeader {
            height,
            parent_hash: Hash::ZERO,
            timestamp_ms: 1,
            proposer: key.address(),
            epoch: 0,
            tx_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            state_root: Hash::ZERO,
        };
        let mut config = BftConfig::new("n".into(), "/ip4/127.0.0.1/tcp/1".into(), vec![], vec![]);
        config.faults = Some(Faults { spoil_received_seals_at: vec![2], ..Faults::default() });
        for (height, spoiled) in [(1, false), (2, true), (3, false)] {
            let mut p = ReceivedProposal {
                height,
                round: 0,
                pol_round: None,
                proposer: key.address(),
                block: ProposedBlock::seal(&key, "c", header(height), vec![]),
            };
            received(&config, &mut p);
            assert_eq!(p.block.seal_is_valid("c"), !spoiled, "height {height}");
        }
    }
}
