//! Usage channels: a consumer escrows CRN for a provider device, signs cumulative receipts
//! off-chain as service is delivered, and the chain settles the highest receipt after a
//! dispute window.

use crate::crypto::{Signature, domain, signing_message};
use crate::device_key::DeviceId;
use crate::{Address, Amount, Hash, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// What the consumer signs, off-chain, under `cairn/usage-receipt/v1`: the total units
/// delivered on the channel so far. A later receipt has a higher `seq`.
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
pub struct UsageReceipt {
    pub channel: Hash,
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub total_units: u64,
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub seq: u64,
}

impl UsageReceipt {
    pub fn signing_message(&self, chain_id: &str) -> Vec<u8> {
        signing_message(domain::USAGE_RECEIPT, chain_id, self)
    }
}

/// A usage receipt with the consumer's signature.
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
pub struct SignedUsageReceipt {
    pub receipt: UsageReceipt,
    pub signature: Signature,
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
pub enum ChannelStatus {
    Open,
    /// A receipt was posted at `since`; others with a higher seq may replace it until
    /// `closes_at`, when the channel pays out.
    Settling {
        receipt: UsageReceipt,
        since: Height,
        closes_at: Height,
    },
    /// Paid out: `paid` to the provider's owner, `refunded` to the consumer.
    Closed {
        height: Height,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        units: u64,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        paid: Amount,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        refunded: Amount,
    },
}

/// A channel as stored in state.
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
pub struct Channel {
    pub id: Hash,
    pub consumer: Address,
    pub device: DeviceId,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub escrow: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub price_per_unit: Amount,
    pub opened_height: Height,
    /// If nothing is settled by then, the consumer may close the channel and take the
    /// escrow back.
    pub timeout_height: Height,
    pub status: ChannelStatus,
}

/// The id of the channel a consumer opens with the transaction of nonce `nonce`.
pub fn channel_id(consumer: &Address, nonce: u64) -> Hash {
    Hash::sha256_parts(&[b"cairn/channel-id/v1", consumer.as_bytes(), &nonce.to_be_bytes()])
}

/// Parameters of usage channels.
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
pub struct UsageParams {
    /// Blocks after a settlement during which a higher receipt may replace it.
    pub dispute_window_blocks: u64,
    /// Blocks after opening with no settlement before the consumer may reclaim the escrow.
    pub channel_timeout_blocks: u64,
}

impl Default for UsageParams {
    fn default() -> Self {
        UsageParams { dispute_window_blocks: 20, channel_timeout_blocks: 1_000 }
    }
}
