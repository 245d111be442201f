//! Receipts: the outcome of every transaction included in a block.

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
)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum TxFailure {
    #[error("insufficient balance: needed {needed}, available {available}")]
    InsufficientBalance {
        #[serde(with = "crate::api::amount_str")]
        needed: Amount,
        #[serde(with = "crate::api::amount_str")]
        available: Amount,
    },
    #[error("balance of {account} would overflow")]
    BalanceOverflow { account: Address },
}

impl TxFailure {
    pub fn code(&self) -> &'static str {
        match self {
            TxFailure::InsufficientBalance { .. } => "insufficient_balance",
            TxFailure::BalanceOverflow { .. } => "balance_overflow",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    Success,
    Failed { error: TxFailure },
}

/// The outcome of one included transaction.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    pub tx_hash: Hash,
    pub height: Height,
    /// Position of the transaction in its block.
    pub index: u32,
    #[serde(with = "crate::api::amount_str")]
    pub fee_paid: Amount,
    pub status: TxStatus,
}

impl Receipt {
    pub fn hash(&self) -> Hash {
        Hash::sha256(&crate::codec::encode(self))
    }

    pub fn is_success(&self) -> bool {
        matches!(self.status, TxStatus::Success)
    }
}
