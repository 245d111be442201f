//! The settle stage of the reward run, at the first block of the epoch after: the treasury
//! and the validators are credited, every flagged amount is held in escrow, the unproven
//! holds due now are judged, the findings recorded, and the supply and the epoch's summary
//! (with the reward root) committed in state. The devices' amounts stay in the root until
//! their owners claim them (`super::claim`).
//!
//! [`settle`] does it in one block. A deferred run may spread it over blocks
//! (`super::deferred::settle_step`, ADR 0041) in three parts that end in the same state:
//! [`open`] (pools and supply), [`entries`] over consecutive shares of the report (holds and
//! findings), [`close`] (the unproven holds judged, the summary).

use super::Hearers;
use super::escrow;
use crate::accounts::{self, get_supply};
use crate::state_key;
use cairn_state::{Overlay, StateError};
use cairn_types::rewards::{
    EpochRewards, Evidence, FraudHold, HoldStatus, RewardEntry, RewardReport,
};
use cairn_types::{Height, Params};

/// Writes the run of `epoch`, closed at `height` (the first block of the epoch after), in
/// state; `unproven_due` are the unproven holds released for judgement at this block
/// ([`escrow::release_due`]), which `hearers` (the run's, [`super::Payout`]) judge.
pub fn settle(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    epoch: u64,
    report: &RewardReport,
    hearers: &Hearers,
    unproven_due: Vec<FraudHold>,
) -> Result<(), StateError> {
    let s = &report.summary;
    credit_pools(o, s)?;
    hold_flagged(o, params, epoch, &report.entries)?;
    let now = params.epoch_of(height);
    escrow::judge_unproven(o, params, now, height, &report.entries, unproven_due, hearers)?;
    escrow::record_findings(o, epoch, &report.entries);
    count_supply(o, s)?;
    o.put_encoded(state_key::epoch_rewards(epoch), s);
    Ok(())
}

/// The first block of a spread settlement: the treasury and validators credited and the
/// whole run counted in the supply (the amounts held are counted before their holds are
/// written, so the supply identity holds in every block).
pub fn open(o: &mut Overlay<'_>, s: &EpochRewards) -> Result<(), StateError> {
    credit_pools(o, s)?;
    count_supply(o, s)
}

/// A share of the report's entries of `epoch` (consecutive, in report order): each flagged
/// amount held in escrow and each finding recorded. The shares of a report, in order, write
/// what [`settle`] writes for the whole: the release queues get the holds in report order,
/// and the findings of one epoch are one record per device.
pub fn entries(
    o: &mut Overlay<'_>,
    params: &Params,
    epoch: u64,
    share: &[RewardEntry],
) -> Result<(), StateError> {
    hold_flagged(o, params, epoch, share)?;
    escrow::record_findings(o, epoch, share);
    Ok(())
}

/// The last block of a spread settlement, once every entry is: the unproven holds due now
/// (`unproven_due`) judged against the report (`judged`: its entries of their devices, in
/// device order, which is all the judgement reads of it), and the summary written, from which
/// the epoch's leaves are claimable. The judgement reads the findings of the devices it
/// judges from their entries first, so the findings [`entries`] recorded before it do not
/// change it; its re-queued holds come after the report's holds in their queues, as in
/// [`settle`].
pub fn close(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    summary: &EpochRewards,
    judged: &[RewardEntry],
    hearers: &Hearers,
    unproven_due: Vec<FraudHold>,
) -> Result<(), StateError> {
    let now = params.epoch_of(height);
    escrow::judge_unproven(o, params, now, height, judged, unproven_due, hearers)?;
    o.put_encoded(state_key::epoch_rewards(summary.epoch), summary);
    Ok(())
}

/// Credits the treasury its share and each validator its payout.
fn credit_pools(o: &mut Overlay<'_>, s: &EpochRewards) -> Result<(), StateError> {
    accounts::credit(o, &cairn_types::rewards::treasury_address(), s.to_treasury)?;
    for (v, amount) in &s.validator_payouts {
        // A staking pool takes it as stake (its delegators share it by their shares); the
        // solo validator takes it in its balance.
        if !crate::staking::reward_pool(o, v, *amount)? {
            accounts::credit(o, v, *amount)?;
        }
    }
    Ok(())
}

/// Holds the amount of every flagged entry of `epoch` in escrow.
fn hold_flagged(
    o: &mut Overlay<'_>,
    params: &Params,
    epoch: u64,
    entries: &[RewardEntry],
) -> Result<(), StateError> {
    let escrow_release = epoch.saturating_add(1).saturating_add(params.fraud.escrow_epochs.max(1));
    let mut holds = Vec::new();
    for e in entries.iter().filter(|e| !e.flags.is_empty() && e.amount > 0) {
        // A hold with a detector's finding waits out the escrow; an unproven one is judged
        // again when the probation ends.
        let probation_end = e.flags.iter().find_map(Evidence::probation_end);
        let release_epoch = match probation_end {
            Some(until) if !e.flags.iter().any(Evidence::is_finding) => {
                escrow::unproven_release_epoch(params, epoch, until)
            }
            _ => escrow_release,
        };
        let h = FraudHold {
            device: e.device,
            owner: e.owner,
            epoch,
            amount: e.amount,
            evidence: e.flags.clone(),
            release_epoch,
            appealed: false,
            status: HoldStatus::Held,
        };
        holds.push(h);
    }
    escrow::hold_all(o, &holds)
}

/// Counts the run in the supply: emitted and re-minted, unclaimed in the leaves, held in
/// escrow.
fn count_supply(o: &mut Overlay<'_>, s: &EpochRewards) -> Result<(), StateError> {
    let to_leaves = s.emission + s.reminted - s.to_treasury - s.to_validators - s.escrowed;
    let mut supply = get_supply(o)?;
    supply.emitted = supply.emitted.saturating_add(s.emission);
    supply.reminted = supply.reminted.saturating_add(s.reminted);
    supply.remint_pending = supply.remint_pending.saturating_sub(s.reminted);
    supply.unclaimed = supply.unclaimed.saturating_add(to_leaves);
    supply.held = supply.held.saturating_add(s.escrowed);
    o.put_encoded(state_key::supply(), &supply);
    Ok(())
}
