//! Registering a device: the device key's consent, a maker's attestation, and the
//! `RegisterDevice` transaction body that carries both.
//!
//! The owner's account sends the registration; the device proves it agrees by signing a
//! [`RegistrationConsent`] — `owner` (32 bytes) then `device_nonce` (`u64`) — under the tag
//! `cairn/device-register/v1`. `device_nonce` is how many times this key was registered
//! before (0 for a new device), so an old consent cannot be replayed.
//!
//! A maker on the chain's allow-list vouches for a device by signing
//! `borsh("cairn/maker/v1") ‖ borsh(chain_id) ‖ encoding of the device key ‖ borsh(serial)`
//! with its account key ([`MakerAttestation::sign`]).

use crate::keys::{AccountKey, Address, DeviceKey, DeviceSignature, DeviceSigner, KeyError};
use crate::wire::{self, Writer};
use alloc::string::String;
use alloc::vec::Vec;

/// What kind of resource a device provides; its one-byte encoding is the discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum DeviceClass {
    /// Radio coverage: heartbeats, beacons, witnesses.
    Hotspot = 0,
    /// Storage deals.
    Storage = 1,
    /// Compute jobs.
    Compute = 2,
    /// Sensor readings.
    Sensor = 3,
    /// Energy, paid through usage channels.
    Energy = 4,
    /// Relay, paid through usage channels.
    Relay = 5,
}

/// What the device key signs to agree to be registered by `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationConsent {
    /// The account that registers (and will own) the device.
    pub owner: Address,
    /// How many times this key was registered before.
    pub device_nonce: u64,
}

impl RegistrationConsent {
    /// Appends the consent's encoding: `owner` then `device_nonce`.
    pub fn write(&self, w: &mut Writer) {
        w.raw(&self.owner).u64(self.device_nonce);
    }

    /// The bytes the device signs on chain `chain_id`.
    pub fn signing_message(&self, chain_id: &str) -> Vec<u8> {
        let mut w = wire::signing_prefix(wire::tag::DEVICE_REGISTER, chain_id, 40);
        self.write(&mut w);
        w.finish()
    }

    /// The device's signature over the consent: what goes in
    /// [`RegisterDevice::device_signature`].
    pub fn sign(&self, device: &DeviceSigner, chain_id: &str) -> Result<DeviceSignature, KeyError> {
        device.sign(&self.signing_message(chain_id))
    }
}

/// A maker's statement that it built the device with this key and serial number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakerAttestation {
    /// The maker's account.
    pub maker: Address,
    /// The device's serial number.
    pub serial: String,
    /// The maker's ed25519 signature over [`MakerAttestation::signing_message`].
    pub signature: [u8; 64],
}

impl MakerAttestation {
    /// The bytes a maker signs for `key` and `serial` on chain `chain_id`.
    pub fn signing_message(chain_id: &str, key: &DeviceKey, serial: &str) -> Vec<u8> {
        let mut w = wire::signing_prefix(wire::tag::MAKER, chain_id, 70 + serial.len());
        key.write(&mut w);
        w.str(serial);
        w.finish()
    }

    /// The maker signs for a device key and serial.
    pub fn sign(maker: &AccountKey, chain_id: &str, key: &DeviceKey, serial: &str) -> Self {
        let signature = maker.sign(&MakerAttestation::signing_message(chain_id, key, serial));
        MakerAttestation { maker: maker.address(), serial: serial.into(), signature }
    }

    /// Appends the encoding: maker, serial (length-prefixed), signature.
    pub fn write(&self, w: &mut Writer) {
        w.raw(&self.maker).str(&self.serial).raw(&self.signature);
    }
}

/// The body of a `RegisterDevice` transaction (transaction body index 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterDevice {
    /// The device's public key.
    pub key: DeviceKey,
    /// Its class.
    pub class: DeviceClass,
    /// Free-form metadata (at most the chain's `devices.max_metadata_bytes`).
    pub metadata: Vec<u8>,
    /// The nonce the consent was signed for.
    pub device_nonce: u64,
    /// The device's signature over the [`RegistrationConsent`].
    pub device_signature: DeviceSignature,
    /// A maker's attestation, required when the chain keeps a maker allow-list.
    pub maker: Option<MakerAttestation>,
}

impl RegisterDevice {
    /// A registration of `device` by `owner`: the device signs its consent here.
    pub fn new(
        device: &DeviceSigner,
        chain_id: &str,
        owner: Address,
        class: DeviceClass,
        metadata: Vec<u8>,
        device_nonce: u64,
    ) -> Result<RegisterDevice, KeyError> {
        let device_signature =
            RegistrationConsent { owner, device_nonce }.sign(device, chain_id)?;
        Ok(RegisterDevice {
            key: device.public_key(),
            class,
            metadata,
            device_nonce,
            device_signature,
            maker: None,
        })
    }

    /// Appends the body's fields (without the transaction body index).
    pub fn write(&self, w: &mut Writer) {
        self.key.write(w);
        w.u8(self.class as u8).bytes(&self.metadata).u64(self.device_nonce);
        self.device_signature.write(w);
        match &self.maker {
            None => {
                w.u8(0);
            }
            Some(m) => {
                w.u8(1);
                m.write(w);
            }
        }
    }
}
