//! Epoch rewards (docs/adr/0009-rewards.md): at the first block of an epoch the run reads
//! the work of every device on the previous epoch's active roster, computes the report with
//! [`compute::run`], credits the treasury and the validator, and commits the summary and the
//! Merkle root of (device, owner, amount) in state. Device owners claim their leaves with a
//! Merkle path; until then the amounts are counted as `unclaimed` in the supply.

pub mod compute;
pub mod fraud;

use crate::accounts::{self, get_supply};
use crate::devices::{self, get_activity};
use crate::roster::{self, Roster};
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::device::{LocationAssertion, SensorEpoch, SensorQuality};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{EpochRewards, FraudHold, HoldStatus, RewardClaim, RewardReport, Work};
use cairn_types::{Address, DeviceClass, Height, Params, TxFailure, merkle};
use compute::{DeviceInput, location_trust};
use std::collections::BTreeMap;

type TxResult = Result<Result<(), TxFailure>, StateError>;

/// The work of `id` in `epoch` as the reward run counts it; None for an unknown device.
pub fn device_input(
    state: &impl StateRead,
    params: &Params,
    id: &DeviceId,
    epoch: u64,
) -> Result<Option<DeviceInput>, StateError> {
    let Some(d) = devices::get_device(state, id)? else { return Ok(None) };
    let act = get_activity(state, id, epoch)?;
    let epoch_start = epoch.saturating_mul(params.blocks_per_epoch);
    let asserted_at = if d.location.is_some() {
        state
            .get_decoded::<LocationAssertion>(&state_key::location(id, d.location_count))?
            .map(|a| a.height)
    } else {
        None
    };
    let mut work = Work {
        uptime_slots: act.slots_filled(),
        slots: params.devices.heartbeat_slots,
        beacons: act.beacons,
        witnesses: act.witnesses,
        trust_ppm: location_trust(d.location, asserted_at, epoch_start),
        units: state.get_decoded(&state_key::usage_units(id, epoch))?.unwrap_or(0),
        ..Work::default()
    };
    match d.class {
        DeviceClass::Hotspot if act.beacons > 0 || act.witnesses > 0 => {
            let density: Option<cairn_types::device::CoverageDensity> =
                state.get_decoded(&state_key::coverage_density(id, epoch))?;
            work.density_ppm = density.map_or(0, |d| d.scale_ppm);
        }
        DeviceClass::Sensor => {
            let s: SensorEpoch =
                state.get_decoded(&state_key::sensor_epoch(id, epoch))?.unwrap_or_default();
            work.readings = s.readings;
            let q: Option<SensorQuality> =
                state.get_decoded(&state_key::sensor_quality(id, epoch))?;
            work.quality = q.map_or(0, |q| q.quality);
        }
        DeviceClass::Storage => {
            work.proven_bytes =
                state.get_decoded(&state_key::proven_bytes(id, epoch))?.unwrap_or(0);
        }
        DeviceClass::Compute => {
            let jobs: u64 = state.get_decoded(&state_key::verified_jobs(id, epoch))?.unwrap_or(0);
            work.jobs = u32::try_from(jobs).unwrap_or(u32::MAX);
        }
        _ => {}
    }
    if act.rejected > 0 {
        let by: BTreeMap<String, u32> =
            state.get_decoded(&state_key::rejections(id, epoch))?.unwrap_or_default();
        work.rejected = by.into_iter().collect();
    }
    Ok(Some(DeviceInput { device: *id, owner: d.owner, class: d.class, work }))
}

/// The reward report of `epoch` from the state as it stands at the end of that epoch
/// (after the density and sensor scores of the epoch boundary).
pub fn report(
    state: &impl StateRead,
    params: &Params,
    epoch: u64,
    validator: Option<Address>,
) -> Result<RewardReport, StateError> {
    let ids = roster::read(state, Roster::Active, epoch)?;
    let mut inputs = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(input) = device_input(state, params, id, epoch)? {
            inputs.push(input);
        }
    }
    let flags = fraud::detect(&params.fraud, &fraud_inputs(state, params, epoch, &inputs)?);
    Ok(compute::run(
        &params.rewards,
        params.devices.min_uptime_percent,
        epoch,
        inputs,
        validator,
        &flags,
        crate::credits::remint_now(state, params)?,
    ))
}

/// What the fraud detectors read for `epoch`: witness edges of the hotspots that witnessed,
/// locations asserted during the epoch with the one before, and sensor streams.
fn fraud_inputs(
    state: &impl StateRead,
    params: &Params,
    epoch: u64,
    inputs: &[DeviceInput],
) -> Result<fraud::FraudInputs, StateError> {
    let mut f = fraud::FraudInputs::default();
    let start = epoch.saturating_mul(params.blocks_per_epoch);
    let end = start.saturating_add(params.blocks_per_epoch);
    for d in inputs {
        if d.work.witnesses > 0 {
            let seen: Vec<DeviceId> =
                state.get_decoded(&state_key::witnessed(&d.device, epoch))?.unwrap_or_default();
            f.witnessed.push((d.device, seen));
        }
        let Some(dev) = devices::get_device(state, &d.device)? else { continue };
        if dev.location_count >= 2 {
            let last: Option<LocationAssertion> =
                state.get_decoded(&state_key::location(&d.device, dev.location_count))?;
            let prev: Option<LocationAssertion> =
                state.get_decoded(&state_key::location(&d.device, dev.location_count - 1))?;
            if let (Some(l), Some(p)) = (last, prev)
                && l.height >= start
                && l.height < end
            {
                f.moves.push((d.device, p.cell, l.cell, l.height.saturating_sub(p.height)));
            }
        }
        if d.class == DeviceClass::Sensor && d.work.readings > 0 {
            let s: SensorEpoch =
                state.get_decoded(&state_key::sensor_epoch(&d.device, epoch))?.unwrap_or_default();
            f.sensors.push((d.device, dev.registered_height, s.readings, s.digest));
        }
    }
    Ok(f)
}

/// The report that block `height` (the first of an epoch) computes for the epoch before,
/// from the state before that block: the same block-start steps, then [`report`]. Anyone
/// replaying the chain gets the node's report this way.
pub fn boundary_report(
    state: &dyn StateRead,
    params: &Params,
    height: Height,
    validator: Option<Address>,
) -> Result<Option<RewardReport>, StateError> {
    let bpe = params.blocks_per_epoch.max(1);
    if height == 0 || !height.is_multiple_of(bpe) {
        return Ok(None);
    }
    let mut o = Overlay::new(state);
    crate::execute::before_rewards(&mut o, params, height)?;
    report(&o, params, params.epoch_of(height).saturating_sub(1), validator).map(Some)
}

/// First block of an epoch: rewards the epoch before. Returns the report for the node to
/// keep (its entries are not in state; their root is).
pub fn close_epoch(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    validator: Option<Address>,
) -> Result<Option<RewardReport>, StateError> {
    let bpe = params.blocks_per_epoch.max(1);
    if height == 0 || !height.is_multiple_of(bpe) {
        return Ok(None);
    }
    fraud::release_due(o, params.epoch_of(height), height)?;
    let epoch = params.epoch_of(height).saturating_sub(1);
    let r = report(o, params, epoch, validator)?;
    let s = &r.summary;
    accounts::credit(o, &cairn_types::rewards::treasury_address(), s.to_treasury)?;
    if let Some(v) = validator {
        accounts::credit(o, &v, s.to_validators)?;
    }
    let release_epoch = epoch.saturating_add(1).saturating_add(params.fraud.escrow_epochs.max(1));
    for e in r.entries.iter().filter(|e| !e.flags.is_empty() && e.amount > 0) {
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
pub fn claim(o: &mut Overlay<'_>, signer: &Address, claims: &[RewardClaim]) -> TxResult {
    let mut total: cairn_types::Amount = 0;
    for c in claims {
        let Some(summary) = get_epoch_rewards(o, c.epoch)? else {
            return Ok(Err(TxFailure::NoRewards { epoch: c.epoch }));
        };
        if c.leaf.owner != *signer {
            return Ok(Err(TxFailure::NotYourReward { owner: c.leaf.owner }));
        }
        let key = state_key::claimed(c.epoch, c.index);
        if o.get(&key)?.is_some() {
            return Ok(Err(TxFailure::AlreadyClaimed { epoch: c.epoch, index: c.index }));
        }
        if !merkle::verify(&summary.root, summary.leaves, c.index, &c.leaf.hash(), &c.path) {
            return Ok(Err(TxFailure::BadRewardProof { epoch: c.epoch, index: c.index }));
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

#[cfg(test)]
mod tests;
