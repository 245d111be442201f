//! Devices and their signed reports: classes, registration payloads, reports, and the
//! reasons a report can be rejected.

use crate::crypto::{Signature, domain, signing_message};
use crate::device_key::{DeviceId, DeviceKey, DeviceSignature};
use crate::{Address, Amount, Hash, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of physical resource a device provides. The class fixes which reports it may
/// send and which reward pool it earns from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum DeviceClass {
    Hotspot = 0,
    Storage = 1,
    Compute = 2,
    Sensor = 3,
    Energy = 4,
    Relay = 5,
}

impl DeviceClass {
    pub const ALL: [DeviceClass; 6] = [
        DeviceClass::Hotspot,
        DeviceClass::Storage,
        DeviceClass::Compute,
        DeviceClass::Sensor,
        DeviceClass::Energy,
        DeviceClass::Relay,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            DeviceClass::Hotspot => "hotspot",
            DeviceClass::Storage => "storage",
            DeviceClass::Compute => "compute",
            DeviceClass::Sensor => "sensor",
            DeviceClass::Energy => "energy",
            DeviceClass::Relay => "relay",
        }
    }

    /// Whether a device of this class may send a report of `kind`.
    pub fn allows(&self, kind: ReportKind) -> bool {
        match kind {
            ReportKind::Heartbeat => true,
            ReportKind::Reading => *self == DeviceClass::Sensor,
            ReportKind::Beacon | ReportKind::Witness => *self == DeviceClass::Hotspot,
        }
    }
}

impl fmt::Display for DeviceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A device class name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown device class {0:?}: expected hotspot, storage, compute, sensor, energy or relay")]
pub struct ClassParseError(pub String);

impl std::str::FromStr for DeviceClass {
    type Err = ClassParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| ClassParseError(s.to_string()))
    }
}

/// A bond amount per device class.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ClassAmounts {
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub hotspot: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub storage: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub compute: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub sensor: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub energy: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub relay: Amount,
}

impl ClassAmounts {
    pub fn get(&self, class: DeviceClass) -> Amount {
        match class {
            DeviceClass::Hotspot => self.hotspot,
            DeviceClass::Storage => self.storage,
            DeviceClass::Compute => self.compute,
            DeviceClass::Sensor => self.sensor,
            DeviceClass::Energy => self.energy,
            DeviceClass::Relay => self.relay,
        }
    }
}

/// What the device's own key signs to consent to being registered by `owner`.
/// `device_nonce` is how many times this key has been registered before, so a consent can
/// never be replayed for a later registration.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct RegistrationConsent {
    pub owner: Address,
    pub device_nonce: u64,
}

impl RegistrationConsent {
    pub fn signing_message(&self, chain_id: &str) -> Vec<u8> {
        signing_message(domain::DEVICE_REGISTER, chain_id, self)
    }
}

/// A maker's statement that it built the device with this key and serial number.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct MakerAttestation {
    pub maker: Address,
    pub serial: String,
    pub signature: Signature,
}

/// What the maker signs.
pub fn maker_message(chain_id: &str, key: &DeviceKey, serial: &str) -> Vec<u8> {
    signing_message(domain::MAKER, chain_id, &(key, serial))
}

/// The payload of a report. New kinds (beacons, witnesses, storage proofs, ...) are
/// appended; existing variants never change.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportPayload {
    /// "I am up." Counts toward the device's uptime in the epoch.
    Heartbeat {
        /// The device's own uptime counter, informational.
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        uptime_secs: u64,
    },
    /// A sensor reading, in thousandths of the network's unit (integer, so every node
    /// judges it alike). Sensors only.
    Reading {
        #[schema(value_type = crate::openapi::I64String)]
        #[serde(with = "crate::api::i64_str")]
        value: i64,
    },
    /// A radio beacon: `data` must be [`beacon_data`] of the chain entropy at
    /// `entropy_height` and the device, so it could not have been made in advance. Hotspots
    /// only.
    Beacon {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        entropy_height: u64,
        data: Hash,
        frequency_khz: u32,
        tx_power_dbm: i16,
    },
    /// A hotspot heard `beaconer`'s beacon accepted at `beacon_height`, at `rssi_cdbm`
    /// (hundredths of a dBm) on `frequency_khz`. Hotspots only.
    Witness {
        beaconer: DeviceId,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        beacon_height: u64,
        rssi_cdbm: i32,
        frequency_khz: u32,
    },
}

/// The payload a beacon must carry: SHA-256 over the beacon domain, the entropy and the
/// device id.
pub fn beacon_data(entropy: &Hash, device: &DeviceId) -> Hash {
    Hash::sha256_parts(&[b"cairn/beacon/v1", &entropy.0, &device.0])
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Heartbeat,
    Reading,
    Beacon,
    Witness,
}

impl ReportPayload {
    pub fn kind(&self) -> ReportKind {
        match self {
            ReportPayload::Heartbeat { .. } => ReportKind::Heartbeat,
            ReportPayload::Reading { .. } => ReportKind::Reading,
            ReportPayload::Beacon { .. } => ReportKind::Beacon,
            ReportPayload::Witness { .. } => ReportKind::Witness,
        }
    }
}

/// A report, as the device signs it under `cairn/report/v1`.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Report {
    /// The device's public key; the device id is its hash. Carrying the key lets the
    /// signature be checked before any state is read.
    pub device: DeviceKey,
    /// Strictly greater than the device's last accepted sequence number.
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub seq: u64,
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub epoch: u64,
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub timestamp_ms: u64,
    pub payload: ReportPayload,
}

impl Report {
    pub fn signing_message(&self, chain_id: &str) -> Vec<u8> {
        signing_message(domain::REPORT, chain_id, self)
    }
}

#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct SignedReport {
    pub report: Report,
    pub signature: DeviceSignature,
}

/// Why a report was not accepted. Each carries the offending values.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    thiserror::Error,
    utoipa::ToSchema,
)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RejectReason {
    #[error("signature does not verify with the device key")]
    BadSignature,
    #[error("no device {device} is registered")]
    UnknownDevice { device: DeviceId },
    #[error("a {class} device may not send {kind:?} reports")]
    WrongClass { class: DeviceClass, kind: ReportKind },
    #[error("sequence {seq} is not above the last accepted {last}")]
    ReplayedSequence {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        seq: u64,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        last: u64,
    },
    #[error("report is for epoch {epoch}; the current epoch is {current}")]
    OutsideEpochWindow {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epoch: u64,
        current: u64,
    },
    #[error(
        "timestamp {timestamp_ms} is ahead of the block time {block_time_ms} by more than {max_skew_ms} ms"
    )]
    FutureTimestamp {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        timestamp_ms: u64,
        block_time_ms: u64,
        max_skew_ms: u64,
    },
    #[error(
        "timestamp {timestamp_ms} is older than the block time {block_time_ms} by more than {max_age_ms} ms"
    )]
    StaleTimestamp {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        timestamp_ms: u64,
        block_time_ms: u64,
        max_age_ms: u64,
    },
    #[error("device was deregistered at height {height}")]
    Deregistered { height: u64 },
    #[error("device is denylisted: {reason}")]
    Denylisted { reason: String },
    #[error("reading {value} is outside [{min}, {max}]")]
    OutOfRange {
        #[schema(value_type = crate::openapi::I64String)]
        #[serde(with = "crate::api::i64_str")]
        value: i64,
        min: i64,
        max: i64,
    },
    #[error(
        "entropy of height {entropy_height} is not usable at height {height} (at most {max_age} blocks old)"
    )]
    StaleEntropy {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        entropy_height: u64,
        height: u64,
        max_age: u64,
    },
    #[error("beacon data does not derive from the entropy of height {entropy_height}")]
    BadBeacon {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        entropy_height: u64,
    },
    #[error("last beacon at height {last}; the next is allowed from height {next}")]
    BeaconInterval { last: u64, next: u64 },
    #[error("no beacon of {beaconer} was accepted at height {height}")]
    UnknownBeacon {
        beaconer: DeviceId,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        height: u64,
    },
    #[error("a device cannot witness its own beacon")]
    SelfWitness,
    #[error("witness and beaconer have the same owner {owner}")]
    SameOwner { owner: Address },
    #[error("witness or beaconer has no asserted location")]
    NoLocation,
    #[error("{cells} cells apart at resolution 11; at least {min} needed")]
    TooClose { cells: u64, min: u64 },
    #[error("{cells} cells apart at resolution 11; at most {max} allowed")]
    TooFar { cells: u64, max: u64 },
    #[error(
        "received {rssi_cdbm} cdBm; free-space path loss allows at most {max_cdbm} cdBm at {distance_m} m"
    )]
    RssiAboveFspl { rssi_cdbm: i32, max_cdbm: i64, distance_m: u64 },
    #[error("heard on {got} kHz; the beacon was on {beacon} kHz (at most {max_delta} kHz apart)")]
    FrequencyMismatch { got: u32, beacon: u32, max_delta: u32 },
    #[error("the beacon at height {beacon_height} is more than {max_lag} blocks before {height}")]
    LateWitness {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        beacon_height: u64,
        height: u64,
        max_lag: u64,
    },
    #[error("the beacon already has its {cap} witnesses")]
    WitnessCap { cap: u32 },
    #[error("the witness has not beaconed validly in the last {window} blocks")]
    NoReciprocity { last_beacon: Option<u64>, window: u64 },
    #[error("this device already witnessed the beacon of height {beacon_height}")]
    DuplicateWitness {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        beacon_height: u64,
    },
    #[error("{frequency_khz} kHz is not a channel of region plan {plan}")]
    BeaconFrequencyOutsidePlan { frequency_khz: u32, plan: String },
    #[error("{tx_power_dbm} dBm is outside region plan {plan}'s [{min_dbm}, {max_dbm}] dBm")]
    BeaconPowerOutsidePlan { tx_power_dbm: i16, min_dbm: i16, max_dbm: i16, plan: String },
    #[error("received {rssi_cdbm} cdBm; a receiver reports [{min_cdbm}, {max_cdbm}] cdBm")]
    RssiOutOfRange { rssi_cdbm: i32, min_cdbm: i32, max_cdbm: i32 },
    #[error("received {rssi_cdbm} cdBm, more than the beacon's transmit power {tx_power_dbm} dBm")]
    RssiAboveTxPower { rssi_cdbm: i32, tx_power_dbm: i16 },
}

impl RejectReason {
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::BadSignature => "bad_signature",
            RejectReason::UnknownDevice { .. } => "unknown_device",
            RejectReason::WrongClass { .. } => "wrong_class",
            RejectReason::ReplayedSequence { .. } => "replayed_sequence",
            RejectReason::OutsideEpochWindow { .. } => "outside_epoch_window",
            RejectReason::FutureTimestamp { .. } => "future_timestamp",
            RejectReason::StaleTimestamp { .. } => "stale_timestamp",
            RejectReason::Deregistered { .. } => "deregistered",
            RejectReason::Denylisted { .. } => "denylisted",
            RejectReason::OutOfRange { .. } => "out_of_range",
            RejectReason::StaleEntropy { .. } => "stale_entropy",
            RejectReason::BadBeacon { .. } => "bad_beacon",
            RejectReason::BeaconInterval { .. } => "beacon_interval",
            RejectReason::UnknownBeacon { .. } => "unknown_beacon",
            RejectReason::SelfWitness => "self_witness",
            RejectReason::SameOwner { .. } => "same_owner",
            RejectReason::NoLocation => "no_location",
            RejectReason::TooClose { .. } => "too_close",
            RejectReason::TooFar { .. } => "too_far",
            RejectReason::RssiAboveFspl { .. } => "rssi_above_fspl",
            RejectReason::FrequencyMismatch { .. } => "frequency_mismatch",
            RejectReason::LateWitness { .. } => "late_witness",
            RejectReason::WitnessCap { .. } => "witness_cap",
            RejectReason::NoReciprocity { .. } => "no_reciprocity",
            RejectReason::DuplicateWitness { .. } => "duplicate_witness",
            RejectReason::BeaconFrequencyOutsidePlan { .. } => "beacon_frequency_outside_plan",
            RejectReason::BeaconPowerOutsidePlan { .. } => "beacon_power_outside_plan",
            RejectReason::RssiOutOfRange { .. } => "rssi_out_of_range",
            RejectReason::RssiAboveTxPower { .. } => "rssi_above_tx_power",
        }
    }
}

/// A rejected report of a batch: its position and why.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct ReportRejection {
    pub index: u32,
    pub device: DeviceId,
    pub seq: u64,
    pub reason: RejectReason,
}

// ---- State records of devices (written by the state machine, read by everyone) ----

/// Where a device stands in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeviceStatus {
    Active,
    /// Stopped at `height`; the bond returns at `bond_release_height`.
    Deregistered {
        height: Height,
        bond_release_height: Height,
    },
    /// Bond returned at `height`; the key may be registered again (with the next device
    /// nonce). `deregistered_height` is when it stopped.
    Released {
        height: Height,
        deregistered_height: Height,
    },
}

/// A device as stored in state.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Device {
    pub id: DeviceId,
    pub key: DeviceKey,
    pub class: DeviceClass,
    pub owner: Address,
    #[schema(value_type = crate::openapi::HexBytes)]
    #[serde(with = "crate::tx::hex_bytes")]
    pub metadata: Vec<u8>,
    pub registered_height: Height,
    /// Bond currently locked for this device.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub bond: Amount,
    pub status: DeviceStatus,
    /// Current H3 cell (resolution 12), if asserted.
    #[schema(value_type = Option<crate::openapi::CellHex>)]
    #[serde(with = "crate::api::opt_cell_hex")]
    pub location: Option<u64>,
    pub location_count: u32,
    /// Height of the last location assertion (0 without one): the reward run's location
    /// trust reads it here instead of in the location history.
    pub located_at: Height,
    /// Maker and serial, when registered with an attestation.
    pub maker: Option<(Address, String)>,
}

/// The folded layout's per-device facts (`StateLayout::Folded`, ADR 0037): a device record
/// `dev/<id>` of that layout is the device's borsh bytes followed by these, so the facts
/// the compact layout keeps under `devnonce/`, `devseq/`, `devbeacon/`, `devbeaconprev/`,
/// `devloc/` and `devep/` are one key. Each field holds what the compact layout's key
/// would hold; `None` or no entry where that key would be absent.
///
/// Encoded packed (hand-written borsh, [`packed`]): every integer as an unsigned LEB128
/// varint (the sensor sum zigzag first), cells as 8 little-endian bytes, options as a 0/1
/// byte, lists with a varint length. Most counters of an epoch are small or zero, so an
/// epoch's activity takes about 20 bytes instead of about 110.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceState {
    /// How many times the key has been registered (the next registration's device nonce).
    pub registrations: u64,
    /// The last accepted report sequence number (the report cursor).
    pub last_seq: Option<u64>,
    /// Height of the last accepted beacon.
    pub last_beacon: Option<Height>,
    /// Height of the beacon before it.
    pub prev_beacon: Option<Height>,
    /// The last two location assertions, oldest first: the last is number
    /// `Device::location_count`, the one before it number `location_count - 1`.
    pub locations: Vec<LocationAssertion>,
    /// The activity of each epoch the device was active in and whose records have not
    /// expired yet, by ascending epoch.
    pub activity: Vec<(u64, EpochActivity)>,
}

/// The packed encoding of [`DeviceState`]: LEB128 varints, canonical (the shortest form;
/// a longer one, a value past its field's width or bytes left over are refused).
pub mod packed {
    use super::{DeviceState, EpochActivity, LocationAssertion, SensorEpoch};
    use crate::Hash;
    use borsh::io::{Error, ErrorKind, Read, Result, Write};

    fn bad(what: &str) -> Error {
        Error::new(ErrorKind::InvalidData, format!("device state: {what}"))
    }

    /// Writes `v` as an unsigned LEB128 varint.
    pub fn put<W: Write>(w: &mut W, mut v: u128) -> Result<()> {
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                return w.write_all(&[low]);
            }
            w.write_all(&[low | 0x80])?;
        }
    }

    /// Reads an unsigned LEB128 varint in its shortest form.
    pub fn get<R: Read>(r: &mut R) -> Result<u128> {
        let (mut v, mut shift) = (0u128, 0u32);
        loop {
            let mut b = [0u8; 1];
            r.read_exact(&mut b)?;
            let low = u128::from(b[0] & 0x7f);
            if shift > 126 || (shift == 126 && low > 3) {
                return Err(bad("a varint past 128 bits"));
            }
            v |= low << shift;
            if b[0] & 0x80 == 0 {
                if b[0] == 0 && shift > 0 {
                    return Err(bad("a varint not in its shortest form"));
                }
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn get_as<R: Read, T: TryFrom<u128>>(r: &mut R) -> Result<T> {
        T::try_from(get(r)?).map_err(|_| bad("a varint past its field's width"))
    }

    fn put_opt<W: Write>(w: &mut W, v: Option<u64>) -> Result<()> {
        match v {
            None => w.write_all(&[0]),
            Some(v) => {
                w.write_all(&[1])?;
                put(w, v.into())
            }
        }
    }

    fn get_flag<R: Read>(r: &mut R) -> Result<bool> {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        match b[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad("an option tag other than 0 or 1")),
        }
    }

    fn get_opt<R: Read>(r: &mut R) -> Result<Option<u64>> {
        if get_flag(r)? { Ok(Some(get_as(r)?)) } else { Ok(None) }
    }

    /// Zigzag: small magnitudes of either sign stay small.
    fn zigzag(v: i128) -> u128 {
        ((v << 1) ^ (v >> 127)) as u128
    }

    fn unzigzag(v: u128) -> i128 {
        ((v >> 1) as i128) ^ -((v & 1) as i128)
    }

    fn put_activity<W: Write>(w: &mut W, a: &EpochActivity) -> Result<()> {
        put(w, a.heartbeat_slots.into())?;
        for n in [a.heartbeats, a.beacons, a.witnesses, a.accepted, a.rejected] {
            put(w, n.into())?;
        }
        match &a.sensor {
            None => w.write_all(&[0])?,
            Some(s) => {
                w.write_all(&[1])?;
                put(w, s.readings.into())?;
                put(w, s.out_of_range.into())?;
                put(w, zigzag(s.sum))?;
                w.write_all(s.digest.as_bytes())?;
            }
        }
        put(w, a.units.into())?;
        put(w, a.proven_bytes.into())?;
        put(w, a.jobs.into())?;
        put(w, a.units_pregated.into())?;
        put(w, a.jobs_pregated.into())?;
        put(w, a.paid_usage)?;
        put(w, a.paid_service)
    }

    fn get_activity<R: Read>(r: &mut R) -> Result<EpochActivity> {
        let heartbeat_slots = get_as(r)?;
        let [heartbeats, beacons, witnesses, accepted, rejected] =
            [get_as(r)?, get_as(r)?, get_as(r)?, get_as(r)?, get_as(r)?];
        let sensor = if get_flag(r)? {
            let readings = get_as(r)?;
            let out_of_range = get_as(r)?;
            let sum = unzigzag(get(r)?);
            let mut digest = [0u8; 32];
            r.read_exact(&mut digest)?;
            Some(SensorEpoch { readings, out_of_range, sum, digest: Hash(digest) })
        } else {
            None
        };
        Ok(EpochActivity {
            heartbeat_slots,
            heartbeats,
            beacons,
            witnesses,
            accepted,
            rejected,
            sensor,
            units: get_as(r)?,
            proven_bytes: get_as(r)?,
            jobs: get_as(r)?,
            units_pregated: get_as(r)?,
            jobs_pregated: get_as(r)?,
            paid_usage: get(r)?,
            paid_service: get(r)?,
        })
    }

    pub(super) fn write<W: Write>(s: &DeviceState, w: &mut W) -> Result<()> {
        put(w, s.registrations.into())?;
        put_opt(w, s.last_seq)?;
        put_opt(w, s.last_beacon)?;
        put_opt(w, s.prev_beacon)?;
        put(w, s.locations.len() as u128)?;
        for l in &s.locations {
            w.write_all(&l.cell.to_le_bytes())?;
            put(w, l.height.into())?;
        }
        put(w, s.activity.len() as u128)?;
        for (e, a) in &s.activity {
            put(w, (*e).into())?;
            put_activity(w, a)?;
        }
        Ok(())
    }

    /// Most list entries read (a record holds at most two locations and a few epochs).
    const MAX_ENTRIES: usize = 64;

    pub(super) fn read<R: Read>(r: &mut R) -> Result<DeviceState> {
        let registrations = get_as(r)?;
        let last_seq = get_opt(r)?;
        let last_beacon = get_opt(r)?;
        let prev_beacon = get_opt(r)?;
        let n: usize = get_as(r)?;
        if n > MAX_ENTRIES {
            return Err(bad("too many locations"));
        }
        let mut locations = Vec::with_capacity(n);
        for _ in 0..n {
            let mut cell = [0u8; 8];
            r.read_exact(&mut cell)?;
            locations
                .push(LocationAssertion { cell: u64::from_le_bytes(cell), height: get_as(r)? });
        }
        let n: usize = get_as(r)?;
        if n > MAX_ENTRIES {
            return Err(bad("too many epochs of activity"));
        }
        let mut activity = Vec::with_capacity(n);
        for _ in 0..n {
            let e = get_as(r)?;
            activity.push((e, get_activity(r)?));
        }
        Ok(DeviceState { registrations, last_seq, last_beacon, prev_beacon, locations, activity })
    }
}

impl BorshSerialize for DeviceState {
    fn serialize<W: borsh::io::Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        packed::write(self, writer)
    }
}

impl BorshDeserialize for DeviceState {
    fn deserialize_reader<R: borsh::io::Read>(reader: &mut R) -> borsh::io::Result<Self> {
        packed::read(reader)
    }
}

impl DeviceState {
    /// Location assertions kept in the record.
    pub const LOCATIONS_KEPT: usize = 2;

    /// The activity of `epoch`, if the record has it.
    pub fn activity_of(&self, epoch: u64) -> Option<&EpochActivity> {
        self.activity.iter().find(|(e, _)| *e == epoch).map(|(_, a)| a)
    }

    /// Assertion number `n` (from 1) of a device whose last is number `count`, if kept.
    pub fn location(&self, count: u32, n: u32) -> Option<LocationAssertion> {
        let back = usize::try_from(count.checked_sub(n)?).ok()?;
        let i = self.locations.len().checked_sub(back.checked_add(1)?)?;
        self.locations.get(i).copied()
    }
}

/// A device record as stored under `dev/<id>`: the device, and the folded layout's
/// [`DeviceState`] after it (absent under the legacy and compact layouts).
pub fn split_device_record(
    bytes: &[u8],
) -> Result<(Device, Option<DeviceState>), borsh::io::Error> {
    let mut rest = bytes;
    let device = <Device as BorshDeserialize>::deserialize(&mut rest)?;
    if rest.is_empty() {
        return Ok((device, None));
    }
    Ok((device, Some(borsh::from_slice::<DeviceState>(rest)?)))
}

/// The device of a device record (of any layout), the folded state after it left unread.
pub fn device_of_record(bytes: &[u8]) -> Result<Device, borsh::io::Error> {
    <Device as BorshDeserialize>::deserialize(&mut &bytes[..])
}

/// The bytes of a device record: the device's, then the folded state's if any.
pub fn device_record_bytes(device: &Device, state: Option<&DeviceState>) -> Vec<u8> {
    let mut out = crate::codec::encode(device);
    if let Some(s) = state {
        out.extend(crate::codec::encode(s));
    }
    out
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
    utoipa::ToSchema,
)]
pub struct ReportCursor {
    pub last_seq: u64,
}

/// A device's work in one epoch, aggregated: written once per device per block however many
/// reports the block holds. Everything the reward run counts for a device is in this one
/// record (besides the witnessed list and the rejections by reason, which only some devices
/// have), so the epoch boundary reads two keys per device: this and the device.
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
    utoipa::ToSchema,
)]
pub struct EpochActivity {
    /// Bit i set: a heartbeat was accepted in slot i of the epoch.
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub heartbeat_slots: u64,
    pub heartbeats: u32,
    /// Valid beacons accepted.
    pub beacons: u32,
    /// Valid witness reports accepted.
    pub witnesses: u32,
    pub accepted: u32,
    /// Reports naming this device that were rejected. Anyone can replay a device's old
    /// signed reports, so this counts others' noise too: a signal for operators, never an
    /// input to rewards.
    pub rejected: u32,
    /// Sensor readings, for a device that sent any (accepted or out of range).
    pub sensor: Option<SensorEpoch>,
    /// Units delivered through usage channels paid out in the epoch.
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub units: u64,
    /// Bytes proven by answered storage challenges.
    pub proven_bytes: u64,
    /// Compute jobs settled with this device's result in the majority.
    pub jobs: u32,
    /// Of `units`, those the device delivered in an earlier epoch whose uptime gate it
    /// met (a channel settled then and paid out now): they count whatever this epoch's
    /// uptime.
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub units_pregated: u64,
    /// Of `jobs`, those whose reveal phase ended in an earlier epoch whose uptime gate the
    /// device met.
    pub jobs_pregated: u32,
    /// The CRN value (what was burned for them, at the price of the day) of the credits
    /// consumers paid for `units`: the most the usage pool pays the device for the epoch.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub paid_usage: Amount,
    /// The CRN value of the credits paid for `proven_bytes` (storage deals) or `jobs`
    /// (compute jobs): the most the storage or compute pool pays the device for the epoch.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub paid_service: Amount,
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
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct LocationAssertion {
    #[schema(value_type = crate::openapi::CellHex)]
    #[serde(with = "crate::api::cell_hex")]
    pub cell: u64,
    pub height: Height,
}

/// A denylist entry.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct DenyEntry {
    pub reason: String,
    pub height: Height,
}

/// A sensor's readings in one epoch, aggregated.
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
    utoipa::ToSchema,
)]
pub struct SensorEpoch {
    pub readings: u32,
    pub out_of_range: u32,
    /// Sum of the accepted readings (for the mean).
    pub sum: i128,
    /// SHA-256 chain over the accepted values in order: two sensors with the same digest
    /// sent the same stream.
    pub digest: Hash,
}

impl SensorEpoch {
    /// Mean of the accepted readings, rounded toward zero; `None` without any.
    pub fn mean(&self) -> Option<i64> {
        if self.readings == 0 {
            return None;
        }
        i64::try_from(self.sum / i128::from(self.readings)).ok()
    }
}

/// A sensor's quality in one epoch, in thousandths: timeliness × in-range × agreement.
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
    utoipa::ToSchema,
)]
pub struct SensorQuality {
    pub timeliness: u32,
    pub in_range: u32,
    pub agreement: u32,
    pub quality: u32,
    /// The median of the neighbours' means it was compared with (None: no neighbour).
    pub neighbour_median: Option<i64>,
}

/// An accepted beacon, kept for its witnesses.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct BeaconRecord {
    pub frequency_khz: u32,
    pub tx_power_dbm: i16,
    /// The devices whose witness reports were accepted, in acceptance order: each at most
    /// once, and at most `coverage.witness_cap` of them.
    pub witnesses: Vec<DeviceId>,
}

/// One resolution's part in a hotspot's density scale (HIP-17): the hex it sits in, the
/// hex's unclipped count (at the finest level its earning hotspots; above, the sum of its
/// children's clipped counts), the hexes of its disk (itself and its neighbours) whose
/// unclipped count reaches the level's target, the limit those give
/// (`min(max, target × max(1, occupied − N + 1))`) and the clipped count
/// (`min(unclipped, limit)`). The factor is `clipped / unclipped`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct DensityFactor {
    pub resolution: u8,
    #[schema(value_type = crate::openapi::CellHex)]
    #[serde(with = "crate::api::cell_hex")]
    pub cell: u64,
    pub unclipped: u32,
    pub clipped: u32,
    pub occupied: u32,
    pub limit: u32,
}

/// A hotspot's coverage density scale for an epoch, in millionths (1 000 000 = unscaled),
/// with the factor of every resolution that made it. Without a location the scale is 0 and
/// there are no factors.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct CoverageDensity {
    pub scale_ppm: u32,
    pub factors: Vec<DensityFactor>,
}

#[cfg(test)]
#[path = "device_state_tests.rs"]
mod device_state_tests;
