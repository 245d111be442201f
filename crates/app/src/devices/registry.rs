//! Device lifecycle transactions: register, assert location, transfer, deregister, bond
//! release, slashing, and the admin-held denylist and maker allow-list.

use super::{
    DenyEntry, Device, DeviceAccessError, DeviceStatus, LocationAssertion, get_denied, get_device,
    owned_device, put_device,
};
use crate::accounts::AccountsError;
use crate::component::{BlockEnv, BlockOutput, Component};
use crate::handler::{Handled, OnBadSignature, SigItem, TxCx, TxHandler, no_outcome};
use crate::{accounts, state_key};
use cairn_state::{Overlay, StateError, StateRead as _};
use cairn_types::crypto;
use cairn_types::device::{MakerAttestation, RegistrationConsent, maker_message};
use cairn_types::device_key::{DeviceId, DeviceKey, DeviceSignature};
use cairn_types::tx::StatelessError;
use cairn_types::{Address, Amount, DeviceClass, Height, Params, TxFailure};

use crate::TxResult;

/// Why a device registry transaction fails (`RegisterDevice`, `AssertLocation`,
/// `TransferDevice`, `DeregisterDevice`, `SetDenylist`, `SetMaker`; `SubmitReports` judges
/// each report in its receipt and never fails).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceTxError {
    #[error("device {device} is already registered")]
    DeviceExists { device: DeviceId },
    #[error("device nonce {got}, expected {expected}")]
    WrongDeviceNonce { expected: u64, got: u64 },
    #[error("device key {device} is denylisted: {reason}")]
    DeviceDenylisted { device: DeviceId, reason: String },
    #[error("the maker allow-list is on: registration needs a maker attestation")]
    MakerRequired,
    #[error("maker {maker} is not on the allow-list")]
    UnknownMaker { maker: Address },
    #[error("serial {serial:?} of maker {maker} is already registered to device {device}")]
    DuplicateSerial { maker: Address, serial: String, device: DeviceId },
    #[error("cell {cell:#x} is not a valid H3 cell at resolution 12: {reason}")]
    InvalidCell { cell: u64, reason: String },
    #[error("device {device} is not active")]
    NotActive { device: DeviceId },
    #[error("{signer} is not the admin key")]
    NotAdmin { signer: Address },
    #[error(transparent)]
    Access(#[from] DeviceAccessError),
    /// The bond or the location fee.
    #[error(transparent)]
    Balance(#[from] AccountsError),
}

impl From<DeviceTxError> for TxFailure {
    fn from(e: DeviceTxError) -> TxFailure {
        match e {
            DeviceTxError::DeviceExists { device } => TxFailure::DeviceExists { device },
            DeviceTxError::WrongDeviceNonce { expected, got } => {
                TxFailure::WrongDeviceNonce { expected, got }
            }
            DeviceTxError::DeviceDenylisted { device, reason } => {
                TxFailure::DeviceDenylisted { device, reason }
            }
            DeviceTxError::MakerRequired => TxFailure::MakerRequired,
            DeviceTxError::UnknownMaker { maker } => TxFailure::UnknownMaker { maker },
            DeviceTxError::DuplicateSerial { maker, serial, device } => {
                TxFailure::DuplicateSerial { maker, serial, device }
            }
            DeviceTxError::InvalidCell { cell, reason } => TxFailure::InvalidCell { cell, reason },
            DeviceTxError::NotActive { device } => TxFailure::NotActive { device },
            DeviceTxError::NotAdmin { signer } => TxFailure::NotAdmin { signer },
            DeviceTxError::Access(e) => e.into(),
            DeviceTxError::Balance(e) => e.into(),
        }
    }
}

macro_rules! fail {
    ($e:expr) => {
        return Ok(Err($e))
    };
}

macro_rules! tryf {
    ($e:expr) => {
        match $e? {
            Ok(v) => v,
            Err(f) => return Ok(Err(f.into())),
        }
    };
}

/// Writes a query index row (`idx/…`) under the legacy layout; under the compact layout
/// the indexes are each node's, outside the state (ADR 0036), and nothing is written.
fn put_index(o: &mut Overlay<'_>, params: &Params, key: Vec<u8>) {
    if in_state(params) {
        o.put(key, Vec::new());
    }
}

/// Deletes a query index row under the legacy layout (see [`put_index`]).
fn delete_index(o: &mut Overlay<'_>, params: &Params, key: Vec<u8>) {
    if in_state(params) {
        o.delete(key);
    }
}

/// Whether the owner, class and cell query indexes are state keys.
fn in_state(params: &Params) -> bool {
    params.state_layout == cairn_types::genesis::StateLayout::Legacy
}

/// Parameters of a registration, as carried by the transaction.
pub struct Registration<'a> {
    pub key: &'a DeviceKey,
    pub class: DeviceClass,
    pub metadata: &'a [u8],
    pub device_nonce: u64,
    pub maker: Option<&'a MakerAttestation>,
}

/// Registers a device for `owner` (signatures were checked in the stateless phase).
pub fn register(
    o: &mut Overlay<'_>,
    params: &Params,
    owner: &Address,
    height: Height,
    r: Registration<'_>,
) -> TxResult<DeviceTxError> {
    let id = r.key.id();
    let expected_nonce = super::folded::registrations(o, &id)?;
    let previous = get_device(o, &id)?;
    if previous.as_ref().is_some_and(|d| !matches!(d.status, DeviceStatus::Released { .. })) {
        fail!(DeviceTxError::DeviceExists { device: id });
    }
    if r.device_nonce != expected_nonce {
        fail!(DeviceTxError::WrongDeviceNonce { expected: expected_nonce, got: r.device_nonce });
    }
    if let Some(entry) = get_denied(o, &id)? {
        fail!(DeviceTxError::DeviceDenylisted { device: id, reason: entry.reason });
    }
    let maker = match (params.devices.maker_allowlist, r.maker) {
        (true, None) => fail!(DeviceTxError::MakerRequired),
        (true, Some(m)) => {
            if o.get(&state_key::maker(&m.maker))?.is_none() {
                fail!(DeviceTxError::UnknownMaker { maker: m.maker });
            }
            let serial_key = state_key::maker_serial(&m.maker, &m.serial);
            // A (maker, serial) pair belongs to one device key for good; that key may use it
            // again when it re-registers.
            if let Some(prior) = o.get_decoded::<DeviceId>(&serial_key)?
                && prior != id
            {
                fail!(DeviceTxError::DuplicateSerial {
                    maker: m.maker,
                    serial: m.serial.clone(),
                    device: prior
                });
            }
            o.put_encoded(serial_key, &id);
            Some((m.maker, m.serial.clone()))
        }
        (false, m) => m.map(|m| (m.maker, m.serial.clone())),
    };
    let bond = params.devices.bonds.get(r.class);
    if let Some(old) = &previous {
        delete_index(
            o,
            params,
            state_key::index_with_id(state_key::index_owner_prefix(&old.owner), &id),
        );
        delete_index(
            o,
            params,
            state_key::index_with_id(state_key::index_class_prefix(old.class), &id),
        );
        if let Some(cell) = old.location {
            delete_index(o, params, state_key::index_cell(cell, &id));
        }
    }
    tryf!(accounts::lock_bond(o, owner, bond));
    let device = Device {
        id,
        key: *r.key,
        class: r.class,
        owner: *owner,
        metadata: r.metadata.to_vec(),
        registered_height: height,
        bond,
        status: DeviceStatus::Active,
        location: None,
        // The location history is kept across registrations, so numbering continues.
        location_count: previous.as_ref().map_or(0, |d| d.location_count),
        located_at: 0,
        maker,
    };
    put_device(o, &device)?;
    super::folded::set_registrations(o, params, &id, expected_nonce + 1)?;
    put_index(o, params, state_key::index_with_id(state_key::index_owner_prefix(owner), &id));
    put_index(o, params, state_key::index_with_id(state_key::index_class_prefix(r.class), &id));
    Ok(Ok(()))
}

/// Checks that `cell` is an H3 cell at resolution 12.
pub fn validate_cell(cell: u64) -> Result<h3o::CellIndex, DeviceTxError> {
    let c = h3o::CellIndex::try_from(cell)
        .map_err(|e| DeviceTxError::InvalidCell { cell, reason: e.to_string() })?;
    if c.resolution() != h3o::Resolution::Twelve {
        return Err(DeviceTxError::InvalidCell {
            cell,
            reason: format!("resolution is {}", u8::from(c.resolution())),
        });
    }
    Ok(c)
}

pub fn assert_location(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    id: &DeviceId,
    cell: u64,
    height: Height,
) -> TxResult<DeviceTxError> {
    let mut d = tryf!(owned_device(o, id, signer));
    if d.status != DeviceStatus::Active {
        fail!(DeviceTxError::NotActive { device: *id });
    }
    if let Err(f) = validate_cell(cell) {
        fail!(f);
    }
    tryf!(accounts::burn_from(o, signer, params.devices.location_fee));
    if let Some(old) = d.location {
        delete_index(o, params, state_key::index_cell(old, id));
    }
    d.location = Some(cell);
    d.location_count = d.location_count.saturating_add(1);
    d.located_at = height;
    let assertion = LocationAssertion { cell, height };
    if !super::folded::update(o, id, |s| super::folded::push_location(s, assertion))? {
        o.put_encoded(state_key::location(id, d.location_count), &assertion);
    }
    put_index(o, params, state_key::index_cell(cell, id));
    put_device(o, &d)?;
    Ok(Ok(()))
}

pub fn transfer(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    id: &DeviceId,
    to: &Address,
) -> TxResult<DeviceTxError> {
    let mut d = tryf!(owned_device(o, id, signer));
    if matches!(d.status, DeviceStatus::Released { .. }) {
        fail!(DeviceTxError::NotActive { device: *id });
    }
    delete_index(o, params, state_key::index_with_id(state_key::index_owner_prefix(&d.owner), id));
    d.owner = *to;
    put_index(o, params, state_key::index_with_id(state_key::index_owner_prefix(to), id));
    put_device(o, &d)?;
    Ok(Ok(()))
}

pub fn deregister(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    id: &DeviceId,
    height: Height,
) -> TxResult<DeviceTxError> {
    let mut d = tryf!(owned_device(o, id, signer));
    if d.status != DeviceStatus::Active {
        fail!(DeviceTxError::NotActive { device: *id });
    }
    let release = height.saturating_add(params.devices.bond_cooldown_blocks.max(1));
    d.status = DeviceStatus::Deregistered { height, bond_release_height: release };
    put_device(o, &d)?;
    let key = state_key::bond_release(release);
    let mut queue: Vec<DeviceId> = o.get_decoded(&key)?.unwrap_or_default();
    queue.push(*id);
    o.put_encoded(key, &queue);
    Ok(Ok(()))
}

/// Start of block `height`: returns the bonds whose cooldown ends now to their owners.
pub fn release_bonds(o: &mut Overlay<'_>, height: Height) -> Result<(), StateError> {
    let key = state_key::bond_release(height);
    let Some(queue) = o.get_decoded::<Vec<DeviceId>>(&key)? else { return Ok(()) };
    for id in queue {
        let Some(mut d) = get_device(o, &id)? else { continue };
        let DeviceStatus::Deregistered { height: deregistered_height, bond_release_height } =
            d.status
        else {
            continue;
        };
        if bond_release_height != height {
            continue;
        }
        accounts::unlock_bond(o, &d.owner, d.bond)?;
        d.bond = 0;
        d.status = DeviceStatus::Released { height, deregistered_height };
        put_device(o, &d)?;
    }
    o.delete(key);
    Ok(())
}

/// The devices' per-block work: [`release_bonds`] returns the bonds whose cooldown ends at
/// this block.
pub struct Bonds;

impl Component for Bonds {
    fn name(&self) -> &'static str {
        "bonds"
    }

    fn begin_block(
        &self,
        o: &mut Overlay<'_>,
        env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        release_bonds(o, env.height)
    }
}

/// Burns up to `amount` of a device's bond; returns what was burned. For later modules
/// (proof faults, fraud) — not reachable by a transaction of its own.
pub fn slash(o: &mut Overlay<'_>, id: &DeviceId, amount: Amount) -> Result<Amount, StateError> {
    let Some(mut d) = get_device(o, id)? else { return Ok(0) };
    let cut = amount.min(d.bond);
    if cut == 0 {
        return Ok(0);
    }
    d.bond -= cut;
    put_device(o, &d)?;
    accounts::burn_bonded(o, cut)?;
    Ok(cut)
}

fn require_admin(params: &Params, signer: &Address) -> Result<(), DeviceTxError> {
    match params.admin {
        Some(admin) if admin == *signer => Ok(()),
        _ => Err(DeviceTxError::NotAdmin { signer: *signer }),
    }
}

pub fn set_denylist(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    key: &DeviceKey,
    reason: Option<&str>,
    height: Height,
) -> TxResult<DeviceTxError> {
    if let Err(f) = require_admin(params, signer) {
        fail!(f);
    }
    write_denylist(o, key, reason, height);
    Ok(Ok(()))
}

/// Adds `key` to the denylist with `reason`, or removes it (`None`): the admin's
/// [`set_denylist`] and a passed denylist proposal.
pub fn write_denylist(o: &mut Overlay<'_>, key: &DeviceKey, reason: Option<&str>, height: Height) {
    let k = state_key::denylist(&key.id());
    match reason {
        Some(reason) => o.put_encoded(k, &DenyEntry { reason: reason.to_string(), height }),
        None => o.delete(k),
    }
}

pub fn set_maker(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    maker: &Address,
    allowed: bool,
) -> TxResult<DeviceTxError> {
    if let Err(f) = require_admin(params, signer) {
        fail!(f);
    }
    write_maker(o, maker, allowed);
    Ok(Ok(()))
}

/// Allows or disallows a maker: the admin's [`set_maker`] and a passed maker proposal.
pub fn write_maker(o: &mut Overlay<'_>, maker: &Address, allowed: bool) {
    if allowed {
        o.put(state_key::maker(maker), Vec::new());
    } else {
        o.delete(state_key::maker(maker));
    }
}

/// Longest maker serial number.
pub const MAX_SERIAL: usize = 64;
/// Longest denylist reason.
pub const MAX_REASON: usize = 256;

/// The handler of `TxBody::RegisterDevice`: the device key's consent to the signer (and
/// the maker's attestation, if any) are checked with the batch; [`register`] runs the rest.
pub struct RegisterDevice<'a> {
    pub key: &'a DeviceKey,
    pub class: DeviceClass,
    pub metadata: &'a [u8],
    pub device_nonce: u64,
    pub device_signature: &'a DeviceSignature,
    pub maker: Option<&'a MakerAttestation>,
}

impl TxHandler for RegisterDevice<'_> {
    type Error = DeviceTxError;

    fn check_stateless(&self, params: &Params) -> Result<(), StatelessError> {
        let d = &params.devices;
        // Small-order keys get their own code: anyone could sign the consent and the
        // reports of such a device.
        if let DeviceKey::Ed25519(b) = self.key {
            crypto::refuse_small_order("device", b)?;
        }
        if let Some(m) = self.maker {
            crypto::refuse_small_order("maker", &m.maker.0)?;
        }
        self.key.validate().map_err(|e| StatelessError::BadDeviceKey(e.to_string()))?;
        if self.metadata.len() > d.max_metadata_bytes as usize {
            return Err(StatelessError::FieldTooLong {
                what: "metadata",
                len: self.metadata.len(),
                max: d.max_metadata_bytes as usize,
            });
        }
        if let Some(m) = self.maker
            && (m.serial.is_empty() || m.serial.len() > MAX_SERIAL)
        {
            return Err(StatelessError::FieldTooLong {
                what: "serial",
                len: m.serial.len(),
                max: MAX_SERIAL,
            });
        }
        Ok(())
    }

    fn signatures(&self, chain_id: &str, signer: &Address, out: &mut Vec<SigItem>) {
        let consent = RegistrationConsent { owner: *signer, device_nonce: self.device_nonce };
        out.push(SigItem {
            key: *self.key,
            sig: *self.device_signature,
            msg: consent.signing_message(chain_id),
            on_bad: OnBadSignature::refuse(StatelessError::BadDeviceSignature {
                device: self.key.id(),
            }),
        });
        if let Some(m) = self.maker {
            out.push(SigItem {
                key: DeviceKey::Ed25519(m.maker.0),
                sig: DeviceSignature::Ed25519(m.signature.0),
                msg: maker_message(chain_id, self.key, &m.serial),
                on_bad: OnBadSignature::refuse(StatelessError::BadMakerSignature {
                    maker: m.maker,
                }),
            });
        }
    }

    fn spend(&self, params: &Params) -> Amount {
        params.devices.bonds.get(self.class)
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<DeviceTxError> {
        let r = Registration {
            key: self.key,
            class: self.class,
            metadata: self.metadata,
            device_nonce: self.device_nonce,
            maker: self.maker,
        };
        no_outcome(register(o, cx.params, cx.signer, cx.height, r))
    }
}

/// The handler of `TxBody::AssertLocation`: see [`assert_location`].
pub struct AssertLocation<'a> {
    pub device: &'a DeviceId,
    pub cell: u64,
}

impl TxHandler for AssertLocation<'_> {
    type Error = DeviceTxError;

    fn check_stateless(&self, _params: &Params) -> Result<(), StatelessError> {
        validate_cell(self.cell)
            .map(|_| ())
            .map_err(|f| StatelessError::InvalidCell { cell: self.cell, reason: f.to_string() })
    }

    fn spend(&self, params: &Params) -> Amount {
        params.devices.location_fee
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<DeviceTxError> {
        no_outcome(assert_location(o, cx.params, cx.signer, self.device, self.cell, cx.height))
    }
}

/// The handler of `TxBody::TransferDevice`: see [`transfer`].
pub struct TransferDevice<'a> {
    pub device: &'a DeviceId,
    pub to: &'a Address,
}

impl TxHandler for TransferDevice<'_> {
    type Error = DeviceTxError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<DeviceTxError> {
        no_outcome(transfer(o, cx.params, cx.signer, self.device, self.to))
    }
}

/// The handler of `TxBody::DeregisterDevice`: see [`deregister`].
pub struct DeregisterDevice<'a> {
    pub device: &'a DeviceId,
}

impl TxHandler for DeregisterDevice<'_> {
    type Error = DeviceTxError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<DeviceTxError> {
        no_outcome(deregister(o, cx.params, cx.signer, self.device, cx.height))
    }
}

/// The handler of `TxBody::SetDenylist` (admin): see [`set_denylist`].
pub struct SetDenylist<'a> {
    pub key: &'a DeviceKey,
    pub reason: Option<&'a str>,
}

impl TxHandler for SetDenylist<'_> {
    type Error = DeviceTxError;

    fn check_stateless(&self, _params: &Params) -> Result<(), StatelessError> {
        self.key.validate().map_err(|e| StatelessError::BadDeviceKey(e.to_string()))?;
        match self.reason {
            Some(r) if r.len() > MAX_REASON => {
                Err(StatelessError::FieldTooLong { what: "reason", len: r.len(), max: MAX_REASON })
            }
            _ => Ok(()),
        }
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<DeviceTxError> {
        no_outcome(set_denylist(o, cx.params, cx.signer, self.key, self.reason, cx.height))
    }
}

/// The handler of `TxBody::SetMaker` (admin): see [`set_maker`].
pub struct SetMaker<'a> {
    pub maker: &'a Address,
    pub allowed: bool,
}

impl TxHandler for SetMaker<'_> {
    type Error = DeviceTxError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<DeviceTxError> {
        no_outcome(set_maker(o, cx.params, cx.signer, self.maker, self.allowed))
    }
}
