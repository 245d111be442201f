#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::context::{BlockId, Height, ValidatorAddress};
use cairn_types::Hash;
use malachitebft_app_channel::app::types::core::{NilOrVal, Round, VoteType};

const CHAIN: &str = "cairn-signing-test";

fn vote(key: &Keypair) -> Vote {
    Vote {
        height: Height(3),
        round: Round::new(1),
        value: NilOrVal::Val(BlockId(Hash::sha256(b"block"))),
        kind: VoteType::Precommit,
        validator: ValidatorAddress(key.address()),
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}

#[test]
fn engine_signatures_are_cairn_signatures_and_verify() {
    let key = Keypair::from_label("validator");
    let signer = CairnSigner::new(&key, CHAIN);
    let verifier = ChainVerifier::new(CHAIN);
    let v = vote(&key);
    let signed = block_on(signer.sign_vote(v.clone())).unwrap();
    // The same bytes Cairn's own key produces for the same vote (ed25519 is deterministic).
    let cairn = v.to_cairn().unwrap().sign(&key, CHAIN);
    assert_eq!(signed.signature.to_bytes(), cairn.0);
    let pk = signer.public_key();
    assert!(block_on(verifier.verify_signed_vote(&v, &signed.signature, &pk)).unwrap().is_valid());

    let mut other = v.clone();
    other.round = Round::new(2);
    assert!(
        block_on(verifier.verify_signed_vote(&other, &signed.signature, &pk)).unwrap().is_invalid()
    );
    let elsewhere = ChainVerifier::new("another-chain");
    assert!(
        block_on(elsewhere.verify_signed_vote(&v, &signed.signature, &pk)).unwrap().is_invalid()
    );
    // A key that is not the vote's validator never verifies it.
    let stranger = CairnSigner::new(&Keypair::from_label("stranger"), CHAIN);
    let forged = block_on(stranger.sign_vote(v.clone())).unwrap();
    assert!(
        block_on(verifier.verify_signed_vote(&v, &forged.signature, &stranger.public_key()))
            .unwrap()
            .is_invalid()
    );
}

#[test]
fn proposals_and_validator_proofs_verify_only_as_signed() {
    let key = Keypair::from_label("proposer");
    let signer = CairnSigner::new(&key, CHAIN);
    let verifier = ChainVerifier::new(CHAIN);
    let p = Proposal {
        height: Height(9),
        round: Round::new(0),
        value: BlockId(Hash::sha256(b"b")),
        pol_round: Round::Nil,
        proposer: ValidatorAddress(key.address()),
    };
    let signed = block_on(signer.sign_proposal(p.clone())).unwrap();
    let pk = signer.public_key();
    assert!(
        block_on(verifier.verify_signed_proposal(&p, &signed.signature, &pk)).unwrap().is_valid()
    );
    let relocked = Proposal { pol_round: Round::new(0), ..p.clone() };
    assert!(
        block_on(verifier.verify_signed_proposal(&relocked, &signed.signature, &pk))
            .unwrap()
            .is_invalid()
    );

    let proof =
        block_on(signer.sign_validator_proof(pk.as_bytes().to_vec(), vec![1, 2, 3])).unwrap();
    assert!(block_on(verifier.verify_validator_proof(&proof)).unwrap().is_valid());
    let mut bad = proof.clone();
    bad.peer_id = vec![9];
    assert!(block_on(verifier.verify_validator_proof(&bad)).unwrap().is_invalid());
    bad.public_key = vec![0; 3];
    assert!(block_on(verifier.verify_validator_proof(&bad)).unwrap().is_invalid());
}

#[test]
fn messages_without_a_round_are_neither_signed_nor_accepted() {
    let key = Keypair::from_label("validator");
    let signer = CairnSigner::new(&key, CHAIN);
    let mut v = vote(&key);
    v.round = Round::Nil;
    assert!(block_on(signer.sign_vote(v.clone())).is_err());
    let sig = malachitebft_signing_ed25519::Signature::from_bytes([0; 64]);
    let verifier = ChainVerifier::new(CHAIN);
    assert!(
        block_on(verifier.verify_signed_vote(&v, &sig, &signer.public_key())).unwrap().is_invalid()
    );
}
