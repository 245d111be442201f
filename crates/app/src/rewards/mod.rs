//! Epoch rewards (docs/adr/0009-rewards.md): at the first block of an epoch the run reads
//! the work of every device on the previous epoch's active roster ([`gather`]), scores
//! density and sensor quality, runs the fraud detectors, computes the report with
//! [`compute::run_entries`], credits the treasury and the validator, and commits the summary and the
//! Merkle root of (device, owner, amount) in state. Device owners claim their leaves with a
//! Merkle path; until then the amounts are counted as `unclaimed` in the supply.

pub mod compute;
pub mod fraud;
mod gather;
pub mod witness_graph;
pub mod witness_rows;

pub use gather::{Facts, Gathered, OUTSIDE, device_input, gather};

use crate::accounts::{self, get_supply};
use crate::devices;
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::device::SensorEpoch;
use cairn_types::rewards::{
    EpochRewards, Evidence, FraudHold, HoldStatus, RewardClaim, RewardReport,
};
use cairn_types::{Address, DeviceClass, Height, Params, TxFailure, merkle};

use crate::TxResult;
use crate::component::{BlockEnv, BlockOutput, Component};
use crate::handler::{Handled, TxCx, TxHandler, no_outcome};

/// Why `ClaimRewards` fails: the first claim of the transaction that does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewardsClaimError {
    #[error("epoch {epoch} has no rewards (yet)")]
    NoRewards { epoch: u64 },
    #[error("the reward belongs to {owner}")]
    NotYourReward { owner: Address },
    #[error("leaf {index} of epoch {epoch} was claimed already")]
    AlreadyClaimed { epoch: u64, index: u64 },
    #[error("the path does not prove leaf {index} of epoch {epoch}'s reward root")]
    BadRewardProof { epoch: u64, index: u64 },
}

impl From<RewardsClaimError> for TxFailure {
    fn from(e: RewardsClaimError) -> TxFailure {
        match e {
            RewardsClaimError::NoRewards { epoch } => TxFailure::NoRewards { epoch },
            RewardsClaimError::NotYourReward { owner } => TxFailure::NotYourReward { owner },
            RewardsClaimError::AlreadyClaimed { epoch, index } => {
                TxFailure::AlreadyClaimed { epoch, index }
            }
            RewardsClaimError::BadRewardProof { epoch, index } => {
                TxFailure::BadRewardProof { epoch, index }
            }
        }
    }
}
use cairn_types::tx::StatelessError;

/// The epoch's scoring, in memory: the hex density of every hotspot that earned coverage
/// (at its location at the boundary) and the quality of every sensor that read.
pub fn score_epoch(params: &Params, g: &mut Gathered) {
    use rayon::prelude::*;
    let Gathered { entries, facts, .. } = g;
    let hotspots: Vec<usize> = entries
        .par_iter()
        .enumerate()
        .filter(|(_, e)| {
            e.class == DeviceClass::Hotspot && (e.work.beacons > 0 || e.work.witnesses > 0)
        })
        .map(|(i, _)| i)
        .collect();
    let located: Vec<Option<u64>> =
        hotspots.par_iter().map(|i| facts.get(*i).and_then(|f| f.location)).collect();
    let scales = devices::density::scales_at(&params.coverage.density, &located);
    apply_at(entries, &hotspots, scales, |e, d| {
        e.work.density_ppm = d.scale_ppm;
        e.density = d.factors;
    });
    let sensors: Vec<usize> =
        facts.par_iter().enumerate().filter(|(_, f)| f.sensor.is_some()).map(|(i, _)| i).collect();
    let refs: Vec<(&SensorEpoch, Option<u64>)> = sensors
        .par_iter()
        .filter_map(|i| facts.get(*i))
        .filter_map(|f| f.sensor.as_deref().map(|(s, _)| (s, f.location)))
        .collect();
    let qualities = devices::sensors::qualities(params, &refs);
    apply_at(entries, &sensors, qualities, |e, q| {
        if e.class == DeviceClass::Sensor {
            e.work.quality = q.quality;
            e.sensor_quality = Some(q);
        }
    });
}

/// Applies `values[k]` to `entries[at[k]]` with `f`, on all cores: `at` ascending, one
/// value each (values past the end of either are left alone). The entries are cut into runs
/// and each run takes the values whose places fall in it.
fn apply_at<T: Default + Send>(
    entries: &mut [cairn_types::rewards::RewardEntry],
    at: &[usize],
    mut values: Vec<T>,
    f: impl Fn(&mut cairn_types::rewards::RewardEntry, T) + Sync,
) {
    use rayon::prelude::*;
    let per_run = entries.len().div_ceil(64).max(1);
    let mut runs = Vec::new();
    let (mut rest_at, mut rest_values) = (at, values.as_mut_slice());
    for (r, run) in entries.chunks_mut(per_run).enumerate() {
        let start = r * per_run;
        let k = rest_at.partition_point(|i| *i < start + run.len());
        let (here, later) = rest_at.split_at(k);
        let (mine, others) = rest_values.split_at_mut(k.min(rest_values.len()));
        (rest_at, rest_values) = (later, others);
        runs.push((start, run, here, mine));
    }
    runs.into_par_iter().for_each(|(start, run, here, mine)| {
        for (i, value) in here.iter().zip(mine.iter_mut()) {
            if let Some(e) = i.checked_sub(start).and_then(|j| run.get_mut(j)) {
                f(e, std::mem::take(value));
            }
        }
    });
}

/// The reward report of `epoch` from the state as it stands at the end of that epoch (after
/// the block-start steps of the boundary block): gather, score, detect, run.
pub fn report<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    validator: Option<Address>,
) -> Result<RewardReport, StateError> {
    report_judging(state, params, epoch, validator, &[]).map(|(r, _)| r)
}

/// [`report`], and the hearers of each device of `judged` (ascending) at this boundary
/// ([`fraud::hearers`]): what the judgement of the unproven holds due now reads.
pub fn report_judging<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    validator: Option<Address>,
    judged: &[cairn_types::DeviceId],
) -> Result<(RewardReport, Hearers), StateError> {
    let mut devices = gather(state, params, epoch)?;
    score_epoch(params, &mut devices);
    settle_judging(state, params, epoch, devices, validator, judged)
}

/// The hearers of the devices whose unproven holds are judged, by device.
pub type Hearers = std::collections::BTreeMap<cairn_types::DeviceId, Vec<fraud::Hearer>>;

/// What the detectors look at, taken from the gathered devices (the roster moves).
fn fraud_inputs(g: &mut Gathered) -> fraud::FraudInputs {
    use rayon::prelude::*;
    let pairs = || g.entries.par_iter().zip(g.facts.par_iter());
    // Each list in device order, collected on all cores.
    let moves = pairs()
        .filter_map(|(e, x)| {
            x.moved.as_deref().map(|(from, to, blocks)| (e.device, *from, *to, *blocks))
        })
        .collect();
    let sensors = pairs()
        .filter(|(e, _)| e.class == DeviceClass::Sensor)
        .filter_map(|(e, x)| x.sensor.as_deref().map(|(s, registered)| (e.device, s, *registered)))
        .filter(|(_, s, _)| s.readings > 0)
        .map(|(d, s, registered)| (d, registered, s.readings, s.digest))
        .collect();
    let cells = pairs()
        .filter(|(e, _)| e.class == DeviceClass::Hotspot)
        .filter_map(|(e, x)| x.location.map(|cell| (e.device, cell)))
        .collect();
    let witnessed = heard_rows(std::mem::take(&mut g.roster), &g.facts);
    fraud::FraudInputs { witnessed, moves, sensors, cells }
}

/// The heard lists as rows: hotspots numbered by their place on the roster, beaconers
/// outside it after the roster, sorted.
fn heard_rows(roster: Vec<cairn_types::DeviceId>, facts: &[Facts]) -> fraud::WitnessRows {
    use rayon::prelude::*;
    let mut outsiders: Vec<cairn_types::DeviceId> =
        facts.iter().filter_map(|x| x.outside.as_deref()).flatten().copied().collect();
    outsiders.sort_unstable();
    outsiders.dedup();
    let n = roster.len();
    let witnesses: Vec<u32> = facts
        .par_iter()
        .enumerate()
        .filter(|(_, x)| !x.heard.is_empty())
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect();
    let row = |w: &u32| facts.get(*w as usize).map_or(&[][..], |x| &x.heard[..]);
    // One more offset than rows, starting at 0; none without rows (as `push_row` builds them).
    let mut offsets = Vec::with_capacity(witnesses.len() + 1);
    if !witnesses.is_empty() {
        offsets.push(0);
    }
    let mut heard = 0;
    for w in &witnesses {
        heard += row(w).len();
        offsets.push(heard);
    }
    // The rows are numbered on all cores, each core filling its own runs of rows.
    let mut flat = vec![0u32; heard];
    let per_piece = witnesses.len().div_ceil(64).max(1);
    let mut pieces = Vec::new();
    let mut rest = flat.as_mut_slice();
    for (c, ws) in witnesses.chunks(per_piece).enumerate() {
        let first = c * per_piece;
        let len = match (offsets.get(first), offsets.get(first + ws.len())) {
            (Some(from), Some(to)) => to - from,
            _ => 0,
        };
        let (piece, tail) = rest.split_at_mut(len.min(rest.len()));
        rest = tail;
        pieces.push((ws, piece));
    }
    let known = outsiders.as_slice();
    pieces.into_par_iter().for_each(|(ws, piece)| {
        let numbered = ws.iter().flat_map(|w| {
            let x = facts.get(*w as usize);
            let mut outside = x.and_then(|x| x.outside.as_deref()).into_iter().flatten();
            row(w).iter().map(move |b| {
                if *b != gather::OUTSIDE {
                    return *b;
                }
                let at = outside.next().and_then(|d| known.binary_search(d).ok());
                at.and_then(|k| u32::try_from(n + k).ok()).unwrap_or(u32::MAX)
            })
        });
        for (slot, b) in piece.iter_mut().zip(numbered) {
            *slot = b;
        }
    });
    let mut ids = roster;
    ids.extend(outsiders);
    fraud::WitnessRows { ids, witnesses, offsets, flat }
}

/// The last step of [`report`]: the fraud detectors, then the pure run over the scored
/// devices.
pub fn settle<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    devices: Gathered,
    validator: Option<Address>,
) -> Result<RewardReport, StateError> {
    settle_judging(state, params, epoch, devices, validator, &[]).map(|(r, _)| r)
}

/// [`settle`], and the hearers of each device of `judged` (ascending).
fn settle_judging<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    devices: Gathered,
    validator: Option<Address>,
    judged: &[cairn_types::DeviceId],
) -> Result<(RewardReport, Hearers), StateError> {
    use rayon::prelude::*;
    let mut devices = devices;
    let f = fraud_inputs(&mut devices);
    let Gathered { entries, facts, .. } = devices;
    // The cold-start rule's inputs: where each roster device was located from, and the
    // positions of the hotspots that earned coverage.
    let located_at: Vec<Option<Height>> = facts.par_iter().map(|x| x.located_at).collect();
    let earning: Vec<u32> = entries
        .par_iter()
        .enumerate()
        .filter(|(_, e)| {
            e.class == DeviceClass::Hotspot && (e.work.beacons > 0 || e.work.witnesses > 0)
        })
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect();
    let validators = validator_weights(state, epoch, validator)?;
    let reminted = crate::credits::remint_now(state, params)?;
    // The detectors beside the scoring and paying, which flags do not change: the witness
    // graph's components are found on one core, and the other scores meanwhile.
    let ((mut flags, suspects), scored) = rayon::join(
        || {
            // The facts' heard lists are freed on all cores.
            facts.into_par_iter().for_each(drop);
            fraud::detect_all(&params.fraud, &f)
        },
        || {
            compute::score_entries(
                &params.rewards,
                params.devices.min_uptime_percent,
                epoch,
                entries,
                reminted,
            )
        },
    );
    fraud::judge_unheard(state, params, epoch, &suspects, &mut flags)?;
    let boundary = epoch.saturating_add(1).saturating_mul(params.blocks_per_epoch);
    fraud::unproven(&params.fraud, boundary, &f.witnessed, &located_at, &earning, &mut flags);
    let hearers = fraud::hearers(state, &f.witnessed, located_at.len(), &flags, judged)?;
    drop(f);
    Ok((compute::finish(scored, &validators, &flags), hearers))
}

/// Who shares the validators' pool of `epoch`: the epoch's validator set weighted by the
/// CRN bonded to each pool (BFT mode), or the solo validator alone.
fn validator_weights(
    state: &impl StateRead,
    epoch: u64,
    solo: Option<Address>,
) -> Result<Vec<(Address, cairn_types::Amount)>, StateError> {
    let set: cairn_types::consensus::ValidatorSet =
        state.get_decoded(&state_key::validator_set(epoch))?.unwrap_or_default();
    if set.is_empty() {
        return Ok(solo.map(|v| vec![(v, 1)]).unwrap_or_default());
    }
    let mut out = Vec::with_capacity(set.len());
    for v in set.validators() {
        let tokens = crate::staking::get_validator(state, &v.address)?.map_or(0, |p| p.tokens);
        out.push((v.address, tokens));
    }
    Ok(out)
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
    let unproven_due = fraud::release_due(o, params.epoch_of(height), height)?;
    let epoch = params.epoch_of(height).saturating_sub(1);
    let mut judged: Vec<cairn_types::DeviceId> = unproven_due.iter().map(|h| h.device).collect();
    judged.sort();
    judged.dedup();
    let (r, hearers) = report_judging(&o.frozen(), params, epoch, validator, &judged)?;
    let s = &r.summary;
    accounts::credit(o, &cairn_types::rewards::treasury_address(), s.to_treasury)?;
    for (v, amount) in &s.validator_payouts {
        // A staking pool takes it as stake (its delegators share it by their shares); the
        // solo validator takes it in its balance.
        if !crate::staking::reward_pool(o, v, *amount)? {
            accounts::credit(o, v, *amount)?;
        }
    }
    let escrow_release = epoch.saturating_add(1).saturating_add(params.fraud.escrow_epochs.max(1));
    for e in r.entries.iter().filter(|e| !e.flags.is_empty() && e.amount > 0) {
        // A hold with a detector's finding waits out the escrow; an unproven one is judged
        // again when the probation ends.
        let probation_end = e.flags.iter().find_map(Evidence::probation_end);
        let release_epoch = match probation_end {
            Some(until) if !e.flags.iter().any(Evidence::is_finding) => {
                fraud::unproven_release_epoch(params, epoch, until)
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
        fraud::hold(o, &h)?;
    }
    fraud::judge_unproven(
        o,
        params,
        params.epoch_of(height),
        height,
        &r.entries,
        unproven_due,
        &hearers,
    )?;
    fraud::record_findings(o, epoch, &r.entries);
    let to_leaves = s.emission + s.reminted - s.to_treasury - s.to_validators - s.escrowed;
    let mut supply = get_supply(o)?;
    supply.emitted = supply.emitted.saturating_add(s.emission);
    supply.reminted = supply.reminted.saturating_add(s.reminted);
    supply.remint_pending = supply.remint_pending.saturating_sub(s.reminted);
    supply.unclaimed = supply.unclaimed.saturating_add(to_leaves);
    supply.held = supply.held.saturating_add(s.escrowed);
    o.put_encoded(state_key::supply(), &supply);
    o.put_encoded(state_key::epoch_rewards(epoch), s);
    Ok(Some(r))
}

pub fn get_epoch_rewards(
    state: &impl StateRead,
    epoch: u64,
) -> Result<Option<EpochRewards>, StateError> {
    state.get_decoded(&state_key::epoch_rewards(epoch))
}

/// Pays every claim to `signer`, or nothing: each leaf must belong to the signer, be
/// unclaimed, and prove against its epoch's root.
pub fn claim(
    o: &mut Overlay<'_>,
    signer: &Address,
    claims: &[RewardClaim],
) -> TxResult<RewardsClaimError> {
    let mut total: cairn_types::Amount = 0;
    for c in claims {
        let Some(summary) = get_epoch_rewards(o, c.epoch)? else {
            return Ok(Err(RewardsClaimError::NoRewards { epoch: c.epoch }));
        };
        if c.leaf.owner != *signer {
            return Ok(Err(RewardsClaimError::NotYourReward { owner: c.leaf.owner }));
        }
        let key = state_key::claimed(c.epoch, c.index);
        if o.get(&key)?.is_some() {
            return Ok(Err(RewardsClaimError::AlreadyClaimed { epoch: c.epoch, index: c.index }));
        }
        if !merkle::verify(&summary.root, summary.leaves, c.index, &c.leaf.hash(), &c.path) {
            return Ok(Err(RewardsClaimError::BadRewardProof { epoch: c.epoch, index: c.index }));
        }
        o.put_encoded(key, &c.leaf.amount);
        total = total.saturating_add(c.leaf.amount);
    }
    let mut supply = get_supply(o)?;
    supply.unclaimed = supply.unclaimed.saturating_sub(total);
    o.put_encoded(state_key::supply(), &supply);
    accounts::credit(o, signer, total)?;
    Ok(Ok(()))
}

/// The handler of `TxBody::ClaimRewards`: 1 to [`cairn_types::tx::MAX_CLAIMS_PER_TX`]
/// leaves, paid by [`claim`].
pub struct ClaimRewards<'a> {
    pub claims: &'a [RewardClaim],
}

impl TxHandler for ClaimRewards<'_> {
    type Error = RewardsClaimError;

    fn check_stateless(&self, _params: &Params) -> Result<(), StatelessError> {
        let claims = self.claims;
        if claims.is_empty() || claims.len() > cairn_types::tx::MAX_CLAIMS_PER_TX {
            return Err(StatelessError::FieldTooLong {
                what: "claims (1 to 256)",
                len: claims.len(),
                max: cairn_types::tx::MAX_CLAIMS_PER_TX,
            });
        }
        Ok(())
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<RewardsClaimError> {
        no_outcome(claim(o, cx.signer, self.claims))
    }
}

/// The rewards' per-block work: at an epoch's first block, [`close_epoch`] for the epoch
/// before, paying the solo validator named in the chain info; the report goes to
/// [`BlockOutput::rewards`].
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
        let validator =
            o.get_decoded::<crate::ChainInfo>(&state_key::chain())?.map(|c| c.validator);
        out.rewards = close_epoch(o, env.params, env.height, validator)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "inputs_tests.rs"]
mod inputs_tests;

#[cfg(test)]
#[path = "paid_work_tests.rs"]
mod paid_work_tests;
