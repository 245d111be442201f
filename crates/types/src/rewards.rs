//! Token economics: the emission schedule, reward pools, and the per-epoch reward report
//! whose Merkle root is committed in state (docs/adr/0009-rewards.md).

use crate::codec::DecodeError;
use crate::device_key::DeviceId;
use crate::{Address, Amount, DeviceClass, Hash, merkle};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Basis points in a whole: pool shares sum to this.
pub const BPS: u32 = 10_000;
/// Multipliers are in millionths.
pub const PPM: u32 = 1_000_000;

/// The pools an epoch's emission is split into.
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
pub enum Pool {
    Usage = 0,
    Coverage = 1,
    Storage = 2,
    Compute = 3,
    Sensor = 4,
    Validators = 5,
    Treasury = 6,
}

impl Pool {
    pub const ALL: [Pool; 7] = [
        Pool::Usage,
        Pool::Coverage,
        Pool::Storage,
        Pool::Compute,
        Pool::Sensor,
        Pool::Validators,
        Pool::Treasury,
    ];
    /// The pools devices earn from.
    pub const DEVICE: [Pool; 5] =
        [Pool::Usage, Pool::Coverage, Pool::Storage, Pool::Compute, Pool::Sensor];

    pub fn name(self) -> &'static str {
        match self {
            Pool::Usage => "usage",
            Pool::Coverage => "coverage",
            Pool::Storage => "storage",
            Pool::Compute => "compute",
            Pool::Sensor => "sensor",
            Pool::Validators => "validators",
            Pool::Treasury => "treasury",
        }
    }

    /// The device pool a class earns its proof-of-work rewards from (usage is shared by
    /// every class that delivers units through channels).
    pub fn of_class(class: DeviceClass) -> Option<Pool> {
        match class {
            DeviceClass::Hotspot => Some(Pool::Coverage),
            DeviceClass::Storage => Some(Pool::Storage),
            DeviceClass::Compute => Some(Pool::Compute),
            DeviceClass::Sensor => Some(Pool::Sensor),
            DeviceClass::Energy | DeviceClass::Relay => None,
        }
    }
}

/// Shares of the emission per pool, in basis points; they sum to [`BPS`].
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
#[serde(deny_unknown_fields)]
pub struct PoolShares {
    pub usage: u32,
    pub coverage: u32,
    pub storage: u32,
    pub compute: u32,
    pub sensor: u32,
    pub validators: u32,
    pub treasury: u32,
}

impl PoolShares {
    pub fn of(&self, pool: Pool) -> u32 {
        match pool {
            Pool::Usage => self.usage,
            Pool::Coverage => self.coverage,
            Pool::Storage => self.storage,
            Pool::Compute => self.compute,
            Pool::Sensor => self.sensor,
            Pool::Validators => self.validators,
            Pool::Treasury => self.treasury,
        }
    }

    pub fn sum(&self) -> u64 {
        Pool::ALL.iter().map(|p| u64::from(self.of(*p))).sum()
    }
}

/// Emission and pool parameters.
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
#[serde(deny_unknown_fields, default)]
pub struct RewardParams {
    /// Emitted per epoch before any halving, in base units.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub emission_per_epoch: Amount,
    /// The emission halves every this many epochs (0: never).
    pub halving_epochs: u64,
    pub shares: PoolShares,
}

impl Default for RewardParams {
    fn default() -> Self {
        RewardParams {
            // 10 000 CRN an epoch.
            emission_per_epoch: 10_000 * crate::UNITS_PER_CRN,
            // Two years of hourly epochs.
            halving_epochs: 17_520,
            shares: PoolShares {
                usage: 4_000,
                coverage: 1_500,
                storage: 1_500,
                compute: 1_500,
                sensor: 500,
                validators: 500,
                treasury: 500,
            },
        }
    }
}

/// Fraud detectors and the escrow of flagged rewards.
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
#[serde(deny_unknown_fields, default)]
pub struct FraudParams {
    /// A group of hotspots that witnessed mostly each other within the reciprocity window
    /// (a connected component of the witness graph, or a part of a component cut along
    /// weak links) with this many members or more, up to `ring_max`…
    pub ring_min: u32,
    pub ring_max: u32,
    /// …of which at least this share of the member pairs are linked (one heard the other,
    /// either way)…
    pub ring_density_percent: u32,
    /// …and whose links to hotspots outside the group are at most this share of its
    /// linked pairs, is a ring.
    pub ring_leak_percent: u32,
    /// A hotspot that witnessed at least this many listening beaconers that could have
    /// heard its judged beacon, none of which (nor anyone who heard it) did, is unheard (0
    /// turns the rule off). The judged beacon is the later of its last two beacons older
    /// than `coverage.witness_lag_blocks`: with a beacon interval shorter than the lag, a
    /// boundary may find neither old enough and judge nothing.
    pub unheard_min_beaconers: u32,
    /// A new location more than this many cells (at `move_resolution`) from the previous
    /// one, asserted within `move_window_blocks` of it, is implausible movement.
    pub max_move_cells: u64,
    pub move_resolution: u8,
    pub move_window_blocks: u64,
    /// Two sensors whose epoch readings are identical (same count and digest, at least this
    /// many) are a copy; the one registered later is flagged.
    pub copy_min_readings: u32,
    /// Flagged rewards are held this many epochs, then released unless resolved.
    pub escrow_epochs: u64,
    /// This many hotspots or more active in an epoch in one resolution-12 cell are a farm:
    /// all are flagged (0 turns the rule off).
    pub colocated_min: u32,
    /// A hotspot located less than this many blocks before a boundary is on probation: the
    /// detectors have not yet judged it on a witness graph of its own (0 turns the rule
    /// off). Its coverage is held as unproven unless at least `evidence_witnesses` hotspots
    /// past their own probation, and not flagged, witnessed its beacons within the
    /// reciprocity window; an unproven hold is judged again when the probation ends
    /// (docs/adr/0013-cold-start.md).
    pub probation_blocks: u64,
    pub evidence_witnesses: u32,
}

impl Default for FraudParams {
    fn default() -> Self {
        FraudParams {
            ring_min: 3,
            ring_max: 12,
            ring_density_percent: 80,
            // A ring's members hear neighbours outside it too, over a whole window; see
            // docs/fraud.md (rings hearing each other).
            ring_leak_percent: 100,
            unheard_min_beaconers: 5,
            // ≈ 50 km at resolution 5 (≈ 17 km between centres).
            max_move_cells: 3,
            move_resolution: 5,
            move_window_blocks: 1_000,
            copy_min_readings: 5,
            escrow_epochs: 6,
            colocated_min: 3,
            // Two beacon intervals and the witness lag of the default coverage parameters:
            // every hotspot has beaconed twice and been witnessed by those that heard it.
            probation_blocks: 210,
            evidence_witnesses: 3,
        }
    }
}

/// Why a detector flagged a device.
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
#[serde(tag = "detector", rename_all = "snake_case")]
pub enum Evidence {
    /// The device is one of `members` hotspots that witnessed mostly each other: `edges`
    /// of their `members × (members − 1) / 2` pairs are linked by a witness either way, and
    /// `outside` links leave the group.
    WitnessRing { members: u32, edges: u32, outside: u32 },
    /// The device moved `cells` cells (at `resolution`) in `blocks` blocks.
    ImplausibleMove {
        #[schema(value_type = crate::openapi::CellHex)]
        #[serde(with = "crate::api::cell_hex")]
        from: u64,
        #[schema(value_type = crate::openapi::CellHex)]
        #[serde(with = "crate::api::cell_hex")]
        to: u64,
        cells: u64,
        resolution: u8,
        blocks: u64,
    },
    /// The device's readings repeat those of `of`, registered earlier.
    CopiedSensor { of: DeviceId, readings: u32 },
    /// The device is one of `hotspots` hotspots active in the epoch in `cell`.
    Colocated {
        #[schema(value_type = crate::openapi::CellHex)]
        #[serde(with = "crate::api::cell_hex")]
        cell: u64,
        hotspots: u32,
    },
    /// The device's beacon at `beacon` (old enough for every witness to be in) drew none
    /// from outside the group that hears it, while it witnessed `beaconers` hotspots that
    /// could have heard it.
    Unheard { beacon: u64, beaconers: u32 },
    /// The hotspot is on probation until height `until` and only `witnesses` (of the
    /// `needed`) hotspots past their own probation witnessed its beacons: its coverage is
    /// held, not judged fraudulent, and judged again when the probation ends.
    Unproven { until: u64, witnesses: u32, needed: u32 },
    /// Judged at the end of its probation: of the hotspots that witnessed its beacons within
    /// the window, `flagged` had a detector's finding (at that boundary, or since the held
    /// epoch) and only `unflagged` had no flag at all — its evidence came mostly from
    /// hotspots caught cheating. Recorded on the hold, not by a detector of the report.
    HeardByFlagged { flagged: u32, unflagged: u32 },
}

impl Evidence {
    pub fn detector(&self) -> &'static str {
        match self {
            Evidence::WitnessRing { .. } => "witness_ring",
            Evidence::ImplausibleMove { .. } => "implausible_move",
            Evidence::CopiedSensor { .. } => "copied_sensor",
            Evidence::Colocated { .. } => "colocated",
            Evidence::Unheard { .. } => "unheard",
            Evidence::Unproven { .. } => "unproven",
            Evidence::HeardByFlagged { .. } => "heard_by_flagged",
        }
    }

    /// Whether this is a detector's finding (anything but the probation hold).
    pub fn is_finding(&self) -> bool {
        !matches!(self, Evidence::Unproven { .. })
    }

    /// The end of the probation of a probation hold (`flags.iter().find_map(..)` finds a
    /// device's).
    pub fn probation_end(&self) -> Option<u64> {
        match self {
            Evidence::Unproven { until, .. } => Some(*until),
            _ => None,
        }
    }
}

/// Rewards held back from a flagged device.
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
pub struct FraudHold {
    pub device: DeviceId,
    pub owner: Address,
    pub epoch: u64,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub amount: Amount,
    pub evidence: Vec<Evidence>,
    /// Released to the owner at the start of this epoch unless resolved before.
    pub release_epoch: u64,
    pub appealed: bool,
    pub status: HoldStatus,
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
pub enum HoldStatus {
    Held,
    /// Paid to the owner (by decision or because the window ran out) at this height.
    Released {
        height: u64,
    },
    Burned {
        height: u64,
    },
}

/// The emission of `epoch`: the base amount halved once per `halving_epochs` epochs
/// (rounded down; zero after 128 halvings).
pub fn emission(p: &RewardParams, epoch: u64) -> Amount {
    let halvings = epoch.checked_div(p.halving_epochs).unwrap_or(0);
    if halvings >= 128 { 0 } else { p.emission_per_epoch >> halvings }
}

/// Splits `amount` into pools: each pool but the treasury gets `amount × share / 10 000`
/// rounded down; the treasury gets its share plus whatever the rounding left, so the parts
/// always sum to `amount`.
pub fn split(shares: &PoolShares, amount: Amount) -> [(Pool, Amount); 7] {
    let mut out = Pool::ALL.map(|p| (p, 0));
    let mut given: Amount = 0;
    for (pool, part) in out.iter_mut() {
        if *pool != Pool::Treasury {
            *part = mul_div(amount, Amount::from(shares.of(*pool)), Amount::from(BPS));
            given += *part;
        }
    }
    out[6].1 = amount - given;
    out
}

/// `a × b / c` rounded down, exact for all inputs with `b ≤ c` (the result then fits);
/// `c = 0` gives 0.
pub fn mul_div(a: u128, b: u128, c: u128) -> u128 {
    if c == 0 {
        return 0;
    }
    if let Some(p) = a.checked_mul(b) {
        return p / c;
    }
    // 256-bit product, then long division.
    let (a1, a0) = (a >> 64, a & u128::from(u64::MAX));
    let (b1, b0) = (b >> 64, b & u128::from(u64::MAX));
    let lo = a0 * b0;
    let mid1 = a1 * b0;
    let mid2 = a0 * b1;
    let hi = a1 * b1;
    let (mid, mid_carry) = mid1.overflowing_add(mid2);
    let (lo, c1) = lo.overflowing_add(mid << 64);
    let hi = hi + (mid >> 64) + (u128::from(mid_carry) << 64) + u128::from(c1);
    let (mut q, mut r) = (0u128, 0u128);
    for i in (0..256).rev() {
        let bit = if i >= 128 { (hi >> (i - 128)) & 1 } else { (lo >> i) & 1 };
        let carry = r >> 127;
        r = (r << 1) | bit;
        if carry == 1 || r >= c {
            r = r.wrapping_sub(c);
            if i < 128 {
                q |= 1 << i;
            }
        }
    }
    q
}

/// What a device did in an epoch, as the reward run reads it from state.
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
pub struct Work {
    /// Heartbeat slots filled, of `slots`.
    pub uptime_slots: u32,
    pub slots: u32,
    pub beacons: u32,
    pub witnesses: u32,
    /// Hex density scale (coverage), millionths.
    pub density_ppm: u32,
    /// Location trust, millionths: 1 000 000 for a location asserted before the epoch,
    /// 500 000 for one asserted during it, 0 without a location.
    pub trust_ppm: u32,
    pub readings: u32,
    /// Sensor quality, thousandths.
    pub quality: u32,
    /// Units delivered through usage channels paid out in the epoch.
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub units: u64,
    pub proven_bytes: u64,
    pub jobs: u32,
    /// Of `units` and `jobs`, the work done in an earlier epoch whose uptime gate the device
    /// met: it counts even when this epoch's uptime is below the gate.
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub units_pregated: u64,
    pub jobs_pregated: u32,
    /// Reports rejected in the epoch, by reason code.
    pub rejected: Vec<(String, u32)>,
    /// The CRN value of the credits consumers paid for `units` (what was burned for them):
    /// the usage pool pays the device at most this (docs/adr/0012-paid-work-cap.md).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub paid_usage: Amount,
    /// The CRN value of the credits paid for `proven_bytes` or `jobs`: the storage or
    /// compute pool pays the device at most this.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub paid_service: Amount,
}

impl Work {
    /// The most `pool` pays a device with this work: the paid value for the usage, storage
    /// and compute pools, no cap (None) for the others.
    pub fn paid_cap(&self, pool: Pool) -> Option<Amount> {
        match pool {
            Pool::Usage => Some(self.paid_usage),
            Pool::Storage | Pool::Compute => Some(self.paid_service),
            _ => None,
        }
    }
}

/// One device's line in the reward report.
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
pub struct RewardEntry {
    pub device: DeviceId,
    pub owner: Address,
    pub class: DeviceClass,
    pub work: Work,
    /// Whether the heartbeat uptime met the gate.
    pub uptime_ok: bool,
    /// Score per pool the device earned from (score > 0 only).
    #[schema(value_type = Vec<(Pool, crate::openapi::AmountString)>)]
    #[serde(with = "crate::api::pairs_amount_str")]
    pub scores: Vec<(Pool, u128)>,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub amount: Amount,
    /// Work that earned nothing, and why (e.g. `uptime_below_gate`, `no_location`).
    pub not_counted: Vec<String>,
    /// What fraud detectors found; a flagged device's amount is held in escrow, not paid
    /// into the reward root.
    pub flags: Vec<Evidence>,
    /// A hotspot's density factor at each resolution (`work.density_ppm` is their product).
    pub density: Vec<crate::device::DensityFactor>,
    /// A sensor's quality and what made it (`work.quality` is its product).
    pub sensor_quality: Option<crate::device::SensorQuality>,
    /// What the paid-value caps took from the device's volume shares (the usage pool's above
    /// `work.paid_usage`, the storage or compute pool's above `work.paid_service`), summed
    /// over its pools: `amount` is the shares less this. It went to the treasury.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub capped: Amount,
}

impl RewardEntry {
    /// Paid through the reward root: an amount and no flag.
    pub fn is_leaf(&self) -> bool {
        self.amount > 0 && self.flags.is_empty()
    }
}

impl RewardEntry {
    /// The Merkle leaf: (device, owner, amount).
    pub fn leaf(&self) -> RewardLeaf {
        RewardLeaf { device: self.device, owner: self.owner, amount: self.amount }
    }
}

/// What the reward root commits to per device.
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
pub struct RewardLeaf {
    pub device: DeviceId,
    pub owner: Address,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub amount: Amount,
}

impl RewardLeaf {
    /// SHA-256 of the leaf's borsh encoding (the device's 32 bytes, the owner's 32, the
    /// amount's 16 little-endian bytes), fed to the hash without building it.
    pub fn hash(&self) -> Hash {
        Hash::sha256_parts(&[&self.device.0, &self.owner.0, &self.amount.to_le_bytes()])
    }
}

/// One pool's outcome in an epoch.
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
pub struct PoolOutcome {
    pub pool: Pool,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub amount: Amount,
    /// Paid to devices (or validators); the rest went to the treasury.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub paid: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub score_total: u128,
    pub earners: u64,
    /// Of `amount`, what the devices' shares came to above their paid values (usage,
    /// storage and compute): in the treasury with the rest of `amount − paid`.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub capped: Amount,
}

/// An epoch's rewards as kept in state: the totals and the root of the leaves.
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
pub struct EpochRewards {
    pub epoch: u64,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub emission: Amount,
    /// CRN burned for data credits minted back into the pools (on top of the emission).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub reminted: Amount,
    pub pools: Vec<PoolOutcome>,
    /// Treasury share plus every remainder, every pool without work and what the paid-value
    /// caps held back (`PoolOutcome::capped`).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub to_treasury: Amount,
    /// Paid to the validator(s).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub to_validators: Amount,
    /// Each validator's part of `to_validators`, by stake (in BFT mode it is bonded to the
    /// validator's pool, so its delegators share it by their shares).
    #[schema(value_type = Vec<(Address, crate::openapi::AmountString)>)]
    #[serde(with = "crate::api::pairs_amount_str")]
    pub validator_payouts: Vec<(Address, Amount)>,
    /// Held in fraud escrow (flagged devices' amounts).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub escrowed: Amount,
    /// Merkle root over the leaves of the paid, unflagged entries, in report order.
    pub root: Hash,
    pub leaves: u64,
}

/// The entries of an epoch's report that one block settles, for the node's reward index
/// (outside the state): positions `from..to` of `report`'s entries, the first of them leaf
/// number `first_leaf` among the epoch's leaves (docs/adr/0041-reward-settle-spread.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardIndexChunk {
    pub report: std::sync::Arc<PackedReport>,
    pub from: u32,
    pub to: u32,
    pub first_leaf: u64,
}

impl RewardIndexChunk {
    /// Every entry of `report`, in one block.
    pub fn whole(report: std::sync::Arc<PackedReport>) -> RewardIndexChunk {
        let to = u32::try_from(report.len()).unwrap_or(u32::MAX);
        RewardIndexChunk { report, from: 0, to, first_leaf: 0 }
    }

    /// The epoch the entries are of.
    pub fn epoch(&self) -> u64 {
        self.report.summary.epoch
    }

    /// The chunk's entries, decoded, with their positions in the report. A chunk reaching
    /// past the report's end is an error.
    pub fn entries(&self) -> Result<Vec<(u32, RewardEntry)>, DecodeError> {
        let (from, to) = (self.from as usize, self.to as usize);
        let entries = self.report.entries(from..to)?;
        if entries.len() != to.saturating_sub(from) {
            return Err(DecodeError::Malformed {
                what: "reward index chunk",
                reason: format!(
                    "entries {from} to {to} of a report of {} entries",
                    self.report.len()
                ),
            });
        }
        Ok((self.from..).zip(entries).collect())
    }
}

/// A reward report held packed: its summary, and its entries' canonical bytes in blocks of
/// [`PACK_BLOCK`] consecutive entries, each block compressed (LZ4). A node holds a deferred
/// run's report from the run's computation to the last block of its settlement
/// (docs/adr/0046-packed-reward-report.md); decoded, an entry is a struct with up to six
/// heap allocations of its own, packed it is a share of a block's compressed bytes (most
/// entries repeat the same zeros and notes). Entries are decoded a block at a time, when a
/// block settles or indexes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedReport {
    pub summary: EpochRewards,
    len: usize,
    /// Block k: entries `k × PACK_BLOCK ..`, their canonical bytes one after another,
    /// compressed, with the uncompressed size before them.
    blocks: Vec<Vec<u8>>,
    /// The device of each block's first entry (entries are in device order).
    firsts: Vec<DeviceId>,
}

/// Entries in one compressed block of a [`PackedReport`].
pub const PACK_BLOCK: usize = 256;

/// The largest block a packed report decompresses (its own blocks are far smaller: this
/// only bounds the decoder).
const PACK_BLOCK_MAX: usize = 64 << 20;

fn malformed_block(k: usize, reason: impl std::fmt::Display) -> DecodeError {
    DecodeError::Malformed { what: "packed reward report", reason: format!("block {k}: {reason}") }
}

impl PackedReport {
    /// Packs `report`'s entries, a block at a time on all cores, and frees them.
    pub fn pack(report: RewardReport) -> PackedReport {
        use rayon::prelude::*;
        let RewardReport { summary, entries } = report;
        let (blocks, firsts): (Vec<Vec<u8>>, Vec<DeviceId>) = entries
            .par_chunks(PACK_BLOCK)
            .map(|block| {
                let mut bytes = Vec::new();
                for e in block {
                    // Writing into a Vec never fails for these types.
                    let _ = borsh::to_writer(&mut bytes, e);
                }
                let first = block.first().map(|e| e.device).unwrap_or_default();
                (lz4_flex::block::compress_prepend_size(&bytes), first)
            })
            .unzip();
        let len = entries.len();
        entries.into_par_iter().for_each(drop);
        PackedReport { summary, len, blocks, firsts }
    }

    /// How many entries the report has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the report has no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes the report holds its entries in (blocks and their first devices).
    pub fn packed_bytes(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum::<usize>()
            + self.firsts.len() * std::mem::size_of::<DeviceId>()
    }

    /// The entries of block `k`.
    fn block(&self, k: usize) -> Result<Vec<RewardEntry>, DecodeError> {
        let packed = self.blocks.get(k).ok_or_else(|| malformed_block(k, "no such block"))?;
        if let Some(size) = packed.get(..4) {
            let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
            if size > PACK_BLOCK_MAX {
                return Err(malformed_block(k, format!("{size} bytes uncompressed")));
            }
        }
        let bytes = lz4_flex::block::decompress_size_prepended(packed)
            .map_err(|e| malformed_block(k, e))?;
        let count = PACK_BLOCK.min(self.len.saturating_sub(k * PACK_BLOCK));
        let mut rest = bytes.as_slice();
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(
                <RewardEntry as BorshDeserialize>::deserialize(&mut rest)
                    .map_err(|e| malformed_block(k, e))?,
            );
        }
        if !rest.is_empty() {
            return Err(malformed_block(k, format!("{} bytes after its entries", rest.len())));
        }
        Ok(out)
    }

    /// The entries at positions `range` (clamped to the report).
    pub fn entries(&self, range: std::ops::Range<usize>) -> Result<Vec<RewardEntry>, DecodeError> {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        let mut out = Vec::with_capacity(end - start);
        if start == end {
            return Ok(out);
        }
        for k in start / PACK_BLOCK..=(end - 1) / PACK_BLOCK {
            let base = k * PACK_BLOCK;
            let (lo, hi) = (start.max(base) - base, end.min(base + PACK_BLOCK) - base);
            out.extend(self.block(k)?.into_iter().take(hi).skip(lo));
        }
        Ok(out)
    }

    /// Entry `i`.
    pub fn entry(&self, i: usize) -> Result<Option<RewardEntry>, DecodeError> {
        Ok(self.entries(i..i.saturating_add(1))?.pop())
    }

    /// The entry of `device`, if the report has one (entries are in device order).
    pub fn find(&self, device: &DeviceId) -> Result<Option<RewardEntry>, DecodeError> {
        // The last block whose first device is at most `device`.
        let k = self.firsts.partition_point(|first| first <= device);
        let Some(k) = k.checked_sub(1) else { return Ok(None) };
        let block = self.block(k)?;
        Ok(block
            .binary_search_by(|e| e.device.cmp(device))
            .ok()
            .and_then(|at| block.into_iter().nth(at)))
    }

    /// The whole report, decoded.
    pub fn unpack(&self) -> Result<RewardReport, DecodeError> {
        Ok(RewardReport { summary: self.summary.clone(), entries: self.entries(0..self.len)? })
    }
}

/// The full report: the summary and every device's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RewardReport {
    pub summary: EpochRewards,
    pub entries: Vec<RewardEntry>,
}

impl RewardReport {
    /// The entries paid through the root, in the order of the leaves.
    pub fn paid(&self) -> impl Iterator<Item = &RewardEntry> {
        self.entries.iter().filter(|e| e.is_leaf())
    }

    /// Root over the leaves of the paid, unflagged entries.
    pub fn leaf_root(entries: &[RewardEntry]) -> (Hash, u64) {
        let leaves: Vec<Hash> =
            entries.iter().filter(|e| e.is_leaf()).map(|e| e.leaf().hash()).collect();
        (merkle::root(&leaves), leaves.len() as u64)
    }
}

/// A claim of one leaf: its position among the epoch's leaves and the Merkle path.
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
pub struct RewardClaim {
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub epoch: u64,
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub index: u64,
    pub leaf: RewardLeaf,
    pub path: Vec<Hash>,
}

/// The treasury's account: an address no key controls (SHA-256 of a fixed tag), so its
/// balance moves only by rule.
pub fn treasury_address() -> Address {
    Address(Hash::sha256(b"cairn/treasury/v1").0)
}

#[cfg(test)]
#[path = "rewards_tests.rs"]
mod tests;
