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

use crate::TxResult;

/// What the fraud detectors need of one device, read in the same pass as its work.
#[derive(Debug, Clone, Default)]
pub struct FraudBits {
    pub witnessed: Option<Vec<DeviceId>>,
    /// (previous cell, new cell, blocks between) for a location asserted in the epoch.
    pub moved: Option<(u64, u64, u64)>,
    /// (registered height, readings, digest) of a sensor that read.
    pub stream: Option<(Height, u32, cairn_types::Hash)>,
    /// The asserted cell of a hotspot.
    pub cell: Option<u64>,
}

/// The work of `id` in `epoch` as the reward run counts it, with what the fraud detectors
/// read; None for an unknown device.
pub fn device_input(
    state: &impl StateRead,
    params: &Params,
    id: &DeviceId,
    epoch: u64,
) -> Result<Option<(DeviceInput, FraudBits)>, StateError> {
    let Some(d) = devices::get_device(state, id)? else { return Ok(None) };
    let act = get_activity(state, id, epoch)?;
    let epoch_start = epoch.saturating_mul(params.blocks_per_epoch);
    let epoch_end = epoch_start.saturating_add(params.blocks_per_epoch);
    let mut bits = FraudBits::default();
    let asserted_at = if d.location.is_some() {
        let last: Option<LocationAssertion> =
            state.get_decoded(&state_key::location(id, d.location_count))?;
        if let Some(l) = last.filter(|l| l.height >= epoch_start && l.height < epoch_end)
            && d.location_count >= 2
            && let Some(p) = state
                .get_decoded::<LocationAssertion>(&state_key::location(id, d.location_count - 1))?
        {
            bits.moved = Some((p.cell, l.cell, l.height.saturating_sub(p.height)));
        }
        last.map(|a| a.height)
    } else {
        None
    };
    let mut work = Work {
        uptime_slots: act.slots_filled(),
        slots: params.devices.heartbeat_slots,
        beacons: act.beacons,
        witnesses: act.witnesses,
        trust_ppm: location_trust(d.location, asserted_at, epoch_start),
        // Only classes that take channels can have delivered units: no lookup for the rest.
        units: if crate::channels::serves_usage(d.class) {
            state.get_decoded(&state_key::usage_units(id, epoch))?.unwrap_or(0)
        } else {
            0
        },
        ..Work::default()
    };
    if d.class == DeviceClass::Hotspot {
        bits.cell = d.location;
    }
    match d.class {
        DeviceClass::Hotspot if act.beacons > 0 || act.witnesses > 0 => {
            let density: Option<cairn_types::device::CoverageDensity> =
                state.get_decoded(&state_key::coverage_density(id, epoch))?;
            work.density_ppm = density.map_or(0, |d| d.scale_ppm);
            if act.witnesses > 0 {
                bits.witnessed =
                    Some(state.get_decoded(&state_key::witnessed(id, epoch))?.unwrap_or_default());
            }
        }
        DeviceClass::Sensor => {
            let s: SensorEpoch =
                state.get_decoded(&state_key::sensor_epoch(id, epoch))?.unwrap_or_default();
            work.readings = s.readings;
            if s.readings > 0 {
                bits.stream = Some((d.registered_height, s.readings, s.digest));
            }
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
    Ok(Some((DeviceInput { device: *id, owner: d.owner, class: d.class, work }, bits)))
}

/// Devices per parallel gathering task.
const GATHER_CHUNK: usize = 2_048;

/// The reward report of `epoch` from the state as it stands at the end of that epoch
/// (after the density and sensor scores of the epoch boundary). The state is read in
/// parallel, in chunks of the roster; results keep roster order.
pub fn report<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    validator: Option<Address>,
) -> Result<RewardReport, StateError> {
    use rayon::prelude::*;
    let ids = roster::read(state, Roster::Active, epoch)?;
    let chunks: Vec<Vec<(DeviceInput, FraudBits)>> = ids
        .par_chunks(GATHER_CHUNK)
        .map(|chunk| {
            let mut out = Vec::with_capacity(chunk.len());
            for id in chunk {
                if let Some(x) = device_input(state, params, id, epoch)? {
                    out.push(x);
                }
            }
            Ok(out)
        })
        .collect::<Result<_, StateError>>()?;
    let mut inputs = Vec::with_capacity(ids.len());
    let mut f = fraud::FraudInputs::default();
    for (input, bits) in chunks.into_iter().flatten() {
        if let Some(w) = bits.witnessed {
            f.witnessed.push((input.device, w));
        }
        if let Some((from, to, blocks)) = bits.moved {
            f.moves.push((input.device, from, to, blocks));
        }
        if let Some((registered, readings, digest)) = bits.stream {
            f.sensors.push((input.device, registered, readings, digest));
        }
        if let Some(cell) = bits.cell {
            f.cells.push((input.device, cell));
        }
        inputs.push(input);
    }
    let flags = fraud::detect(&params.fraud, &f);
    Ok(compute::run(
        &params.rewards,
        params.devices.min_uptime_percent,
        epoch,
        inputs,
        &validator_weights(state, epoch, validator)?,
        &flags,
        crate::credits::remint_now(state, params)?,
    ))
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

/// The report that block `height` (the first of an epoch) computes for the epoch before,
/// from the state before that block: the same block-start steps, then [`report`]. Anyone
/// replaying the chain gets the node's report this way.
pub fn boundary_report(
    state: &(dyn StateRead + Sync),
    params: &Params,
    height: Height,
    validator: Option<Address>,
) -> Result<Option<RewardReport>, StateError> {
    if !params.starts_epoch(height) {
        return Ok(None);
    }
    let mut o = Overlay::new(state);
    crate::execute::before_rewards(&mut o, params, height)?;
    report(&o.frozen(), params, params.epoch_of(height).saturating_sub(1), validator).map(Some)
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
    fraud::release_due(o, params.epoch_of(height), height)?;
    let epoch = params.epoch_of(height).saturating_sub(1);
    let r = report(&o.frozen(), params, epoch, validator)?;
    let s = &r.summary;
    accounts::credit(o, &cairn_types::rewards::treasury_address(), s.to_treasury)?;
    for (v, amount) in &s.validator_payouts {
        // A staking pool takes it as stake (its delegators share it by their shares); the
        // solo validator takes it in its balance.
        if !crate::staking::reward_pool(o, v, *amount)? {
            accounts::credit(o, v, *amount)?;
        }
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
