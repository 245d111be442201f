//! The report pipeline's stateful half: each report of a batch is judged on its own against
//! the device's record, the denylist, the epoch and the device's sequence cursor. Accepted
//! reports update the device's per-epoch aggregate; every rejection is returned with its
//! reason for the receipt.
//!
//! A batch works on a working set ([`Work`]): each record its reports read is decoded once,
//! and each record they write is encoded and written to the block overlay once, at the end
//! of the batch. The overlay keeps one value per key either way, so the state after a batch
//! is the same as if every report wrote through; the state tree sees one update per device
//! per block however many reports it sent.

use super::{Device, DeviceStatus, EpochActivity, ReportCursor, get_denied, sensors};
use crate::handler::{Handled, OnBadSignature, SigItem, TxCx, TxHandler};
use crate::roster;
use crate::state_key;
use borsh::{BorshDeserialize, BorshSerialize};
use cairn_state::{Overlay, StateError, StateRead as _};
use cairn_types::device::{
    BeaconRecord, RejectReason, ReportPayload, ReportRejection, SensorEpoch, beacon_data,
};
use cairn_types::device_key::DeviceId;
use cairn_types::tx::StatelessError;
use cairn_types::{Address, Height, Params, SignedReport, TxOutcome};
use std::collections::BTreeMap;

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
    process_batch_flushing(o, params, height, block_time_ms, reports, sig_ok, Flush::AtEnd)
}

/// The committed-state keys judging and applying `r` in a block of `epoch` may read: its
/// device's record, denylist entry, cursor, activity and rejections; a beacon's or
/// witness's last beacon; a witness's heard list, and the beacon it heard with its
/// beaconer's record. [`prefetch`] reads them ahead; a key missing here is still read, one
/// at a time, when the report asks for it, so the list changes speed only, never a verdict.
/// Under the folded layout (`folded`) the cursor, activity and beacon heights are fields of
/// the device record (ADR 0037).
fn keys_read(epoch: u64, folded: bool, r: &SignedReport, out: &mut Vec<Vec<u8>>) {
    let id = r.report.device.id();
    out.extend([
        state_key::device(&id),
        state_key::denylist(&id),
        state_key::rejections(&id, epoch),
    ]);
    if !folded {
        out.extend([state_key::report_cursor(&id), state_key::epoch_activity(&id, epoch)]);
        if !matches!(
            r.report.payload,
            ReportPayload::Heartbeat { .. } | ReportPayload::Reading { .. }
        ) {
            out.push(state_key::last_beacon(&id));
        }
    }
    match &r.report.payload {
        ReportPayload::Beacon { .. } => {}
        ReportPayload::Witness { beaconer, beacon_height, .. } => out.extend([
            state_key::heard(&id),
            state_key::beacon(beaconer, *beacon_height),
            state_key::device(beaconer),
        ]),
        ReportPayload::Heartbeat { .. } | ReportPayload::Reading { .. } => {}
    }
}

/// Reads, on all cores, the committed values of every key the report batches among `txs`
/// may read ([`keys_read`]) and hands them to the overlay as base reads, before the block
/// runs its transactions one by one. The committed state does not change while a block
/// runs, so each value is the one the report would have read itself: the block's result is
/// the same, only the reads are done in parallel.
pub(crate) fn prefetch(
    o: &Overlay<'_>,
    base: &(dyn cairn_state::StateRead + Sync),
    epoch: u64,
    folded: bool,
    txs: &[&[SignedReport]],
) -> Result<(), StateError> {
    use rayon::prelude::*;
    let mut keys: Vec<Vec<u8>> = txs
        .par_iter()
        .flat_map_iter(|reports| {
            let mut out = Vec::with_capacity(reports.len() * 9);
            for r in reports.iter() {
                keys_read(epoch, folded, r, &mut out);
            }
            out
        })
        .collect();
    keys.par_sort_unstable();
    keys.dedup();
    let values: Vec<(Vec<u8>, Option<Vec<u8>>)> =
        keys.into_par_iter().map(|k| base.get(&k).map(|v| (k, v))).collect::<Result<_, _>>()?;
    o.remember_base_reads(values);
    Ok(())
}

/// When a batch's working set is written to the overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// Once, after the last report.
    AtEnd,
    /// After every report: the shape of the pipeline before the working set, kept to show
    /// both give the same state.
    #[cfg(test)]
    EveryReport,
}

fn process_batch_flushing(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    block_time_ms: u64,
    reports: &[SignedReport],
    sig_ok: &[bool],
    flush: Flush,
) -> Result<TxOutcome, StateError> {
    let epoch = params.epoch_of(height);
    let slot = heartbeat_slot(params, height);
    let at = At { params, epoch, height, block_time_ms };
    let mut w = Work::new(o, epoch);
    w.compact = params.state_layout.expires();
    w.folded = params.state_layout.folded().then(|| super::expiry::epochs_kept(params));
    let mut accepted = 0u32;
    let mut rejected = Vec::new();
    for (index, signed) in reports.iter().enumerate() {
        let r = &signed.report;
        let id = r.device.id();
        let verdict = judge(&mut w, &at, signed, id, sig_ok.get(index).copied().unwrap_or(false))?;
        match &verdict {
            Ok(()) => accept(&mut w, params, height, slot, &id, r)?,
            Err(RejectReason::UnknownDevice { .. } | RejectReason::BadSignature) => {}
            Err(reason) => count_rejection(&mut w, &id, r.seq, reason)?,
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
        #[cfg(test)]
        if flush == Flush::EveryReport {
            w.flush()?;
        }
    }
    let _ = flush;
    w.flush()?;
    super::expiry::queue_beacons(w.o, params, height, &w.beaconed)?;
    Ok(TxOutcome::Reports { accepted, rejected })
}

/// Records of one kind in a batch's working set, by state key: the value as last read or
/// written (`None`: absent), and whether the batch wrote it.
struct Records<T>(BTreeMap<Vec<u8>, (Option<T>, bool)>);

impl<T: BorshDeserialize + BorshSerialize> Records<T> {
    fn new() -> Self {
        Records(BTreeMap::new())
    }

    /// The record under `key`, read from the overlay the first time.
    fn get(&mut self, o: &Overlay<'_>, key: Vec<u8>) -> Result<Option<&mut T>, StateError> {
        let slot = match self.0.entry(key) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let v = o.get_decoded(e.key())?;
                e.insert((v, false))
            }
        };
        Ok(slot.0.as_mut())
    }

    fn put(&mut self, key: Vec<u8>, value: T) {
        self.0.insert(key, (Some(value), true));
    }

    /// Marks the record under `key` written (after a change through [`Records::get`]).
    fn touch(&mut self, key: &[u8]) {
        if let Some(slot) = self.0.get_mut(key) {
            slot.1 = true;
        }
    }

    /// Writes what the batch wrote to the overlay; keeps the values for later reports.
    fn flush(&mut self, o: &mut Overlay<'_>) {
        for (key, (value, written)) in &mut self.0 {
            if let (true, Some(v)) = (*written, value.as_ref()) {
                o.put_encoded(key.clone(), v);
            }
            *written = false;
        }
    }
}

/// A batch's working set: the overlay beneath it and the records its reports read and
/// write, decoded once. Device records and the denylist are only read here; everything a
/// report writes goes through the working set and reaches the overlay at [`Work::flush`].
struct Work<'w, 'a> {
    o: &'w mut Overlay<'a>,
    epoch: u64,
    devices: BTreeMap<DeviceId, Option<Device>>,
    cursors: Records<ReportCursor>,
    activities: Records<EpochActivity>,
    rejections: Records<BTreeMap<String, u32>>,
    last_beacons: Records<Height>,
    prev_beacons: Records<Height>,
    beacons: Records<BeaconRecord>,
    heard: Records<Vec<(DeviceId, Height)>>,
    /// Devices that joined the epoch's roster in this batch, in order, not yet appended.
    roster: Vec<DeviceId>,
    /// Compact layout (ADR 0036): devices whose rejection record of the epoch this batch
    /// made, in order, not yet appended to the epoch's rejected roster.
    rejected_roster: Vec<DeviceId>,
    /// Compact layout: hotspots whose beacon this batch accepted, for the expiry queue.
    beaconed: Vec<DeviceId>,
    /// Whether the chain's epoch and beacon records expire (the compact and folded
    /// layouts).
    compact: bool,
    /// Folded layout (ADR 0037): the epochs an activity record is kept ([`super::expiry::
    /// epochs_kept`]); `None` under the other layouts.
    folded: Option<u64>,
    /// Folded layout: the record of each device the batch read, with whether it changed
    /// its folded state (`None`: no such device). The cursor, activity and beacon heights
    /// are read and written here instead of in `cursors`, `activities`, `last_beacons` and
    /// `prev_beacons`.
    folds: BTreeMap<DeviceId, Option<Fold>>,
}

/// A device record of the folded layout in a batch's working set.
struct Fold {
    device: Device,
    state: cairn_types::device::DeviceState,
    written: bool,
}

impl<'w, 'a> Work<'w, 'a> {
    fn new(o: &'w mut Overlay<'a>, epoch: u64) -> Self {
        Work {
            o,
            epoch,
            devices: BTreeMap::new(),
            cursors: Records::new(),
            activities: Records::new(),
            rejections: Records::new(),
            last_beacons: Records::new(),
            prev_beacons: Records::new(),
            beacons: Records::new(),
            heard: Records::new(),
            roster: Vec::new(),
            rejected_roster: Vec::new(),
            beaconed: Vec::new(),
            compact: false,
            folded: None,
            folds: BTreeMap::new(),
        }
    }

    /// Folded layout: device `id`'s record, read from the overlay the first time.
    fn fold(&mut self, id: &DeviceId) -> Result<Option<&mut Fold>, StateError> {
        let slot = match self.folds.entry(*id) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let f = super::folded::read(&*self.o, id)?.and_then(|(device, state)| {
                    state.map(|state| Fold { device, state, written: false })
                });
                e.insert(f)
            }
        };
        Ok(slot.as_mut())
    }

    /// Folded layout: device `id`'s record, to change; an error for a device without one
    /// (a report is only applied for a registered device).
    fn fold_mut(&mut self, id: &DeviceId) -> Result<&mut Fold, StateError> {
        let Some(f) = self.fold(id)? else {
            return Err(StateError::Corrupt {
                key: String::from_utf8_lossy(&state_key::device(id)).into_owned(),
                reason: "a report applied to a device without a folded record".into(),
            });
        };
        f.written = true;
        Ok(f)
    }

    /// Device `id`'s activity record of the batch's epoch, if it has one.
    fn activity(&mut self, id: &DeviceId) -> Result<Option<&mut EpochActivity>, StateError> {
        if self.folded.is_some() {
            let epoch = self.epoch;
            return Ok(self.fold(id)?.and_then(|f| {
                f.state.activity.iter_mut().find(|(e, _)| *e == epoch).map(|(_, a)| a)
            }));
        }
        self.activities.get(self.o, state_key::epoch_activity(id, self.epoch))
    }

    fn put_activity(&mut self, id: &DeviceId, act: EpochActivity) -> Result<(), StateError> {
        if self.folded.is_some() {
            let epoch = self.epoch;
            *super::folded::activity_mut(&mut self.fold_mut(id)?.state, epoch).0 = act;
            return Ok(());
        }
        self.activities.put(state_key::epoch_activity(id, self.epoch), act);
        Ok(())
    }

    /// Marks device `id`'s activity record written (after a change through
    /// [`Work::activity`]).
    fn touch_activity(&mut self, id: &DeviceId) -> Result<(), StateError> {
        if self.folded.is_some() {
            self.fold_mut(id)?;
            return Ok(());
        }
        self.activities.touch(&state_key::epoch_activity(id, self.epoch));
        Ok(())
    }

    /// Records an accepted beacon of device `id` at `height`.
    fn set_beacon(&mut self, id: &DeviceId, height: Height) -> Result<(), StateError> {
        if self.folded.is_some() {
            let s = &mut self.fold_mut(id)?.state;
            if let Some(prev) = s.last_beacon {
                s.prev_beacon = Some(prev);
            }
            s.last_beacon = Some(height);
            return Ok(());
        }
        if let Some(prev) = self.last_beacon(id)? {
            self.prev_beacons.put(state_key::prev_beacon(id), prev);
        }
        self.last_beacons.put(state_key::last_beacon(id), height);
        Ok(())
    }

    /// A device's record (reports never change it), decoded once per batch.
    fn device(&mut self, id: &DeviceId) -> Result<Option<&Device>, StateError> {
        if self.folded.is_some() {
            return Ok(self.fold(id)?.map(|f| &f.device));
        }
        let slot = match self.devices.entry(*id) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let d = super::get_device(&*self.o, id)?;
                e.insert(d)
            }
        };
        Ok(slot.as_ref())
    }

    fn last_seq(&mut self, id: &DeviceId) -> Result<u64, StateError> {
        if self.folded.is_some() {
            return Ok(self.fold(id)?.and_then(|f| f.state.last_seq).unwrap_or(0));
        }
        Ok(self.cursors.get(self.o, state_key::report_cursor(id))?.map_or(0, |c| c.last_seq))
    }

    fn set_last_seq(&mut self, id: &DeviceId, seq: u64) -> Result<(), StateError> {
        if self.folded.is_some() {
            self.fold_mut(id)?.state.last_seq = Some(seq);
            return Ok(());
        }
        self.cursors.put(state_key::report_cursor(id), ReportCursor { last_seq: seq });
        Ok(())
    }

    fn last_beacon(&mut self, id: &DeviceId) -> Result<Option<Height>, StateError> {
        if self.folded.is_some() {
            return Ok(self.fold(id)?.and_then(|f| f.state.last_beacon));
        }
        Ok(self.last_beacons.get(self.o, state_key::last_beacon(id))?.copied())
    }

    /// Writes everything the batch wrote since the last flush to the overlay: the records,
    /// then the new roster entries in order.
    fn flush(&mut self) -> Result<(), StateError> {
        let o = &mut *self.o;
        self.cursors.flush(o);
        self.activities.flush(o);
        self.rejections.flush(o);
        self.last_beacons.flush(o);
        self.prev_beacons.flush(o);
        self.beacons.flush(o);
        self.heard.flush(o);
        if let Some(kept) = self.folded {
            for f in self.folds.values_mut().flatten().filter(|f| f.written) {
                super::folded::trim_kept(&mut f.state, kept, self.epoch);
                super::folded::write(o, &f.device, Some(&f.state));
                f.written = false;
            }
        }
        roster::append_all(o, self.epoch, &self.roster)?;
        self.roster.clear();
        roster::append_all_to(o, roster::REJECTED, self.epoch, &self.rejected_roster)?;
        self.rejected_roster.clear();
        Ok(())
    }
}

/// Applies an accepted report. Its device's epoch activity is created here if it has none
/// (and only here for reports: a rejection never creates one), which puts the device on
/// the epoch's roster.
fn accept(
    w: &mut Work<'_, '_>,
    params: &Params,
    height: Height,
    slot: u32,
    id: &DeviceId,
    r: &cairn_types::Report,
) -> Result<(), StateError> {
    if w.activity(id)?.is_none() {
        w.roster.push(*id);
        let first = first_activity(w, id)?;
        w.put_activity(id, first)?;
    }
    match r.payload {
        ReportPayload::Beacon { frequency_khz, tx_power_dbm, .. } => {
            w.set_beacon(id, height)?;
            if w.compact {
                w.beaconed.push(*id);
            }
            let record = BeaconRecord { frequency_khz, tx_power_dbm, witnesses: Vec::new() };
            w.beacons.put(state_key::beacon(id, height), record);
        }
        ReportPayload::Witness { beaconer, beacon_height, .. } => {
            record_heard(w, params, height, id, beaconer, beacon_height)?;
            let bkey = state_key::beacon(&beaconer, beacon_height);
            if let Some(record) = w.beacons.get(w.o, bkey.clone())? {
                record.witnesses.push(*id);
                w.beacons.touch(&bkey);
            }
        }
        ReportPayload::Heartbeat { .. } | ReportPayload::Reading { .. } => {}
    }
    w.set_last_seq(id, r.seq)?;
    let Some(act) = w.activity(id)? else {
        return Err(StateError::Corrupt {
            key: String::from_utf8_lossy(&state_key::epoch_activity(id, w.epoch)).into_owned(),
            reason: "the epoch activity written by this batch is gone".into(),
        });
    };
    act.accepted = act.accepted.saturating_add(1);
    match r.payload {
        ReportPayload::Heartbeat { .. } => {
            act.heartbeats = act.heartbeats.saturating_add(1);
            act.heartbeat_slots |= 1u64 << slot;
        }
        ReportPayload::Reading { value } => sensors::record(act, Ok(value)),
        ReportPayload::Beacon { .. } => act.beacons = act.beacons.saturating_add(1),
        ReportPayload::Witness { .. } => act.witnesses = act.witnesses.saturating_add(1),
    }
    w.touch_activity(id)
}

/// A device's first epoch activity record, carrying the rejections counted before it:
/// `rejected` is their total and a sensor's out-of-range readings are kept, so the record
/// says the same whether a rejection came before or after the first accepted report.
fn first_activity(w: &mut Work<'_, '_>, id: &DeviceId) -> Result<EpochActivity, StateError> {
    let key = state_key::rejections(id, w.epoch);
    let by = w.rejections.get(w.o, key)?.map(|b| b.clone()).unwrap_or_default();
    let mut act = EpochActivity {
        rejected: by.values().fold(0u32, |t, n| t.saturating_add(*n)),
        ..EpochActivity::default()
    };
    if let Some(&out_of_range) = by.get(OUT_OF_RANGE).filter(|n| **n > 0) {
        act.sensor = Some(SensorEpoch { out_of_range, ..SensorEpoch::default() });
    }
    Ok(act)
}

/// The reason code of a reading outside the sensor range.
const OUT_OF_RANGE: &str = "out_of_range";

/// Counts a rejected report of a known device: always in the epoch's rejections by reason,
/// and in its epoch activity only when it already has one (see [`first_activity`]). An
/// out-of-range reading passed every other check, so it spends its sequence number: it
/// counts once, however often it is replayed.
fn count_rejection(
    w: &mut Work<'_, '_>,
    id: &DeviceId,
    seq: u64,
    reason: &RejectReason,
) -> Result<(), StateError> {
    let rkey = state_key::rejections(id, w.epoch);
    let found = w.rejections.get(w.o, rkey.clone())?.map(std::mem::take);
    if found.is_none() && w.compact {
        w.rejected_roster.push(*id);
    }
    let mut by = found.unwrap_or_default();
    let n = by.entry(reason.code().to_string()).or_insert(0);
    *n = n.saturating_add(1);
    w.rejections.put(rkey, by);
    let out_of_range = match reason {
        RejectReason::OutOfRange { value, .. } => {
            w.set_last_seq(id, seq)?;
            Some(*value)
        }
        _ => None,
    };
    if let Some(act) = w.activity(id)? {
        act.rejected = act.rejected.saturating_add(1);
        if let Some(value) = out_of_range {
            sensors::record(act, Err(value));
        }
        w.touch_activity(id)?;
    }
    Ok(())
}

/// Most beaconers kept in a hotspot's heard list (the oldest go first); more than any
/// hotspot hears in a reciprocity window under the witness-distance limits.
pub const MAX_HEARD: usize = 256;

/// Records that `witness` heard `beaconer`'s beacon of `beacon_height`: the pair moves to
/// the end of the witness's heard list, and pairs older than the reciprocity window leave.
fn record_heard(
    w: &mut Work<'_, '_>,
    params: &Params,
    height: Height,
    witness: &DeviceId,
    beaconer: DeviceId,
    beacon_height: Height,
) -> Result<(), StateError> {
    let key = state_key::heard(witness);
    let mut heard = w.heard.get(w.o, key.clone())?.map(std::mem::take).unwrap_or_default();
    update_heard(&mut heard, params, height, beaconer, beacon_height);
    w.heard.put(key, heard);
    Ok(())
}

/// A heard list after `beaconer`'s beacon of `beacon_height` was heard at `height`.
fn update_heard(
    heard: &mut Vec<(DeviceId, Height)>,
    params: &Params,
    height: Height,
    beaconer: DeviceId,
    beacon_height: Height,
) {
    let window = params.coverage.reciprocity_blocks;
    heard.retain(|(b, h)| *b != beaconer && height.saturating_sub(*h) <= window);
    heard.push((beaconer, beacon_height));
    let excess = heard.len().saturating_sub(MAX_HEARD);
    heard.drain(..excess);
}

/// Where a batch is judged: parameters and the block's epoch, height and time.
struct At<'a> {
    params: &'a Params,
    epoch: u64,
    height: Height,
    block_time_ms: u64,
}

/// What the checks read of a device record.
#[derive(Clone, Copy)]
struct Seen {
    id: DeviceId,
    owner: Address,
    location: Option<u64>,
}

/// What the witness checks read of a beacon's record.
struct HeardBeacon {
    frequency_khz: u32,
    tx_power_dbm: i16,
    witnesses: usize,
    duplicate: bool,
}

/// The witness-specific checks, in order; see the module docs of `fspl` for the signal test.
#[allow(clippy::too_many_arguments)]
fn judge_witness(
    w: &mut Work<'_, '_>,
    params: &Params,
    height: Height,
    witness: Seen,
    beaconer: DeviceId,
    beacon_height: Height,
    rssi_cdbm: i32,
    frequency_khz: u32,
) -> Result<Result<(), RejectReason>, StateError> {
    let cp = &params.coverage;
    // Under the compact layout a beacon's record goes when its witness window ends (ADR
    // 0036), so lateness is judged first: a late witness is `late_witness` either way.
    let late = height.saturating_sub(beacon_height) > cp.witness_lag_blocks;
    if late && params.state_layout.expires() {
        return Ok(Err(RejectReason::LateWitness {
            beacon_height,
            height,
            max_lag: cp.witness_lag_blocks,
        }));
    }
    let Some(record) =
        w.beacons.get(w.o, state_key::beacon(&beaconer, beacon_height))?.map(|r| HeardBeacon {
            frequency_khz: r.frequency_khz,
            tx_power_dbm: r.tx_power_dbm,
            witnesses: r.witnesses.len(),
            duplicate: r.witnesses.contains(&witness.id),
        })
    else {
        return Ok(Err(RejectReason::UnknownBeacon { beaconer, height: beacon_height }));
    };
    if beaconer == witness.id {
        return Ok(Err(RejectReason::SelfWitness));
    }
    if record.duplicate {
        return Ok(Err(RejectReason::DuplicateWitness { beacon_height }));
    }
    let Some(source) =
        w.device(&beaconer)?.map(|d| Seen { id: d.id, owner: d.owner, location: d.location })
    else {
        return Ok(Err(RejectReason::UnknownBeacon { beaconer, height: beacon_height }));
    };
    if source.owner == witness.owner {
        return Ok(Err(RejectReason::SameOwner { owner: witness.owner }));
    }
    if late {
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
    let radio = &cp.radio;
    if rssi_cdbm < radio.min_rssi_cdbm || rssi_cdbm > radio.max_rssi_cdbm {
        return Ok(Err(RejectReason::RssiOutOfRange {
            rssi_cdbm,
            min_cdbm: radio.min_rssi_cdbm,
            max_cdbm: radio.max_rssi_cdbm,
        }));
    }
    if i64::from(rssi_cdbm) > i64::from(record.tx_power_dbm) * 100 {
        return Ok(Err(RejectReason::RssiAboveTxPower {
            rssi_cdbm,
            tx_power_dbm: record.tx_power_dbm,
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
    let last = w.last_beacon(&witness.id)?;
    if last.is_none_or(|l| height.saturating_sub(l) > cp.reciprocity_blocks) {
        return Ok(Err(RejectReason::NoReciprocity {
            last_beacon: last,
            window: cp.reciprocity_blocks,
        }));
    }
    if record.witnesses >= cp.witness_cap as usize {
        return Ok(Err(RejectReason::WitnessCap { cap: cp.witness_cap }));
    }
    Ok(Ok(()))
}

/// Whether a beacon's channel and power fit the region plan of the beaconer's location
/// (see `plans`): the frequency first, then the power.
pub fn within_plan(
    params: &Params,
    location: Option<u64>,
    frequency_khz: u32,
    tx_power_dbm: i16,
) -> Result<(), RejectReason> {
    let radio = &params.coverage.radio;
    let Some(plan) = super::plans::plan_for(radio, location) else {
        return Err(RejectReason::BeaconFrequencyOutsidePlan {
            frequency_khz,
            plan: radio.default_plan.clone(),
        });
    };
    if !plan.has_channel(frequency_khz) {
        return Err(RejectReason::BeaconFrequencyOutsidePlan {
            frequency_khz,
            plan: plan.name.clone(),
        });
    }
    if tx_power_dbm < plan.min_tx_power_dbm || tx_power_dbm > plan.max_eirp_dbm {
        return Err(RejectReason::BeaconPowerOutsidePlan {
            tx_power_dbm,
            min_dbm: plan.min_tx_power_dbm,
            max_dbm: plan.max_eirp_dbm,
            plan: plan.name.clone(),
        });
    }
    Ok(())
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
    w: &mut Work<'_, '_>,
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
    let Some((device, status, class)) = w
        .device(&id)?
        .map(|d| (Seen { id: d.id, owner: d.owner, location: d.location }, d.status, d.class))
    else {
        return Ok(Err(RejectReason::UnknownDevice { device: id }));
    };
    if let Some(entry) = get_denied(&*w.o, &id)? {
        return Ok(Err(RejectReason::Denylisted { reason: entry.reason }));
    }
    match status {
        DeviceStatus::Active => {}
        DeviceStatus::Deregistered { height, .. }
        | DeviceStatus::Released { deregistered_height: height, .. } => {
            return Ok(Err(RejectReason::Deregistered { height }));
        }
    }
    let kind = r.payload.kind();
    if !class.allows(kind) {
        return Ok(Err(RejectReason::WrongClass { class, kind }));
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
    let last_seq = w.last_seq(&id)?;
    if r.seq <= last_seq {
        return Ok(Err(RejectReason::ReplayedSequence { seq: r.seq, last: last_seq }));
    }
    // Last, so only a fresh reading of the epoch counts as out of range (and, spending its
    // sequence number, counts once).
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
    if let ReportPayload::Beacon { entropy_height, data, frequency_khz, tx_power_dbm } = &r.payload
    {
        let cp = &params.coverage;
        if let Err(reason) = within_plan(params, device.location, *frequency_khz, *tx_power_dbm) {
            return Ok(Err(reason));
        }
        let max_age = cp.entropy_max_age_blocks.min(crate::ENTROPY_WINDOW);
        let stale =
            || RejectReason::StaleEntropy { entropy_height: *entropy_height, height, max_age };
        if *entropy_height >= height || height - entropy_height > max_age {
            return Ok(Err(stale()));
        }
        let Some(entropy) = crate::entropy_at(&*w.o, *entropy_height)? else {
            return Ok(Err(stale()));
        };
        if *data != beacon_data(&entropy, &id) {
            return Ok(Err(RejectReason::BadBeacon { entropy_height: *entropy_height }));
        }
        if let Some(last) = w.last_beacon(&id)? {
            let next = last.saturating_add(cp.beacon_interval_blocks);
            if height < next {
                return Ok(Err(RejectReason::BeaconInterval { last, next }));
            }
        }
    }
    if let ReportPayload::Witness { beaconer, beacon_height, rssi_cdbm, frequency_khz } = &r.payload
    {
        return judge_witness(
            w,
            params,
            height,
            device,
            *beaconer,
            *beacon_height,
            *rssi_cdbm,
            *frequency_khz,
        );
    }
    Ok(Ok(()))
}

/// The handler of `TxBody::SubmitReports`: each report's signature is verified with the
/// batch but refuses only that report ([`OnBadSignature::Part`]); [`process_batch`] judges
/// each report on its own and the receipt records the verdicts.
pub struct SubmitReports<'a> {
    pub reports: &'a [SignedReport],
}

impl TxHandler for SubmitReports<'_> {
    type Error = super::registry::DeviceTxError;

    fn check_stateless(&self, params: &Params) -> Result<(), StatelessError> {
        let max = params.devices.max_reports_per_tx as usize;
        if self.reports.is_empty() || self.reports.len() > max {
            return Err(StatelessError::BatchSize { count: self.reports.len(), max });
        }
        Ok(())
    }

    fn signatures(&self, chain_id: &str, _signer: &Address, out: &mut Vec<SigItem>) {
        out.extend(self.reports.iter().enumerate().map(|(i, r)| SigItem {
            key: r.report.device,
            sig: r.signature,
            msg: r.report.signing_message(chain_id),
            on_bad: OnBadSignature::Part(i),
        }));
    }

    fn check_and_execute(
        &self,
        o: &mut Overlay<'_>,
        cx: &TxCx<'_>,
    ) -> Handled<super::registry::DeviceTxError> {
        let outcome =
            process_batch(o, cx.params, cx.height, cx.timestamp_ms, self.reports, cx.part_sigs)?;
        Ok(Ok(outcome))
    }
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

    /// [`record_heard`] in a batch of its own.
    fn heard_once(
        o: &mut Overlay<'_>,
        params: &Params,
        height: Height,
        witness: &DeviceId,
        beaconer: DeviceId,
        beacon_height: Height,
    ) -> Result<(), StateError> {
        let mut w = Work::new(o, 0);
        record_heard(&mut w, params, height, witness, beaconer, beacon_height)?;
        w.flush()
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
        heard_once(&mut o, &params, 100, &w, beaconer(1), 99).unwrap();
        heard_once(&mut o, &params, 150, &w, beaconer(2), 149).unwrap();
        heard_once(&mut o, &params, 200, &w, beaconer(1), 199).unwrap();
        assert_eq!(heard(&o, &w), vec![(beaconer(2), 149), (beaconer(1), 199)]);
        // At 460 the beacon of 149 is 311 blocks old.
        heard_once(&mut o, &params, 460, &w, beaconer(3), 459).unwrap();
        assert_eq!(heard(&o, &w), vec![(beaconer(1), 199), (beaconer(3), 459)]);
        for i in 0..300 {
            heard_once(&mut o, &params, 500, &w, beaconer(10 + i), 500).unwrap();
        }
        let list = heard(&o, &w);
        assert_eq!(list.len(), MAX_HEARD);
        assert_eq!(list.first(), Some(&(beaconer(10 + 300 - MAX_HEARD as u32), 500)));
        assert_eq!(list.last(), Some(&(beaconer(309), 500)));
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use cairn_testkit::Field;
    use cairn_testkit::coverage::{FREQ, WEAK};
    use cairn_testkit::devices::{ed_device, reading, register};
    use cairn_types::{DeviceClass, TxStatus};
    use std::collections::BTreeSet;

    /// Every kind of report, accepted and rejected (a sensor's out-of-range reading before
    /// its first accepted one, a replay, witnesses past the cap and a duplicate, beacons,
    /// heartbeats), in one batch: written once at the end, the overlay holds exactly what
    /// writing after every report (the pipeline's shape before the working set) leaves.
    #[test]
    fn a_batch_through_its_working_set_leaves_the_state_of_writing_after_every_report() {
        let mut f = Field::start("batch");
        let sensor = ed_device(200);
        let a = f.a.clone();
        for r in f.net.send(&a, vec![register(&sensor, &a, DeviceClass::Sensor, 0, None)]) {
            assert_eq!(r.status, TxStatus::Success, "{r:?}");
        }
        let ws: Vec<_> = (10..13).map(|k| f.witness_at(k)).collect();
        let beaconer = f.beaconer.clone();
        let hb = f.beacon(&beaconer);
        let t = f.net.c.parent.timestamp_ms;
        let mut batch = vec![
            reading(&sensor, 1, 0, t, 1_000_000),
            reading(&sensor, 2, 0, t, 20_000),
            reading(&sensor, 2, 0, t, 20_000),
            reading(&sensor, 3, 0, t, 20_500),
        ];
        for w in &ws {
            batch.push(f.witness(w, hb, WEAK, FREQ));
        }
        batch.push(f.witness(&ws[0], hb, WEAK, FREQ));
        batch.push(f.report(&ws[1], ReportPayload::Heartbeat { uptime_secs: 1 }));
        let head = f.height();
        batch.push(f.beacon_report(&ws[2], head));
        batch.push(f.beacon_report(&ws[1], head));
        batch.push(f.report(&beaconer, ReportPayload::Heartbeat { uptime_secs: 1 }));
        batch.push(reading(&sensor, 4, 0, t, -1_000_000));
        batch.push(reading(&sensor, 5, 0, t, 21_000));

        let store = &f.net.c.store;
        let params = crate::App::params(store).unwrap();
        let (height, time) = (head + 1, t + 1_000);
        let sigs = vec![true; batch.len()];
        let run = |flush| {
            let mut o = Overlay::new(store);
            let out = process_batch_flushing(&mut o, &params, height, time, &batch, &sigs, flush)
                .unwrap();
            (out, o.into_changes())
        };
        let (at_end, at_end_changes) = run(Flush::AtEnd);
        let (every, every_changes) = run(Flush::EveryReport);
        assert_eq!(at_end, every);
        assert_eq!(at_end_changes, every_changes);

        let TxOutcome::Reports { accepted, rejected } = &at_end else {
            panic!("not a report outcome: {at_end:?}");
        };
        let codes: BTreeSet<&str> = rejected.iter().map(|r| r.reason.code()).collect();
        for code in ["out_of_range", "replayed_sequence", "witness_cap", "duplicate_witness"] {
            assert!(codes.contains(code), "no {code} among {codes:?}");
        }
        assert!(*accepted >= 6, "{at_end:?}");
    }
}
