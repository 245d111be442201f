//! The folded device record (`StateLayout::Folded`, ADR 0037).
//!
//! Under the folded layout a device's record `dev/<id>` is the device's borsh bytes followed
//! by its [`DeviceState`]: the registration count, report cursor, beacon heights, the last
//! two location assertions and the activity of its epochs not yet expired, which the legacy
//! and compact layouts keep under keys of their own (`devnonce/`, `devseq/`, `devbeacon/`,
//! `devbeaconprev/`, `devloc/`, `devep/`). A report then writes one key per device per
//! block instead of three to five.
//!
//! Readers need no parameters: a record with a state after the device is a folded chain's
//! (every device record of a folded chain has one from its registration on, no other
//! layout writes one), and a record without one sends the reader to the per-device keys.
//! Writers follow `params.state_layout`.

use super::expiry::epochs_kept;
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::Params;
use cairn_types::device::{
    Device, DeviceState, EpochActivity, LocationAssertion, device_record_bytes, split_device_record,
};
use cairn_types::device_key::DeviceId;

/// A device record as stored: the device and, under the folded layout, its state.
pub type Record = (Device, Option<DeviceState>);

/// Decodes a device record's bytes (of any layout).
pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Record, StateError> {
    split_device_record(bytes).map_err(|e| StateError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

/// The record of device `id`, if registered.
pub fn read(state: &impl StateRead, id: &DeviceId) -> Result<Option<Record>, StateError> {
    let key = state_key::device(id);
    let mut out = Ok(None);
    state.read_with(&key, &mut |v| {
        if let Some(bytes) = v {
            out = decode(&key, bytes).map(Some);
        }
    })?;
    out
}

/// The folded state of device `id`: `Some` on a folded chain once it is registered.
pub fn state_of(state: &impl StateRead, id: &DeviceId) -> Result<Option<DeviceState>, StateError> {
    Ok(read(state, id)?.and_then(|(_, s)| s))
}

/// Writes a device record.
pub fn write(o: &mut Overlay<'_>, device: &Device, state: Option<&DeviceState>) {
    o.put(state_key::device(&device.id), device_record_bytes(device, state));
}

/// Changes the folded state of device `id` with `f` and writes the record; returns false
/// (and changes nothing) for a device without one (not registered, or not a folded chain).
pub fn update(
    o: &mut Overlay<'_>,
    id: &DeviceId,
    f: impl FnOnce(&mut DeviceState),
) -> Result<bool, StateError> {
    let Some((device, Some(mut state))) = read(o, id)? else { return Ok(false) };
    f(&mut state);
    write(o, &device, Some(&state));
    Ok(true)
}

/// Drops from `state` the activity of the epochs whose records have expired by `epoch`
/// (e + [`epochs_kept`] ≤ `epoch`): the compact layout deletes them from the first block of
/// e + K on, and no rule reads them from then on, so a record written in `epoch` or later
/// need not carry them.
pub fn trim(state: &mut DeviceState, params: &Params, epoch: u64) {
    trim_kept(state, epochs_kept(params), epoch);
}

/// [`trim`] with the epochs kept given.
pub fn trim_kept(state: &mut DeviceState, kept: u64, epoch: u64) {
    state.activity.retain(|(e, _)| e.saturating_add(kept) > epoch);
}

/// The activity of `epoch` in `state`, created (and its place kept in epoch order) when
/// absent; whether it was created.
pub fn activity_mut(state: &mut DeviceState, epoch: u64) -> (&mut EpochActivity, bool) {
    let at = state.activity.partition_point(|(e, _)| *e < epoch);
    let created = state.activity.get(at).is_none_or(|(e, _)| *e != epoch);
    if created {
        state.activity.insert(at, (epoch, EpochActivity::default()));
    }
    // The entry at `at` exists: it was there or was just inserted.
    let (_, act) = &mut state.activity[at];
    (act, created)
}

/// Records a new location assertion, keeping the last [`DeviceState::LOCATIONS_KEPT`].
pub fn push_location(state: &mut DeviceState, assertion: LocationAssertion) {
    state.locations.push(assertion);
    let excess = state.locations.len().saturating_sub(DeviceState::LOCATIONS_KEPT);
    state.locations.drain(..excess);
}

/// How many times device `id` has been registered (the next registration's nonce).
pub fn registrations(state: &impl StateRead, id: &DeviceId) -> Result<u64, StateError> {
    match state_of(state, id)? {
        Some(s) => Ok(s.registrations),
        None => Ok(state.get_decoded(&state_key::device_nonce(id))?.unwrap_or(0)),
    }
}

/// Sets the registration count of device `id`, whose record the registration has just
/// written: a field of its record on a folded chain (created with the record's first
/// registration), its own key otherwise.
pub fn set_registrations(
    o: &mut Overlay<'_>,
    params: &Params,
    id: &DeviceId,
    n: u64,
) -> Result<(), StateError> {
    if !params.state_layout.folded() {
        o.put_encoded(state_key::device_nonce(id), &n);
        return Ok(());
    }
    let Some((device, state)) = read(o, id)? else {
        return Err(StateError::Corrupt {
            key: String::from_utf8_lossy(&state_key::device(id)).into_owned(),
            reason: "a registration's count written before its device record".into(),
        });
    };
    let mut state = state.unwrap_or_default();
    state.registrations = n;
    write(o, &device, Some(&state));
    Ok(())
}

/// Device `id`'s last accepted report sequence number, if it has one.
pub fn last_seq(state: &impl StateRead, id: &DeviceId) -> Result<Option<u64>, StateError> {
    match state_of(state, id)? {
        Some(s) => Ok(s.last_seq),
        None => Ok(state
            .get_decoded::<cairn_types::device::ReportCursor>(&state_key::report_cursor(id))?
            .map(|c| c.last_seq)),
    }
}

/// The heights of device `id`'s last beacon and the one before it.
pub fn beacons(
    state: &impl StateRead,
    id: &DeviceId,
) -> Result<[Option<cairn_types::Height>; 2], StateError> {
    match state_of(state, id)? {
        Some(s) => Ok([s.last_beacon, s.prev_beacon]),
        None => Ok([
            state.get_decoded(&state_key::last_beacon(id))?,
            state.get_decoded(&state_key::prev_beacon(id))?,
        ]),
    }
}

/// Location assertion number `n` (from 1) of `device`, whose record `state` is: the folded
/// record keeps the last two, the other layouts every one under its own key.
pub fn location(
    state: &impl StateRead,
    device: &Device,
    folded: Option<&DeviceState>,
    n: u32,
) -> Result<Option<LocationAssertion>, StateError> {
    match folded {
        Some(s) => Ok(s.location(device.location_count, n)),
        None => state.get_decoded(&state_key::location(&device.id, n)),
    }
}
