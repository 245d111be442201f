//! Epoch rewards (docs/adr/0009-rewards.md): at the first block of an epoch the run reads
//! the work of every device on the previous epoch's active roster, computes the report with
//! [`compute::run`], credits the treasury and the validator, and commits the summary and the
//! Merkle root of (device, owner, amount) in state. Device owners claim their leaves with a
//! Merkle path; until then the amounts are counted as `unclaimed` in the supply.

pub mod compute;
pub mod fraud;
pub mod witness_graph;

use crate::accounts::{self, get_supply};
use crate::devices::{self, get_activity};
use crate::roster;
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::device::{LocationAssertion, SensorEpoch};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{EpochRewards, FraudHold, HoldStatus, RewardClaim, RewardReport, Work};
use cairn_types::{Address, DeviceClass, Height, Params, TxFailure, merkle};
use compute::{DeviceInput, location_trust};
use std::collections::BTreeMap;

use crate::TxResult;

/// What the fraud detectors need of one device, read in the same pass as its work.
#[derive(Debug, Clone, Default)]
pub struct FraudBits {
    /// The beaconers a hotspot heard within the reciprocity window before the boundary.
    pub witnessed: Option<Vec<DeviceId>>,
    /// (previous cell, new cell, blocks between) for a location asserted in the epoch.
    pub moved: Option<(u64, u64, u64)>,
    /// (registered height, readings, digest) of a sensor that read.
    pub stream: Option<(Height, u32, cairn_types::Hash)>,
}

/// One device of the roster as read from state, before the epoch's scoring.
#[derive(Debug, Clone)]
pub struct Gathered {
    pub input: DeviceInput,
    pub bits: FraudBits,
    /// Resolution-12 location at the boundary.
    pub location: Option<u64>,
    pub sensor: Option<SensorEpoch>,
}

/// The work of `id` in `epoch` as the reward run reads it: the device and its activity
/// record, a hotspot's heard list (the beaconers it witnessed within the reciprocity window),
/// its rejections only when it has any, and its location history only when it moved in the
/// epoch. None for an unknown device.
pub fn device_input(
    state: &impl StateRead,
    params: &Params,
    id: &DeviceId,
    epoch: u64,
) -> Result<Option<Gathered>, StateError> {
    let Some(d) = devices::get_device(state, id)? else { return Ok(None) };
    let act = get_activity(state, id, epoch)?;
    let epoch_start = epoch.saturating_mul(params.blocks_per_epoch);
    let epoch_end = epoch_start.saturating_add(params.blocks_per_epoch);
    let mut bits = FraudBits::default();
    let asserted_at = d.location.map(|_| d.located_at);
    if let Some(cell) = d.location
        && d.located_at >= epoch_start
        && d.located_at < epoch_end
        && d.location_count >= 2
        && let Some(p) = state
            .get_decoded::<LocationAssertion>(&state_key::location(id, d.location_count - 1))?
    {
        bits.moved = Some((p.cell, cell, d.located_at.saturating_sub(p.height)));
    }
    let mut work = Work {
        uptime_slots: act.slots_filled(),
        slots: params.devices.heartbeat_slots,
        beacons: act.beacons,
        witnesses: act.witnesses,
        trust_ppm: location_trust(d.location, asserted_at, epoch_start),
        units: act.units,
        ..Work::default()
    };
    match d.class {
        DeviceClass::Hotspot => {
            // The beaconers it heard within the reciprocity window before the boundary.
            let from = epoch_end.saturating_sub(params.coverage.reciprocity_blocks);
            let ids = heard_since(state, id, from)?;
            if !ids.is_empty() {
                bits.witnessed = Some(ids);
            }
        }
        DeviceClass::Sensor => {
            let s = act.sensor.unwrap_or_default();
            work.readings = s.readings;
            if s.readings > 0 {
                bits.stream = Some((d.registered_height, s.readings, s.digest));
            }
        }
        DeviceClass::Storage => work.proven_bytes = act.proven_bytes,
        DeviceClass::Compute => work.jobs = act.jobs,
        _ => {}
    }
    if act.rejected > 0 {
        let by: BTreeMap<String, u32> =
            state.get_decoded(&state_key::rejections(id, epoch))?.unwrap_or_default();
        work.rejected = by.into_iter().collect();
    }
    let input = DeviceInput {
        device: *id,
        owner: d.owner,
        class: d.class,
        work,
        density: Vec::new(),
        sensor_quality: None,
    };
    Ok(Some(Gathered { input, bits, location: d.location, sensor: act.sensor }))
}

/// The beaconers in `id`'s heard list whose last beacon it heard is at `from` or later.
/// Read from the stored bytes in place (the reward run reads one list per hotspot): the
/// borsh encoding of `Vec<(DeviceId, Height)>`, a little-endian `u32` count and then 40
/// bytes a pair.
fn heard_since(
    state: &impl StateRead,
    id: &DeviceId,
    from: Height,
) -> Result<Vec<DeviceId>, StateError> {
    let key = state_key::heard(id);
    let mut out = Ok(Vec::new());
    state.read_with(&key, &mut |v| {
        if let Some(bytes) = v {
            out = decode_heard_since(bytes, from);
        }
    })?;
    out.map_err(|reason| StateError::Corrupt { key: String::from_utf8_lossy(&key).into(), reason })
}

fn decode_heard_since(bytes: &[u8], from: Height) -> Result<Vec<DeviceId>, String> {
    const PAIR: usize = 40;
    let (count, pairs) = bytes.split_at_checked(4).ok_or("heard list shorter than its count")?;
    let count = u32::from_le_bytes(count.try_into().map_err(|_| "bad count")?) as usize;
    if pairs.len() != count.saturating_mul(PAIR) {
        return Err(format!("heard list of {count} pairs has {} bytes", pairs.len()));
    }
    Ok(pairs
        .chunks_exact(PAIR)
        .filter_map(|pair| {
            let (beaconer, height) = pair.split_at(32);
            let height = u64::from_le_bytes(height.try_into().ok()?);
            Some(cairn_types::Hash(beaconer.try_into().ok()?)).filter(|_| height >= from)
        })
        .collect())
}

/// Every device on the roster of `epoch`, read on all cores in device-id order (the order
/// of the report and of its leaves). Reading in key order keeps each lookup next to the
/// last one in the store. The results land straight in their final places.
pub fn gather<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
) -> Result<Vec<Gathered>, StateError> {
    use rayon::prelude::*;
    let mut ids = roster::read(state, epoch)?;
    ids.par_sort_unstable();
    // The first read error, if any (every read is tried; any error fails the whole run).
    let failed: std::sync::Mutex<Option<StateError>> = std::sync::Mutex::new(None);
    let read: Vec<Option<Gathered>> = ids
        .par_iter()
        .map(|id| {
            device_input(state, params, id, epoch).unwrap_or_else(|e| {
                if let Ok(mut f) = failed.lock() {
                    f.get_or_insert(e);
                }
                None
            })
        })
        .collect();
    // A poisoned lock still holds the error that was stored.
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    // Every device on a roster has a record (records are never deleted); skip any that
    // does not rather than fail the boundary.
    #[allow(
        clippy::filter_map_identity,
        reason = "filter_map collects in place (an Option<Gathered> is no larger than a \
                  Gathered); flatten copies a million entries into a growing vector"
    )]
    let found = read.into_iter().filter_map(|g| g).collect();
    Ok(found)
}

/// The epoch's scoring, in memory: the hex density of every hotspot that earned coverage
/// (at its location at the boundary) and the quality of every sensor that read.
pub fn score_epoch(params: &Params, devices: &mut [Gathered]) {
    let hotspots: Vec<usize> = (0..devices.len())
        .filter(|i| {
            devices.get(*i).is_some_and(|g| {
                g.input.class == DeviceClass::Hotspot
                    && (g.input.work.beacons > 0 || g.input.work.witnesses > 0)
            })
        })
        .collect();
    let located: Vec<(DeviceId, Option<u64>)> = hotspots
        .iter()
        .filter_map(|i| devices.get(*i))
        .map(|g| (g.input.device, g.location))
        .collect();
    let scales = devices::density::scales(&params.coverage.density, &located);
    for (i, (_, d)) in hotspots.into_iter().zip(scales) {
        if let Some(g) = devices.get_mut(i) {
            g.input.work.density_ppm = d.scale_ppm;
            g.input.density = d.factors;
        }
    }
    let sensors: Vec<usize> = (0..devices.len())
        .filter(|i| devices.get(*i).is_some_and(|g| g.sensor.is_some()))
        .collect();
    let aggs: Vec<(SensorEpoch, Option<u64>)> = sensors
        .iter()
        .filter_map(|i| devices.get(*i))
        .map(|g| (g.sensor.unwrap_or_default(), g.location))
        .collect();
    let refs: Vec<(&SensorEpoch, Option<u64>)> = aggs.iter().map(|(s, l)| (s, *l)).collect();
    let qualities = devices::sensors::qualities(params, &refs);
    for (i, q) in sensors.into_iter().zip(qualities) {
        if let Some(g) = devices.get_mut(i)
            && g.input.class == DeviceClass::Sensor
        {
            g.input.work.quality = q.quality;
            g.input.sensor_quality = Some(q);
        }
    }
}

/// The reward report of `epoch` from the state as it stands at the end of that epoch (after
/// the block-start steps of the boundary block): gather, score, detect, run.
pub fn report<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    validator: Option<Address>,
) -> Result<RewardReport, StateError> {
    let mut devices = gather(state, params, epoch)?;
    score_epoch(params, &mut devices);
    settle(state, params, epoch, devices, validator)
}

/// The last step of [`report`]: the fraud detectors, then the pure run over the scored
/// devices.
pub fn settle<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    devices: Vec<Gathered>,
    validator: Option<Address>,
) -> Result<RewardReport, StateError> {
    let mut devices = devices;
    let mut f = fraud::FraudInputs::default();
    for g in &mut devices {
        let d = g.input.device;
        if let Some(w) = g.bits.witnessed.take() {
            f.witnessed.push((d, w));
        }
        if let Some((from, to, blocks)) = g.bits.moved {
            f.moves.push((d, from, to, blocks));
        }
        if let Some((registered, readings, digest)) = g.bits.stream {
            f.sensors.push((d, registered, readings, digest));
        }
        if g.input.class == DeviceClass::Hotspot
            && let Some(cell) = g.location
        {
            f.cells.push((d, cell));
        }
    }
    let (mut flags, suspects) = fraud::detect_all(&params.fraud, &f);
    fraud::judge_unheard(state, params, epoch, &suspects, &mut flags)?;
    Ok(compute::run(
        &params.rewards,
        params.devices.min_uptime_percent,
        epoch,
        {
            use rayon::prelude::*;
            devices.into_par_iter().map(|g| g.input)
        },
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
