//! The settle stage of the reward run, at the first block of the epoch after: the treasury
//! and the validators are credited, every flagged amount is held in escrow, the unproven
//! holds due now are judged, the findings recorded, and the supply and the epoch's summary
//! (with the reward root) committed in state. The devices' amounts stay in the root until
//! their owners claim them (`super::claim`).

use super::Payout;
use super::escrow;
use crate::accounts::{self, get_supply};
use crate::state_key;
use cairn_state::{Overlay, StateError};
use cairn_types::rewards::{EpochRewards, Evidence, FraudHold, HoldStatus, RewardEntry};
use cairn_types::{Height, Params};

/// Writes the run of `epoch`, closed at `height` (the first block of the epoch after), in
/// state; `unproven_due` are the unproven holds released for judgement at this block
/// ([`escrow::release_due`]), which `payout`'s hearers judge.
pub fn settle(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    epoch: u64,
    payout: &Payout,
    unproven_due: Vec<FraudHold>,
) -> Result<(), StateError> {
    let Payout { report, hearers } = payout;
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
        escrow::hold(o, &h)?;
    }
    Ok(())
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
