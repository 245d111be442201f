//! Genesis file and chain parameters.

use crate::device::ClassAmounts;
use crate::{Address, Amount, Hash, codec};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Chain parameters. They live in state (so governance can later change them) and start
/// from the genesis file.
///
/// The binary layout is frozen: a new field goes at the end of this struct (never inside
/// one of its groups), is written and read in [`Params`]'s borsh impls through
/// [`crate::appended`] with its *legacy value* (the value that reproduces the rules of a
/// chain started before it existed), and takes that same value when a genesis file leaves it
/// out (`#[serde(default = …)]`), so chains written by an older version open, replay and hash
/// as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Blocks per epoch; the epoch of height h is h / blocks_per_epoch.
    pub blocks_per_epoch: u64,
    /// Fee floor: base_fee + fee_per_byte × encoded size, in base units.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub base_fee: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub fee_per_byte: Amount,
    /// Largest encoded transaction accepted.
    pub max_tx_bytes: u32,
    /// Most transactions in one block.
    pub max_block_txs: u32,
    /// Largest total of encoded transactions in one block.
    pub max_block_bytes: u32,
    /// The privileged key of the devnet (denylist, maker list, oracles, fraud decisions);
    /// a real network has none and decides these by proposal (governance).
    #[serde(default)]
    pub admin: Option<Address>,
    /// Devices and reports.
    #[serde(default)]
    pub devices: DeviceParams,
    /// Usage channels.
    #[serde(default)]
    pub usage: crate::usage::UsageParams,
    /// Sensor readings and their quality.
    #[serde(default)]
    pub sensor: SensorParams,
    /// Compute jobs.
    #[serde(default)]
    pub compute: crate::compute::ComputeParams,
    /// Storage deals.
    #[serde(default)]
    pub storage: crate::storage::StorageParams,
    /// Radio coverage (beacons).
    #[serde(default)]
    pub coverage: CoverageParams,
    /// Emission and reward pools.
    #[serde(default)]
    pub rewards: crate::rewards::RewardParams,
    /// Fraud detectors and escrow.
    #[serde(default)]
    pub fraud: crate::rewards::FraudParams,
    /// Data credits, price oracles and burn-and-mint.
    #[serde(default)]
    pub credits: crate::credits::CreditParams,
    /// Validator staking (BFT mode).
    #[serde(default)]
    pub staking: StakingParams,
    /// Governance: locks, proposals, tallies. Appended (ADR 0029); legacy value: the
    /// defaults (a chain started before governance had no proposals for them to change).
    #[serde(default = "crate::gov::GovParams::legacy")]
    pub gov: crate::gov::GovParams,
    /// Largest total cost of one block's transactions, in cost units ([`crate::cost`]:
    /// about a microsecond of one core each). A proposer stops filling a block there; a
    /// block over it is invalid. Appended (ADR 0029); legacy value: `u64::MAX`, no budget
    /// (a chain started before it had blocks bounded only by count and bytes).
    /// In JSON a number, or `null` for no budget (`u64::MAX`).
    #[schema(value_type = Option<u64>)]
    #[serde(default = "legacy_max_block_cost", with = "budget_json")]
    pub max_block_cost: u64,
    /// Blocks after an epoch's first block at which its reward run is settled
    /// (docs/adr/0034-deferred-reward-run.md): the first block of epoch e + 1 fixes the
    /// run of epoch e on the state before it, every node computes the run from that state in
    /// the background, and block `boundary + reward_settle_delay_blocks` applies the result.
    /// Below `blocks_per_epoch` and at most [`MAX_REWARD_SETTLE_DELAY_BLOCKS`]. Appended (ADR
    /// 0029); legacy value: 0, the run computed and settled inside the boundary block.
    #[serde(default)]
    pub reward_settle_delay_blocks: u64,
    /// Which per-device records the state keeps and for how long (ADR 0036). Appended (ADR
    /// 0029); legacy value: [`StateLayout::Legacy`], every record kept for good and the
    /// query indexes in state (a chain started before it wrote them so).
    #[serde(default = "StateLayout::legacy")]
    pub state_layout: StateLayout,
    /// How many entries of a deferred reward run's report a block settles at least
    /// (docs/adr/0041-reward-settle-spread.md): from its due block on, each block settles
    /// the next `max(this, ⌈entries / (blocks_per_epoch − delay)⌉)` entries (their holds
    /// and findings in state, their rows in the node's reward index), the first block also
    /// the pools and the supply, the last the holds due, the judgement and the summary, so
    /// the run is settled before the next boundary. 0: the whole run in its due block.
    /// Appended (ADR 0029); legacy value: 0 (a chain started before it settled each run in
    /// one block). New chains: [`DEFAULT_REWARD_SETTLE_ENTRIES_PER_BLOCK`].
    #[serde(default)]
    pub reward_settle_entries_per_block: u64,
}

/// The share of a deferred reward run's entries a block settles on a new chain
/// (`Params::reward_settle_entries_per_block`): about 5 ms of settle and index writes a
/// block on the standard machine (docs/benchmarks.md, "Reward runs in the background").
pub const DEFAULT_REWARD_SETTLE_ENTRIES_PER_BLOCK: u64 = 1_000;

/// The most blocks a reward run's settlement may be deferred: a node keeps the state of the
/// run's snapshot until then, and a proof of it is served meanwhile.
pub const MAX_REWARD_SETTLE_DELAY_BLOCKS: u64 = 1_000;

/// The settle delay `cairn init`, the devnet and the testnet write for a new chain with
/// epochs of `blocks_per_epoch`: a third of an epoch, at most 20 blocks (0, inline, for
/// epochs under 3 blocks).
pub fn default_reward_settle_delay(blocks_per_epoch: u64) -> u64 {
    (blocks_per_epoch / 3).min(20)
}

/// Which per-device records the state keeps and for how long (ADR 0036).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    BorshSerialize,
    BorshDeserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = true)]
pub enum StateLayout {
    /// As the chain started: per-epoch device records (activity, rejections, the epoch
    /// rosters) and beacon records are kept for good, and the owner, class and cell query
    /// indexes (`idx/…`) are state keys.
    Legacy = 0,
    /// A device's epoch records and the epoch's rosters go once every window that reads
    /// them has passed, a beacon's record once no witness of it can be accepted, and the
    /// query indexes are kept by each node outside the state.
    Compact = 1,
    /// As `Compact`, and a device's registration count, report cursor, beacon heights, last
    /// two location assertions and the activity of its epochs not yet expired are fields
    /// of its device record (`dev/<id>`) instead of keys of their own (ADR 0037).
    #[default]
    Folded = 2,
}

impl StateLayout {
    /// The value of a chain started before the field existed.
    pub fn legacy() -> Self {
        StateLayout::Legacy
    }

    /// Whether epoch records, rosters and beacon records expire (ADR 0036) and the query
    /// indexes are each node's, outside the state: every layout but the legacy one.
    pub fn expires(self) -> bool {
        self != StateLayout::Legacy
    }

    /// Whether the per-device facts are fields of the device record (ADR 0037).
    pub fn folded(self) -> bool {
        self == StateLayout::Folded
    }
}

/// The default block cost budget of a new chain: about one second of mixed proofs of
/// physical work on the standard machine, the default block interval (ADR 0024).
pub const DEFAULT_MAX_BLOCK_COST: u64 = 1_000_000;

/// The block cost budget of a chain started before the budget existed: none.
pub fn legacy_max_block_cost() -> u64 {
    u64::MAX
}

/// No budget (`u64::MAX`) as JSON `null`, so no JSON number passes 2^53 (docs/wire.md).
mod budget_json {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        if *v == u64::MAX { s.serialize_none() } else { s.serialize_some(v) }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.unwrap_or(u64::MAX))
    }
}

// The layout frozen at the first version, field by field, then the appended fields in the
// order they were added: `gov`, `max_block_cost`, `reward_settle_delay_blocks`,
// `state_layout`, `reward_settle_entries_per_block`. Destructuring makes a new field a compile
// error here until it is placed.
impl BorshSerialize for Params {
    fn serialize<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        let Params {
            blocks_per_epoch,
            base_fee,
            fee_per_byte,
            max_tx_bytes,
            max_block_txs,
            max_block_bytes,
            admin,
            devices,
            usage,
            sensor,
            compute,
            storage,
            coverage,
            rewards,
            fraud,
            credits,
            staking,
            gov,
            max_block_cost,
            reward_settle_delay_blocks,
            state_layout,
            reward_settle_entries_per_block,
        } = self;
        BorshSerialize::serialize(blocks_per_epoch, w)?;
        BorshSerialize::serialize(base_fee, w)?;
        BorshSerialize::serialize(fee_per_byte, w)?;
        BorshSerialize::serialize(max_tx_bytes, w)?;
        BorshSerialize::serialize(max_block_txs, w)?;
        BorshSerialize::serialize(max_block_bytes, w)?;
        BorshSerialize::serialize(admin, w)?;
        BorshSerialize::serialize(devices, w)?;
        BorshSerialize::serialize(usage, w)?;
        BorshSerialize::serialize(sensor, w)?;
        BorshSerialize::serialize(compute, w)?;
        BorshSerialize::serialize(storage, w)?;
        BorshSerialize::serialize(coverage, w)?;
        BorshSerialize::serialize(rewards, w)?;
        BorshSerialize::serialize(fraud, w)?;
        BorshSerialize::serialize(credits, w)?;
        BorshSerialize::serialize(staking, w)?;
        let mut tail = crate::appended::TailWriter::default();
        tail.field(gov, &crate::gov::GovParams::legacy());
        tail.field(max_block_cost, &legacy_max_block_cost());
        tail.field(reward_settle_delay_blocks, &0);
        tail.field(state_layout, &StateLayout::legacy());
        tail.field(reward_settle_entries_per_block, &0);
        tail.finish(w)
    }
}

impl BorshDeserialize for Params {
    fn deserialize_reader<R: std::io::Read>(r: &mut R) -> std::io::Result<Self> {
        let params = Params {
            blocks_per_epoch: BorshDeserialize::deserialize_reader(r)?,
            base_fee: BorshDeserialize::deserialize_reader(r)?,
            fee_per_byte: BorshDeserialize::deserialize_reader(r)?,
            max_tx_bytes: BorshDeserialize::deserialize_reader(r)?,
            max_block_txs: BorshDeserialize::deserialize_reader(r)?,
            max_block_bytes: BorshDeserialize::deserialize_reader(r)?,
            admin: BorshDeserialize::deserialize_reader(r)?,
            devices: BorshDeserialize::deserialize_reader(r)?,
            usage: BorshDeserialize::deserialize_reader(r)?,
            sensor: BorshDeserialize::deserialize_reader(r)?,
            compute: BorshDeserialize::deserialize_reader(r)?,
            storage: BorshDeserialize::deserialize_reader(r)?,
            coverage: BorshDeserialize::deserialize_reader(r)?,
            rewards: BorshDeserialize::deserialize_reader(r)?,
            fraud: BorshDeserialize::deserialize_reader(r)?,
            credits: BorshDeserialize::deserialize_reader(r)?,
            staking: BorshDeserialize::deserialize_reader(r)?,
            gov: crate::gov::GovParams::legacy(),
            max_block_cost: legacy_max_block_cost(),
            reward_settle_delay_blocks: 0,
            state_layout: StateLayout::legacy(),
            reward_settle_entries_per_block: 0,
        };
        let mut tail = crate::appended::TailReader::default();
        let gov = tail.field(r, crate::gov::GovParams::legacy)?;
        let max_block_cost = tail.field(r, legacy_max_block_cost)?;
        let reward_settle_delay_blocks = tail.field(r, || 0u64)?;
        let state_layout = tail.field(r, StateLayout::legacy)?;
        let reward_settle_entries_per_block = tail.field(r, || 0u64)?;
        tail.finish()?;
        Ok(Params {
            gov,
            max_block_cost,
            reward_settle_delay_blocks,
            state_layout,
            reward_settle_entries_per_block,
            ..params
        })
    }
}

/// Parameters of validator staking.
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
pub struct StakingParams {
    /// Blocks from an unbond request until the CRN returns to the delegator's balance. Stake
    /// stays slashable for this long.
    pub unbonding_blocks: u64,
    /// Share of a validator's bond (its own and its delegators', unbonding included) burned
    /// for proven equivocation, in basis points (1/10,000).
    pub slash_bps: u32,
    /// Smallest self-bond that makes an account a validator candidate.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub min_self_bond: Amount,
    /// Most validators in the active set (the largest stakes win; ties by address).
    pub max_validators: u32,
    /// Evidence older than this many blocks is refused (at most `unbonding_blocks`, so the
    /// stake it would slash has not left yet).
    pub max_evidence_age_blocks: u64,
}

impl Default for StakingParams {
    fn default() -> Self {
        StakingParams {
            unbonding_blocks: 1_000,
            slash_bps: 500,
            min_self_bond: 100 * crate::UNITS_PER_CRN,
            max_validators: 100,
            max_evidence_age_blocks: 1_000,
        }
    }
}

/// Parameters of radio coverage proofs.
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
pub struct CoverageParams {
    /// A beacon may use entropy at most this many blocks old (and never older than the
    /// window kept in state).
    pub entropy_max_age_blocks: u64,
    /// At most one beacon per device per this many blocks.
    pub beacon_interval_blocks: u64,
    /// Witness and beaconer at least / at most this many resolution-11 cells apart.
    pub min_witness_cells: u64,
    pub max_witness_cells: u64,
    /// Centre-to-centre spacing of resolution-11 cells, in centimetres (distance = cells ×
    /// spacing, rounded down).
    pub cell_spacing_cm: u64,
    /// Allowance above the free-space prediction, in centi-dB.
    pub rssi_tolerance_cdb: i64,
    pub max_frequency_delta_khz: u32,
    /// A witness must come within this many blocks of the beacon.
    pub witness_lag_blocks: u64,
    /// Witnesses accepted per beacon, first come first counted.
    pub witness_cap: u32,
    /// A witness must itself have beaconed validly within this many blocks.
    pub reciprocity_blocks: u64,
    /// Hex density limits, coarsest resolution first (docs/adr/0007-hex-density.md).
    pub density: Vec<DensityLevel>,
    /// Region plans for beacons and the receiver range for witnesses
    /// (docs/adr/0014-radio-plans.md).
    pub radio: RadioParams,
}

/// Which radio plan a beacon is judged by, and what a receiver can report.
///
/// A beaconer's plan: among `plan_cells` holding its asserted location, the one of the
/// finest resolution; with none (or no location), `default_plan`.
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
pub struct RadioParams {
    /// The region plans, each named once.
    pub plans: Vec<RegionPlan>,
    /// The plan of a location no cell of `plan_cells` holds.
    pub default_plan: String,
    /// Coarse H3 cells (resolution 0 to 3, each listed once) and the plan inside them.
    pub plan_cells: Vec<PlanCell>,
    /// A witness's RSSI must lie in [min, max], in centi-dBm (inclusive).
    pub min_rssi_cdbm: i32,
    pub max_rssi_cdbm: i32,
}

/// A regional channel plan: where a beacon may transmit and how loud.
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
pub struct RegionPlan {
    pub name: String,
    /// The uplink channels' centre frequencies.
    pub channels: Vec<ChannelRange>,
    /// The legal maximum EIRP; a beacon declaring more is refused.
    pub max_eirp_dbm: i16,
    /// The least transmit power a beacon may declare.
    pub min_tx_power_dbm: i16,
}

impl RegionPlan {
    /// Whether `khz` is the centre frequency of one of the plan's channels.
    pub fn has_channel(&self, khz: u32) -> bool {
        self.channels.iter().any(|c| c.contains(khz))
    }
}

/// `count` channels at `first_khz + step_khz × n`, n = 0 .. count − 1.
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
pub struct ChannelRange {
    pub first_khz: u32,
    pub step_khz: u32,
    pub count: u32,
}

impl ChannelRange {
    pub fn contains(&self, khz: u32) -> bool {
        let Some(off) = khz.checked_sub(self.first_khz) else { return false };
        if self.step_khz == 0 {
            return off == 0 && self.count > 0;
        }
        off % self.step_khz == 0 && off / self.step_khz < self.count
    }
}

/// A coarse H3 cell and the plan that applies inside it.
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
pub struct PlanCell {
    /// JSON: lowercase hex; a genesis file may still give it as a number.
    #[schema(value_type = crate::openapi::CellHex)]
    #[serde(with = "crate::api::cell_hex_or_number")]
    pub cell: u64,
    pub plan: String,
}

/// The H3 resolution of a cell index (bits 52–55), `None` when it is not a cell index
/// (mode bits 59–62 other than 1).
pub fn h3_cell_resolution(cell: u64) -> Option<u8> {
    ((cell >> 59) & 0xF == 1).then_some(((cell >> 52) & 0xF) as u8)
}

/// LoRaWAN US902-928 (RP002-1.0.4): uplink channels 0–63 at 902.3 + 0.2·n MHz (125 kHz)
/// and 64–71 at 903.0 + 1.6·n MHz (500 kHz); 36 dBm EIRP (FCC §15.247: 30 dBm conducted +
/// 6 dBi); 2 dBm, the lowest TXPower step (30 − 28 dBm).
pub fn us915() -> RegionPlan {
    RegionPlan {
        name: "US915".into(),
        channels: vec![
            ChannelRange { first_khz: 902_300, step_khz: 200, count: 64 },
            ChannelRange { first_khz: 903_000, step_khz: 1_600, count: 8 },
        ],
        max_eirp_dbm: 36,
        min_tx_power_dbm: 2,
    }
}

/// LoRaWAN EU863-870 (RP002-1.0.4): the default channels 868.1, 868.3, 868.5 MHz and the
/// usual CFList channels 867.1–867.9 MHz in 0.2 MHz steps; 16 dBm EIRP (14 dBm ERP, ETSI
/// EN 300 220 sub-band g1); 2 dBm, the lowest TXPower step (16 − 14 dBm).
pub fn eu868() -> RegionPlan {
    RegionPlan {
        name: "EU868".into(),
        channels: vec![
            ChannelRange { first_khz: 868_100, step_khz: 200, count: 3 },
            ChannelRange { first_khz: 867_100, step_khz: 200, count: 5 },
        ],
        max_eirp_dbm: 16,
        min_tx_power_dbm: 2,
    }
}

/// The resolution-0 H3 cells holding the contiguous United States, Alaska, Canada and
/// Mexico (US902-928 countries), found from a 0.5° grid of points across them. Coarse: they
/// also take in the sea around, part of the Caribbean and much of Central America (not
/// Hawaii, whose cell is not listed).
pub const NORTH_AMERICA_RES0: [u64; 15] = [
    0x800dfffffffffff,
    0x800ffffffffffff,
    0x8013fffffffffff,
    0x801bfffffffffff,
    0x801dfffffffffff,
    0x8023fffffffffff,
    0x8027fffffffffff,
    0x8029fffffffffff,
    0x802bfffffffffff,
    0x8045fffffffffff,
    0x8049fffffffffff,
    0x804dfffffffffff,
    0x8051fffffffffff,
    0x806dfffffffffff,
    0x806ffffffffffff,
];

impl Default for RadioParams {
    fn default() -> Self {
        RadioParams {
            plans: vec![us915(), eu868()],
            default_plan: "EU868".into(),
            plan_cells: NORTH_AMERICA_RES0
                .iter()
                .map(|&cell| PlanCell { cell, plan: "US915".into() })
                .collect(),
            min_rssi_cdbm: -15_000,
            max_rssi_cdbm: 0,
        }
    }
}

impl RadioParams {
    fn validate(&self) -> Result<(), GenesisError> {
        let bad = |m: &str| Err(GenesisError::Invalid(format!("coverage.radio: {m}")));
        let mut names = std::collections::BTreeSet::new();
        for p in &self.plans {
            if p.name.is_empty() || !names.insert(p.name.as_str()) {
                return bad("plan names must be non-empty and distinct");
            }
            if p.channels.is_empty() || p.channels.iter().any(|c| c.count == 0) {
                return bad("every plan needs channels, each range at least one");
            }
            if p.min_tx_power_dbm > p.max_eirp_dbm {
                return bad("min_tx_power_dbm must not exceed max_eirp_dbm");
            }
        }
        if !names.contains(self.default_plan.as_str()) {
            return bad("default_plan must name a plan");
        }
        let mut cells = std::collections::BTreeSet::new();
        for c in &self.plan_cells {
            if h3_cell_resolution(c.cell).is_none_or(|r| r > 3) || !cells.insert(c.cell) {
                return bad("plan_cells must be distinct H3 cells of resolution 0 to 3");
            }
            if !names.contains(c.plan.as_str()) {
                return bad("every plan cell must name a plan");
            }
        }
        if self.min_rssi_cdbm > self.max_rssi_cdbm {
            return bad("min_rssi_cdbm must not exceed max_rssi_cdbm");
        }
        Ok(())
    }
}

/// How many earning hotspots a hex of one resolution carries at full reward (HIP-17 with
/// the HIP-104 parameters by default, docs/adr/0007-hex-density.md).
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
pub struct DensityLevel {
    /// H3 resolution, 0 to 12 (a location's resolution).
    pub resolution: u8,
    /// Hotspots a hex carries while fewer than `neighbours` hexes of its disk (itself and
    /// its neighbours) reach this target.
    pub target: u32,
    /// Hotspots a hex carries at most.
    pub max: u32,
    /// HIP-17's N: the limit is `min(max, target × max(1, k − N + 1))` where k is the
    /// number of hexes of the disk whose count reaches the target. At least 1.
    #[serde(default = "default_neighbours")]
    pub neighbours: u32,
}

/// The finest density resolution: a location's (H3 resolution 12).
pub const DENSITY_MAX_RESOLUTION: u8 = 12;

/// N where a level does not give it: 2, HIP-17's value at its finest resolutions.
pub fn default_neighbours() -> u32 {
    2
}

/// HIP-17 as retuned by HIP-104, (resolution, N, target, max): resolution 4: 2, 500,
/// 1,000; 5: 4, 100, 200; 6: 4, 25, 50; 7: 4, 5, 10; 8 to 10: 2, 1, 1.
pub fn default_density() -> Vec<DensityLevel> {
    [
        (4, 2, 500, 1000),
        (5, 4, 100, 200),
        (6, 4, 25, 50),
        (7, 4, 5, 10),
        (8, 2, 1, 1),
        (9, 2, 1, 1),
        (10, 2, 1, 1),
    ]
    .into_iter()
    .map(|(resolution, neighbours, target, max)| DensityLevel {
        resolution,
        target,
        max,
        neighbours,
    })
    .collect()
}

impl Default for CoverageParams {
    fn default() -> Self {
        CoverageParams {
            entropy_max_age_blocks: 30,
            beacon_interval_blocks: 100,
            min_witness_cells: 8,
            // ≈ 100 km: 2016 cells × 49.6 m.
            max_witness_cells: 2_016,
            cell_spacing_cm: 4_960,
            rssi_tolerance_cdb: 300,
            max_frequency_delta_khz: 100,
            witness_lag_blocks: 10,
            witness_cap: 14,
            reciprocity_blocks: 300,
            density: default_density(),
            radio: RadioParams::default(),
        }
    }
}

/// Parameters of sensor readings.
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
pub struct SensorParams {
    /// Accepted range of a reading, in thousandths (inclusive).
    pub min_value: i64,
    pub max_value: i64,
    /// Readings per epoch that count as fully timely.
    pub expected_readings: u32,
    /// Neighbours are sensors in the same H3 cell at this resolution.
    pub coarse_resolution: u8,
    /// A mean within this distance of the neighbours' median agrees fully; agreement falls
    /// linearly to zero at twice the distance.
    pub tolerance: i64,
}

impl Default for SensorParams {
    fn default() -> Self {
        // A temperature network in thousandths of a degree: −50 °C to 60 °C, 2 °C tolerance.
        SensorParams {
            min_value: -50_000,
            max_value: 60_000,
            expected_readings: 10,
            coarse_resolution: 7,
            tolerance: 2_000,
        }
    }
}

/// Parameters of devices and their reports.
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
pub struct DeviceParams {
    /// Bond locked from the owner at registration, per class.
    pub bonds: ClassAmounts,
    /// Blocks from deregistration until the bond returns to the owner.
    pub bond_cooldown_blocks: u64,
    /// Burned on each location assertion, on top of the transaction fee.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub location_fee: Amount,
    /// When on, registration needs an attestation by a listed maker, and a (maker, serial)
    /// pair registers once.
    pub maker_allowlist: bool,
    /// Heartbeat slots per epoch: each slot counts once toward uptime.
    pub heartbeat_slots: u32,
    /// Share of slots (percent) a device must fill to count as up for the epoch.
    pub min_uptime_percent: u32,
    /// How far a report's timestamp may run ahead of the block time.
    pub max_clock_skew_ms: u64,
    /// How far a report's timestamp may lag behind the block time.
    pub max_report_age_ms: u64,
    /// Most reports in one batch transaction.
    pub max_reports_per_tx: u32,
    /// Largest device metadata, in bytes.
    pub max_metadata_bytes: u32,
}

impl Default for DeviceParams {
    fn default() -> Self {
        let crn = crate::UNITS_PER_CRN;
        DeviceParams {
            bonds: ClassAmounts {
                hotspot: 10 * crn,
                storage: 20 * crn,
                compute: 50 * crn,
                sensor: 5 * crn,
                energy: 5 * crn,
                relay: 10 * crn,
            },
            bond_cooldown_blocks: 100,
            location_fee: crn / 100,
            maker_allowlist: false,
            heartbeat_slots: 10,
            min_uptime_percent: 50,
            max_clock_skew_ms: 30_000,
            max_report_age_ms: 600_000,
            max_reports_per_tx: 4096,
            max_metadata_bytes: 256,
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            blocks_per_epoch: 30,
            base_fee: 1_000,
            fee_per_byte: 10,
            max_tx_bytes: 1024 * 1024,
            max_block_txs: 20_000,
            max_block_bytes: 16 * 1024 * 1024,
            admin: None,
            devices: DeviceParams::default(),
            usage: crate::usage::UsageParams::default(),
            sensor: SensorParams::default(),
            compute: crate::compute::ComputeParams::default(),
            storage: crate::storage::StorageParams::default(),
            coverage: CoverageParams::default(),
            rewards: crate::rewards::RewardParams::default(),
            fraud: crate::rewards::FraudParams::default(),
            credits: crate::credits::CreditParams::default(),
            staking: StakingParams::default(),
            gov: crate::gov::GovParams::default(),
            max_block_cost: DEFAULT_MAX_BLOCK_COST,
            // Inline: tests and in-memory benches read a boundary's run in its own block;
            // `cairn init`, the devnet and the testnet write
            // `default_reward_settle_delay`.
            reward_settle_delay_blocks: 0,
            state_layout: StateLayout::Folded,
            reward_settle_entries_per_block: DEFAULT_REWARD_SETTLE_ENTRIES_PER_BLOCK,
        }
    }
}

impl Params {
    /// These parameters with every count of blocks multiplied by `factor` (saturating):
    /// `blocks_per_epoch`, so `factor` times the blocks in each heartbeat slot, and every
    /// window and interval in blocks (beacon interval, witness lag, entropy age,
    /// reciprocity, probation, challenge, dispute and unbonding windows, ...), so every
    /// device does in a slot what it does at `factor` 1. A fleet `factor` times larger then
    /// puts the same load on each block (docs/adr/0039-blocks-that-fit-the-interval.md).
    /// The per-block limits (`max_block_*`) and the settle delay are left as they are; counts
    /// in epochs stay (an epoch is `factor` times longer).
    pub fn with_blocks_scaled(&self, factor: u64) -> Params {
        let f = |v: u64| v.saturating_mul(factor);
        let mut p = self.clone();
        p.blocks_per_epoch = f(p.blocks_per_epoch);
        p.devices.bond_cooldown_blocks = f(p.devices.bond_cooldown_blocks);
        p.usage.dispute_window_blocks = f(p.usage.dispute_window_blocks);
        p.usage.channel_timeout_blocks = f(p.usage.channel_timeout_blocks);
        p.compute.commit_window_blocks = f(p.compute.commit_window_blocks);
        p.compute.reveal_window_blocks = f(p.compute.reveal_window_blocks);
        p.storage.response_blocks = f(p.storage.response_blocks);
        p.storage.accept_window_blocks = f(p.storage.accept_window_blocks);
        let c = &mut p.coverage;
        c.entropy_max_age_blocks = f(c.entropy_max_age_blocks);
        c.beacon_interval_blocks = f(c.beacon_interval_blocks);
        c.witness_lag_blocks = f(c.witness_lag_blocks);
        c.reciprocity_blocks = f(c.reciprocity_blocks);
        p.fraud.move_window_blocks = f(p.fraud.move_window_blocks);
        p.fraud.probation_blocks = f(p.fraud.probation_blocks);
        p.credits.price_max_age_blocks = f(p.credits.price_max_age_blocks);
        p.staking.unbonding_blocks = f(p.staking.unbonding_blocks);
        p.staking.max_evidence_age_blocks = f(p.staking.max_evidence_age_blocks);
        p
    }

    /// Minimum fee for a transaction of `size` encoded bytes (saturating: an absurd size
    /// gives an unpayable fee rather than wrapping).
    pub fn min_fee(&self, size: usize) -> Amount {
        self.fee_per_byte.saturating_mul(size as Amount).saturating_add(self.base_fee)
    }

    /// Whether block `height` is the first of an epoch (after genesis): where the epoch
    /// before is closed.
    pub fn starts_epoch(&self, height: u64) -> bool {
        height > 0 && height.is_multiple_of(self.blocks_per_epoch.max(1))
    }

    pub fn epoch_of(&self, height: u64) -> u64 {
        height.checked_div(self.blocks_per_epoch).unwrap_or(0)
    }

    /// Checks values that would make the chain unusable.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.blocks_per_epoch == 0 {
            return Err(GenesisError::Invalid("blocks_per_epoch must be at least 1".into()));
        }
        if self.max_block_bytes > MAX_BLOCK_BYTES {
            return Err(GenesisError::Invalid(format!(
                "max_block_bytes must be at most {MAX_BLOCK_BYTES}"
            )));
        }
        if self.max_tx_bytes < 256 || self.max_block_bytes < self.max_tx_bytes {
            return Err(GenesisError::Invalid(
                "max_tx_bytes must be at least 256 and at most max_block_bytes".into(),
            ));
        }
        let d = &self.devices;
        // The dearest transaction the other limits allow must fit a block on its own.
        let largest = crate::cost::max_batch_cost(d.max_reports_per_tx)
            .saturating_add(u64::from(self.max_tx_bytes) / crate::cost::BYTES_PER_UNIT);
        if self.max_block_cost < largest {
            return Err(GenesisError::Invalid(format!(
                "max_block_cost {} must be at least {largest}, the cost of the largest report \
                 batch (devices.max_reports_per_tx of the dearest report kind in max_tx_bytes)",
                self.max_block_cost
            )));
        }
        if self.max_block_cost > crate::api::MAX_SAFE_JSON_INTEGER
            && self.max_block_cost != legacy_max_block_cost()
        {
            return Err(GenesisError::Invalid(format!(
                "max_block_cost {} must be at most 2^53 - 1, or null for no budget",
                self.max_block_cost
            )));
        }
        let delay = self.reward_settle_delay_blocks;
        if delay > 0 && (delay >= self.blocks_per_epoch || delay > MAX_REWARD_SETTLE_DELAY_BLOCKS) {
            return Err(GenesisError::Invalid(format!(
                "reward_settle_delay_blocks {delay} must be below blocks_per_epoch ({}) and at \
                 most {MAX_REWARD_SETTLE_DELAY_BLOCKS}: a run settles before the next one starts",
                self.blocks_per_epoch
            )));
        }
        if d.heartbeat_slots == 0 || d.heartbeat_slots > 64 {
            return Err(GenesisError::Invalid("devices.heartbeat_slots must be 1 to 64".into()));
        }
        if u64::from(d.heartbeat_slots) > self.blocks_per_epoch {
            return Err(GenesisError::Invalid(
                "devices.heartbeat_slots must not exceed blocks_per_epoch (a slot is at least one block)".into(),
            ));
        }
        if self.storage.chunk_size == 0 || self.storage.chunk_size > self.max_tx_bytes / 2 {
            return Err(GenesisError::Invalid(
                "storage.chunk_size must be 1 to max_tx_bytes / 2".into(),
            ));
        }
        if self.storage.max_deal_bytes < u64::from(self.storage.chunk_size) {
            return Err(GenesisError::Invalid(
                "storage.max_deal_bytes must be at least storage.chunk_size".into(),
            ));
        }
        if self.storage.accept_window_blocks == 0 {
            return Err(GenesisError::Invalid(
                "storage.accept_window_blocks must be at least 1 (no block could accept a deal)"
                    .into(),
            ));
        }
        let sp = &self.sensor;
        if sp.min_value > sp.max_value
            || sp.expected_readings == 0
            || sp.coarse_resolution > 15
            || sp.tolerance <= 0
        {
            return Err(GenesisError::Invalid(
                "sensor: need min_value ≤ max_value, expected_readings ≥ 1, coarse_resolution ≤ 15, tolerance > 0".into(),
            ));
        }
        if d.min_uptime_percent > 100 {
            return Err(GenesisError::Invalid(
                "devices.min_uptime_percent must be at most 100".into(),
            ));
        }
        let levels = &self.coverage.density;
        let ordered = levels.windows(2).all(|w| w[0].resolution < w[1].resolution);
        if let Some(l) = levels.iter().find(|l| {
            l.resolution > DENSITY_MAX_RESOLUTION
                || l.target == 0
                || l.target > l.max
                || l.neighbours == 0
        }) {
            return Err(GenesisError::Invalid(format!(
                "coverage.density: resolution {} (0 to {}), target {}, max {}, N {}: need \
                 1 ≤ target ≤ max and N ≥ 1",
                l.resolution, DENSITY_MAX_RESOLUTION, l.target, l.max, l.neighbours
            )));
        }
        if !ordered {
            return Err(GenesisError::Invalid(
                "coverage.density: resolutions must be strictly increasing".into(),
            ));
        }
        self.coverage.radio.validate()?;
        if self.rewards.shares.sum() != u64::from(crate::rewards::BPS) {
            return Err(GenesisError::Invalid(format!(
                "rewards.shares must sum to {} basis points, not {}",
                crate::rewards::BPS,
                self.rewards.shares.sum()
            )));
        }
        if self.credits.oracles.len() > crate::credits::MAX_ORACLES
            || self.credits.credit_value_nano_usd == 0
        {
            return Err(GenesisError::Invalid(format!(
                "credits: at most {} oracles and a credit value above 0",
                crate::credits::MAX_ORACLES
            )));
        }
        let min_oracles = self.credits.min_oracles;
        if min_oracles == 0 || min_oracles as usize > crate::credits::MAX_ORACLES {
            return Err(GenesisError::Invalid(format!(
                "credits.min_oracles must be 1 to {}, not {min_oracles}",
                crate::credits::MAX_ORACLES
            )));
        }
        if self.max_block_txs == 0 {
            return Err(GenesisError::Invalid("max_block_txs must be at least 1".into()));
        }
        let st = &self.staking;
        if st.slash_bps > 10_000 {
            return Err(GenesisError::Invalid("staking.slash_bps must be at most 10000".into()));
        }
        if st.max_validators == 0 || st.min_self_bond < crate::UNITS_PER_CRN {
            return Err(GenesisError::Invalid(
                "staking: need max_validators ≥ 1 and min_self_bond ≥ 1 CRN".into(),
            ));
        }
        if st.max_evidence_age_blocks > st.unbonding_blocks {
            return Err(GenesisError::Invalid(
                "staking.max_evidence_age_blocks must not exceed unbonding_blocks".into(),
            ));
        }
        self.gov.validate().map_err(GenesisError::Invalid)?;
        Ok(())
    }
}

/// Largest block the store and clients read back (the client caps raw blocks at 64 MiB).
pub const MAX_BLOCK_BYTES: u32 = 48 * 1024 * 1024;

/// Latest genesis time accepted (the last millisecond of the year 9999), so block
/// timestamps can never approach `u64::MAX`.
pub const MAX_TIME_MS: u64 = 253_402_300_799_999;

/// One initial balance.
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
pub struct GenesisAccount {
    pub address: Address,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub balance: Amount,
}

/// A validator of a BFT chain at genesis and the stake it starts with, bonded to itself.
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
pub struct GenesisValidator {
    pub address: Address,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub stake: Amount,
}

/// The genesis file: everything needed to build state at height 0.
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
pub struct Genesis {
    pub chain_id: String,
    /// Unix milliseconds; block timestamps start after it.
    pub genesis_time_ms: u64,
    /// The block producer in solo mode (a chain whose `validators` is empty).
    pub validator: Address,
    /// The validators of a BFT chain. Empty: the chain runs in solo mode. Their stakes are
    /// bonded at genesis and count in the supply.
    #[serde(default)]
    pub validators: Vec<GenesisValidator>,
    pub accounts: Vec<GenesisAccount>,
    /// Stays the last field: the parameters' appended fields end where the input ends
    /// (crates/types/src/appended.rs).
    pub params: Params,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("invalid genesis: {0}")]
    Invalid(String),
    #[error("genesis account {0} appears more than once")]
    DuplicateAccount(Address),
    #[error("genesis balances overflow the supply")]
    SupplyOverflow,
}

impl Genesis {
    /// Hash of the canonical encoding; the parent hash of block 1.
    pub fn hash(&self) -> Hash {
        Hash::sha256(&codec::encode(self))
    }

    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.chain_id.is_empty() || self.chain_id.len() > crate::tx::MAX_CHAIN_ID_LEN {
            return Err(GenesisError::Invalid("chain_id must be 1 to 64 bytes".into()));
        }
        if self.genesis_time_ms > MAX_TIME_MS {
            return Err(GenesisError::Invalid(format!(
                "genesis_time_ms {} is past the year 9999",
                self.genesis_time_ms
            )));
        }
        self.params.validate()?;
        let mut seen = std::collections::BTreeSet::new();
        let mut total: Amount = 0;
        for a in &self.accounts {
            if !seen.insert(a.address) {
                return Err(GenesisError::DuplicateAccount(a.address));
            }
            total = total.checked_add(a.balance).ok_or(GenesisError::SupplyOverflow)?;
        }
        // Anyone can sign for a small-order key under ZIP-215: such a producer or validator
        // could have blocks and votes forged in its name.
        crate::crypto::refuse_small_order("validator", &self.validator.0)
            .map_err(|e| GenesisError::Invalid(e.to_string()))?;
        let mut validators = std::collections::BTreeSet::new();
        for v in &self.validators {
            crate::crypto::refuse_small_order("validator", &v.address.0)
                .map_err(|e| GenesisError::Invalid(e.to_string()))?;
            if !validators.insert(v.address) {
                return Err(GenesisError::Invalid(format!(
                    "validator {} appears more than once",
                    v.address
                )));
            }
            if v.stake < self.params.staking.min_self_bond {
                return Err(GenesisError::Invalid(format!(
                    "validator {} stakes less than staking.min_self_bond",
                    v.address
                )));
            }
            total = total.checked_add(v.stake).ok_or(GenesisError::SupplyOverflow)?;
        }
        if self.validators.len() > self.params.staking.max_validators as usize {
            return Err(GenesisError::Invalid(
                "more genesis validators than staking.max_validators".into(),
            ));
        }
        Ok(())
    }

    /// Whether the chain runs BFT consensus (it has genesis validators).
    pub fn is_bft(&self) -> bool {
        !self.validators.is_empty()
    }

    /// Account balances plus genesis validator stakes.
    pub fn total_supply(&self) -> Amount {
        let balances = self.accounts.iter().fold(0, |t: Amount, a| t.saturating_add(a.balance));
        self.validators.iter().fold(balances, |t: Amount, v| t.saturating_add(v.stake))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every parameter counted in blocks, found by its name (`*_blocks`, at any depth of
    /// the JSON form), with its value; the per-block limits and the settle delay apart.
    fn block_counts(p: &Params) -> BTreeMap<String, u64> {
        fn walk(v: &serde_json::Value, at: &str, out: &mut BTreeMap<String, u64>) {
            if let Some(o) = v.as_object() {
                for (k, v) in o {
                    let name = format!("{at}{k}");
                    match v.as_u64() {
                        Some(n) if k.ends_with("_blocks") || k == "blocks_per_epoch" => {
                            out.insert(name, n);
                        }
                        _ => walk(v, &format!("{name}."), out),
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&serde_json::to_value(p).unwrap(), "", &mut out);
        out.remove("reward_settle_delay_blocks");
        out
    }

    #[test]
    fn scaling_the_blocks_multiplies_every_count_of_blocks_and_nothing_else() {
        let p = Params { reward_settle_delay_blocks: 10, ..Params::default() };
        let scaled = p.with_blocks_scaled(10);
        let (before, after) = (block_counts(&p), block_counts(&scaled));
        assert!(before.len() >= 17, "{before:?}");
        for (name, v) in &before {
            assert_eq!(after[name], v * 10, "{name}");
        }
        // Everything else is as it was.
        let mut back = serde_json::to_value(&scaled).unwrap();
        let orig = serde_json::to_value(&p).unwrap();
        for name in before.keys() {
            let mut at = &mut back;
            let parts: Vec<&str> = name.split('.').collect();
            for k in &parts[..parts.len() - 1] {
                at = &mut at[*k];
            }
            at[parts[parts.len() - 1]] =
                orig.pointer(&format!("/{}", parts.join("/"))).unwrap().clone();
        }
        assert_eq!(back, orig);
        scaled.validate().unwrap();
        assert_eq!(p.with_blocks_scaled(1), p);
        assert_eq!(p.with_blocks_scaled(u64::MAX).blocks_per_epoch, u64::MAX);
    }

    fn with_density(levels: &[(u8, u32, u32, u32)]) -> Result<(), GenesisError> {
        let mut p = Params::default();
        p.coverage.density = levels
            .iter()
            .map(|&(resolution, neighbours, target, max)| DensityLevel {
                resolution,
                target,
                max,
                neighbours,
            })
            .collect();
        p.validate()
    }

    #[test]
    fn density_levels_must_be_ordered_within_range_and_target_at_most_max() {
        assert!(Params::default().validate().is_ok());
        assert!(with_density(&[]).is_ok());
        assert!(with_density(&[(12, 2, 1, 1)]).is_ok()); // a location's own resolution
        assert!(with_density(&[(13, 2, 1, 1)]).is_err()); // finer than a location
        assert!(with_density(&[(7, 4, 5, 10), (7, 2, 1, 1)]).is_err()); // repeated
        assert!(with_density(&[(8, 2, 1, 1), (7, 4, 5, 10)]).is_err()); // finest first
        assert!(with_density(&[(7, 4, 0, 10)]).is_err()); // zero target
        assert!(with_density(&[(7, 4, 11, 10)]).is_err()); // target above max
        assert!(with_density(&[(7, 0, 5, 10)]).is_err()); // N of zero
        assert!(with_density(&[(7, 1, 5, 10)]).is_ok());
    }

    #[test]
    fn a_block_cost_budget_below_the_largest_report_batch_is_refused() {
        let p = Params::default();
        let largest = crate::cost::max_batch_cost(p.devices.max_reports_per_tx)
            + u64::from(p.max_tx_bytes) / crate::cost::BYTES_PER_UNIT;
        assert!(p.max_block_cost >= largest);
        let at = Params { max_block_cost: largest, ..p.clone() };
        assert!(at.validate().is_ok());
        let below = Params { max_block_cost: largest - 1, ..p.clone() };
        let e = below.validate().unwrap_err();
        assert!(e.to_string().contains("max_block_cost"), "{e}");
        // Fewer reports per batch allow a smaller budget.
        let mut small = Params { max_block_cost: largest - 1, ..p };
        small.devices.max_reports_per_tx = 100;
        assert!(small.validate().is_ok());
    }

    #[test]
    fn a_params_file_without_max_block_cost_has_no_budget_as_before_it_existed() {
        // ADR 0029: an absent appended field is its legacy value, so an older genesis file
        // still hashes as its chain's genesis; new chains get the budget from `init`.
        let mut json = serde_json::to_value(Params::default()).unwrap();
        json.as_object_mut().unwrap().remove("max_block_cost");
        let p: Params = serde_json::from_value(json).unwrap();
        assert_eq!(p.max_block_cost, u64::MAX);
        assert!(p.validate().is_ok());
        assert_eq!(serde_json::to_value(&p).unwrap()["max_block_cost"], serde_json::Value::Null);
        assert_eq!(Params::default().max_block_cost, DEFAULT_MAX_BLOCK_COST);
        // A budget past 2^53 other than none is refused (it could not be written as JSON).
        let huge = Params { max_block_cost: 1 << 60, ..Params::default() };
        assert!(huge.validate().unwrap_err().to_string().contains("2^53"));
    }

    #[test]
    fn params_without_appended_fields_set_encode_as_the_first_layout_did() {
        // Every appended field at its legacy value: the encoding stops after `staking`.
        let legacy = Params {
            gov: crate::gov::GovParams::legacy(),
            max_block_cost: legacy_max_block_cost(),
            state_layout: StateLayout::legacy(),
            reward_settle_entries_per_block: 0,
            ..Params::default()
        };
        let bytes = codec::encode(&legacy);
        assert_eq!(codec::decode::<Params>(&bytes, 1 << 20, "params").unwrap(), legacy);
        // The budget set: its bytes follow the (legacy, so written) gov field.
        let budget = Params { max_block_cost: 5_000_000, ..legacy.clone() };
        let with = codec::encode(&budget);
        assert!(with.len() > bytes.len());
        assert_eq!(codec::decode::<Params>(&with, 1 << 20, "params").unwrap(), budget);
        // The compact layout: one byte after the (legacy, so written) budget and settle delay.
        let compact = Params { state_layout: StateLayout::Compact, ..legacy.clone() };
        let with = codec::encode(&compact);
        assert_eq!(with.len(), bytes.len() + codec::encode(&legacy.gov).len() + 8 + 8 + 1);
        assert_eq!(with.last(), Some(&1));
        assert_eq!(codec::decode::<Params>(&with, 1 << 20, "params").unwrap(), compact);
        // The folded layout (ADR 0037): the same byte, 2; the compact one's bytes unchanged.
        let folded = Params { state_layout: StateLayout::Folded, ..legacy.clone() };
        let folded_bytes = codec::encode(&folded);
        assert_eq!(folded_bytes[..with.len() - 1], with[..with.len() - 1]);
        assert_eq!(folded_bytes.last(), Some(&2));
        assert_eq!(codec::decode::<Params>(&folded_bytes, 1 << 20, "params").unwrap(), folded);
        // The legacy value written out is not canonical.
        let mut padded = codec::encode(&budget);
        padded.push(0);
        assert!(codec::decode::<Params>(&padded, 1 << 20, "params").is_err());
    }

    #[test]
    fn a_settle_share_is_written_after_the_layout_and_left_out_means_one_block() {
        // ADR 0029 and 0041: the share follows `state_layout`; a chain started before it
        // (its field absent, in JSON or in bytes) settles each run in one block.
        let one_block = Params { reward_settle_entries_per_block: 0, ..Params::default() };
        let bytes = codec::encode(&one_block);
        let spread = Params { reward_settle_entries_per_block: 7, ..one_block.clone() };
        let with = codec::encode(&spread);
        assert_eq!(with.len(), bytes.len() + 8);
        assert_eq!(&with[..bytes.len()], bytes.as_slice());
        assert_eq!(codec::decode::<Params>(&bytes, 1 << 20, "params").unwrap(), one_block);
        assert_eq!(codec::decode::<Params>(&with, 1 << 20, "params").unwrap(), spread);
        let mut json = serde_json::to_value(Params::default()).unwrap();
        assert_eq!(
            json["reward_settle_entries_per_block"],
            DEFAULT_REWARD_SETTLE_ENTRIES_PER_BLOCK
        );
        json.as_object_mut().unwrap().remove("reward_settle_entries_per_block");
        let p: Params = serde_json::from_value(json).unwrap();
        assert_eq!(p.reward_settle_entries_per_block, 0);
    }

    #[test]
    fn a_params_file_without_state_layout_keeps_the_legacy_layout() {
        // ADR 0029 and 0036: chains started before the field keep their layout; a new
        // chain's defaults are folded (ADR 0037).
        let mut json = serde_json::to_value(Params::default()).unwrap();
        assert_eq!(json["state_layout"], "folded");
        json.as_object_mut().unwrap().remove("state_layout");
        let p: Params = serde_json::from_value(json).unwrap();
        assert_eq!(p.state_layout, StateLayout::Legacy);
        assert_eq!(Params::default().state_layout, StateLayout::Folded);
    }

    #[test]
    fn the_default_density_is_hip_104() {
        let rows: Vec<(u8, u32, u32, u32)> = default_density()
            .iter()
            .map(|l| (l.resolution, l.neighbours, l.target, l.max))
            .collect();
        assert_eq!(
            rows,
            vec![
                (4, 2, 500, 1000),
                (5, 4, 100, 200),
                (6, 4, 25, 50),
                (7, 4, 5, 10),
                (8, 2, 1, 1),
                (9, 2, 1, 1),
                (10, 2, 1, 1)
            ]
        );
    }

    #[test]
    fn a_density_level_without_n_reads_as_n_two() {
        let l: DensityLevel =
            serde_json::from_str(r#"{"resolution": 8, "target": 1, "max": 1}"#).unwrap();
        assert_eq!(l.neighbours, 2);
    }

    #[test]
    fn a_small_order_validator_key_is_refused_at_genesis() {
        let ok = crate::Keypair::from_label("validator-0").address();
        let genesis = |validator: Address, validators: Vec<Address>| Genesis {
            chain_id: "cairn-test".into(),
            genesis_time_ms: 0,
            validator,
            validators: validators
                .into_iter()
                .map(|address| GenesisValidator { address, stake: 1_000 * crate::UNITS_PER_CRN })
                .collect(),
            accounts: Vec::new(),
            params: Params::default(),
        };
        assert!(genesis(ok, vec![ok]).validate().is_ok());
        let mut identity = [0u8; 32];
        identity[0] = 1;
        for bad in [Address([0; 32]), Address(identity)] {
            let e = genesis(bad, vec![ok]).validate().unwrap_err();
            assert!(e.to_string().contains("small order"), "{e}");
            let e = genesis(ok, vec![ok, bad]).validate().unwrap_err();
            assert!(e.to_string().contains("small order"), "{e}");
        }
    }

    #[test]
    fn plan_cells_are_written_in_hex_and_read_in_hex_or_as_the_old_numbers() {
        let p = Params::default();
        let mut v = serde_json::to_value(&p).unwrap();
        let first = NORTH_AMERICA_RES0[0];
        assert_eq!(v["coverage"]["radio"]["plan_cells"][0]["cell"], format!("{first:x}"));
        assert_eq!(serde_json::from_value::<Params>(v.clone()).unwrap(), p);
        // A genesis file of before: every cell a JSON number.
        let cells = &mut v["coverage"]["radio"]["plan_cells"];
        for c in cells.as_array_mut().unwrap() {
            let n = crate::api::parse_cell_hex(c["cell"].as_str().unwrap()).unwrap();
            c["cell"] = serde_json::json!(n);
        }
        assert_eq!(v["coverage"]["radio"]["plan_cells"][0]["cell"], first);
        assert_eq!(serde_json::from_value::<Params>(v).unwrap(), p);
    }

    #[test]
    fn radio_plans_must_be_named_once_and_cells_coarse_distinct_and_known() {
        let with = |f: &dyn Fn(&mut RadioParams)| {
            let mut p = Params::default();
            f(&mut p.coverage.radio);
            p.validate()
        };
        assert!(with(&|_| {}).is_ok());
        assert!(with(&|r| r.plans.push(eu868())).is_err()); // named twice
        assert!(with(&|r| r.default_plan = "AS923".into()).is_err());
        assert!(with(&|r| r.plan_cells[0].plan = "AS923".into()).is_err());
        let first = NORTH_AMERICA_RES0[0];
        assert!(
            with(&|r| r.plan_cells.push(PlanCell { cell: first, plan: "EU868".into() })).is_err()
        ); // listed twice
        // A resolution-4 cell (resolution bits 52–55 = 4, its fourth digit 0).
        let res4 = (first & !(0xF << 52) | (4 << 52)) & !(0o7777 << 33);
        assert_eq!(h3_cell_resolution(res4), Some(4));
        assert!(
            with(&|r| r.plan_cells.push(PlanCell { cell: res4, plan: "EU868".into() })).is_err()
        );
        assert!(with(&|r| r.plan_cells.push(PlanCell { cell: 7, plan: "EU868".into() })).is_err());
        assert!(with(&|r| r.plans[0].channels.clear()).is_err());
        assert!(with(&|r| r.plans[0].min_tx_power_dbm = 37).is_err());
        assert!(with(&|r| r.min_rssi_cdbm = 1).is_err());
    }

    #[test]
    fn a_channel_range_holds_exactly_its_count_of_steps() {
        let c = ChannelRange { first_khz: 868_100, step_khz: 200, count: 3 };
        let got: Vec<u32> = (867_000..869_000).filter(|f| c.contains(*f)).collect();
        assert_eq!(got, vec![868_100, 868_300, 868_500]);
        let one = ChannelRange { first_khz: 869_525, step_khz: 0, count: 1 };
        assert!(one.contains(869_525) && !one.contains(869_526));
        assert!(!ChannelRange { count: 0, ..one }.contains(869_525));
        let top = ChannelRange { first_khz: u32::MAX - 1, step_khz: 1, count: u32::MAX };
        assert!(top.contains(u32::MAX) && !top.contains(0));
    }

    #[test]
    fn min_oracles_must_be_one_to_the_most_oracles_and_a_deal_hold_a_chunk() {
        let p = Params::default();
        assert_eq!((p.credits.min_oracles, p.storage.max_deal_bytes), (3, 64 << 30));
        for (min, ok) in [(0, false), (1, true), (32, true), (33, false)] {
            let mut p = Params::default();
            p.credits.min_oracles = min;
            assert_eq!(p.validate().is_ok(), ok, "min_oracles {min}");
        }
        let mut p = Params::default();
        p.storage.max_deal_bytes = u64::from(p.storage.chunk_size) - 1;
        assert!(p.validate().is_err());
        p.storage.max_deal_bytes += 1;
        assert!(p.validate().is_ok());
    }

    #[test]
    fn a_deal_can_be_accepted_for_at_least_one_block() {
        let p = Params::default();
        assert_eq!(p.storage.accept_window_blocks, 1_000);
        for (window, ok) in [(0, false), (1, true), (u64::MAX, true)] {
            let mut p = Params::default();
            p.storage.accept_window_blocks = window;
            assert_eq!(p.validate().is_ok(), ok, "accept_window_blocks {window}");
        }
        // A genesis written before the parameter takes the default.
        let mut v = serde_json::to_value(crate::storage::StorageParams::default()).unwrap();
        v.as_object_mut().unwrap().remove("accept_window_blocks");
        let back: crate::storage::StorageParams = serde_json::from_value(v).unwrap();
        assert_eq!(back.accept_window_blocks, 1_000);
    }
}
