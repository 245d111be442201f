//! Devices: registration with the device key's own consent, bonds, ownership, locations,
//! the denylist and maker allow-list, and the signed-report pipeline.

pub mod registry;
pub mod reports;

use crate::state_key;
use borsh::{BorshDeserialize, BorshSerialize};
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::device_key::{DeviceId, DeviceKey};
use cairn_types::{Address, Amount, DeviceClass, Height, TxFailure};
use serde::{Deserialize, Serialize};

/// Where a device stands in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeviceStatus {
    Active,
    /// Stopped at `height`; the bond returns at `bond_release_height`.
    Deregistered {
        height: Height,
        bond_release_height: Height,
    },
    /// Bond returned; the key may be registered again (with the next device nonce).
    Released {
        height: Height,
    },
}

/// A device as stored in state.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub key: DeviceKey,
    pub class: DeviceClass,
    pub owner: Address,
    #[serde(with = "cairn_types::tx::hex_bytes")]
    pub metadata: Vec<u8>,
    pub registered_height: Height,
    /// Bond currently locked for this device.
    #[serde(with = "cairn_types::api::amount_str")]
    pub bond: Amount,
    pub status: DeviceStatus,
    /// Current H3 cell (resolution 12), if asserted.
    pub location: Option<u64>,
    pub location_count: u32,
    /// Maker and serial, when registered with an attestation.
    pub maker: Option<(Address, String)>,
}

/// A device's last accepted report sequence number (0 before any report).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct ReportCursor {
    pub last_seq: u64,
}

/// A device's work in one epoch, aggregated: written once per device per block however many
/// reports the block holds.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct EpochActivity {
    /// Bit i set: a heartbeat was accepted in slot i of the epoch.
    pub heartbeat_slots: u64,
    pub heartbeats: u32,
    pub accepted: u32,
    pub rejected: u32,
}

impl EpochActivity {
    pub fn slots_filled(&self) -> u32 {
        self.heartbeat_slots.count_ones()
    }

    /// Up for the epoch: filled at least `min_percent` of `slots` (integer comparison,
    /// no rounding: filled × 100 ≥ min × slots).
    pub fn is_up(&self, slots: u32, min_percent: u32) -> bool {
        u64::from(self.slots_filled()) * 100 >= u64::from(min_percent) * u64::from(slots)
    }
}

/// One location assertion in a device's history.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct LocationAssertion {
    pub cell: u64,
    pub height: Height,
}

/// A denylist entry.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DenyEntry {
    pub reason: String,
    pub height: Height,
}

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

/// The device, if `signer` owns it; a typed failure otherwise.
pub(crate) fn owned_device(
    state: &impl StateRead,
    id: &DeviceId,
    signer: &Address,
) -> Result<Result<Device, TxFailure>, StateError> {
    let Some(d) = get_device(state, id)? else {
        return Ok(Err(TxFailure::UnknownDevice { device: *id }));
    };
    if d.owner != *signer {
        return Ok(Err(TxFailure::NotOwner { device: *id, owner: d.owner, signer: *signer }));
    }
    Ok(Ok(d))
}
