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

/// The key of the round's proposer in these tests.
fn round_key() -> Keypair {
    Keypair::from_label("round-proposer")
}

fn proposal(txs: usize, payload: usize) -> ReceivedProposal {
    let key = Keypair::from_label("builder");
    let txs: Vec<SignedTx> = (0..txs as u64).map(|i| tx(i, payload)).collect();
    let header = BlockHeader {
        height: 4,
        parent_hash: Hash::ZERO,
        timestamp_ms: 1,
        proposer: key.address(),
        epoch: 0,
        tx_root: merkle::root(&txs.iter().map(SignedTx::hash).collect::<Vec<_>>()),
        receipts_root: Hash::ZERO,
        state_root: Hash::ZERO,
    };
    ReceivedProposal {
        height: 4,
        round: 2,
        pol_round: Some(1),
        proposer: round_key().address(),
        block: ProposedBlock::seal(&key, "c", header, txs),
    }
}

/// The stream of `p` as its round proposer sends it.
fn honest(p: &ReceivedProposal) -> Vec<StreamMessage<ProposalPart>> {
    stream(p, &round_key(), "c")
}

fn limits(max_txs: usize) -> Limits {
    Limits::new(max_txs, 16 << 20, 64 << 20)
}

/// Feeds every message; returns the first outcome.
fn feed(
    s: &mut Streams,
    who: PeerId,
    msgs: &[StreamMessage<ProposalPart>],
) -> Option<Result<ReceivedProposal, StreamError>> {
    let mut first = None;
    for m in msgs {
        let r = s.insert(who, m.clone());
        if first.is_none() {
            first = r;
        }
    }
    first
}

/// The truncated copy a peer can make of an honest init: same header and seal, no
/// transactions, an early end, signed by the peer (it has no other key).
fn truncated(
    init: &StreamMessage<ProposalPart>,
    signer: &Keypair,
    claimed: Option<Address>,
) -> Vec<StreamMessage<ProposalPart>> {
    let StreamContent::Data(ProposalPart::Init(init)) = &init.content else { panic!("an init") };
    let mut init = init.clone();
    init.tx_count = 0;
    if let Some(a) = claimed {
        init.proposer = a;
    }
    let p = ReceivedProposal {
        height: init.height,
        round: init.round,
        pol_round: init.pol_round,
        proposer: init.proposer,
        block: ProposedBlock {
            header: init.header.clone(),
            txs: vec![],
            proposer_signature: init.proposer_signature,
        },
    };
    let seal = signer.sign_payload(domain::PROPOSAL_STREAM, "c", &p.seal_payload());
    let id = stream_id(init.height, init.round);
    vec![
        StreamMessage::new(id.clone(), 0, StreamContent::Data(ProposalPart::Init(init))),
        StreamMessage::new(id.clone(), 1, StreamContent::Data(ProposalPart::Fin(seal))),
        StreamMessage::new(id, 2, StreamContent::Fin),
    ]
}

#[test]
fn a_stream_reassembles_in_any_order() {
    let p = proposal(300, 4_000);
    let mut msgs = honest(&p);
    assert!(msgs.len() > 4, "the block spans several parts");
    msgs.reverse();
    let peer = peer(1);
    let mut s = Streams::new("c", limits(10_000));
    let mut out = None;
    for (i, m) in msgs.iter().enumerate() {
        let r = s.insert(peer, m.clone());
        if i + 1 < msgs.len() {
            assert!(r.is_none(), "complete before the last message");
        }
        out = r;
    }
    assert_eq!(out, Some(Ok(p.clone())));
    assert_eq!(s.held(), 0, "a completed stream holds nothing");
    // An empty block is one init part, the signed fin part and the end.
    let empty = proposal(0, 0);
    let msgs = honest(&empty);
    assert_eq!(msgs.len(), 3);
    let mut s = Streams::new("c", limits(10));
    assert_eq!(s.insert(peer, msgs[2].clone()), None);
    assert_eq!(s.insert(peer, msgs[1].clone()), None);
    assert_eq!(s.insert(peer, msgs[0].clone()), Some(Ok(empty)));
}

#[test]
fn incomplete_oversized_or_malformed_streams_yield_nothing() {
    let p = proposal(50, 20_000);
    let msgs = honest(&p);
    let peer = peer(1);
    // A missing part.
    let mut s = Streams::new("c", limits(10_000));
    for (i, m) in msgs.iter().enumerate() {
        if i != 1 {
            assert_eq!(s.insert(peer, m.clone()), None);
        }
    }
    // More transactions than a block may hold.
    let mut s = Streams::new("c", limits(10));
    assert!(matches!(feed(&mut s, peer, &msgs[..2]), Some(Err(StreamError::TooManyTxs { .. }))));
    // Two publishers' parts never mix.
    let mut s = Streams::new("c", limits(10_000));
    let other = self::peer(2);
    for (i, m) in msgs.iter().enumerate() {
        let who = if i % 2 == 0 { peer } else { other };
        assert_eq!(s.insert(who, m.clone()), None);
    }
    // A count that does not match the transactions sent.
    let lying = proposal(3, 0);
    let mut msgs = honest(&lying);
    if let StreamContent::Data(ProposalPart::Init(init)) = &mut msgs[0].content {
        init.tx_count = 4;
    }
    let mut s = Streams::new("c", limits(100));
    assert_eq!(
        feed(&mut s, peer, &msgs),
        Some(Err(StreamError::CountMismatch { announced: 4, carried: 3 }))
    );
    // A stream without the signed fin part.
    let mut msgs = honest(&lying);
    let n = msgs.len();
    msgs.remove(n - 2);
    msgs[n - 2].sequence -= 1;
    let mut s = Streams::new("c", limits(100));
    assert_eq!(feed(&mut s, peer, &msgs), Some(Err(StreamError::NoFin)));
}

#[test]
fn open_streams_are_bounded() {
    let mut s = Streams::new("c", limits(100));
    for i in 0..(MAX_STREAMS * 3) {
        let msgs = honest(&proposal(1, 0));
        assert_eq!(s.insert(peer(i as u8), msgs[0].clone()), None);
    }
    assert!(s.open.len() <= MAX_STREAMS);
    assert!(s.take_evicted() > 0);
}

#[test]
fn a_truncated_copy_of_an_honest_init_is_refused_and_the_honest_stream_still_completes() {
    let p = proposal(20, 100);
    let msgs = honest(&p);
    let attacker = Keypair::from_label("attacker");
    let mut s = Streams::new("c", limits(1_000));
    // Signed by the attacker while naming the round's proposer: the signature fails.
    let copy = truncated(&msgs[0], &attacker, None);
    assert_eq!(
        feed(&mut s, peer(9), &copy),
        Some(Err(StreamError::Signature { proposer: round_key().address() }))
    );
    // Naming itself: the signature holds, but the transactions are not the header's.
    let copy = truncated(&msgs[0], &attacker, Some(attacker.address()));
    assert!(matches!(feed(&mut s, peer(9), &copy), Some(Err(StreamError::TxRoot { .. }))));
    // Even the round's proposer cannot make a truncated stream count for the block.
    let copy = truncated(&msgs[0], &round_key(), None);
    assert!(matches!(feed(&mut s, peer(1), &copy), Some(Err(StreamError::TxRoot { .. }))));
    // The honest stream, arriving after every bad one, is whole.
    assert_eq!(feed(&mut s, peer(1), &msgs), Some(Ok(p)));
}

#[test]
fn a_stream_with_a_forged_seal_is_refused() {
    let mut p = proposal(2, 10);
    p.block.proposer_signature =
        Keypair::from_label("other").sign_payload(domain::BLOCK, "c", &p.block.hash());
    let mut s = Streams::new("c", limits(10));
    assert_eq!(
        feed(&mut s, peer(1), &honest(&p)),
        Some(Err(StreamError::Seal { block: p.block.hash() }))
    );
}

#[test]
fn only_the_rounds_proposer_may_sign_a_stream() {
    use cairn_types::consensus::{Validator, ValidatorSet};
    let p = proposal(1, 0);
    let keys: Vec<Keypair> =
        ["a", "b", "round-proposer", "d"].iter().map(|l| Keypair::from_label(l)).collect();
    let set = ValidatorSet::new(
        keys.iter().map(|k| Validator { address: k.address(), power: 10 }).collect(),
    )
    .unwrap();
    let expected = set.proposer(p.height, p.round).unwrap().address;
    let mut q = p.clone();
    q.proposer = expected;
    assert_eq!(check_round_proposer(&q, &set), Ok(()));
    let other = keys.iter().map(Keypair::address).find(|a| *a != expected).unwrap();
    q.proposer = other;
    assert_eq!(
        check_round_proposer(&q, &set),
        Err(StreamError::NotRoundProposer {
            claimed: other,
            expected: Some(expected),
            height: p.height,
            round: p.round
        })
    );
}

#[test]
fn a_stream_over_its_byte_cap_is_dropped() {
    let p = proposal(40, 20_000);
    let msgs = honest(&p);
    let mut s = Streams::new("c", Limits::new(1_000, 300_000, 10 << 20));
    let out = feed(&mut s, peer(1), &msgs);
    assert!(
        matches!(out, Some(Err(StreamError::StreamTooLarge { cap, .. })) if cap == 300_000 + STREAM_OVERHEAD),
        "{out:?}"
    );
    assert!(s.held() <= s.limits().stream_bytes);
}

#[test]
fn over_the_total_the_heaviest_publishers_oldest_stream_goes_first() {
    // Each stream fits its own cap; three of them do not fit the total.
    let limits = Limits::new(1_000, 700_000, 1_000_000);
    let mut s = Streams::new("c", limits);
    let mut flood = Vec::new();
    for round in 0..3u32 {
        let mut p = proposal(20, 20_000);
        p.round = round;
        let msgs = honest(&p);
        // Everything but the end: the streams stay open.
        flood.push(msgs[..msgs.len() - 1].to_vec());
    }
    let honest_p = proposal(3, 100);
    let honest_msgs = honest(&honest_p);
    // The honest publisher's stream starts first, then the flood.
    assert_eq!(s.insert(peer(1), honest_msgs[0].clone()), None);
    for msgs in &flood {
        for m in msgs {
            if let Some(r) = s.insert(peer(9), m.clone()) {
                assert!(matches!(r, Err(StreamError::Evicted { .. })), "{r:?}");
            }
            assert!(s.held() <= limits.total_bytes);
        }
    }
    assert!(s.take_evicted() > 0, "the flood's older streams were dropped");
    // The honest stream was never the one dropped.
    assert_eq!(feed(&mut s, peer(1), &honest_msgs[1..]), Some(Ok(honest_p)));
}

#[test]
fn reserved_bytes_count_against_the_total() {
    let limits = Limits::new(1_000, 700_000, 1_000_000);
    let mut s = Streams::new("c", limits);
    s.set_reserved(900_000);
    let msgs = honest(&proposal(20, 20_000));
    let out = feed(&mut s, peer(1), &msgs[..msgs.len() - 1]);
    assert!(matches!(out, Some(Err(StreamError::Evicted { .. }))), "{out:?}");
    assert!(s.held() + 900_000 <= limits.total_bytes);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever parts arrive from whom, in whatever order, reassembly never holds more than
    /// its total cap and only hands out streams that check out.
    #[test]
    fn arbitrary_parts_never_exceed_the_cap(
        ops in proptest::collection::vec((0u8..4, 0u32..3, 0u64..6, 0u8..5, 0usize..40), 1..120)
    ) {
        let limits = Limits::new(50, 200_000, 400_000);
        let mut s = Streams::new("c", limits);
        let base = proposal(30, 4_000);
        for (who, round, seq, kind, n) in ops {
            let content = match kind {
                0 => {
                    let mut p = base.clone();
                    p.round = round;
                    honest(&p)[0].content.clone()
                }
                1 => StreamContent::Data(ProposalPart::Txs(base.block.txs[..n.min(30)].to_vec())),
                2 => StreamContent::Data(ProposalPart::Fin(round_key().sign_raw(b"x"))),
                3 => StreamContent::Fin,
                _ => StreamContent::Data(ProposalPart::Txs(vec![tx(0, n * 1_000)])),
            };
            let r = s.insert(peer(who), StreamMessage::new(stream_id(4, round), seq, content));
            proptest::prop_assert!(s.held() <= limits.total_bytes);
            if let Some(Ok(p)) = r {
                proptest::prop_assert!(p.block.seal_is_valid("c"));
            }
        }
    }
}
