//! Cairn's instance of the engine's `Context`: heights, addresses, validator sets, the value
//! consensus votes on (a block hash), votes, proposals and proposal parts.
//!
//! Each type is a thin wrapper over the `cairn_types` one, so the bytes that get signed are
//! Cairn's own (`cairn_types::consensus::{Vote, Proposal}`) and a commit certificate can be
//! checked without the engine.

use crate::parts::ProposalPart;
use cairn_types::consensus as cc;
use cairn_types::{Address, Hash};
use malachitebft_app_channel::app::types::core::{
    self as mc, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType,
};
use malachitebft_signing_ed25519::{Ed25519, PublicKey};
use std::fmt;
use std::sync::Arc;

/// A block height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator address (its ed25519 public key), shown as bech32m.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorAddress(pub Address);

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Address for ValidatorAddress {}

/// The value consensus decides on: the hash of a block header. It is also its own id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub Hash);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

/// A member of the validator set, with its key in the engine's form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub address: ValidatorAddress,
    pub public_key: PublicKey,
    pub power: u64,
}

impl mc::Validator<CairnContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> u64 {
        self.power
    }
}

/// A validator set that is never empty: the engine asks for "the" proposer of any round,
/// and a type that always holds a first member answers without a failure path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    first: Validator,
    rest: Vec<Validator>,
}

/// Why a state machine validator set cannot be handed to the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("the validator set is empty")]
    Empty,
    #[error("validator {0} has a key that is not a curve point")]
    BadKey(Address),
}

impl ValidatorSet {
    /// Converts the state machine's set (already in canonical order).
    pub fn from_set(set: &cc::ValidatorSet) -> Result<ValidatorSet, SetError> {
        let mut members = Vec::with_capacity(set.len());
        for v in set.validators() {
            let public_key =
                PublicKey::from_bytes(v.address.0).map_err(|_| SetError::BadKey(v.address))?;
            members.push(Validator {
                address: ValidatorAddress(v.address),
                public_key,
                power: v.power,
            });
        }
        let mut members = members.into_iter();
        let first = members.next().ok_or(SetError::Empty)?;
        Ok(ValidatorSet { first, rest: members.collect() })
    }

    fn get(&self, index: usize) -> Option<&Validator> {
        match index {
            0 => Some(&self.first),
            i => self.rest.get(i - 1),
        }
    }
}

impl mc::ValidatorSet<CairnContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.rest.len() + 1
    }

    fn total_voting_power(&self) -> u64 {
        self.rest.iter().fold(self.first.power, |t, v| t.saturating_add(v.power))
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        std::iter::once(&self.first).chain(&self.rest).find(|v| v.address == *address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.get(index)
    }
}

/// A prevote or precommit. Vote extensions are not used: a vote never carries one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    pub height: Height,
    pub round: Round,
    pub value: NilOrVal<BlockId>,
    pub kind: VoteType,
    pub validator: ValidatorAddress,
}

impl Vote {
    /// The Cairn vote this engine vote stands for, or `None` for a vote with no round
    /// (which the engine never makes and which therefore never verifies).
    pub fn to_cairn(&self) -> Option<cc::Vote> {
        Some(cc::Vote {
            height: self.height.0,
            round: self.round.as_u32()?,
            kind: match self.kind {
                VoteType::Prevote => cc::VoteKind::Prevote,
                VoteType::Precommit => cc::VoteKind::Precommit,
            },
            block: match self.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(id) => Some(id.0),
            },
            validator: self.validator.0,
        })
    }

    pub fn from_cairn(v: &cc::Vote) -> Vote {
        Vote {
            height: Height(v.height),
            round: Round::new(v.round),
            value: match v.block {
                None => NilOrVal::Nil,
                Some(h) => NilOrVal::Val(BlockId(h)),
            },
            kind: match v.kind {
                cc::VoteKind::Prevote => VoteType::Prevote,
                cc::VoteKind::Precommit => VoteType::Precommit,
            },
            validator: ValidatorAddress(v.validator),
        }
    }
}

impl mc::Vote<CairnContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.kind
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<CairnContext>> {
        None
    }

    fn take_extension(&mut self) -> Option<SignedExtension<CairnContext>> {
        None
    }

    fn extend(self, _extension: SignedExtension<CairnContext>) -> Self {
        self
    }
}

/// A proposal: the round's proposer names the block it proposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub height: Height,
    pub round: Round,
    pub value: BlockId,
    pub pol_round: Round,
    pub proposer: ValidatorAddress,
}

impl Proposal {
    /// The Cairn proposal this engine proposal stands for (`None` without a round).
    pub fn to_cairn(&self) -> Option<cc::Proposal> {
        Some(cc::Proposal {
            height: self.height.0,
            round: self.round.as_u32()?,
            block: self.value.0,
            pol_round: self.pol_round.as_u32(),
            proposer: self.proposer.0,
        })
    }

    pub fn from_cairn(p: &cc::Proposal) -> Proposal {
        Proposal {
            height: Height(p.height),
            round: Round::new(p.round),
            value: BlockId(p.block),
            pol_round: p.pol_round.map_or(Round::Nil, Round::new),
            proposer: ValidatorAddress(p.proposer),
        }
    }
}

impl mc::Proposal<CairnContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// The context: the chain id (every signature is bound to it) and the types above.
#[derive(Clone, Debug)]
pub struct CairnContext {
    chain_id: Arc<str>,
}

impl CairnContext {
    pub fn new(chain_id: &str) -> CairnContext {
        CairnContext { chain_id: Arc::from(chain_id) }
    }

    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }
}

impl mc::Context for CairnContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Round-robin over the canonical order, the same rule as
    /// [`cairn_types::consensus::ValidatorSet::proposer`].
    fn select_proposer<'a>(
        &self,
        set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let n = set.rest.len() as u64 + 1;
        let round = u64::from(round.as_u32().unwrap_or(0));
        let index = height.0.wrapping_add(round) % n;
        set.get(index as usize).unwrap_or(&set.first)
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal { height, round, value, pol_round, proposer: address }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote { height, round, value: value_id, kind: VoteType::Prevote, validator: address }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote { height, round, value: value_id, kind: VoteType::Precommit, validator: address }
    }
}
