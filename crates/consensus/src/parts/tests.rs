#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use cairn_types::{Transaction, TxBody};

/// A peer id from a seed (identity multihash of 32 bytes).
pub(crate) fn peer(seed: u8) -> PeerId {
    let bytes = [&[0x00u8, 0x20][..], &[seed; 32]].concat();
    PeerId::from_bytes(&bytes).unwrap()
}

fn tx(i: u64, payload: usize) -> SignedTx {
    let key = Keypair::from_label("sender");
    Transaction {
        chain_id: "c".into(),
        signer: key.address(),
        nonce: i,
        max_fee: 1,
        expiry_height: 10,
        body: TxBody::SubmitReports { reports: vec![] },
    }
    .sign(&key)
    .tap(payload)
}

trait Tap {
    fn tap(self, payload: usize) -> Self;
}

impl Tap for SignedTx {
    /// Pads the transaction (through its chain id) to make chunks fill up.
    fn tap(mut self, payload: usize) -> Self {
        self.tx.chain_id = "x".repeat(payload);
        self
    }
}

fn proposal(txs: usize, payload: usize) -> ReceivedProposal {
    let key = Keypair::from_label("builder");
    let header = BlockHeader {
        height: 4,
        parent_hash: Hash::ZERO,
        timestamp_ms: 1,
        proposer: key.address(),
        epoch: 0,
        tx_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        state_root: Hash::ZERO,
    };
    ReceivedProposal {
        height: 4,
        round: 2,
        pol_round: Some(1),
        proposer: Keypair::from_label("round-proposer").address(),
        block: ProposedBlock::seal(
            &key,
            "c",
            header,
            (0..txs as u64).map(|i| tx(i, payload)).collect(),
        ),
    }
}

#[test]
fn a_stream_reassembles_in_any_order() {
    let p = proposal(300, 4_000);
    let mut msgs = stream(&p);
    assert!(msgs.len() > 3, "the block spans several parts");
    msgs.reverse();
    let peer = peer(1);
    let mut s = Streams::new(10_000);
    let mut out = None;
    for (i, m) in msgs.iter().enumerate() {
        let r = s.insert(peer, m.clone());
        if i + 1 < msgs.len() {
            assert!(r.is_none(), "complete before the last message");
        }
        out = r;
    }
    assert_eq!(out, Some(p.clone()));
    assert!(p.block.seal_is_valid("c"));
    // An empty block is one init part and the fin.
    let empty = proposal(0, 0);
    let msgs = stream(&empty);
    assert_eq!(msgs.len(), 2);
    let mut s = Streams::new(10);
    assert_eq!(s.insert(peer, msgs[1].clone()), None);
    assert_eq!(s.insert(peer, msgs[0].clone()), Some(empty));
}

#[test]
fn incomplete_oversized_or_malformed_streams_yield_nothing() {
    let p = proposal(50, 20_000);
    let msgs = stream(&p);
    let peer = peer(1);
    // A missing part.
    let mut s = Streams::new(10_000);
    for (i, m) in msgs.iter().enumerate() {
        if i != 1 {
            assert_eq!(s.insert(peer, m.clone()), None);
        }
    }
    // More transactions than a block may hold.
    let mut s = Streams::new(10);
    assert!(msgs.iter().all(|m| s.insert(peer, m.clone()).is_none()));
    // Two publishers' parts never mix.
    let mut s = Streams::new(10_000);
    let other = self::peer(2);
    for (i, m) in msgs.iter().enumerate() {
        let who = if i % 2 == 0 { peer } else { other };
        assert_eq!(s.insert(who, m.clone()), None);
    }
    // A count that does not match the transactions sent.
    let mut lying = proposal(3, 0);
    let mut msgs = stream(&lying);
    if let StreamContent::Data(ProposalPart::Init(init)) = &mut msgs[0].content {
        init.tx_count = 4;
    }
    let mut s = Streams::new(100);
    assert!(msgs.iter().all(|m| s.insert(peer, m.clone()).is_none()));
    lying.block.txs.clear();
}

#[test]
fn open_streams_are_bounded() {
    let mut s = Streams::new(100);
    for i in 0..(MAX_STREAMS * 3) {
        let msgs = stream(&proposal(1, 0));
        assert_eq!(s.insert(peer(i as u8), msgs[0].clone()), None);
    }
    assert!(s.open.len() <= MAX_STREAMS);
}
