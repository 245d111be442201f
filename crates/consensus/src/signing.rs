//! Signing and verification of consensus messages over Cairn's canonical bytes.
//!
//! The signer holds the validator's ed25519 key in the engine's form (`ed25519-consensus`);
//! verification goes through `cairn_types::crypto` (ed25519-zebra), the ZIP-215 rules every
//! other Cairn signature is checked under. ed25519 signing is deterministic, so both
//! libraries give the same signature for the same key and message.

use crate::context::{CairnContext, Proposal, Vote};
use async_trait::async_trait;
use cairn_types::crypto::{self, Signature as CairnSignature};
use cairn_types::{Address, Keypair};
use malachitebft_app_channel::app::types::core::{
    SignedMessage, ValidatorProof, VoteExtensionScope,
};
use malachitebft_signing::{Error, Signer, VerificationResult, Verifier};
use malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};

/// Signs as one validator.
#[derive(Clone)]
pub struct CairnSigner {
    key: PrivateKey,
    chain_id: String,
}

impl CairnSigner {
    pub fn new(key: &Keypair, chain_id: &str) -> CairnSigner {
        CairnSigner { key: PrivateKey::from(key.secret_bytes()), chain_id: chain_id.to_string() }
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }
}

fn no_round() -> Error {
    Error::from_source(std::io::Error::other("a consensus message without a round"))
}

#[async_trait]
impl Signer<CairnContext> for CairnSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<CairnContext, Vote>, Error> {
        let msg = vote.to_cairn().ok_or_else(no_round)?.signing_message(&self.chain_id);
        Ok(SignedMessage::new(vote, self.key.sign(&msg)))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<CairnContext, Proposal>, Error> {
        let msg = proposal.to_cairn().ok_or_else(no_round)?.signing_message(&self.chain_id);
        Ok(SignedMessage::new(proposal, self.key.sign(&msg)))
    }

    async fn sign_vote_extension(
        &self,
        _scope: VoteExtensionScope<CairnContext>,
        _extension: (),
    ) -> Result<SignedMessage<CairnContext, ()>, Error> {
        Err(Error::from_source(std::io::Error::other("Cairn votes carry no extensions")))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<CairnContext>, Error> {
        let preimage = ValidatorProof::<CairnContext>::signing_bytes(&public_key, &peer_id);
        let signature = self.key.sign(&preimage);
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Verifies the consensus signatures of one chain with ed25519-zebra (ZIP-215).
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    chain_id: String,
}

impl ChainVerifier {
    pub fn new(chain_id: &str) -> ChainVerifier {
        ChainVerifier { chain_id: chain_id.to_string() }
    }
}

fn check(public_key: &PublicKey, signature: &Signature, msg: &[u8]) -> VerificationResult {
    let signer = Address(*public_key.as_bytes());
    let sig = CairnSignature(signature.to_bytes());
    VerificationResult::from_bool(crypto::verify(&signer, &sig, msg).is_ok())
}

#[async_trait]
impl Verifier<CairnContext> for ChainVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(match vote.to_cairn() {
            Some(v) if v.validator.0 == *public_key.as_bytes() => {
                check(public_key, signature, &v.signing_message(&self.chain_id))
            }
            _ => VerificationResult::Invalid,
        })
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(match proposal.to_cairn() {
            Some(p) if p.proposer.0 == *public_key.as_bytes() => {
                check(public_key, signature, &p.signing_message(&self.chain_id))
            }
            _ => VerificationResult::Invalid,
        })
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &VoteExtensionScope<CairnContext>,
        _extension: &(),
        _signature: &Signature,
        _public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::Invalid)
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<CairnContext>,
    ) -> Result<VerificationResult, Error> {
        let Ok(key) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        let Ok(public_key) = PublicKey::from_bytes(key) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(check(&public_key, &proof.signature, &proof.preimage()))
    }
}

#[cfg(test)]
mod tests;
