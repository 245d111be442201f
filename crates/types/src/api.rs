//! JSON shapes of the HTTP API (`/v1`), shared by the node and the client.
//!
//! Amounts are decimal strings of base units, because JSON numbers lose precision past 2^53.

use crate::{
    Address, Amount, BlockHeader, Certificate, Hash, Height, Receipt, Signature, Transaction,
};
use serde::{Deserialize, Serialize};

/// Serde helper: a u128 as a decimal string.
pub mod amount_str {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<u128>().map_err(|_| {
            serde::de::Error::custom(format!("amount {s:?} is not a base-unit integer"))
        })
    }
}

/// Every error response: a stable machine-readable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    pub chain_id: String,
    pub height: Height,
    pub last_block_hash: Hash,
    pub state_root: Hash,
    pub epoch: u64,
    pub timestamp_ms: u64,
    pub mempool_size: u64,
}

/// An account's state at a height, with an optional proof against that height's state root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub address: Address,
    #[serde(with = "amount_str")]
    pub balance: Amount,
    pub nonce: u64,
    /// The nonce for the account's next transaction, counting its pending ones.
    pub next_nonce: u64,
    pub height: Height,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub proof: Option<StateProofView>,
}

/// `GET /v1/validators`: every validator candidate, with its power in the set that
/// certifies the next block (`height`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorsView {
    pub height: Height,
    pub total_power: u64,
    pub validators: Vec<ValidatorView>,
}

/// One validator candidate's pool (`GET /v1/validators/{address}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorView {
    pub address: Address,
    /// Voting power in the set of the next block; 0 when not in it.
    pub power: u64,
    /// CRN bonded to the pool (its own and delegated), after slashing.
    #[serde(with = "amount_str")]
    pub tokens: Amount,
    /// The validator's own share of `tokens`.
    #[serde(with = "amount_str")]
    pub self_bond: Amount,
    /// CRN unbonding from the pool (still slashable).
    #[serde(with = "amount_str")]
    pub unbonding: Amount,
    /// Slashed for equivocation: no new stake, out of the set from the next epoch.
    pub tombstoned: bool,
    #[serde(with = "amount_str")]
    pub slashed: Amount,
}

/// A state-tree inclusion (or exclusion) proof for one key at one height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateProofView {
    pub height: Height,
    pub state_root: Hash,
    /// The state key, hex.
    pub key: String,
    /// The stored value (canonical bytes, hex); absent if the key is not in state.
    pub value: Option<String>,
    /// The borsh-encoded Merkle proof, hex.
    pub proof: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxView {
    pub hash: Hash,
    pub tx: Transaction,
    pub signature: Signature,
    /// `pending` (in the mempool) or `committed`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub receipt: Option<Receipt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    pub hash: Hash,
    pub header: BlockHeader,
    pub certificate: Certificate,
    /// A page of the block's transactions (`?tx_offset=&tx_limit=`, at most
    /// `MAX_BLOCK_VIEW_TXS` of the node); all of them when they fit.
    pub txs: Vec<TxView>,
    /// The offset of the next page of transactions, when the block holds more than this
    /// page shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_tx: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitTxRequest {
    /// The borsh-encoded signed transaction, hex.
    pub tx: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitTxResponse {
    pub hash: Hash,
}

/// Raw block bytes, for clients that re-verify blocks (audit, sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawBlockView {
    pub height: Height,
    /// The borsh-encoded block, hex.
    pub block: String,
}

/// `POST /v1/txs/batch`: many transactions at once, each hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitBatchRequest {
    pub txs: Vec<String>,
}

/// What a validator answers to `POST /v1/txs/relay` (transactions another validator
/// forwarded, as borsh `Vec<Vec<u8>>` of canonical transaction bytes): how many it admitted,
/// how many it already held, how many it refused. A forwarder needs no more than counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayResponse {
    pub admitted: u64,
    pub already_known: u64,
    pub refused: u64,
}

/// The outcome of one transaction of a batch: its hash if admitted, else the error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitBatchItem {
    pub hash: Option<Hash>,
    pub error: Option<ErrorBody>,
}

/// `GET /v1/devices/{id}`: the device record with its report state this epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    pub device: crate::device::Device,
    /// Registrations of this key so far: the device nonce of its next registration.
    pub registrations: u64,
    /// Last accepted report sequence number (0 before any report).
    pub last_seq: u64,
    pub denylisted: Option<crate::device::DenyEntry>,
    pub epoch: u64,
    pub activity: crate::device::EpochActivity,
    pub uptime: UptimeView,
    /// Units delivered through usage channels that closed this epoch.
    pub usage_units: u64,
    pub locations: Vec<crate::device::LocationAssertion>,
}

/// Uptime in an epoch: filled heartbeat slots against the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UptimeView {
    pub slots_filled: u32,
    pub slots: u32,
    pub min_percent: u32,
    pub up: bool,
}

/// `GET /v1/devices?owner=&class=&cell=&after=&limit=`: a page of devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceListView {
    pub devices: Vec<crate::device::Device>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// One report found in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceReportView {
    pub height: Height,
    pub tx_index: u32,
    pub report_index: u32,
    /// The report as signed (its signature is in the block, at `height`, `tx_index`,
    /// `report_index`).
    pub report: crate::Report,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<crate::device::RejectReason>,
}

/// `GET /v1/devices/{id}/reports?epoch=` and `/rejections?epoch=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceReportsView {
    pub device: crate::device_key::DeviceId,
    pub epoch: u64,
    pub activity: crate::device::EpochActivity,
    pub uptime: UptimeView,
    pub reports: Vec<DeviceReportView>,
    pub next: Option<String>,
}

/// `GET /v1/devices/{id}/sensor?epoch=`: a sensor's readings in an epoch and, once the epoch
/// has ended, its quality score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorView {
    pub device: crate::device_key::DeviceId,
    pub epoch: u64,
    pub readings: crate::device::SensorEpoch,
    pub quality: Option<crate::device::SensorQuality>,
}

/// `GET /v1/devices/{id}/coverage?epoch=`: a hotspot's accepted beacons and witnesses in an
/// epoch and, once the epoch has ended, its hex density scale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageView {
    pub device: crate::device_key::DeviceId,
    pub epoch: u64,
    pub beacons: u32,
    pub witnesses: u32,
    pub density: Option<crate::device::CoverageDensity>,
}

/// `GET /v1/epochs/{e}/rewards`: the summary in state and a page of the entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRewardsView {
    pub summary: crate::rewards::EpochRewards,
    pub entries: Vec<crate::rewards::RewardEntry>,
    /// Pass as `after` for the next page.
    pub next: Option<u32>,
}

/// `GET /v1/epochs/{e}/rewards/proof`: an epoch's reward root as stored in state under
/// `rewards/<epoch>` (the borsh [`crate::rewards::EpochRewards`] summary), with its proof
/// against the state root of block `proof.height`. `root` and `leaves` repeat the summary's
/// last two fields, read from the proven value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRootProofView {
    pub epoch: u64,
    /// Merkle root of the epoch's reward leaves.
    pub root: Hash,
    /// How many leaves the root is over.
    pub leaves: u64,
    pub proof: StateProofView,
}

/// `GET /v1/devices/{id}/rewards?epoch=`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRewardView {
    pub device: crate::device_key::DeviceId,
    pub epoch: u64,
    /// None: the device did nothing the reward run counts in that epoch.
    pub entry: Option<crate::rewards::RewardEntry>,
    /// Its rewards held in fraud escrow, if flagged.
    pub hold: Option<crate::rewards::FraudHold>,
    /// The epoch's reward root and leaf count, to check `claim` against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<(Hash, u64)>,
    /// The entry's leaf and Merkle path, when it is paid through the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<crate::rewards::RewardClaim>,
}

/// `GET /v1/rewards/{owner}/claimable`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimableView {
    pub owner: Address,
    #[serde(with = "amount_str")]
    pub total: Amount,
    pub claims: Vec<crate::rewards::RewardClaim>,
    /// More unclaimed leaves wait beyond these.
    pub more: bool,
}

/// `GET /v1/supply`: total = genesis + emitted + reminted − burned = balances + bonded +
/// escrowed + staked + unclaimed + held + gov_locked + gov_deposits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplyView {
    #[serde(with = "amount_str")]
    pub genesis: Amount,
    #[serde(with = "amount_str")]
    pub emitted: Amount,
    #[serde(with = "amount_str")]
    pub burned: Amount,
    #[serde(with = "amount_str")]
    pub bonded: Amount,
    #[serde(with = "amount_str")]
    pub escrowed: Amount,
    #[serde(with = "amount_str")]
    pub unclaimed: Amount,
    #[serde(with = "amount_str")]
    pub held: Amount,
    #[serde(with = "amount_str")]
    pub reminted: Amount,
    #[serde(with = "amount_str")]
    pub remint_pending: Amount,
    #[serde(with = "amount_str")]
    pub total: Amount,
    #[serde(with = "amount_str")]
    pub treasury: Amount,
    /// CRN locked in governance positions.
    #[serde(with = "amount_str", default)]
    pub gov_locked: Amount,
    /// CRN held as proposal deposits.
    #[serde(with = "amount_str", default)]
    pub gov_deposits: Amount,
}

/// `GET /v1/credits/{addr}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditsView {
    pub address: Address,
    #[serde(with = "amount_str")]
    pub credits: u128,
}

/// `GET /v1/oracles`: the listed oracles, their last reports, and the price minting would
/// use in the next block (None: no fresh report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OraclesView {
    pub oracles: Vec<(Address, Option<crate::credits::PriceReport>)>,
    #[serde(with = "opt_amount_str")]
    pub nano_usd_per_crn: Option<u128>,
    pub max_age_blocks: u64,
    pub credits: crate::credits::CreditSupply,
}

/// Serde helper: an optional u128 as a decimal string or null.
pub mod opt_amount_str {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u128>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        v.map(|s| s.parse().map_err(serde::de::Error::custom)).transpose()
    }
}

/// `POST /v1/dev/blocks`: the block just made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducedView {
    pub height: Height,
    pub hash: Hash,
    pub txs: u32,
}

/// `GET /v1/entropy/{height}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntropyView {
    pub height: Height,
    pub entropy: Hash,
}
