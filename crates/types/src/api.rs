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

/// Serde helper: a u64 that can exceed 2^53 (e.g. `expiry_height`, whose `u64::MAX` means
/// "never") as a decimal string. Reads only the string form.
pub mod u64_str {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        parse_u64(&s).map_err(serde::de::Error::custom)
    }

    /// A decimal u64 with nothing around it: no sign, no spaces, no leading `+`.
    pub fn parse_u64(s: &str) -> Result<u64, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{s:?} is not a decimal u64"));
        }
        s.parse::<u64>().map_err(|_| format!("{s:?} does not fit in a u64"))
    }
}

/// Serde helper: an i64 a signer chooses freely (a sensor reading) as a decimal string.
pub mod i64_str {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let s = String::deserialize(d)?;
        let digits = s.strip_prefix('-').unwrap_or(&s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom(format!("{s:?} is not a decimal i64")));
        }
        s.parse::<i64>()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} does not fit in an i64")))
    }
}

/// Serde helper: a `Vec<(T, u128)>` as `[[T, "<decimal>"], …]` (reward `scores`,
/// `validator_payouts`).
pub mod pairs_amount_str {
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &[(T, u128)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|(t, a)| (t, a.to_string())))
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(T, u128)>, D::Error> {
        let raw = Vec::<(T, String)>::deserialize(d)?;
        raw.into_iter()
            .map(|(t, s)| match s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
                true => s.parse::<u128>().map(|a| (t, a)).map_err(|_| s),
                false => Err(s),
            })
            .collect::<Result<_, _>>()
            .map_err(|s| {
                serde::de::Error::custom(format!("amount {s:?} is not a base-unit integer"))
            })
    }
}

/// An H3 cell index as H3 writes it: lowercase hexadecimal, 1 to 16 digits, no `0x`.
pub fn parse_cell_hex(s: &str) -> Result<u64, String> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!("cell {s:?} is not 1 to 16 lowercase hex digits"));
    }
    u64::from_str_radix(s, 16).map_err(|e| format!("cell {s:?}: {e}"))
}

/// An H3 cell index as lowercase hex (`8c1fb46ca4a1dff`).
pub fn cell_to_hex(cell: u64) -> String {
    format!("{cell:x}")
}

/// Serde helper: an H3 cell (`u64`) as its lowercase hex string. Reads only that form.
pub mod cell_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::cell_to_hex(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_cell_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde helper: an optional H3 cell as its lowercase hex string or null.
pub mod opt_cell_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(c) => s.serialize_str(&super::cell_to_hex(*c)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        v.map(|s| super::parse_cell_hex(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

/// Serde helper for genesis files: an H3 cell written as lowercase hex, read from that form
/// or from the JSON number genesis files held before cells became strings.
pub mod cell_hex_or_number {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        super::cell_hex::serialize(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u64),
            Hex(String),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(n),
            Either::Hex(s) => super::parse_cell_hex(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// The largest integer every JSON client reads exactly: 2^53 − 1 (JavaScript's
/// `Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_JSON_INTEGER: u64 = (1 << 53) - 1;

/// The path of the first JSON number in `v` a client reading numbers as IEEE doubles cannot
/// hold exactly (an integer beyond ±(2^53 − 1)), with the number; None when there is none.
pub fn first_unsafe_number(v: &serde_json::Value) -> Option<(String, String)> {
    fn walk(v: &serde_json::Value, path: &mut String) -> Option<(String, String)> {
        match v {
            serde_json::Value::Number(n) => {
                let safe = match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => u <= MAX_SAFE_JSON_INTEGER,
                    (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_JSON_INTEGER,
                    // A float (`1.5`, or an integer past u64 that serde_json read as one).
                    (None, None) => n.as_f64().is_some_and(|f| f.abs() < 9_007_199_254_740_992.0),
                };
                (!safe).then(|| (path.clone(), n.to_string()))
            }
            serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(x, path);
                path.truncate(len);
                found
            }),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                let found = walk(x, path);
                path.truncate(len);
                found
            }),
            _ => None,
        }
    }
    walk(v, &mut String::new())
}

/// Every error response: a stable machine-readable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthView {
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountView {
    pub address: Address,
    #[schema(value_type = crate::openapi::AmountString)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ValidatorsView {
    pub height: Height,
    pub total_power: u64,
    pub validators: Vec<ValidatorView>,
}

/// `GET /v1/blocks/{height}/validators`: the validator set that certifies block `height`,
/// as the chain's state holds it after block `height - 1`, with its state proof there. A
/// client that trusts header `height` only through its certificate checks the proof against
/// the state root of header `height - 1`, whose hash is header `height`'s `parent_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlockValidatorsView {
    /// The block the set certifies.
    pub height: Height,
    /// The epoch of block `height - 1` (its header's `epoch`; 0 for block 1): the set is the
    /// one stored under `stake/set/<epoch>`.
    pub epoch: u64,
    pub total_power: u64,
    /// In canonical order (power descending, then address); empty on a solo chain.
    pub validators: Vec<crate::consensus::Validator>,
    /// The proof of `stake/set/<epoch>` (borsh `ValidatorSet`, absent on a solo chain) at
    /// height `height - 1`.
    pub proof: StateProofView,
}

/// One validator candidate's pool (`GET /v1/validators/{address}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ValidatorView {
    pub address: Address,
    /// Voting power in the set of the next block; 0 when not in it.
    pub power: u64,
    /// CRN bonded to the pool (its own and delegated), after slashing.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub tokens: Amount,
    /// The validator's own share of `tokens`.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub self_bond: Amount,
    /// CRN unbonding from the pool (still slashable).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub unbonding: Amount,
    /// Slashed for equivocation: no new stake, out of the set from the next epoch.
    pub tombstoned: bool,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub slashed: Amount,
}

/// A state-tree inclusion (or exclusion) proof for one key at one height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TxView {
    pub hash: Hash,
    pub tx: Transaction,
    pub signature: Signature,
    /// `pending` (in the mempool) or `committed`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub receipt: Option<Receipt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmitTxRequest {
    /// The borsh-encoded signed transaction, hex.
    pub tx: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmitTxResponse {
    pub hash: Hash,
}

/// Raw block bytes, for clients that re-verify blocks (audit, sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RawBlockView {
    pub height: Height,
    /// The borsh-encoded block, hex.
    pub block: String,
}

/// `POST /v1/txs/batch`: many transactions at once, each hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmitBatchRequest {
    pub txs: Vec<String>,
}

/// What a validator answers to `POST /v1/txs/relay` (transactions another validator
/// forwarded, as borsh `Vec<Vec<u8>>` of canonical transaction bytes): how many it admitted,
/// how many it already held, how many it refused. A forwarder needs no more than counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RelayResponse {
    pub admitted: u64,
    pub already_known: u64,
    pub refused: u64,
}

/// The outcome of one transaction of a batch: its hash if admitted, else the error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmitBatchItem {
    pub hash: Option<Hash>,
    pub error: Option<ErrorBody>,
}

/// `GET /v1/devices/{id}`: the device record with its report state this epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The location assertions the state keeps, oldest first: every one under the legacy
    /// and compact layouts, the last two under the folded one (ADR 0037).
    pub locations: Vec<crate::device::LocationAssertion>,
}

/// Uptime in an epoch: filled heartbeat slots against the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UptimeView {
    pub slots_filled: u32,
    pub slots: u32,
    pub min_percent: u32,
    pub up: bool,
}

/// `GET /v1/devices?owner=&class=&cell=&after=&limit=`: a page of devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceListView {
    pub devices: Vec<crate::device::Device>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// One report found in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SensorView {
    pub device: crate::device_key::DeviceId,
    pub epoch: u64,
    pub readings: crate::device::SensorEpoch,
    pub quality: Option<crate::device::SensorQuality>,
}

/// `GET /v1/devices/{id}/coverage?epoch=`: a hotspot's accepted beacons and witnesses in an
/// epoch and, once the epoch has ended, its hex density scale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoverageView {
    pub device: crate::device_key::DeviceId,
    pub epoch: u64,
    pub beacons: u32,
    pub witnesses: u32,
    pub density: Option<crate::device::CoverageDensity>,
}

/// `GET /v1/epochs/{e}/rewards`: the summary in state and a page of the entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RewardRootProofView {
    pub epoch: u64,
    /// Merkle root of the epoch's reward leaves.
    pub root: Hash,
    /// How many leaves the root is over.
    pub leaves: u64,
    pub proof: StateProofView,
}

/// `GET /v1/devices/{id}/rewards?epoch=`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClaimableView {
    pub owner: Address,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub total: Amount,
    pub claims: Vec<crate::rewards::RewardClaim>,
    /// More unclaimed leaves wait beyond these.
    pub more: bool,
}

/// `GET /v1/supply`: total = genesis + emitted + reminted − burned = balances + bonded +
/// escrowed + staked + unclaimed + held + gov_locked + gov_deposits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SupplyView {
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub genesis: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub emitted: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub burned: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub bonded: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub escrowed: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub unclaimed: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub held: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub reminted: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub remint_pending: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub total: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub treasury: Amount,
    /// CRN locked in governance positions.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str", default)]
    pub gov_locked: Amount,
    /// CRN held as proposal deposits.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str", default)]
    pub gov_deposits: Amount,
}

/// `GET /v1/credits/{addr}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreditsView {
    pub address: Address,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "amount_str")]
    pub credits: u128,
}

/// `GET /v1/oracles`: the listed oracles, their last reports, and the price minting would
/// use in the next block (None: no fresh report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OraclesView {
    pub oracles: Vec<(Address, Option<crate::credits::PriceReport>)>,
    #[schema(value_type = Option<crate::openapi::AmountString>)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProducedView {
    pub height: Height,
    pub hash: Hash,
    pub txs: u32,
}

/// `GET /v1/entropy/{height}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntropyView {
    pub height: Height,
    pub entropy: Hash,
}

/// `GET /v1/stats/devices`: how many devices there are, by class and by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceStatsView {
    pub total: u64,
    pub located: u64,
    pub by_class: std::collections::BTreeMap<String, u64>,
    pub by_status: std::collections::BTreeMap<String, u64>,
}

/// One located device on the map. The cell is hex (H3's usual form), since a 64-bit
/// number does not survive JSON in a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MapPoint {
    pub id: Hash,
    pub class: crate::DeviceClass,
    pub active: bool,
    pub cell: String,
}

/// `GET /v1/map/devices?after=&limit=`: located devices, in id order, paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MapView {
    pub devices: Vec<MapPoint>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// One block in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlockLine {
    pub height: Height,
    pub hash: Hash,
    pub timestamp_ms: u64,
    pub epoch: u64,
    pub txs: u64,
    /// Device reports in the block's transactions, accepted and rejected.
    pub reports_accepted: u64,
    pub reports_rejected: u64,
}

/// `GET /v1/blocks?before=&limit=`: the newest blocks first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlockListView {
    pub blocks: Vec<BlockLine>,
    /// Pass as `before` for the next page; absent at genesis.
    pub next: Option<Height>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewards::Pool;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Forms {
        #[serde(with = "u64_str")]
        big: u64,
        #[serde(with = "i64_str")]
        reading: i64,
        #[serde(with = "cell_hex")]
        cell: u64,
        #[serde(with = "opt_cell_hex")]
        location: Option<u64>,
        #[serde(with = "pairs_amount_str")]
        scores: Vec<(Pool, u128)>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Genesisish {
        #[serde(with = "cell_hex_or_number")]
        cell: u64,
    }

    fn forms(big: u64, cell: u64, location: Option<u64>, score: u128) -> Forms {
        Forms { big, reading: big as i64, cell, location, scores: vec![(Pool::Coverage, score)] }
    }

    #[test]
    fn big_integers_are_written_as_strings_cells_as_lowercase_hex() {
        let v =
            serde_json::to_value(forms(u64::MAX, 0x08c1_fb46_ca4a_1dff, None, u128::MAX)).unwrap();
        assert_eq!(
            v,
            json!({
                "big": "18446744073709551615",
                "reading": "-1",
                "cell": "8c1fb46ca4a1dff",
                "location": null,
                "scores": [["coverage", "340282366920938463463374607431768211455"]],
            })
        );
        assert_eq!(first_unsafe_number(&v), None);
    }

    #[test]
    fn the_string_forms_refuse_numbers_and_malformed_strings() {
        let good = json!({"big": "1", "reading": "-9223372036854775808", "cell": "8c1fb46ca4a1dff", "location": "ab", "scores": []});
        let parsed: Forms = serde_json::from_value(good.clone()).unwrap();
        assert_eq!(
            parsed,
            Forms {
                big: 1,
                reading: i64::MIN,
                cell: 0x08c1_fb46_ca4a_1dff,
                location: Some(0xab),
                scores: vec![]
            }
        );
        let with = |key: &str, value: Value| {
            let mut v = good.clone();
            v[key] = value;
            serde_json::from_value::<Forms>(v)
        };
        for bad in [
            json!(1),
            json!(""),
            json!("-1"),
            json!("+1"),
            json!(" 1"),
            json!("1.0"),
            json!("18446744073709551616"),
        ] {
            assert!(with("big", bad.clone()).is_err(), "big {bad}");
        }
        for bad in [
            json!(-1),
            json!(""),
            json!("-"),
            json!("+1"),
            json!("--1"),
            json!("1.0"),
            json!("-9223372036854775809"),
        ] {
            assert!(with("reading", bad.clone()).is_err(), "reading {bad}");
        }
        for bad in [
            json!(630_948_432_837_934_591u64),
            json!(""),
            json!("0x8c1fb46ca4a1dff"),
            json!("8C1FB46CA4A1DFF"),
            json!("8c1fb46ca4a1dffg"),
            json!("18c1fb46ca4a1dff00"),
        ] {
            assert!(with("cell", bad.clone()).is_err(), "cell {bad}");
            assert!(with("location", bad.clone()).is_err(), "location {bad}");
        }
        for bad in [
            json!([["coverage", 5]]),
            json!([["coverage", "-5"]]),
            json!([["coverage", ""]]),
            json!([["coverage", "1e3"]]),
            json!([["nowhere", "5"]]),
        ] {
            assert!(with("scores", bad.clone()).is_err(), "scores {bad}");
        }
    }

    #[test]
    fn a_genesis_cell_is_read_as_hex_or_as_the_old_number() {
        let cell = 0x08c1_fb46_ca4a_1dff_u64;
        let hex: Genesisish = serde_json::from_value(json!({"cell": "8c1fb46ca4a1dff"})).unwrap();
        let number: Genesisish = serde_json::from_value(json!({"cell": cell})).unwrap();
        assert_eq!((hex.cell, number.cell), (cell, cell));
        for bad in [json!("0x1"), json!(-1), json!(1.5), json!("zz"), json!(null)] {
            assert!(serde_json::from_value::<Genesisish>(json!({"cell": bad})).is_err(), "{bad}");
        }
    }

    #[test]
    fn unsafe_numbers_are_found_wherever_they_sit() {
        let max = MAX_SAFE_JSON_INTEGER;
        assert_eq!(
            first_unsafe_number(&json!({"a": [max, -(max as i64), 1.5, "99999999999999999"]})),
            None
        );
        assert_eq!(
            first_unsafe_number(&json!({"a": [{"b": 1}, {"c": [0, max + 1]}]})),
            Some((".a[1].c[1]".to_string(), (max + 1).to_string()))
        );
        assert!(first_unsafe_number(&json!([-(max as i64) - 1])).is_some());
        assert!(first_unsafe_number(&serde_json::from_str("[1e300]").unwrap()).is_some());
        let past_u64: Value =
            serde_json::from_str("{\"x\": 340282366920938463463374607431768211455}").unwrap();
        assert!(first_unsafe_number(&past_u64).is_some());
    }

    proptest! {
        #[test]
        fn every_value_survives_its_string_form(
            big in any::<u64>(), cell in any::<u64>(), location in any::<Option<u64>>(),
            score in any::<u128>(),
        ) {
            let f = forms(big, cell, location, score);
            let v = serde_json::to_value(&f).unwrap();
            prop_assert_eq!(first_unsafe_number(&v), None);
            prop_assert_eq!(serde_json::from_value::<Forms>(v).unwrap(), f);
        }
    }
}
