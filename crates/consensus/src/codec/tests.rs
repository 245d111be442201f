#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::parts::{ProposalInit, ProposedBlock};
use cairn_types::{BlockHeader, Keypair};
use proptest::prelude::*;

fn sig(seed: u8) -> Signature {
    Signature::from_bytes([seed; 64])
}

fn addr(seed: u8) -> ValidatorAddress {
    ValidatorAddress(Keypair::from_label(&format!("v{seed}")).address())
}

fn block_id(seed: u8) -> BlockId {
    BlockId(Hash::sha256(&[seed]))
}

fn vote(kind: VoteType, value: NilOrVal<BlockId>) -> SignedMessage<CairnContext, Vote> {
    SignedMessage::new(
        Vote { height: Height(7), round: Round::new(2), value, kind, validator: addr(1) },
        sig(3),
    )
}

fn round_trip<T>(msg: &T) -> T
where
    CairnCodec: Codec<T, Error = CodecError>,
{
    let bytes = CairnCodec.encode(msg).unwrap();
    CairnCodec.decode(bytes).unwrap()
}

#[test]
fn consensus_and_liveness_messages_round_trip() {
    for v in [
        vote(VoteType::Prevote, NilOrVal::Nil),
        vote(VoteType::Precommit, NilOrVal::Val(block_id(1))),
    ] {
        let m = SignedConsensusMsg::Vote(v.clone());
        assert_eq!(round_trip(&m), m);
        let l = LivenessMsg::Vote(v);
        assert_eq!(round_trip(&l), l);
    }
    let p = SignedConsensusMsg::Proposal(SignedMessage::new(
        Proposal {
            height: Height(7),
            round: Round::new(3),
            value: block_id(2),
            pol_round: Round::new(1),
            proposer: addr(2),
        },
        sig(4),
    ));
    assert_eq!(round_trip(&p), p);
    let polka = PolkaCertificate {
        height: Height(7),
        round: Round::new(1),
        value_id: block_id(5),
        polka_signatures: vec![
            PolkaSignature::new(addr(1), sig(1)),
            PolkaSignature::new(addr(2), sig(2)),
        ],
    };
    assert_eq!(round_trip(&polka), polka);
    let l = LivenessMsg::PolkaCertificate(polka);
    assert_eq!(round_trip(&l), l);
    for cert_type in [RoundCertificateType::Skip, RoundCertificateType::Precommit] {
        let c = LivenessMsg::SkipRoundCertificate(RoundCertificate {
            height: Height(7),
            round: Round::new(4),
            cert_type,
            round_signatures: vec![RoundSignature {
                vote_type: VoteType::Prevote,
                value_id: NilOrVal::Val(block_id(6)),
                address: addr(3),
                signature: sig(9),
            }],
        });
        assert_eq!(round_trip(&c), c);
    }
}

fn part() -> ProposalPart {
    let key = Keypair::from_label("builder");
    let header = BlockHeader {
        height: 7,
        parent_hash: Hash::ZERO,
        timestamp_ms: 5,
        proposer: key.address(),
        epoch: 0,
        tx_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        state_root: Hash::ZERO,
    };
    let b = ProposedBlock::seal(&key, "c", header, vec![]);
    ProposalPart::Init(Box::new(ProposalInit {
        height: 7,
        round: 0,
        pol_round: None,
        proposer: key.address(),
        header: b.header,
        proposer_signature: b.proposer_signature,
        tx_count: 0,
    }))
}

#[test]
fn streams_proofs_and_wal_entries_round_trip() {
    let id = StreamId::new(Bytes::from_static(b"stream"));
    for content in [StreamContent::Data(part()), StreamContent::Fin] {
        let m = StreamMessage::new(id.clone(), 3, content);
        assert_eq!(round_trip(&m), m);
    }
    assert_eq!(round_trip(&part()), part());
    let proof = ValidatorProof::<CairnContext>::new(vec![1; 32], vec![2; 38], sig(5));
    assert_eq!(round_trip(&proof), proof);
    for (round, valid_round, validity) in [
        (Round::new(0), Round::Nil, Validity::Valid),
        (Round::new(5), Round::new(2), Validity::Invalid),
    ] {
        let v = ProposedValue {
            height: Height(9),
            round,
            valid_round,
            proposer: addr(4),
            value: block_id(9),
            validity,
        };
        assert_eq!(round_trip(&v), v);
    }
}

fn peer() -> PeerId {
    PeerId::from_bytes(&[&[0x00u8, 0x20][..], &[7u8; 32]].concat()).unwrap()
}

#[test]
fn sync_messages_round_trip() {
    let status = Status::<CairnContext> {
        peer_id: peer(),
        tip_height: Height(40),
        history_min_height: Height(1),
    };
    assert_eq!(round_trip(&status), status);
    let req = Request::<CairnContext>::ValueRequest(ValueRequest::new(Height(3)..=Height(9)));
    assert_eq!(round_trip(&req), req);
    let cert = ExtendedCommitCertificate {
        height: Height(3),
        round: Round::new(0),
        value_id: block_id(3),
        commit_signatures: vec![ExtendedCommitSignature::new(addr(1), sig(1), None)],
    };
    let resp = Response::ValueResponse(ValueResponse::new(
        Height(3),
        vec![RawDecidedValue::new(Bytes::from_static(b"block bytes"), cert)],
    ));
    assert_eq!(round_trip(&resp), resp);
    let len = CairnCodec.encoded_len(&resp).unwrap();
    assert_eq!(len, CairnCodec.encode(&resp).unwrap().len());
}

#[test]
fn trailing_bytes_and_bad_tags_are_refused() {
    let m = SignedConsensusMsg::Vote(vote(VoteType::Prevote, NilOrVal::Nil));
    let mut bytes = CairnCodec.encode(&m).unwrap().to_vec();
    bytes.push(0);
    assert!(
        Codec::<SignedConsensusMsg<CairnContext>>::decode(&CairnCodec, Bytes::from(bytes)).is_err()
    );
    let bad_tag = Bytes::from_static(&[9, 0, 0]);
    assert!(
        Codec::<SignedConsensusMsg<CairnContext>>::decode(&CairnCodec, bad_tag.clone()).is_err()
    );
    assert!(Codec::<LivenessMsg<CairnContext>>::decode(&CairnCodec, bad_tag).is_err());
    let bad_peer = CairnCodec
        .encode(&Status::<CairnContext> {
            peer_id: peer(),
            tip_height: Height(1),
            history_min_height: Height(1),
        })
        .unwrap()
        .to_vec();
    let mut corrupted = bad_peer.clone();
    corrupted[4] = 0x55; // the multihash code
    assert!(Codec::<Status<CairnContext>>::decode(&CairnCodec, Bytes::from(corrupted)).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Bytes from the network never panic the decoders.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let b = Bytes::from(bytes);
        let _ = Codec::<SignedConsensusMsg<CairnContext>>::decode(&CairnCodec, b.clone());
        let _ = Codec::<LivenessMsg<CairnContext>>::decode(&CairnCodec, b.clone());
        let _ = Codec::<StreamMessage<ProposalPart>>::decode(&CairnCodec, b.clone());
        let _ = Codec::<ValidatorProof<CairnContext>>::decode(&CairnCodec, b.clone());
        let _ = Codec::<Status<CairnContext>>::decode(&CairnCodec, b.clone());
        let _ = Codec::<Request<CairnContext>>::decode(&CairnCodec, b.clone());
        let _ = Codec::<Response<CairnContext>>::decode(&CairnCodec, b.clone());
        let _ = Codec::<ProposedValue<CairnContext>>::decode(&CairnCodec, b.clone());
        let _ = Codec::<PolkaCertificate<CairnContext>>::decode(&CairnCodec, b);
    }
}
