use super::*;
use crate::{Block, Certificate};

const CHAIN: &str = "cairn-consensus-test";

fn keys(n: usize) -> Vec<Keypair> {
    (0..n).map(|i| Keypair::from_label(&format!("validator-{i}"))).collect()
}

fn set_of(keys: &[Keypair], power: Power) -> ValidatorSet {
    ValidatorSet::new(keys.iter().map(|k| Validator { address: k.address(), power }).collect())
        .unwrap()
}

fn header(proposer: Address) -> BlockHeader {
    BlockHeader {
        height: 7,
        parent_hash: Hash::sha256(b"parent"),
        timestamp_ms: 1_000,
        proposer,
        epoch: 0,
        tx_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        state_root: Hash::sha256(b"state"),
    }
}

fn precommit(key: &Keypair, header: &BlockHeader, round: u32) -> CommitSignature {
    let vote = Vote {
        height: header.height,
        round,
        kind: VoteKind::Precommit,
        block: Some(header.hash()),
        validator: key.address(),
    };
    CommitSignature { validator: key.address(), signature: vote.sign(key, CHAIN) }
}

fn commit(signers: &[&Keypair], proposer: &Keypair, header: &BlockHeader, round: u32) -> Commit {
    Commit {
        round,
        proposer_signature: proposer.sign_payload(domain::BLOCK, CHAIN, &header.hash()),
        signatures: signers.iter().map(|k| precommit(k, header, round)).collect(),
    }
}

#[test]
fn set_is_sorted_by_power_then_address_and_rejects_bad_members() {
    let k = keys(3);
    let set = ValidatorSet::new(vec![
        Validator { address: k[0].address(), power: 1 },
        Validator { address: k[1].address(), power: 5 },
        Validator { address: k[2].address(), power: 1 },
    ])
    .unwrap();
    assert_eq!(set.validators()[0].address, k[1].address());
    assert!(set.validators()[1].address < set.validators()[2].address);
    assert_eq!(set.total_power(), 7);
    let dup = vec![
        Validator { address: k[0].address(), power: 1 },
        Validator { address: k[0].address(), power: 2 },
    ];
    assert_eq!(ValidatorSet::new(dup), Err(ValidatorSetError::Duplicate(k[0].address())));
    let zero = vec![Validator { address: k[0].address(), power: 0 }];
    assert_eq!(ValidatorSet::new(zero), Err(ValidatorSetError::ZeroPower(k[0].address())));
    let huge = vec![
        Validator { address: k[0].address(), power: MAX_TOTAL_POWER },
        Validator { address: k[1].address(), power: 1 },
    ];
    assert_eq!(ValidatorSet::new(huge), Err(ValidatorSetError::TooMuchPower));
}

#[test]
fn quorum_is_strictly_more_than_two_thirds() {
    let set = set_of(&keys(4), 10);
    assert!(!set.is_quorum(20));
    assert!(set.is_quorum(30));
    let set = set_of(&keys(3), 1);
    assert!(!set.is_quorum(2));
    assert!(set.is_quorum(3));
}

#[test]
fn proposers_rotate_through_the_set() {
    let set = set_of(&keys(4), 1);
    let at = |h, r| set.proposer(h, r).unwrap().address;
    assert_eq!(at(1, 0), set.validators()[1].address);
    assert_eq!(at(1, 1), at(2, 0));
    assert_ne!(at(1, 0), at(2, 0));
    assert_eq!(at(4, 0), set.validators()[0].address);
    assert!(ValidatorSet::default().proposer(1, 0).is_none());
}

#[test]
fn a_quorum_of_precommits_verifies() {
    let k = keys(4);
    let set = set_of(&k, 10);
    let h = header(k[2].address());
    let c = commit(&[&k[0], &k[1], &k[3]], &k[2], &h, 2);
    assert_eq!(c.verify(CHAIN, &set, &h), Ok(()));
    // The same commit does not verify for another chain, round or block.
    assert!(c.verify("other", &set, &h).is_err());
    let mut later = c.clone();
    later.round = 3;
    assert!(matches!(later.verify(CHAIN, &set, &h), Err(CommitError::BadSignature(_))));
    let mut other = h.clone();
    other.state_root = Hash::ZERO;
    assert!(c.verify(CHAIN, &set, &other).is_err());
}

#[test]
fn commits_without_quorum_or_with_bad_signers_fail() {
    let k = keys(4);
    let set = set_of(&k, 10);
    let h = header(k[0].address());
    let two = commit(&[&k[0], &k[1]], &k[0], &h, 0);
    assert_eq!(two.verify(CHAIN, &set, &h), Err(CommitError::NoQuorum { signed: 20, total: 40 }));

    let mut dup = commit(&[&k[0], &k[1], &k[2]], &k[0], &h, 0);
    dup.signatures[2] = dup.signatures[1];
    assert_eq!(dup.verify(CHAIN, &set, &h), Err(CommitError::DuplicateSigner(k[1].address())));

    let outsider = Keypair::from_label("outsider");
    let with_outsider = commit(&[&k[0], &k[1], &outsider], &k[0], &h, 0);
    assert_eq!(
        with_outsider.verify(CHAIN, &set, &h),
        Err(CommitError::UnknownSigner(outsider.address()))
    );

    let mut forged = commit(&[&k[0], &k[1], &k[2]], &k[0], &h, 0);
    forged.signatures[1].signature.0[5] ^= 1;
    assert_eq!(forged.verify(CHAIN, &set, &h), Err(CommitError::BadSignature(k[1].address())));

    let mut bad_seal = commit(&[&k[0], &k[1], &k[2]], &k[0], &h, 0);
    bad_seal.proposer_signature = k[1].sign_payload(domain::BLOCK, CHAIN, &h.hash());
    assert_eq!(bad_seal.verify(CHAIN, &set, &h), Err(CommitError::BadProposerSignature));

    let foreign = header(outsider.address());
    let c = commit(&[&k[0], &k[1], &k[2]], &outsider, &foreign, 0);
    assert_eq!(
        c.verify(CHAIN, &set, &foreign),
        Err(CommitError::UnknownProposer(outsider.address()))
    );
    assert_eq!(c.verify(CHAIN, &ValidatorSet::default(), &foreign), Err(CommitError::NoValidators));
}

/// Another valid signature of `msg` by `key`: the same secret scalar with another nonce
/// prefix. Ed25519 verification cannot tell it from the deterministic one.
fn signature_with_other_nonce(key: &Keypair, msg: &[u8]) -> crate::Signature {
    use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
    let mut esk = ExpandedSecretKey::from(&key.secret_bytes());
    esk.hash_prefix = crate::Hash::sha256(&esk.hash_prefix).0;
    let vk = ed25519_dalek::VerifyingKey::from(&esk);
    crate::Signature(raw_sign::<sha2::Sha512>(&esk, msg, &vk).to_bytes())
}

#[test]
fn entropy_of_a_bft_block_ignores_which_precommits_it_holds() {
    let k = keys(4);
    let h = header(k[1].address());
    let a = Block {
        header: h.clone(),
        txs: vec![],
        certificate: Certificate::Bft(commit(&[&k[0], &k[1], &k[2]], &k[1], &h, 0)),
    };
    let b = Block {
        header: h.clone(),
        txs: vec![],
        certificate: Certificate::Bft(commit(&[&k[1], &k[2], &k[3]], &k[1], &h, 0)),
    };
    assert_ne!(a.certificate, b.certificate);
    assert_eq!(a.entropy(), b.entropy());
    // It is the entropy the same block would have with the proposer's solo certificate.
    let solo = Block { certificate: Certificate::solo(&k[1], CHAIN, &h.hash()), ..a.clone() };
    assert_eq!(solo.entropy(), a.entropy());
    let set = set_of(&k, 1);
    assert_eq!(a.certificate.verify_block(CHAIN, &h, &set), Ok(()));
    assert!(a.certificate.verify(CHAIN, &h.hash()).is_err());
}

#[test]
fn entropy_of_a_block_is_the_same_whichever_valid_seal_its_proposer_handed_out() {
    let k = keys(4);
    let h = header(k[1].address());
    let a = Block {
        header: h.clone(),
        txs: vec![],
        certificate: Certificate::Bft(commit(&[&k[0], &k[1], &k[2]], &k[1], &h, 0)),
    };
    // The proposer signs the same header hash again with another nonce: a second seal that
    // verifies just as well (what a Byzantine builder sends to half the validators).
    let msg = crate::crypto::signing_message(crate::crypto::domain::BLOCK, CHAIN, &h.hash());
    let other = signature_with_other_nonce(&k[1], &msg);
    let mut b = a.clone();
    let Certificate::Bft(commit_b) = &mut b.certificate else { unreachable!() };
    assert_ne!(commit_b.proposer_signature, other);
    commit_b.proposer_signature = other;
    let set = set_of(&k, 1);
    assert_eq!(b.certificate.verify_block(CHAIN, &h, &set), Ok(()));
    assert_eq!(a.certificate.verify_block(CHAIN, &h, &set), Ok(()));
    assert_eq!(a.entropy(), b.entropy());
    // A solo certificate with the other seal: the same entropy as well.
    let solo = Block {
        certificate: Certificate::Solo { signer: k[1].address(), signature: other },
        ..a.clone()
    };
    assert_eq!(solo.certificate.verify(CHAIN, &h.hash()), Ok(()));
    assert_eq!(solo.entropy(), a.entropy());
    // And it still follows the header: another block, other entropy.
    let mut h2 = h.clone();
    h2.timestamp_ms += 1;
    assert_ne!(Block { header: h2, ..a.clone() }.entropy(), a.entropy());
}

fn vote(key: &Keypair, round: u32, kind: VoteKind, block: Option<Hash>) -> SignedVote {
    let vote = Vote { height: 9, round, kind, block, validator: key.address() };
    SignedVote { signature: vote.sign(key, CHAIN), vote }
}

#[test]
fn double_votes_prove_equivocation_only_when_they_conflict() {
    let k = Keypair::from_label("byzantine");
    let (x, y) = (Some(Hash::sha256(b"x")), Some(Hash::sha256(b"y")));
    let ev = DoubleVote {
        first: vote(&k, 1, VoteKind::Prevote, x),
        second: vote(&k, 1, VoteKind::Prevote, y),
    };
    assert_eq!(ev.verify(CHAIN), Ok(()));
    assert_eq!(ev.offender(), k.address());
    // Nil against a block is a conflict too.
    let nil = DoubleVote { second: vote(&k, 1, VoteKind::Prevote, None), ..ev.clone() };
    assert_eq!(nil.verify(CHAIN), Ok(()));

    let same = DoubleVote { second: ev.first.clone(), ..ev.clone() };
    assert_eq!(same.verify(CHAIN), Err(EvidenceError::SameBlock));
    let rounds = DoubleVote { second: vote(&k, 2, VoteKind::Prevote, y), ..ev.clone() };
    assert_eq!(rounds.verify(CHAIN), Err(EvidenceError::DifferentSlots));
    let steps = DoubleVote { second: vote(&k, 1, VoteKind::Precommit, y), ..ev.clone() };
    assert_eq!(steps.verify(CHAIN), Err(EvidenceError::DifferentSlots));
    let other = Keypair::from_label("honest");
    let two = DoubleVote { second: vote(&other, 1, VoteKind::Prevote, y), ..ev.clone() };
    assert_eq!(two.verify(CHAIN), Err(EvidenceError::DifferentValidators));
    let mut forged = ev.clone();
    forged.second.signature.0[0] ^= 1;
    assert!(matches!(forged.verify(CHAIN), Err(EvidenceError::BadSignature(_))));
    assert!(ev.verify("other-chain").is_err());
}
