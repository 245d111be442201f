//! Devices: registration with the device key's own consent, bonds, ownership, locations,
//! the denylist and maker allow-list, and the signed-report pipeline.

pub mod density;
pub mod expiry;
pub mod folded;
pub mod fspl;
pub mod plans;
pub mod registry;
pub mod reports;
pub mod sensors;

pub use registry::DeviceTxError;

use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::device_key::DeviceId;
use cairn_types::{Address, Params, TxFailure};

pub use cairn_types::device::{
    DenyEntry, Device, DeviceStatus, EpochActivity, LocationAssertion, ReportCursor,
};

/// A device's record, under every layout (the folded layout's state after it left out).
pub fn get_device(state: &impl StateRead, id: &DeviceId) -> Result<Option<Device>, StateError> {
    Ok(folded::read(state, id)?.map(|(d, _)| d))
}

/// Writes a device's record, keeping the folded layout's state after it (ADR 0037) as it
/// is; under the other layouts the record is the device alone.
pub fn put_device(o: &mut Overlay<'_>, d: &Device) -> Result<(), StateError> {
    let state = folded::state_of(o, &d.id)?;
    folded::write(o, d, state.as_ref());
    Ok(())
}

pub fn get_denied(state: &impl StateRead, id: &DeviceId) -> Result<Option<DenyEntry>, StateError> {
    state.get_decoded(&state_key::denylist(id))
}

/// A device's activity in `epoch` (empty when it has none, or when the epoch's records
/// have expired: under the folded layout an expired epoch's activity may stay in a record
/// not written since, and is read as gone once the expiry watermark passed it).
pub fn get_activity(
    state: &impl StateRead,
    id: &DeviceId,
    epoch: u64,
) -> Result<EpochActivity, StateError> {
    match folded::state_of(state, id)? {
        Some(s) => {
            let expired: u64 = state.get_decoded(&state_key::epochs_expired())?.unwrap_or(0);
            Ok(s.activity_of(epoch).filter(|_| epoch >= expired).copied().unwrap_or_default())
        }
        None => Ok(state.get_decoded(&state_key::epoch_activity(id, epoch))?.unwrap_or_default()),
    }
}

/// Whether the device met the uptime gate in `epoch`, an epoch that has ended.
pub fn was_up(
    state: &impl StateRead,
    params: &Params,
    id: &DeviceId,
    epoch: u64,
) -> Result<bool, StateError> {
    let d = &params.devices;
    Ok(get_activity(state, id, epoch)?.is_up(d.heartbeat_slots, d.min_uptime_percent))
}

/// Adds settled work to the device's activity record of `epoch` (creating it, and adding
/// the device to the epoch's roster so the reward run visits it, when it had none).
pub fn add_work(
    o: &mut Overlay<'_>,
    params: &Params,
    id: &DeviceId,
    epoch: u64,
    add: impl FnOnce(&mut EpochActivity),
) -> Result<(), StateError> {
    if let Some((device, Some(mut state))) = folded::read(o, id)? {
        let (act, created) = folded::activity_mut(&mut state, epoch);
        add(act);
        if created {
            crate::roster::append(o, epoch, id)?;
        }
        folded::trim(&mut state, params, epoch);
        folded::write(o, &device, Some(&state));
        return Ok(());
    }
    let key = state_key::epoch_activity(id, epoch);
    let mut act: EpochActivity = match o.get_decoded(&key)? {
        Some(a) => a,
        None => {
            crate::roster::append(o, epoch, id)?;
            EpochActivity::default()
        }
    };
    add(&mut act);
    o.put_encoded(key, &act);
    Ok(())
}

/// Why a transaction cannot act on a device: it is not there, or not the signer's. Every
/// domain whose kinds act on a device as its owner wraps it in its own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceAccessError {
    #[error("no device {device}")]
    UnknownDevice { device: DeviceId },
    #[error("device {device} is owned by {owner}, not {signer}")]
    NotOwner { device: DeviceId, owner: Address, signer: Address },
}

impl From<DeviceAccessError> for TxFailure {
    fn from(e: DeviceAccessError) -> TxFailure {
        match e {
            DeviceAccessError::UnknownDevice { device } => TxFailure::UnknownDevice { device },
            DeviceAccessError::NotOwner { device, owner, signer } => {
                TxFailure::NotOwner { device, owner, signer }
            }
        }
    }
}

/// The device, if `signer` owns it; a typed failure otherwise.
pub(crate) fn owned_device(
    state: &impl StateRead,
    id: &DeviceId,
    signer: &Address,
) -> Result<Result<Device, DeviceAccessError>, StateError> {
    let Some(d) = get_device(state, id)? else {
        return Ok(Err(DeviceAccessError::UnknownDevice { device: *id }));
    };
    if d.owner != *signer {
        return Ok(Err(DeviceAccessError::NotOwner {
            device: *id,
            owner: d.owner,
            signer: *signer,
        }));
    }
    Ok(Ok(d))
}

#[cfg(test)]
mod beacon_tests;
#[cfg(test)]
mod sensor_tests;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod witness_tests;
