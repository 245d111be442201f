//! The consensus vocabulary every node must agree on, independent of the engine that runs it:
//! validator sets, the canonical bytes of votes and proposals and their signatures, commit
//! certificates of BFT blocks, and equivocation evidence.
//!
//! The BFT adapter (`cairn-consensus`) signs exactly these messages, so a commit certificate
//! stored with a block, or two conflicting votes handed in as evidence, can be checked here
//! without the engine.

use crate::crypto::{self, BatchItem, Signature, domain, signing_message};
use crate::{Address, BlockHeader, Hash, Height, Keypair};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Voting power. The validator set keeps the total below `u64::MAX / 3` so quorum
/// arithmetic cannot overflow.
pub type Power = u64;

/// Largest total voting power of a set (so `3 × total` fits a `u64`).
pub const MAX_TOTAL_POWER: Power = u64::MAX / 4;

/// One validator and its voting power.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Validator {
    pub address: Address,
    pub power: Power,
}

/// The validators that certify a height, in canonical order: power descending, then address
/// ascending. Addresses are unique and every power is positive.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
}

/// Why a list of validators is not a valid set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    #[error("validator {0} appears more than once")]
    Duplicate(Address),
    #[error("validator {0} has no voting power")]
    ZeroPower(Address),
    #[error("total voting power exceeds {MAX_TOTAL_POWER}")]
    TooMuchPower,
}

impl ValidatorSet {
    /// Builds a set from validators in any order; sorts them canonically.
    pub fn new(mut validators: Vec<Validator>) -> Result<ValidatorSet, ValidatorSetError> {
        let mut seen = BTreeSet::new();
        let mut total: Power = 0;
        for v in &validators {
            if !seen.insert(v.address) {
                return Err(ValidatorSetError::Duplicate(v.address));
            }
            if v.power == 0 {
                return Err(ValidatorSetError::ZeroPower(v.address));
            }
            total = total
                .checked_add(v.power)
                .filter(|t| *t <= MAX_TOTAL_POWER)
                .ok_or(ValidatorSetError::TooMuchPower)?;
        }
        validators.sort_by(|a, b| b.power.cmp(&a.power).then(a.address.cmp(&b.address)));
        Ok(ValidatorSet { validators })
    }

    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    pub fn len(&self) -> usize {
        self.validators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    pub fn get(&self, address: &Address) -> Option<&Validator> {
        self.validators.iter().find(|v| v.address == *address)
    }

    pub fn total_power(&self) -> Power {
        self.validators.iter().map(|v| v.power).sum()
    }

    /// Whether `power` is a quorum: strictly more than two thirds of the total.
    pub fn is_quorum(&self, power: Power) -> bool {
        // total ≤ MAX_TOTAL_POWER, so neither side overflows.
        power.saturating_mul(3) > self.total_power().saturating_mul(2)
    }

    /// The proposer of `round` at `height`: round-robin over the canonical order.
    pub fn proposer(&self, height: Height, round: u32) -> Option<&Validator> {
        let n = self.validators.len() as u64;
        if n == 0 {
            return None;
        }
        let index = height.wrapping_add(u64::from(round)) % n;
        self.validators.get(index as usize)
    }
}

/// The two voting steps of a round.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    Prevote,
    Precommit,
}

/// A vote as signed under `cairn/vote/v1`: a validator's prevote or precommit for a block
/// hash (`None` is a vote for nothing) at a height and round.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Vote {
    pub height: Height,
    pub round: u32,
    pub kind: VoteKind,
    pub block: Option<Hash>,
    pub validator: Address,
}

impl Vote {
    pub fn signing_message(&self, chain_id: &str) -> Vec<u8> {
        signing_message(domain::VOTE, chain_id, self)
    }

    pub fn sign(&self, key: &Keypair, chain_id: &str) -> Signature {
        key.sign_raw(&self.signing_message(chain_id))
    }
}

/// A vote and its signature by the validator it names.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct SignedVote {
    pub vote: Vote,
    pub signature: Signature,
}

impl SignedVote {
    pub fn verify(&self, chain_id: &str) -> Result<(), crypto::BadSignature> {
        crypto::verify(&self.vote.validator, &self.signature, &self.vote.signing_message(chain_id))
    }
}

/// A proposal as signed under `cairn/proposal/v1`: the round's proposer names the block it
/// proposes and the round of the proof of lock it re-proposes from, if any.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Proposal {
    pub height: Height,
    pub round: u32,
    pub block: Hash,
    pub pol_round: Option<u32>,
    pub proposer: Address,
}

impl Proposal {
    pub fn signing_message(&self, chain_id: &str) -> Vec<u8> {
        signing_message(domain::PROPOSAL, chain_id, self)
    }
}

/// One precommit signature in a commit certificate.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct CommitSignature {
    pub validator: Address,
    pub signature: Signature,
}

/// Why a commit certificate does not prove a block final.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("there is no validator set to check the certificate against")]
    NoValidators,
    #[error("proposer {0} is not a validator at this height")]
    UnknownProposer(Address),
    #[error("the proposer's signature over the block does not verify")]
    BadProposerSignature,
    #[error("{0} signed but is not a validator at this height")]
    UnknownSigner(Address),
    #[error("{0} signed more than once")]
    DuplicateSigner(Address),
    #[error("the precommit of {0} does not verify")]
    BadSignature(Address),
    #[error("signers hold {signed} of {total} voting power; more than two thirds is needed")]
    NoQuorum { signed: Power, total: Power },
}

/// What makes a BFT block final: the round it was decided in, the proposer's signature over
/// the block hash (under `cairn/block/v1`, the same bytes a solo certificate signs), and the
/// precommits of more than two thirds of the voting power, sorted by validator.
///
/// Different nodes may hold different (equally valid) sets of precommits for the same block,
/// and even different (equally valid) proposer signatures: ed25519 lets a signer make many
/// signatures of one message. Neither enters the chain entropy, which hashes the block hash
/// alone (see [`crate::Block::entropy`]).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Commit {
    pub round: u32,
    pub proposer_signature: Signature,
    pub signatures: Vec<CommitSignature>,
}

impl Commit {
    /// Checks that the signatures are precommits for the block of `header` at its height and
    /// this round by distinct members of `set` holding more than two thirds of its power, and
    /// that the proposer named in the header is a member and signed the block hash. Every
    /// signature is verified, in one batch.
    pub fn verify(
        &self,
        chain_id: &str,
        set: &ValidatorSet,
        header: &BlockHeader,
    ) -> Result<(), CommitError> {
        if set.is_empty() {
            return Err(CommitError::NoValidators);
        }
        let proposer = &header.proposer;
        if set.get(proposer).is_none() {
            return Err(CommitError::UnknownProposer(*proposer));
        }
        let mut seen = BTreeSet::new();
        let mut signed: Power = 0;
        for c in &self.signatures {
            let v = set.get(&c.validator).ok_or(CommitError::UnknownSigner(c.validator))?;
            if !seen.insert(c.validator) {
                return Err(CommitError::DuplicateSigner(c.validator));
            }
            signed = signed.saturating_add(v.power);
        }
        if !set.is_quorum(signed) {
            return Err(CommitError::NoQuorum { signed, total: set.total_power() });
        }
        let block = header.hash();
        let proposer_msg = signing_message(domain::BLOCK, chain_id, &block);
        let messages: Vec<Vec<u8>> = self
            .signatures
            .iter()
            .map(|c| {
                Vote {
                    height: header.height,
                    round: self.round,
                    kind: VoteKind::Precommit,
                    block: Some(block),
                    validator: c.validator,
                }
                .signing_message(chain_id)
            })
            .collect();
        let mut items: Vec<BatchItem<'_>> =
            vec![(proposer, &self.proposer_signature, proposer_msg.as_slice())];
        items.extend(
            self.signatures
                .iter()
                .zip(&messages)
                .map(|(c, m)| (&c.validator, &c.signature, m.as_slice())),
        );
        let verdicts = crypto::verify_batch(&items);
        if !verdicts.first().copied().unwrap_or(false) {
            return Err(CommitError::BadProposerSignature);
        }
        for (c, ok) in self.signatures.iter().zip(verdicts.iter().skip(1)) {
            if !ok {
                return Err(CommitError::BadSignature(c.validator));
            }
        }
        Ok(())
    }
}

/// Proof that a validator signed two different votes for the same height, round and step.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct DoubleVote {
    pub first: SignedVote,
    pub second: SignedVote,
}

/// Why equivocation evidence proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("the two votes are by different validators")]
    DifferentValidators,
    #[error("the two votes are for different heights, rounds or steps")]
    DifferentSlots,
    #[error("the two votes are for the same block")]
    SameBlock,
    #[error(transparent)]
    BadSignature(#[from] crypto::BadSignature),
}

impl DoubleVote {
    /// The validator the evidence accuses.
    pub fn offender(&self) -> Address {
        self.first.vote.validator
    }

    /// Stateless checks: same validator, height, round and step; different blocks; both
    /// signatures valid.
    pub fn verify(&self, chain_id: &str) -> Result<(), EvidenceError> {
        self.check_shape()?;
        self.first.verify(chain_id)?;
        self.second.verify(chain_id)?;
        Ok(())
    }

    /// The checks of [`DoubleVote::verify`] except the signatures (which the node verifies
    /// in batches with the rest of a transaction's).
    pub fn check_shape(&self) -> Result<(), EvidenceError> {
        let (a, b) = (&self.first.vote, &self.second.vote);
        if a.validator != b.validator {
            return Err(EvidenceError::DifferentValidators);
        }
        if a.height != b.height || a.round != b.round || a.kind != b.kind {
            return Err(EvidenceError::DifferentSlots);
        }
        if a.block == b.block {
            return Err(EvidenceError::SameBlock);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
