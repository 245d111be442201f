//! Reports: what a device signs to prove its work, and the signed report a gateway relays.
//!
//! A [`Report`] is encoded as
//!
//! | field          | encoding                                              |
//! |----------------|-------------------------------------------------------|
//! | `device`       | [`DeviceKey`]: scheme index (0/1) then 32 or 65 bytes |
//! | `seq`          | `u64`                                                 |
//! | `epoch`        | `u64`                                                 |
//! | `timestamp_ms` | `u64`                                                 |
//! | `payload`      | [`ReportPayload`]: variant index then its fields      |
//!
//! and signed under the tag `cairn/report/v1`. A [`SignedReport`] is the report's encoding
//! followed by the [`DeviceSignature`]'s; a gateway puts signed reports, as a list, in a
//! `SubmitReports` transaction ([`crate::tx::TxBody::SubmitReports`]).

use crate::keys::{DeviceId, DeviceKey, DeviceSignature, DeviceSigner, Hash, KeyError};
use crate::wire::{self, DecodeError, Reader, Writer};
use alloc::vec::Vec;

/// What a report says. Variant indices are frozen: 0 heartbeat, 1 reading, 2 beacon,
/// 3 witness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportPayload {
    /// "I am up": counts toward the device's uptime in the epoch. Any class.
    Heartbeat {
        /// The device's own uptime counter, informational.
        uptime_secs: u64,
    },
    /// A sensor reading in thousandths of the network's unit. Sensors only.
    Reading {
        /// The value × 1000.
        value: i64,
    },
    /// A radio beacon. Hotspots only.
    Beacon {
        /// The height whose chain entropy the beacon was made from.
        entropy_height: u64,
        /// [`beacon_data`] of that entropy and this device.
        data: Hash,
        /// The frequency sent on, kHz.
        frequency_khz: u32,
        /// The transmit power, dBm.
        tx_power_dbm: i16,
    },
    /// This hotspot heard `beaconer`'s beacon. Hotspots only.
    Witness {
        /// The id of the device whose beacon was heard.
        beaconer: DeviceId,
        /// The height at which that beacon was accepted.
        beacon_height: u64,
        /// Received signal strength, hundredths of a dBm.
        rssi_cdbm: i32,
        /// The frequency heard on, kHz.
        frequency_khz: u32,
    },
}

impl ReportPayload {
    /// Appends the payload's encoding: variant index, then its fields in order.
    pub fn write(&self, w: &mut Writer) {
        match *self {
            ReportPayload::Heartbeat { uptime_secs } => {
                w.u8(0).u64(uptime_secs);
            }
            ReportPayload::Reading { value } => {
                w.u8(1).i64(value);
            }
            ReportPayload::Beacon { entropy_height, data, frequency_khz, tx_power_dbm } => {
                w.u8(2).u64(entropy_height).raw(&data).u32(frequency_khz).i16(tx_power_dbm);
            }
            ReportPayload::Witness { beaconer, beacon_height, rssi_cdbm, frequency_khz } => {
                w.u8(3).raw(&beaconer).u64(beacon_height).i32(rssi_cdbm).u32(frequency_khz);
            }
        }
    }

    /// Reads a payload's encoding.
    pub fn read(r: &mut Reader<'_>) -> Result<ReportPayload, DecodeError> {
        Ok(match r.u8()? {
            0 => ReportPayload::Heartbeat { uptime_secs: r.u64()? },
            1 => ReportPayload::Reading { value: r.i64()? },
            2 => ReportPayload::Beacon {
                entropy_height: r.u64()?,
                data: r.array()?,
                frequency_khz: r.u32()?,
                tx_power_dbm: r.i16()?,
            },
            3 => ReportPayload::Witness {
                beaconer: r.array()?,
                beacon_height: r.u64()?,
                rssi_cdbm: r.i32()?,
                frequency_khz: r.u32()?,
            },
            index => return Err(DecodeError::BadIndex { what: "report payload", index }),
        })
    }
}

/// The data a beacon must carry: `SHA-256("cairn/beacon/v1" ‖ entropy ‖ device id)`, so it
/// cannot be made before the chain entropy at `entropy_height` is known. Read the entropy
/// from the node (`GET /v1/entropy/<height>`).
pub fn beacon_data(entropy: &Hash, device: &DeviceId) -> Hash {
    wire::sha256_parts(&[wire::tag::BEACON.as_bytes(), entropy, device])
}

/// A report, as the device signs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The device's public key (the chain derives the device id from it).
    pub device: DeviceKey,
    /// Strictly above the device's last accepted sequence number.
    pub seq: u64,
    /// The epoch the report is for (the chain accepts only the current one).
    pub epoch: u64,
    /// The device's clock, milliseconds since the Unix epoch; must be within the chain's
    /// clock-skew and report-age limits of the block time.
    pub timestamp_ms: u64,
    /// What the report says.
    pub payload: ReportPayload,
}

impl Report {
    /// Appends the report's encoding.
    pub fn write(&self, w: &mut Writer) {
        self.device.write(w);
        w.u64(self.seq).u64(self.epoch).u64(self.timestamp_ms);
        self.payload.write(w);
    }

    /// Reads a report's encoding.
    pub fn read(r: &mut Reader<'_>) -> Result<Report, DecodeError> {
        Ok(Report {
            device: DeviceKey::read(r)?,
            seq: r.u64()?,
            epoch: r.u64()?,
            timestamp_ms: r.u64()?,
            payload: ReportPayload::read(r)?,
        })
    }

    /// The report's encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128);
        self.write(&mut w);
        w.finish()
    }

    /// The bytes the device signs on chain `chain_id`:
    /// `borsh("cairn/report/v1") ‖ borsh(chain_id) ‖ encoding of the report`.
    pub fn signing_message(&self, chain_id: &str) -> Vec<u8> {
        let mut w = wire::signing_prefix(wire::tag::REPORT, chain_id, 128);
        self.write(&mut w);
        w.finish()
    }

    /// Signs the report with the device's key. The signer should be the key in
    /// [`Report::device`]; the chain rejects the report (`bad_signature`) otherwise.
    pub fn sign(self, signer: &DeviceSigner, chain_id: &str) -> Result<SignedReport, KeyError> {
        let signature = signer.sign(&self.signing_message(chain_id))?;
        Ok(SignedReport { report: self, signature })
    }
}

/// A report and the device's signature over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedReport {
    /// The report.
    pub report: Report,
    /// The device's signature over [`Report::signing_message`].
    pub signature: DeviceSignature,
}

impl SignedReport {
    /// Appends the encoding: the report, then the signature.
    pub fn write(&self, w: &mut Writer) {
        self.report.write(w);
        self.signature.write(w);
    }

    /// Decodes exactly one signed report (what [`SignedReport::encode`] made): a gateway
    /// reads its devices' reports with this. The signature is not checked; the chain does.
    pub fn decode(bytes: &[u8]) -> Result<SignedReport, DecodeError> {
        let mut r = Reader::new(bytes);
        let report = Report::read(&mut r)?;
        let signature = DeviceSignature::read(&mut r)?;
        r.finish()?;
        Ok(SignedReport { report, signature })
    }

    /// The wire bytes of the signed report: what a device hands its gateway.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(200);
        self.write(&mut w);
        w.finish()
    }
}
