//! Devices: registration with the device key's own consent, bonds, ownership, locations,
//! the denylist and maker allow-list, and the signed-report pipeline.

pub mod density;
pub mod expiry;
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

pub fn get_device(state: &impl StateRead, id: &DeviceId) -> Result<Option<Device>, StateError> {
    state.get_decoded(&state_key::device(id))
}

pub fn put_device(o: &mut Overlay<'_>, d: &Device) {
    o.put_encoded(state_key::device(&d.id), d);
}

pub fn get_denied(state: &impl StateRead, id: &DeviceId) -> Result<Option<DenyEntry>, StateError> {
    state.get_decoded(&state_key::denylist(id))
}

pub fn get_activity(
    state: &impl StateRead,
    id: &DeviceId,
    epoch: u64,
) -> Result<EpochActivity, StateError> {
    Ok(state.get_decoded(&state_key::epoch_activity(id, epoch))?.unwrap_or_default())
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
    id: &DeviceId,
    epoch: u64,
    add: impl FnOnce(&mut EpochActivity),
) -> Result<(), StateError> {
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
