//! The report pipeline's stateful half: each report of a batch is judged on its own against
//! the device's record, the denylist, the epoch and the device's sequence cursor. Accepted
//! reports update the device's per-epoch aggregate; every rejection is returned with its
//! reason for the receipt.
//!
//! All writes go to the block overlay, whose change set keeps one value per key, so the
//! state tree sees one update per device per block however many reports it sent.

use super::{DeviceStatus, EpochActivity, ReportCursor, get_denied, get_device, sensors};
use crate::roster;
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead as _};
use cairn_types::device::{
    BeaconRecord, RejectReason, ReportPayload, ReportRejection, beacon_data,
};
use cairn_types::device_key::DeviceId;
use cairn_types::{Height, Params, SignedReport, TxOutcome};

/// Where a report lands in its epoch: the heartbeat slot of block `height`.
pub fn heartbeat_slot(params: &Params, height: Height) -> u32 {
    let bpe = params.blocks_per_epoch.max(1);
    let slots = u64::from(params.devices.heartbeat_slots.clamp(1, 64));
    // Integer division rounds down: slot i covers blocks [i·bpe/slots, (i+1)·bpe/slots).
    ((height % bpe) * slots / bpe) as u32
}

/// Judges every report of a batch. `sig_ok[i]` is the stateless verdict on report i's
/// signature.
pub fn process_batch(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    block_time_ms: u64,
    reports: &[SignedReport],
    sig_ok: &[bool],
) -> Result<TxOutcome, StateError> {
    let epoch = params.epoch_of(height);
    let slot = heartbeat_slot(params, height);
    let at = At { params, epoch, height, block_time_ms };
    let mut accepted = 0u32;
    let mut rejected = Vec::new();
    for (index, signed) in reports.iter().enumerate() {
        let r = &signed.report;
        let id = r.device.id();
        let verdict = judge(o, &at, signed, id, sig_ok.get(index).copied().unwrap_or(false))?;
        let known = verdict.as_ref().err().is_none_or(|reason| {
            !matches!(reason, RejectReason::UnknownDevice { .. } | RejectReason::BadSignature)
        });
        if known {
            let key = state_key::epoch_activity(&id, epoch);
            let mut act: EpochActivity = match o.get_decoded(&key)? {
                Some(a) => a,
                None => {
                    roster::append(o, epoch, &id)?;
                    EpochActivity::default()
                }
            };
            match &verdict {
                Ok(()) => {
                    act.accepted = act.accepted.saturating_add(1);
                    match r.payload {
                        ReportPayload::Heartbeat { .. } => {
                            act.heartbeats = act.heartbeats.saturating_add(1);
                            act.heartbeat_slots |= 1u64 << slot;
                        }
                        ReportPayload::Reading { value } => sensors::record(&mut act, Ok(value)),
                        ReportPayload::Beacon { frequency_khz, tx_power_dbm, .. } => {
                            act.beacons = act.beacons.saturating_add(1);
                            let last = state_key::last_beacon(&id);
                            if let Some(prev) = o.get_decoded::<Height>(&last)? {
                                o.put_encoded(state_key::prev_beacon(&id), &prev);
                            }
                            o.put_encoded(last, &height);
                            let record = BeaconRecord { frequency_khz, tx_power_dbm, witnesses: 0 };
                            o.put_encoded(state_key::beacon(&id, height), &record);
                        }
                        ReportPayload::Witness { beaconer, beacon_height, .. } => {
                            act.witnesses = act.witnesses.saturating_add(1);
                            record_heard(o, params, height, &id, beaconer, beacon_height)?;
                            let key = state_key::beacon(&beaconer, beacon_height);
                            if let Some(mut record) = o.get_decoded::<BeaconRecord>(&key)? {
                                record.witnesses = record.witnesses.saturating_add(1);
                                o.put_encoded(key, &record);
                            }
                        }
                    }
                    o.put_encoded(state_key::report_cursor(&id), &ReportCursor { last_seq: r.seq });
                }
                Err(reason) => {
                    act.rejected = act.rejected.saturating_add(1);
                    let rkey = state_key::rejections(&id, epoch);
                    let mut by: std::collections::BTreeMap<String, u32> =
                        o.get_decoded(&rkey)?.unwrap_or_default();
                    let n = by.entry(reason.code().to_string()).or_insert(0);
                    *n = n.saturating_add(1);
                    o.put_encoded(rkey, &by);
                    if let RejectReason::OutOfRange { value, .. } = reason {
                        sensors::record(&mut act, Err(*value));
                    }
                }
            }
            o.put_encoded(key, &act);
        }
        match verdict {
            Ok(()) => accepted += 1,
            Err(reason) => rejected.push(ReportRejection {
                index: index as u32,
                device: id,
                seq: r.seq,
                reason,
            }),
        }
    }
    Ok(TxOutcome::Reports { accepted, rejected })
}

/// Most beaconers kept in a hotspot's heard list (the oldest go first); more than any
/// hotspot hears in a reciprocity window under the witness-distance limits.
pub const MAX_HEARD: usize = 256;

/// Records that `witness` heard `beaconer`'s beacon of `beacon_height`: the pair moves to
/// the end of the witness's heard list, and pairs older than the reciprocity window leave.
fn record_heard(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    witness: &DeviceId,
    beaconer: DeviceId,
    beacon_height: Height,
) -> Result<(), StateError> {
    let key = state_key::heard(witness);
    let mut heard: Vec<(DeviceId, Height)> = o.get_decoded(&key)?.unwrap_or_default();
    let window = params.coverage.reciprocity_blocks;
    heard.retain(|(b, h)| *b != beaconer && height.saturating_sub(*h) <= window);
    heard.push((beaconer, beacon_height));
    let excess = heard.len().saturating_sub(MAX_HEARD);
    heard.drain(..excess);
    o.put_encoded(key, &heard);
    Ok(())
}

/// Where a batch is judged: parameters and the block's epoch, height and time.
struct At<'a> {
    params: &'a Params,
    epoch: u64,
    height: Height,
    block_time_ms: u64,
}

/// The witness-specific checks, in order; see the module docs of `fspl` for the signal test.
#[allow(clippy::too_many_arguments)]
fn judge_witness(
    o: &Overlay<'_>,
    params: &Params,
    height: Height,
    witness: &super::Device,
    beaconer: DeviceId,
    beacon_height: Height,
    rssi_cdbm: i32,
    frequency_khz: u32,
) -> Result<Result<(), RejectReason>, StateError> {
    let cp = &params.coverage;
    let Some(record) =
        o.get_decoded::<BeaconRecord>(&state_key::beacon(&beaconer, beacon_height))?
    else {
        return Ok(Err(RejectReason::UnknownBeacon { beaconer, height: beacon_height }));
    };
    if beaconer == witness.id {
        return Ok(Err(RejectReason::SelfWitness));
    }
    let Some(source) = get_device(o, &beaconer)? else {
        return Ok(Err(RejectReason::UnknownBeacon { beaconer, height: beacon_height }));
    };
    if source.owner == witness.owner {
        return Ok(Err(RejectReason::SameOwner { owner: witness.owner }));
    }
    if height.saturating_sub(beacon_height) > cp.witness_lag_blocks {
        return Ok(Err(RejectReason::LateWitness {
            beacon_height,
            height,
            max_lag: cp.witness_lag_blocks,
        }));
    }
    let (Some(a), Some(b)) = (witness.location, source.location) else {
        return Ok(Err(RejectReason::NoLocation));
    };
    let cells = match cells_apart(a, b) {
        Some(c) => c,
        None => {
            return Ok(Err(RejectReason::TooFar { cells: u64::MAX, max: cp.max_witness_cells }));
        }
    };
    if cells < cp.min_witness_cells {
        return Ok(Err(RejectReason::TooClose { cells, min: cp.min_witness_cells }));
    }
    if cells > cp.max_witness_cells {
        return Ok(Err(RejectReason::TooFar { cells, max: cp.max_witness_cells }));
    }
    if frequency_khz.abs_diff(record.frequency_khz) > cp.max_frequency_delta_khz {
        return Ok(Err(RejectReason::FrequencyMismatch {
            got: frequency_khz,
            beacon: record.frequency_khz,
            max_delta: cp.max_frequency_delta_khz,
        }));
    }
    let distance_m = cells.saturating_mul(cp.cell_spacing_cm) / 100;
    let max_cdbm = super::fspl::max_rssi_cdbm(
        record.tx_power_dbm,
        distance_m,
        u64::from(record.frequency_khz),
        cp.rssi_tolerance_cdb,
    );
    if i64::from(rssi_cdbm) > max_cdbm {
        return Ok(Err(RejectReason::RssiAboveFspl { rssi_cdbm, max_cdbm, distance_m }));
    }
    let last = o.get_decoded::<Height>(&state_key::last_beacon(&witness.id))?;
    if last.is_none_or(|l| height.saturating_sub(l) > cp.reciprocity_blocks) {
        return Ok(Err(RejectReason::NoReciprocity {
            last_beacon: last,
            window: cp.reciprocity_blocks,
        }));
    }
    if record.witnesses >= cp.witness_cap {
        return Ok(Err(RejectReason::WitnessCap { cap: cp.witness_cap }));
    }
    Ok(Ok(()))
}

/// Grid distance between two resolution-12 cells, measured at resolution 11; `None` when
/// H3 cannot measure it (too far apart, or across a pentagon).
pub fn cells_apart(a: u64, b: u64) -> Option<u64> {
    let res = h3o::Resolution::Eleven;
    let a = h3o::CellIndex::try_from(a).ok()?.parent(res)?;
    let b = h3o::CellIndex::try_from(b).ok()?.parent(res)?;
    a.grid_distance(b).ok().and_then(|d| u64::try_from(d).ok())
}

fn judge(
    o: &Overlay<'_>,
    at: &At<'_>,
    signed: &SignedReport,
    id: DeviceId,
    sig_ok: bool,
) -> Result<Result<(), RejectReason>, StateError> {
    let At { params, epoch, height, block_time_ms } = *at;
    let r = &signed.report;
    if !sig_ok {
        return Ok(Err(RejectReason::BadSignature));
    }
    let Some(device) = get_device(o, &id)? else {
        return Ok(Err(RejectReason::UnknownDevice { device: id }));
    };
    if let Some(entry) = get_denied(o, &id)? {
        return Ok(Err(RejectReason::Denylisted { reason: entry.reason }));
    }
    match device.status {
        DeviceStatus::Active => {}
        DeviceStatus::Deregistered { height, .. }
        | DeviceStatus::Released { deregistered_height: height, .. } => {
            return Ok(Err(RejectReason::Deregistered { height }));
        }
    }
    let kind = r.payload.kind();
    if !device.class.allows(kind) {
        return Ok(Err(RejectReason::WrongClass { class: device.class, kind }));
    }
    if let ReportPayload::Reading { value } = r.payload {
        let sp = &params.sensor;
        if value < sp.min_value || value > sp.max_value {
            return Ok(Err(RejectReason::OutOfRange {
                value,
                min: sp.min_value,
                max: sp.max_value,
            }));
        }
    }
    if r.epoch != epoch {
        return Ok(Err(RejectReason::OutsideEpochWindow { epoch: r.epoch, current: epoch }));
    }
    let d = &params.devices;
    if r.timestamp_ms > block_time_ms.saturating_add(d.max_clock_skew_ms) {
        return Ok(Err(RejectReason::FutureTimestamp {
            timestamp_ms: r.timestamp_ms,
            block_time_ms,
            max_skew_ms: d.max_clock_skew_ms,
        }));
    }
    if r.timestamp_ms.saturating_add(d.max_report_age_ms) < block_time_ms {
        return Ok(Err(RejectReason::StaleTimestamp {
            timestamp_ms: r.timestamp_ms,
            block_time_ms,
            max_age_ms: d.max_report_age_ms,
        }));
    }
    let cursor: ReportCursor = o.get_decoded(&state_key::report_cursor(&id))?.unwrap_or_default();
    if r.seq <= cursor.last_seq {
        return Ok(Err(RejectReason::ReplayedSequence { seq: r.seq, last: cursor.last_seq }));
    }
    if let ReportPayload::Beacon { entropy_height, data, .. } = &r.payload {
        let cp = &params.coverage;
        let max_age = cp.entropy_max_age_blocks.min(crate::ENTROPY_WINDOW);
        let stale =
            || RejectReason::StaleEntropy { entropy_height: *entropy_height, height, max_age };
        if *entropy_height >= height || height - entropy_height > max_age {
            return Ok(Err(stale()));
        }
        let Some(entropy) = crate::entropy_at(o, *entropy_height)? else { return Ok(Err(stale())) };
        if *data != beacon_data(&entropy, &id) {
            return Ok(Err(RejectReason::BadBeacon { entropy_height: *entropy_height }));
        }
        if let Some(last) = o.get_decoded::<Height>(&state_key::last_beacon(&id))? {
            let next = last.saturating_add(cp.beacon_interval_blocks);
            if height < next {
                return Ok(Err(RejectReason::BeaconInterval { last, next }));
            }
        }
    }
    if let ReportPayload::Witness { beaconer, beacon_height, rssi_cdbm, frequency_khz } = &r.payload
    {
        return judge_witness(
            o,
            params,
            height,
            &device,
            *beaconer,
            *beacon_height,
            *rssi_cdbm,
            *frequency_khz,
        );
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod heard_tests {
    use super::*;
    use cairn_state::MemStore;
    use cairn_types::Hash;

    fn beaconer(i: u32) -> DeviceId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&i.to_be_bytes());
        Hash(b)
    }

    fn heard(o: &Overlay<'_>, w: &DeviceId) -> Vec<(DeviceId, Height)> {
        o.get_decoded(&state_key::heard(w)).unwrap().unwrap()
    }

    /// Each beaconer once, the latest last; pairs older than the reciprocity window (300
    /// blocks by default) leave when the list is next written; at most `MAX_HEARD` stay.
    #[test]
    fn a_heard_list_keeps_each_beaconer_once_within_the_window_and_at_most_max_heard() {
        let base = MemStore::default();
        let mut o = Overlay::new(&base);
        let params = Params::default();
        assert_eq!(params.coverage.reciprocity_blocks, 300);
        let w = beaconer(u32::MAX);
        record_heard(&mut o, &params, 100, &w, beaconer(1), 99).unwrap();
        record_heard(&mut o, &params, 150, &w, beaconer(2), 149).unwrap();
        record_heard(&mut o, &params, 200, &w, beaconer(1), 199).unwrap();
        assert_eq!(heard(&o, &w), vec![(beaconer(2), 149), (beaconer(1), 199)]);
        // At 460 the beacon of 149 is 311 blocks old.
        record_heard(&mut o, &params, 460, &w, beaconer(3), 459).unwrap();
        assert_eq!(heard(&o, &w), vec![(beaconer(1), 199), (beaconer(3), 459)]);
        for i in 0..300 {
            record_heard(&mut o, &params, 500, &w, beaconer(10 + i), 500).unwrap();
        }
        let list = heard(&o, &w);
        assert_eq!(list.len(), MAX_HEARD);
        assert_eq!(list.first(), Some(&(beaconer(10 + 300 - MAX_HEARD as u32), 500)));
        assert_eq!(list.last(), Some(&(beaconer(309), 500)));
    }
}
