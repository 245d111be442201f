//! Governance: vote-escrowed positions, proposals and votes (the transactions `Lock`,
//! `Unlock`, `Propose`, `Vote`), and the tally at the epoch boundary ([`tally`]).
//!
//! - A position is the CRN an owner locked for voting power
//!   ([`cairn_types::gov::voting_power`]). Its record keeps, besides the current position,
//!   the earlier ones an open proposal may still read: a vote counts the position as it
//!   stood before the proposal's block (the snapshot), so locking after a proposal opens
//!   adds nothing to it.
//! - A proposal locks its deposit, takes votes while the epoch is below its end epoch, and
//!   is tallied at the end epoch's first block by [`tally::Governance`]; a passed proposal's
//!   action is applied there.
//! - Every CRN locked or deposited stays in the supply: [`GovState`] counts it, and the
//!   supply identity adds `locked + deposits` to the balances.
//!
//! Rules, parameters and reason codes: docs/protocol.md, "Governance"; the choices:
//! docs/adr/0026-governance.md.

pub mod tally;

#[cfg(test)]
mod tests;

use crate::accounts;
use crate::handler::{Handled, TxCx, TxHandler};
use crate::state_key;
use borsh::{BorshDeserialize, BorshSerialize};
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::gov::{
    MAX_PARAM_CHANGES, MAX_TEXT_BYTES, MAX_TITLE_BYTES, ParamError, Position, Proposal,
    ProposalAction, ProposalStatus, Tally, Upgrade, Vote as Ballot, VoteChoice, parse_version,
    voting_power,
};
use cairn_types::tx::StatelessError;
use cairn_types::{Address, Amount, Height, Params, TxFailure, TxOutcome, UNITS_PER_CRN};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Governance's refusals. Each becomes the [`TxFailure`] of the same name in the receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovError {
    #[error("{voter} had no voting power at the start of proposal {proposal}")]
    NoVotingPower { voter: Address, proposal: u64 },
    #[error("voting on proposal {proposal} ended at epoch {end_epoch}")]
    VotingPeriodOver { proposal: u64, end_epoch: u64 },
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("no proposal {proposal}")]
    UnknownProposal { proposal: u64 },
    #[error("a deposit of {deposit} is below the minimum {min}")]
    DepositTooSmall { deposit: Amount, min: Amount },
    #[error("a lock of {epochs} epochs and {amount} must be 1 to {max} epochs")]
    BadLock { amount: Amount, epochs: u64, max: u64 },
    #[error("{owner} has no governance position")]
    NoPosition { owner: Address },
    #[error("the position is locked until epoch {end_epoch}")]
    StillLocked { end_epoch: u64 },
    #[error("proposal refused: {reason}")]
    BadProposal { reason: String },
    /// A refusal of the accounts (the balance does not cover a lock or a deposit).
    #[error(transparent)]
    Account(#[from] crate::accounts::AccountsError),
}

impl From<GovError> for TxFailure {
    fn from(e: GovError) -> TxFailure {
        match e {
            GovError::NoVotingPower { voter, proposal } => {
                TxFailure::NoVotingPower { voter, proposal }
            }
            GovError::VotingPeriodOver { proposal, end_epoch } => {
                TxFailure::VotingPeriodOver { proposal, end_epoch }
            }
            GovError::Param(ParamError::UnknownKey { key }) => TxFailure::UnknownParam { key },
            GovError::Param(ParamError::BadValue { key, value, reason }) => {
                TxFailure::BadParamValue { key, value, reason }
            }
            GovError::UnknownProposal { proposal } => TxFailure::UnknownProposal { proposal },
            GovError::DepositTooSmall { deposit, min } => {
                TxFailure::DepositTooSmall { deposit, min }
            }
            GovError::BadLock { amount, epochs, max } => TxFailure::BadLock { amount, epochs, max },
            GovError::NoPosition { owner } => TxFailure::NoPosition { owner },
            GovError::StillLocked { end_epoch } => TxFailure::StillLocked { end_epoch },
            GovError::BadProposal { reason } => TxFailure::BadProposal { reason },
            GovError::Account(f) => f.into(),
        }
    }
}

/// A governance rule's result: its value, a refusal, or an error of the state.
type GovResult<T> = Result<Result<T, GovError>, StateError>;

macro_rules! refuse {
    ($e:expr) => {
        return Ok(Err($e))
    };
}

/// Governance totals kept in state.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct GovState {
    /// The last proposal id given (ids start at 1).
    pub last_id: u64,
    /// Open proposals and the block each started in: the oldest bounds the position history
    /// kept.
    pub open: BTreeMap<u64, Height>,
    /// CRN locked in positions.
    pub locked: Amount,
    /// CRN held as proposal deposits.
    pub deposits: Amount,
}

pub fn gov_state(state: &impl StateRead) -> Result<GovState, StateError> {
    Ok(state.get_decoded(&state_key::gov_state())?.unwrap_or_default())
}

fn put_gov_state(o: &mut Overlay<'_>, s: &GovState) {
    o.put_encoded(state_key::gov_state(), s);
}

/// An owner's position over time: `(from, position)` entries in height order, each in
/// force from block `from` on (inclusive) until the next; the last is the current one.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct PositionRecord {
    pub entries: Vec<(Height, Option<Position>)>,
}

impl PositionRecord {
    pub fn current(&self) -> Option<Position> {
        self.entries.last().and_then(|(_, p)| *p)
    }

    /// The position as it stood at the end of block `height - 1`: what a proposal that
    /// started at `height` counts.
    pub fn before(&self, height: Height) -> Option<Position> {
        self.entries.iter().rev().find(|(from, _)| *from < height).and_then(|(_, p)| *p)
    }
}

pub fn position_record(
    state: &impl StateRead,
    owner: &Address,
) -> Result<PositionRecord, StateError> {
    Ok(state.get_decoded(&state_key::gov_position(owner))?.unwrap_or_default())
}

/// The current position of `owner`.
pub fn position(state: &impl StateRead, owner: &Address) -> Result<Option<Position>, StateError> {
    Ok(position_record(state, owner)?.current())
}

/// Sets `owner`'s position from block `height` on, dropping history no open proposal reads.
fn write_position(
    o: &mut Overlay<'_>,
    gs: &GovState,
    owner: &Address,
    new: Option<Position>,
    height: Height,
) -> Result<(), StateError> {
    let mut rec = position_record(o, owner)?;
    // The oldest open proposal reads the entry in force before its start; entries
    // replaced before that are needed by no one.
    let keep_from = gs.open.values().min().copied().unwrap_or(Height::MAX);
    while rec.entries.len() >= 2 && rec.entries[1].0 < keep_from {
        rec.entries.remove(0);
    }
    match rec.entries.last_mut() {
        Some(last) if last.0 == height => last.1 = new,
        _ => rec.entries.push((height, new)),
    }
    o.put_encoded(state_key::gov_position(owner), &rec);
    Ok(())
}

pub fn get_proposal(state: &impl StateRead, id: u64) -> Result<Option<Proposal>, StateError> {
    state.get_decoded(&state_key::gov_proposal(id))
}

fn put_proposal(o: &mut Overlay<'_>, p: &Proposal) {
    o.put_encoded(state_key::gov_proposal(p.id), p);
}

pub fn get_vote(
    state: &impl StateRead,
    id: u64,
    voter: &Address,
) -> Result<Option<Ballot>, StateError> {
    state.get_decoded(&state_key::gov_vote(id, voter))
}

/// The scheduled software upgrade, if any.
pub fn upgrade(state: &impl StateRead) -> Result<Option<Upgrade>, StateError> {
    state.get_decoded(&state_key::gov_upgrade())
}

/// Locks `amount` more of `owner`'s CRN for at least `epochs` epochs at block `height`,
/// merging into its position (see `TxBody::Lock`).
pub fn lock(
    o: &mut Overlay<'_>,
    params: &Params,
    owner: &Address,
    amount: Amount,
    epochs: u64,
    constant: bool,
    height: Height,
) -> GovResult<()> {
    let max = params.gov.max_lock_epochs;
    let current = position(o, owner)?;
    if epochs == 0 || epochs > max || (amount == 0 && current.is_none()) {
        refuse!(GovError::BadLock { amount, epochs, max });
    }
    if let Err(f) = accounts::debit(o, owner, amount)? {
        refuse!(GovError::Account(f));
    }
    let epoch = params.epoch_of(height);
    let new = match current {
        None => Position {
            amount,
            constant,
            lock_epochs: if constant { epochs } else { 0 },
            end_epoch: if constant { 0 } else { epoch.saturating_add(epochs) },
        },
        Some(p) => {
            // Merged: the lock never shortens, and a constant side keeps it constant.
            let remaining = p.remaining(epoch).max(epochs);
            let constant = p.constant || constant;
            Position {
                amount: p.amount.saturating_add(amount),
                constant,
                lock_epochs: if constant { remaining } else { 0 },
                end_epoch: if constant { 0 } else { epoch.saturating_add(remaining) },
            }
        }
    };
    let mut gs = gov_state(o)?;
    gs.locked = gs.locked.saturating_add(amount);
    write_position(o, &gs, owner, Some(new), height)?;
    put_gov_state(o, &gs);
    Ok(Ok(()))
}

/// Starts the run-down of `owner`'s constant position, or pays out a decaying one whose
/// lock has ended.
pub fn unlock(
    o: &mut Overlay<'_>,
    params: &Params,
    owner: &Address,
    height: Height,
) -> GovResult<()> {
    let Some(p) = position(o, owner)? else { refuse!(GovError::NoPosition { owner: *owner }) };
    let epoch = params.epoch_of(height);
    let mut gs = gov_state(o)?;
    let new = if p.constant {
        Some(Position {
            constant: false,
            lock_epochs: 0,
            end_epoch: epoch.saturating_add(p.lock_epochs),
            ..p
        })
    } else if epoch >= p.end_epoch {
        accounts::credit(o, owner, p.amount)?;
        gs.locked = gs.locked.saturating_sub(p.amount);
        None
    } else {
        refuse!(GovError::StillLocked { end_epoch: p.end_epoch });
    };
    write_position(o, &gs, owner, new, height)?;
    put_gov_state(o, &gs);
    Ok(Ok(()))
}

/// The parameters in state: those of the next block when a boundary just changed them.
pub fn current_params(state: &impl StateRead, fallback: &Params) -> Result<Params, StateError> {
    Ok(state.get_decoded(&state_key::params())?.unwrap_or_else(|| fallback.clone()))
}

/// The first block of `epoch`.
fn first_block(params: &Params, epoch: u64) -> Height {
    epoch.saturating_mul(params.blocks_per_epoch)
}

/// The stateful checks of a proposal's action against the chain as it is now.
fn check_action(
    o: &Overlay<'_>,
    params: &Params,
    action: &ProposalAction,
    tally_at: Height,
) -> GovResult<()> {
    let bad = |reason: String| Ok(Err(GovError::BadProposal { reason }));
    match action {
        ProposalAction::ParamChange { changes } => {
            if changes.is_empty() {
                return bad("a parameter change sets at least one parameter".into());
            }
            if let Err(e) = current_params(o, params)?.with_changes(changes) {
                refuse!(GovError::Param(e));
            }
        }
        ProposalAction::TreasurySpend { amount, .. } if *amount == 0 => {
            return bad("a treasury spend pays a positive amount".into());
        }
        ProposalAction::Upgrade { name, height } => {
            if parse_version(name).is_none() {
                return bad(format!("upgrade name {name:?} is not a version MAJOR.MINOR.PATCH"));
            }
            if *height <= tally_at {
                return bad(format!(
                    "upgrade height {height} is not after the tally at height {tally_at}"
                ));
            }
        }
        _ => {}
    }
    Ok(Ok(()))
}

/// Submits a proposal by `proposer` at block `height` and returns its id.
pub fn propose(
    o: &mut Overlay<'_>,
    params: &Params,
    proposer: &Address,
    title: &str,
    action: &ProposalAction,
    deposit: Amount,
    height: Height,
) -> GovResult<u64> {
    let gp = &params.gov;
    if deposit < gp.min_deposit {
        refuse!(GovError::DepositTooSmall { deposit, min: gp.min_deposit });
    }
    if title.trim().is_empty() {
        refuse!(GovError::BadProposal { reason: "a proposal needs a title".into() });
    }
    let start_epoch = params.epoch_of(height);
    let end_epoch = start_epoch.saturating_add(gp.voting_period_epochs);
    if let Err(e) = check_action(o, params, action, first_block(params, end_epoch))? {
        refuse!(e);
    }
    if let Err(f) = accounts::debit(o, proposer, deposit)? {
        refuse!(GovError::Account(f));
    }
    let mut gs = gov_state(o)?;
    gs.deposits = gs.deposits.saturating_add(deposit);
    gs.last_id = gs.last_id.saturating_add(1);
    let id = gs.last_id;
    gs.open.insert(id, height);
    let stake = if gp.stake_votes {
        crate::staking::validator_set_for(o, params, height)?
            .validators()
            .iter()
            .map(|v| (v.address, Amount::from(v.power).saturating_mul(UNITS_PER_CRN)))
            .collect()
    } else {
        Vec::new()
    };
    let p = Proposal {
        id,
        proposer: *proposer,
        title: title.to_string(),
        action: action.clone(),
        deposit,
        start_height: height,
        start_epoch,
        end_epoch,
        max_lock_epochs: gp.max_lock_epochs,
        max_multiplier: gp.max_multiplier,
        locked_at_start: gs.locked,
        stake,
        tally: Tally::default(),
        status: ProposalStatus::Voting,
        decided_height: None,
    };
    put_proposal(o, &p);
    let qkey = state_key::gov_due(end_epoch);
    let mut due: Vec<u64> = o.get_decoded(&qkey)?.unwrap_or_default();
    due.push(id);
    o.put_encoded(qkey, &due);
    put_gov_state(o, &gs);
    Ok(Ok(id))
}

/// The vote `voter` would cast on `p`: its position before `p` started, at `p`'s start
/// epoch and lock parameters, plus its snapshotted stake.
pub fn power_at_start(
    state: &impl StateRead,
    p: &Proposal,
    voter: &Address,
) -> Result<(Amount, Amount), StateError> {
    let gp = cairn_types::gov::GovParams {
        max_lock_epochs: p.max_lock_epochs,
        max_multiplier: p.max_multiplier,
        ..Default::default()
    };
    let (mut power, mut amount) = match position_record(state, voter)?.before(p.start_height) {
        Some(pos) => (voting_power(&pos, p.start_epoch, &gp), pos.amount),
        None => (0, 0),
    };
    if let Some((_, s)) = p.stake.iter().find(|(a, _)| a == voter) {
        power = power.saturating_add(*s);
        amount = amount.saturating_add(*s);
    }
    Ok((power, amount))
}

/// `voter` votes `choice` on proposal `id` at block `height`, replacing an earlier vote.
pub fn vote(
    o: &mut Overlay<'_>,
    params: &Params,
    voter: &Address,
    id: u64,
    choice: VoteChoice,
    height: Height,
) -> GovResult<()> {
    let Some(mut p) = get_proposal(o, id)? else {
        refuse!(GovError::UnknownProposal { proposal: id })
    };
    if p.status != ProposalStatus::Voting || params.epoch_of(height) >= p.end_epoch {
        refuse!(GovError::VotingPeriodOver { proposal: id, end_epoch: p.end_epoch });
    }
    let (power, amount) = power_at_start(o, &p, voter)?;
    if power == 0 {
        refuse!(GovError::NoVotingPower { voter: *voter, proposal: id });
    }
    if let Some(old) = get_vote(o, id, voter)? {
        p.tally.remove(&old);
    }
    let v = Ballot { choice, power, amount };
    p.tally.add(&v);
    o.put_encoded(state_key::gov_vote(id, voter), &v);
    put_proposal(o, &p);
    Ok(Ok(()))
}

fn handled<T>(r: GovResult<T>, outcome: impl FnOnce(T) -> TxOutcome) -> Handled<GovError> {
    Ok(r?.map(outcome))
}

/// The handler of `TxBody::Lock`: see [`lock`].
pub struct Lock {
    pub amount: Amount,
    pub epochs: u64,
    pub constant: bool,
}

impl TxHandler for Lock {
    type Error = GovError;

    fn spend(&self, _params: &Params) -> Amount {
        self.amount
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<GovError> {
        let r = lock(o, cx.params, cx.signer, self.amount, self.epochs, self.constant, cx.height);
        handled(r, |()| TxOutcome::None)
    }
}

/// The handler of `TxBody::Unlock`: see [`unlock`].
pub struct Unlock;

impl TxHandler for Unlock {
    type Error = GovError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<GovError> {
        handled(unlock(o, cx.params, cx.signer, cx.height), |()| TxOutcome::None)
    }
}

/// The handler of `TxBody::Propose`: see [`propose`].
pub struct Propose<'a> {
    pub title: &'a str,
    pub action: &'a ProposalAction,
    pub deposit: Amount,
}

fn too_long(what: &'static str, len: usize, max: usize) -> Result<(), StatelessError> {
    if len > max { Err(StatelessError::FieldTooLong { what, len, max }) } else { Ok(()) }
}

impl TxHandler for Propose<'_> {
    type Error = GovError;

    fn check_stateless(&self, _params: &Params) -> Result<(), StatelessError> {
        too_long("title", self.title.len(), MAX_TITLE_BYTES)?;
        match self.action {
            ProposalAction::ParamChange { changes } => {
                too_long("parameter changes", changes.len(), MAX_PARAM_CHANGES)?;
                for c in changes {
                    too_long("parameter key", c.key.len(), MAX_TEXT_BYTES)?;
                    too_long("parameter value", c.value.len(), MAX_TEXT_BYTES)?;
                }
            }
            ProposalAction::Denylist { key, reason } => {
                key.validate().map_err(|e| StatelessError::BadDeviceKey(e.to_string()))?;
                let max = crate::devices::registry::MAX_REASON;
                too_long("reason", reason.as_ref().map_or(0, String::len), max)?;
            }
            ProposalAction::Upgrade { name, .. } => too_long("upgrade name", name.len(), 64)?,
            ProposalAction::Text { text } => too_long("text", text.len(), MAX_TEXT_BYTES)?,
            ProposalAction::TreasurySpend { .. }
            | ProposalAction::Maker { .. }
            | ProposalAction::FraudAppeal { .. } => {}
        }
        Ok(())
    }

    fn spend(&self, _params: &Params) -> Amount {
        self.deposit
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<GovError> {
        let r = propose(o, cx.params, cx.signer, self.title, self.action, self.deposit, cx.height);
        handled(r, |id| TxOutcome::Proposal { id })
    }
}

/// The handler of `TxBody::Vote`: see [`vote`].
pub struct Vote {
    pub proposal: u64,
    pub choice: VoteChoice,
}

impl TxHandler for Vote {
    type Error = GovError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<GovError> {
        handled(vote(o, cx.params, cx.signer, self.proposal, self.choice, cx.height), |()| {
            TxOutcome::None
        })
    }
}
