//! Compute jobs: a consumer escrows payment for `replication` providers; each provider
//! commits to hash(result, salt, device), then reveals; the majority result is paid.

use crate::device_key::DeviceId;
use crate::{Address, Amount, Hash, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// One provider's place in a job.
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
pub struct JobSlot {
    pub device: DeviceId,
    pub commitment: Option<Hash>,
    pub result: Option<Hash>,
    /// The height of the block that took the reveal (the work's epoch for the uptime gate).
    pub revealed_at: Option<Height>,
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
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobStatus {
    Open,
    /// Settled at `height`: the accepted result (none without a majority), who was paid,
    /// who was slashed, and what went back to the consumer.
    Done {
        height: Height,
        result: Option<Hash>,
        paid: Vec<DeviceId>,
        slashed: Vec<DeviceId>,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        refunded: Amount,
    },
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
pub struct Job {
    pub id: Hash,
    pub consumer: Address,
    pub workload: Hash,
    pub input: Hash,
    pub replication: u8,
    /// Paid to each provider whose result is accepted.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub price: Amount,
    pub posted_height: Height,
    /// Commitments are taken before this height.
    pub commit_deadline: Height,
    /// Reveals are taken before this height; the job settles at its start.
    pub reveal_deadline: Height,
    pub slots: Vec<JobSlot>,
    pub status: JobStatus,
}

/// The id of the job a consumer posts with the transaction of nonce `nonce`.
pub fn job_id(consumer: &Address, nonce: u64) -> Hash {
    Hash::sha256_parts(&[b"cairn/job-id/v1", consumer.as_bytes(), &nonce.to_be_bytes()])
}

/// What a provider commits to: SHA-256 of the result, a secret salt, and its device id (so
/// nobody can copy another provider's commitment).
pub fn commitment(result: &Hash, salt: &[u8; 32], device: &DeviceId) -> Hash {
    Hash::sha256_parts(&[b"cairn/job-commit/v1", &result.0, salt, &device.0])
}

/// Parameters of compute jobs.
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
pub struct ComputeParams {
    pub commit_window_blocks: u64,
    pub reveal_window_blocks: u64,
    pub max_replication: u8,
    /// Taken from the bond of a provider whose result is wrong or missing.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub slash: Amount,
}

impl Default for ComputeParams {
    fn default() -> Self {
        ComputeParams {
            commit_window_blocks: 20,
            reveal_window_blocks: 20,
            max_replication: 7,
            slash: 5 * crate::UNITS_PER_CRN,
        }
    }
}
