//! Epoch rewards (docs/adr/0009-rewards.md): at the first block of an epoch the reward run
//! pays the epoch before, as a pipeline of five stages, each a module, each handing the next
//! a named value:
//!
//! 1. [`gather`]: every device on the epoch's active roster, read from state → [`Gathered`];
//! 2. [`score`]: the hotspots' hex density and the sensors' quality → [`Scored`];
//! 3. [`detect`]: the fraud detectors over the witness graph, moves, sensor streams and
//!    cells, and the cold-start rule → [`Verdicts`];
//! 4. [`pay`]: the pool scores and shares (beside the detectors) and, with the verdicts, the
//!    escrow, the reward root over (device, owner, amount) and the validators' pool →
//!    [`Payout`];
//! 5. [`settle`]: the treasury and validators credited, flagged amounts held in
//!    [`escrow`], the supply and the summary with the root committed in state.
//!
//! With a settle delay (`Params::reward_settle_delay_blocks`) the boundary block only fixes
//! the run, every node computes it from the state before the boundary, and a later block
//! settles it: [`deferred`].
//!
//! Device owners then [`claim`] their leaves with a Merkle path; until then the amounts are
//! counted as `unclaimed` in the supply. [`report`] runs stages 1 to 4 alone: the audit
//! replays it on the state before the boundary.

pub mod claim;
pub mod deferred;
pub mod detect;
pub mod escrow;
pub mod gather;
pub mod pay;
pub mod root_proof;
pub mod score;
pub mod settle;

pub use claim::{ClaimRewards, claim, get_epoch_rewards};
pub use detect::{Hearers, Verdicts};
pub use gather::{Facts, Gathered, OUTSIDE, device_input, gather};
pub use score::{Scored, score};

use crate::component::{BlockEnv, BlockOutput, Component};
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::rewards::{PackedReport, RewardIndexChunk, RewardReport};
use cairn_types::{Address, DeviceId, Height, Params};

/// What the run hands the settle stage: the report (its summary and root go in state, its
/// entries to the node) and the hearers of each device whose unproven hold is judged at
/// this boundary.
#[derive(Debug, Clone)]
pub struct Payout {
    pub report: RewardReport,
    pub hearers: Hearers,
}

/// The reward report of `epoch` from the state as it stands at the end of that epoch (after
/// the block-start steps of the boundary block): gather, score, detect, pay.
pub fn report<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    validator: Option<Address>,
) -> Result<RewardReport, StateError> {
    report_judging(state, params, epoch, validator, &[]).map(|p| p.report)
}

/// [`report`], and the hearers of each device of `judged` (ascending) at this boundary
/// ([`detect::hearers`]): what the judgement of the unproven holds due now reads.
pub fn report_judging<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    validator: Option<Address>,
    judged: &[DeviceId],
) -> Result<Payout, StateError> {
    let gathered = gather(state, params, epoch)?;
    let scored = score(params, gathered);
    detect_and_pay_judging(state, params, epoch, scored, validator, judged)
}

/// Stages 3 and 4 of [`report`] over the scored roster: the fraud detectors, then the pure
/// pay run.
pub fn detect_and_pay<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    scored: Scored,
    validator: Option<Address>,
) -> Result<RewardReport, StateError> {
    detect_and_pay_judging(state, params, epoch, scored, validator, &[]).map(|p| p.report)
}

/// [`detect_and_pay`], and the hearers of each device of `judged` (ascending). The detectors
/// run beside the pay stage's shares, which flags do not change: the witness graph's
/// components are found on one core, and the shares are paid on the others meanwhile.
fn detect_and_pay_judging<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    scored: Scored,
    validator: Option<Address>,
    judged: &[DeviceId],
) -> Result<Payout, StateError> {
    use rayon::prelude::*;
    let Scored { mut devices } = scored;
    let inputs = detect::inputs::of(&mut devices);
    let Gathered { entries, facts, .. } = devices;
    let validators = pay::validator_weights(state, epoch, validator)?;
    let reminted = crate::credits::remint_now(state, params)?;
    let (found, shares) = rayon::join(
        || {
            // The facts' heard lists are freed on all cores.
            facts.into_par_iter().for_each(drop);
            detect::detect_all(&params.fraud, &inputs.fraud)
        },
        || {
            let min_uptime = params.devices.min_uptime_percent;
            pay::shares(&params.rewards, min_uptime, epoch, entries, reminted)
        },
    );
    let verdicts = detect::judge(state, params, epoch, &inputs, found, judged)?;
    drop(inputs);
    let report = pay::finish(shares, &validators, &verdicts.flags);
    Ok(Payout { report, hearers: verdicts.hearers })
}

/// First block of an epoch: rewards the epoch before. Returns the report for the node to
/// keep (its entries are not in state; their root is).
pub fn close_epoch(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    validator: Option<Address>,
) -> Result<Option<RewardReport>, StateError> {
    if !params.starts_epoch(height) {
        return Ok(None);
    }
    let unproven_due = escrow::release_due(o, params.epoch_of(height), height)?;
    let epoch = params.epoch_of(height).saturating_sub(1);
    let judged = deferred::judged(&unproven_due);
    let Payout { report, hearers } =
        report_judging(&o.frozen(), params, epoch, validator, &judged)?;
    settle::settle(o, params, height, epoch, &report, &hearers, unproven_due)?;
    Ok(Some(report))
}

/// The rewards' per-block work: at an epoch's first block, [`close_epoch`] for the epoch
/// before, paying the solo validator named in the chain info, or with a settle delay
/// [`deferred::fix`]; from the block a fixed run is due until it is settled,
/// [`deferred::settle_step`] with the run from [`BlockEnv::past`]. The report goes to
/// [`BlockOutput::rewards`] in the block that completes it, the entries each block settles
/// to [`BlockOutput::reward_index`].
pub struct Rewards;

impl Component for Rewards {
    fn name(&self) -> &'static str {
        "rewards"
    }

    fn begin_block(
        &self,
        o: &mut Overlay<'_>,
        env: &BlockEnv<'_>,
        out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        // A run settles before the next boundary fixes another: the delay is below the
        // epoch's length, which never changes (`Params::validate`, `FIXED_PARAMS`).
        let boundary = env.params.starts_epoch(env.height);
        if let Some(run) = deferred::pending(o)?
            && env.height >= run.due
        {
            let computed = env.past.reward_run(&run)?;
            // A spread settlement ends before the next boundary by its share; should one
            // still be under way there, the boundary finishes it before fixing the next.
            let step = deferred::settle_step(o, &run, &computed, env.height, boundary)?;
            out.rewards = step.report;
            out.reward_index = Some(step.index);
        }
        if !boundary {
            return Ok(());
        }
        if env.params.reward_settle_delay_blocks > 0 {
            deferred::fix(o, env.params, env.height);
            return Ok(());
        }
        let validator =
            o.get_decoded::<crate::ChainInfo>(&state_key::chain())?.map(|c| c.validator);
        if let Some(report) = close_epoch(o, env.params, env.height, validator)? {
            let report = std::sync::Arc::new(PackedReport::pack(report));
            out.reward_index = Some(RewardIndexChunk::whole(report.clone()));
            out.rewards = Some(report);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "paid_work_tests.rs"]
mod paid_work_tests;
