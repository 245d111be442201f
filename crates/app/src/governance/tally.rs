//! The tally at the epoch boundary: at the first block of epoch `e`, every proposal whose
//! voting ended with `e` is decided in id order, its deposit refunded or burned, and a
//! passed proposal's action applied (docs/protocol.md, "Governance").
//!
//! - **Quorum**: the locked CRN (and snapshotted stake) behind the votes is at least
//!   `quorum_bps` of what was locked at the proposal's start (plus that stake). Without it
//!   the proposal fails and its deposit is refunded.
//! - **Veto**: veto power above `veto_bps` of all votes' power (abstain included): the
//!   deposit is burned.
//! - **Threshold**: yes power above `threshold_bps` of yes + no + veto: passed, the action
//!   applied (in a scope: an action that cannot be applied changes nothing and leaves the
//!   proposal `failed` with the reason). Otherwise rejected. Either way the deposit returns.
//!
//! A parameter change is written to state here, at the boundary block's start, after the
//! reward run, the storage challenges and the validator set of the new epoch: the boundary
//! block itself ran on the parameters read before it, so the new values govern every
//! block after it.

use super::{GovState, current_params, get_proposal, gov_state, put_gov_state, put_proposal};
use crate::component::{BlockEnv, BlockOutput, Component};
use crate::devices::registry;
use crate::rewards::escrow;
use crate::{accounts, credits, state_key};
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::gov::{Proposal, ProposalAction, ProposalStatus, Tally, Upgrade};
use cairn_types::{Amount, Params};

/// Basis points in one.
const BPS: Amount = 10_000;

/// What the votes decide, before the action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    NoQuorum,
    Vetoed,
    Passed,
    Rejected,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::NoQuorum => "no_quorum",
            Verdict::Vetoed => "vetoed",
            Verdict::Passed => "passed",
            Verdict::Rejected => "rejected",
        }
    }
}

/// The verdict of `tally` against `eligible` (the quorum's base) under `params.gov`.
/// Shares compare as cross products in `u128` (saturating: amounts are far below
/// `u128::MAX / 10,000`).
pub fn verdict(tally: &Tally, eligible: Amount, params: &Params) -> Verdict {
    let g = &params.gov;
    let share = |part: Amount, bps: u32, whole: Amount| {
        (part.saturating_mul(BPS), Amount::from(bps).saturating_mul(whole))
    };
    let (turnout, need) = share(tally.turnout, g.quorum_bps, eligible);
    if eligible == 0 || turnout < need {
        return Verdict::NoQuorum;
    }
    let (veto, limit) = share(tally.veto, g.veto_bps, tally.total_power());
    if veto > limit {
        return Verdict::Vetoed;
    }
    let against = tally.yes.saturating_add(tally.no).saturating_add(tally.veto);
    let (yes, need) = share(tally.yes, g.threshold_bps, against);
    if tally.yes > 0 && yes > need { Verdict::Passed } else { Verdict::Rejected }
}

/// Applies a passed proposal's action, or says why it cannot be.
fn apply(
    o: &mut Overlay<'_>,
    env: &BlockEnv<'_>,
    p: &Proposal,
) -> Result<Result<(), String>, StateError> {
    let height = env.height;
    match &p.action {
        ProposalAction::ParamChange { changes } => {
            let old = current_params(o, env.params)?;
            let new = match old.with_changes(changes) {
                Ok(n) => n,
                Err(e) => return Ok(Err(e.to_string())),
            };
            sync_oracles(o, &old, &new)?;
            o.put_encoded(state_key::params(), &new);
        }
        ProposalAction::TreasurySpend { to, amount } => {
            let treasury = cairn_types::rewards::treasury_address();
            if let Err(f) = accounts::transfer(o, &treasury, to, *amount)? {
                return Ok(Err(format!("treasury: {f}")));
            }
        }
        ProposalAction::Denylist { key, reason } => {
            registry::write_denylist(o, key, reason.as_deref(), height);
        }
        ProposalAction::Maker { maker, allowed } => registry::write_maker(o, maker, *allowed),
        ProposalAction::FraudAppeal { device, epoch, release } => {
            if let Err(f) = escrow::decide(o, device, *epoch, *release, height)? {
                return Ok(Err(f.to_string()));
            }
        }
        ProposalAction::Upgrade { name, height: at } => {
            if *at <= height {
                return Ok(Err(format!("upgrade height {at} has passed")));
            }
            o.put_encoded(
                state_key::gov_upgrade(),
                &Upgrade { name: name.clone(), height: *at, proposal: p.id },
            );
        }
        ProposalAction::Text { .. } => {}
    }
    Ok(Ok(()))
}

/// A change of `credits.oracles` lists the added oracles and drops the removed ones (the
/// others keep their last report).
fn sync_oracles(o: &mut Overlay<'_>, old: &Params, new: &Params) -> Result<(), StateError> {
    if old.credits.oracles == new.credits.oracles {
        return Ok(());
    }
    let mut list = credits::get_oracles(o)?;
    for gone in old.credits.oracles.iter().filter(|a| !new.credits.oracles.contains(a)) {
        list.remove(gone);
    }
    for a in &new.credits.oracles {
        list.entry(*a).or_insert(None);
    }
    o.put_encoded(state_key::oracles(), &list);
    Ok(())
}

/// Decides proposal `p` at block `height` and settles its deposit.
fn decide(
    o: &mut Overlay<'_>,
    env: &BlockEnv<'_>,
    gs: &mut GovState,
    mut p: Proposal,
) -> Result<(), StateError> {
    let params = current_params(o, env.params)?;
    let v = verdict(&p.tally, p.eligible(), &params);
    gs.deposits = gs.deposits.saturating_sub(p.deposit);
    p.status = match v {
        Verdict::NoQuorum => ProposalStatus::NoQuorum,
        Verdict::Vetoed => ProposalStatus::Vetoed,
        Verdict::Rejected => ProposalStatus::Rejected,
        Verdict::Passed => {
            // The action runs in the overlay's scope (no transaction is open at a block's
            // start): all of it or none.
            o.begin_scope();
            match apply(o, env, &p)? {
                Ok(()) => {
                    o.commit_scope();
                    ProposalStatus::Passed
                }
                Err(reason) => {
                    o.discard_scope();
                    ProposalStatus::Failed { reason }
                }
            }
        }
    };
    if v == Verdict::Vetoed {
        accounts::record_burn(o, p.deposit)?;
    } else {
        accounts::credit(o, &p.proposer, p.deposit)?;
    }
    p.decided_height = Some(env.height);
    gs.open.remove(&p.id);
    put_proposal(o, &p);
    Ok(())
}

/// Tallies the proposals due at the first block of the epoch of `height`.
pub fn tally_due(o: &mut Overlay<'_>, env: &BlockEnv<'_>) -> Result<(), StateError> {
    let params = env.params;
    if !params.starts_epoch(env.height) {
        return Ok(());
    }
    let qkey = state_key::gov_due(params.epoch_of(env.height));
    let Some(due) = o.get_decoded::<Vec<u64>>(&qkey)? else { return Ok(()) };
    o.delete(qkey);
    let mut gs = gov_state(o)?;
    for id in due {
        let Some(p) = get_proposal(o, id)? else { continue };
        if p.status == ProposalStatus::Voting {
            decide(o, env, &mut gs, p)?;
        }
    }
    put_gov_state(o, &gs);
    Ok(())
}

/// Governance's per-block work: the tally at each epoch's first block.
pub struct Governance;

impl Component for Governance {
    fn name(&self) -> &'static str {
        "governance"
    }

    fn begin_block(
        &self,
        o: &mut Overlay<'_>,
        env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        tally_due(o, env)
    }
}
