//! Receipts: the outcome of every transaction included in a block.

use crate::device::ReportRejection;
use crate::device_key::DeviceId;
use crate::{Address, Amount, Hash, Height};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Why an included transaction's body failed. The fee was still charged and the nonce
/// still advanced; nothing else changed.
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
pub enum TxFailure {
    #[error("insufficient balance: needed {needed}, available {available}")]
    InsufficientBalance {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        needed: Amount,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        available: Amount,
    },
    #[error("balance of {account} would overflow")]
    BalanceOverflow { account: Address },
    #[error("no device {device}")]
    UnknownDevice { device: DeviceId },
    #[error("device {device} is owned by {owner}, not {signer}")]
    NotOwner { device: DeviceId, owner: Address, signer: Address },
    #[error("device {device} is already registered")]
    DeviceExists { device: DeviceId },
    #[error("device nonce {got}, expected {expected}")]
    WrongDeviceNonce {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        expected: u64,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        got: u64,
    },
    #[error("device key {device} is denylisted: {reason}")]
    DeviceDenylisted { device: DeviceId, reason: String },
    #[error("the maker allow-list is on: registration needs a maker attestation")]
    MakerRequired,
    #[error("maker {maker} is not on the allow-list")]
    UnknownMaker { maker: Address },
    #[error("serial {serial:?} of maker {maker} is already registered to device {device}")]
    DuplicateSerial { maker: Address, serial: String, device: DeviceId },
    #[error("cell {cell:#x} is not a valid H3 cell at resolution 12: {reason}")]
    InvalidCell {
        #[schema(value_type = crate::openapi::CellHex)]
        #[serde(with = "crate::api::cell_hex")]
        cell: u64,
        reason: String,
    },
    #[error("device {device} is not active")]
    NotActive { device: DeviceId },
    #[error("{signer} is not the admin key")]
    NotAdmin { signer: Address },
    #[error("no channel {channel}")]
    UnknownChannel { channel: Hash },
    #[error("a {class} device does not serve usage channels")]
    NotAUsageDevice { class: crate::DeviceClass },
    #[error("channel {channel} is not open")]
    ChannelNotOpen { channel: Hash },
    #[error("channel {channel} is not being settled")]
    ChannelNotSettling { channel: Hash },
    #[error("receipt is not signed by the channel's consumer {consumer}")]
    BadReceiptSignature { consumer: Address },
    #[error("receipt seq {seq} is not higher than the settled seq {settled}")]
    ReceiptNotHigher {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        seq: u64,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        settled: u64,
    },
    #[error("receipt total {total} is below the settled total {settled}")]
    ReceiptTotalLower {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        total: u64,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        settled: u64,
    },
    #[error("the dispute window closed at height {closed_at}")]
    DisputeWindowClosed { closed_at: Height },
    #[error("{signer} is not a party to this channel")]
    NotAParty { signer: Address },
    #[error("the channel times out at height {timeout}; it cannot be closed before")]
    ChannelNotTimedOut { timeout: Height },
    #[error("a channel needs a positive escrow and price")]
    EmptyChannel,
    #[error("no job {job}")]
    UnknownJob { job: Hash },
    #[error("replication {got} must be 1 to {max}, and the price positive")]
    BadJob { got: u8, max: u8 },
    #[error("job {job} is closed")]
    JobClosed { job: Hash },
    #[error("job {job} already has its {replication} providers")]
    JobFull { job: Hash, replication: u8 },
    #[error("device {device} has no place in job {job}")]
    NotInJob { job: Hash, device: DeviceId },
    #[error("device {device} already holds a place in job {job}")]
    AlreadyInJob { job: Hash, device: DeviceId },
    #[error("the commit phase ended at height {deadline}")]
    LateCommit { deadline: Height },
    #[error("the reveal phase ended at height {deadline}")]
    LateReveal { deadline: Height },
    #[error("reveals open at height {opens} (or once every place has committed)")]
    EarlyReveal { opens: Height },
    #[error("device {device} already did that for job {job}")]
    AlreadyDone { job: Hash, device: DeviceId },
    #[error("revealed result and salt do not match the commitment of {device}")]
    CommitMismatch { device: DeviceId },
    #[error("no deal {deal}")]
    UnknownDeal { deal: Hash },
    #[error("a deal needs a size, a duration of 1 to {max_epochs} epochs and a price")]
    BadDeal { max_epochs: u64 },
    #[error("deal {deal} has no open challenge")]
    NoChallenge { deal: Hash },
    #[error("the challenge is for chunk {expected}, not {got}")]
    WrongChunk {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        expected: u64,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        got: u64,
    },
    #[error("the answer was due before height {deadline}")]
    LateResponse { deadline: Height },
    #[error("the chunk and path do not prove chunk {index} of the deal's root")]
    BadMerklePath {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        index: u64,
    },
    #[error("epoch {epoch} has no rewards (yet)")]
    NoRewards {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epoch: u64,
    },
    #[error("the reward belongs to {owner}")]
    NotYourReward { owner: Address },
    #[error("leaf {index} of epoch {epoch} was claimed already")]
    AlreadyClaimed {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epoch: u64,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        index: u64,
    },
    #[error("the path does not prove leaf {index} of epoch {epoch}'s reward root")]
    BadRewardProof {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epoch: u64,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        index: u64,
    },
    #[error("{needed} credits needed, {available} held")]
    InsufficientCredits {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        needed: u128,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        available: u128,
    },
    #[error("{signer} is not a listed price oracle")]
    NotOracle { signer: Address },
    #[error("the oracle list is full ({max})")]
    TooManyOracles { max: usize },
    #[error("no fresh price: no oracle reported within {max_age} blocks")]
    StalePrice { max_age: u64 },
    #[error("{amount} base units buy no whole credit at {nano_usd_per_crn} nano-dollars per CRN")]
    TooFewForACredit {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        nano_usd_per_crn: u128,
    },
    #[error("a price must be above zero")]
    ZeroPrice,
    #[error("no rewards of device {device} for epoch {epoch} are held")]
    NoHold {
        device: DeviceId,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epoch: u64,
    },
    #[error("the held rewards of device {device} for epoch {epoch} were already settled")]
    HoldSettled {
        device: DeviceId,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epoch: u64,
    },
    #[error("{validator} is not a validator candidate")]
    NotAValidator { validator: Address },
    #[error("a self-bond of {bonded} is below the minimum {min}")]
    SelfBondTooSmall {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        bonded: Amount,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        min: Amount,
    },
    #[error("{requested} requested, but only {bonded} is bonded to {validator}")]
    NotBonded {
        validator: Address,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        bonded: Amount,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        requested: Amount,
    },
    #[error("validator {validator} was slashed for equivocation and takes no new stake")]
    Tombstoned { validator: Address },
    #[error("evidence for height {height} is too old; the oldest accepted is {oldest}")]
    EvidenceTooOld { height: Height, oldest: Height },
    #[error("evidence for height {height} is from the future (the chain is at {current})")]
    EvidenceFromFuture { height: Height, current: Height },
    #[error("{validator} was already slashed for equivocation at height {height}")]
    EvidenceAlreadyUsed { validator: Address, height: Height },
    #[error("{validator} has no stake to slash")]
    NothingToSlash { validator: Address },
    #[error("the CRN value of all credits ever minted ({minted}) cannot take {amount} more")]
    CreditValueOverflow {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        minted: Amount,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
    },
    #[error(
        "a deal of {chunks} chunks of {chunk_size} bytes exceeds the largest deal, {max_bytes} bytes"
    )]
    DealTooLarge {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        chunks: u64,
        chunk_size: u32,
        max_bytes: u64,
    },
    #[error("only {fresh} fresh price reports; the price needs {min}")]
    NotEnoughOracles { fresh: u32, min: u32 },
    #[error("a price of {nano_usd_per_crn} nano-dollars per CRN is above the highest, {max}")]
    PriceTooHigh {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        nano_usd_per_crn: u128,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        max: u128,
    },
    #[error("credit arithmetic overflows: {what} of {a} and {b}")]
    CreditOverflow {
        /// Which quantity: `credits_for` (amount × price), `balance`, `minted`,
        /// `escrowed`, `remint_pending` (held + adding) or `escrow` (price × count).
        what: String,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        a: u128,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        b: u128,
    },
    #[error("deal {deal} was already accepted")]
    DealAlreadyAccepted { deal: Hash },
    #[error("deal {deal} had to be accepted by height {accept_by}; it expired")]
    DealExpired { deal: Hash, accept_by: Height },
    #[error("{voter} had no voting power at the start of proposal {proposal}")]
    NoVotingPower { voter: Address, proposal: u64 },
    #[error("voting on proposal {proposal} ended at epoch {end_epoch}")]
    VotingPeriodOver { proposal: u64, end_epoch: u64 },
    #[error("parameter {key} = {value}: {reason}")]
    BadParamValue { key: String, value: String, reason: String },
    #[error("unknown parameter {key:?}")]
    UnknownParam { key: String },
    #[error("no proposal {proposal}")]
    UnknownProposal { proposal: u64 },
    #[error("a deposit of {deposit} is below the minimum {min}")]
    DepositTooSmall {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        deposit: Amount,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        min: Amount,
    },
    #[error(
        "a lock of {epochs} epochs and {amount} must be 1 to {max} epochs, and add CRN or extend a position"
    )]
    BadLock {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
        epochs: u64,
        max: u64,
    },
    #[error("{owner} has no governance position")]
    NoPosition { owner: Address },
    #[error("the position is locked until epoch {end_epoch}")]
    StillLocked { end_epoch: u64 },
    #[error("proposal refused: {reason}")]
    BadProposal { reason: String },
}

impl TxFailure {
    pub fn code(&self) -> &'static str {
        match self {
            TxFailure::InsufficientBalance { .. } => "insufficient_balance",
            TxFailure::BalanceOverflow { .. } => "balance_overflow",
            TxFailure::UnknownDevice { .. } => "unknown_device",
            TxFailure::NotOwner { .. } => "not_owner",
            TxFailure::DeviceExists { .. } => "device_exists",
            TxFailure::WrongDeviceNonce { .. } => "wrong_device_nonce",
            TxFailure::DeviceDenylisted { .. } => "denylisted",
            TxFailure::MakerRequired => "maker_required",
            TxFailure::UnknownMaker { .. } => "unknown_maker",
            TxFailure::DuplicateSerial { .. } => "duplicate_serial",
            TxFailure::InvalidCell { .. } => "invalid_cell",
            TxFailure::NotActive { .. } => "not_active",
            TxFailure::NotAdmin { .. } => "not_admin",
            TxFailure::UnknownChannel { .. } => "unknown_channel",
            TxFailure::NotAUsageDevice { .. } => "not_a_usage_device",
            TxFailure::ChannelNotOpen { .. } => "channel_not_open",
            TxFailure::ChannelNotSettling { .. } => "channel_not_settling",
            TxFailure::BadReceiptSignature { .. } => "bad_receipt_signature",
            TxFailure::ReceiptNotHigher { .. } => "receipt_not_higher",
            TxFailure::ReceiptTotalLower { .. } => "receipt_total_lower",
            TxFailure::DisputeWindowClosed { .. } => "dispute_window_closed",
            TxFailure::NotAParty { .. } => "not_a_party",
            TxFailure::ChannelNotTimedOut { .. } => "channel_not_timed_out",
            TxFailure::EmptyChannel => "empty_channel",
            TxFailure::UnknownJob { .. } => "unknown_job",
            TxFailure::BadJob { .. } => "bad_job",
            TxFailure::JobClosed { .. } => "job_closed",
            TxFailure::JobFull { .. } => "job_full",
            TxFailure::NotInJob { .. } => "not_in_job",
            TxFailure::AlreadyInJob { .. } => "already_in_job",
            TxFailure::LateCommit { .. } => "late_commit",
            TxFailure::LateReveal { .. } => "late_reveal",
            TxFailure::EarlyReveal { .. } => "early_reveal",
            TxFailure::AlreadyDone { .. } => "already_done",
            TxFailure::CommitMismatch { .. } => "commit_mismatch",
            TxFailure::UnknownDeal { .. } => "unknown_deal",
            TxFailure::BadDeal { .. } => "bad_deal",
            TxFailure::NoChallenge { .. } => "no_challenge",
            TxFailure::WrongChunk { .. } => "wrong_chunk",
            TxFailure::LateResponse { .. } => "late_response",
            TxFailure::BadMerklePath { .. } => "bad_merkle_path",
            TxFailure::NoRewards { .. } => "no_rewards",
            TxFailure::NotYourReward { .. } => "not_your_reward",
            TxFailure::AlreadyClaimed { .. } => "already_claimed",
            TxFailure::BadRewardProof { .. } => "bad_reward_proof",
            TxFailure::InsufficientCredits { .. } => "insufficient_credits",
            TxFailure::NotOracle { .. } => "not_oracle",
            TxFailure::TooManyOracles { .. } => "too_many_oracles",
            TxFailure::StalePrice { .. } => "stale_price",
            TxFailure::TooFewForACredit { .. } => "too_few_for_a_credit",
            TxFailure::ZeroPrice => "zero_price",
            TxFailure::NoHold { .. } => "no_hold",
            TxFailure::HoldSettled { .. } => "hold_settled",
            TxFailure::NotAValidator { .. } => "not_a_validator",
            TxFailure::SelfBondTooSmall { .. } => "self_bond_too_small",
            TxFailure::NotBonded { .. } => "not_bonded",
            TxFailure::Tombstoned { .. } => "tombstoned",
            TxFailure::EvidenceTooOld { .. } => "evidence_too_old",
            TxFailure::EvidenceFromFuture { .. } => "evidence_from_future",
            TxFailure::EvidenceAlreadyUsed { .. } => "evidence_already_used",
            TxFailure::NothingToSlash { .. } => "nothing_to_slash",
            TxFailure::CreditValueOverflow { .. } => "credit_value_overflow",
            TxFailure::DealTooLarge { .. } => "deal_too_large",
            TxFailure::NotEnoughOracles { .. } => "not_enough_oracles",
            TxFailure::PriceTooHigh { .. } => "price_too_high",
            TxFailure::CreditOverflow { .. } => "credit_overflow",
            TxFailure::DealAlreadyAccepted { .. } => "deal_already_accepted",
            TxFailure::DealExpired { .. } => "deal_expired",
            TxFailure::NoVotingPower { .. } => "no_voting_power",
            TxFailure::VotingPeriodOver { .. } => "voting_period_over",
            TxFailure::BadParamValue { .. } => "bad_param_value",
            TxFailure::UnknownParam { .. } => "unknown_param",
            TxFailure::UnknownProposal { .. } => "unknown_proposal",
            TxFailure::DepositTooSmall { .. } => "deposit_too_small",
            TxFailure::BadLock { .. } => "bad_lock",
            TxFailure::NoPosition { .. } => "no_position",
            TxFailure::StillLocked { .. } => "still_locked",
            TxFailure::BadProposal { .. } => "bad_proposal",
        }
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
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    Success,
    Failed { error: TxFailure },
}

/// The outcome of one included transaction.
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
pub struct Receipt {
    pub tx_hash: Hash,
    pub height: Height,
    /// Position of the transaction in its block.
    pub index: u32,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub fee_paid: Amount,
    pub status: TxStatus,
    /// What the transaction produced beyond success or failure.
    pub outcome: TxOutcome,
}

/// Per-kind results recorded in a receipt (and so committed by the receipts root).
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
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TxOutcome {
    #[default]
    None,
    /// A report batch: how many were accepted, and each rejection with its reason.
    Reports { accepted: u32, rejected: Vec<ReportRejection> },
    /// A proposal was submitted under this id.
    Proposal { id: u64 },
}

impl Receipt {
    pub fn hash(&self) -> Hash {
        Hash::sha256(&crate::codec::encode(self))
    }

    pub fn is_success(&self) -> bool {
        matches!(self.status, TxStatus::Success)
    }
}
