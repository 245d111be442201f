//! Transactions that carry what devices sign: a gateway's report batch, a registration, a
//! channel settlement. Only these bodies are here; the node's `cairn-types` has them all.
//!
//! A transaction is encoded as `chain_id` (string), `signer` (32 bytes), `nonce` (`u64`),
//! `max_fee` (`u128`), `expiry_height` (`u64`), then the body (a one-byte index and its
//! fields). It is signed under `cairn/tx/v1` by the signer's account key, and sent as the
//! transaction's encoding followed by the 64 raw signature bytes (`POST /v1/txs` with the
//! JSON body `{"tx": "<hex of the bytes>"}`; the node answers with the hash). The fee is burned in full and must be at
//! least `base_fee + fee_per_byte × length of the signed transaction`
//! ([`Transaction::sign_with_min_fee`]).

use crate::keys::{AccountKey, Address, Hash};
use crate::registration::RegisterDevice;
use crate::report::SignedReport;
use crate::usage::SignedUsageReceipt;
use crate::wire::{self, Writer};
use alloc::string::String;
use alloc::vec::Vec;

/// The transaction bodies the SDK builds, with their frozen indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxBody {
    /// Index 1: registers a device owned by the signer.
    RegisterDevice(RegisterDevice),
    /// Index 5: a batch of signed reports (1 to `devices.max_reports_per_tx`), each accepted
    /// or rejected on its own. Any account may relay any device's reports.
    SubmitReports {
        /// The reports, in the order the chain judges them.
        reports: Vec<SignedReport>,
    },
    /// Index 9: the provider's owner settles a channel with a consumer receipt.
    SettleChannel {
        /// The receipt.
        receipt: SignedUsageReceipt,
    },
    /// Index 10: either party replaces the settled receipt with a higher one.
    DisputeChannel {
        /// The higher receipt.
        receipt: SignedUsageReceipt,
    },
}

impl TxBody {
    /// Appends the body: its index, then its fields.
    pub fn write(&self, w: &mut Writer) {
        match self {
            TxBody::RegisterDevice(r) => {
                w.u8(1);
                r.write(w);
            }
            TxBody::SubmitReports { reports } => {
                w.u8(5).len_prefix(reports.len());
                for r in reports {
                    r.write(w);
                }
            }
            TxBody::SettleChannel { receipt } => {
                w.u8(9);
                receipt.write(w);
            }
            TxBody::DisputeChannel { receipt } => {
                w.u8(10);
                receipt.write(w);
            }
        }
    }
}

/// The signed part of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The chain's id (at most 64 bytes), from `GET /v1/status`.
    pub chain_id: String,
    /// The signer's address; must be the signing key's.
    pub signer: Address,
    /// The signer's account nonce (`GET /v1/accounts/<address>`).
    pub nonce: u64,
    /// The fee, in base units, burned in full.
    pub max_fee: u128,
    /// The last height at which the transaction may be included (`u64::MAX`: never expires).
    pub expiry_height: u64,
    /// What it does.
    pub body: TxBody,
}

impl Transaction {
    /// Appends the transaction's encoding.
    pub fn write(&self, w: &mut Writer) {
        w.str(&self.chain_id)
            .raw(&self.signer)
            .u64(self.nonce)
            .u128(self.max_fee)
            .u64(self.expiry_height);
        self.body.write(w);
    }

    /// The bytes the signer signs: `borsh("cairn/tx/v1") ‖ borsh(chain_id) ‖ encoding`.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut w = wire::signing_prefix(wire::tag::TX, &self.chain_id, 256);
        self.write(&mut w);
        w.finish()
    }

    /// Length of the signed transaction's encoding (the transaction and 64 signature
    /// bytes): the size the fee is charged on. It does not depend on the fee.
    pub fn signed_len(&self) -> usize {
        let mut w = Writer::with_capacity(256);
        self.write(&mut w);
        w.as_slice().len() + 64
    }

    /// Signs with `key`. `signer` must already be `key.address()`.
    pub fn sign(self, key: &AccountKey) -> SignedTx {
        let signature = key.sign(&self.signing_message());
        SignedTx { tx: self, signature }
    }

    /// Sets the fee to the chain's minimum for the signed length,
    /// `base_fee + fee_per_byte × signed_len` (saturating; the chain's `base_fee` and
    /// `fee_per_byte` parameters from `GET /v1/params`), and signs.
    pub fn sign_with_min_fee(
        mut self,
        key: &AccountKey,
        base_fee: u128,
        fee_per_byte: u128,
    ) -> SignedTx {
        let size = u128::try_from(self.signed_len()).unwrap_or(u128::MAX);
        self.max_fee = fee_per_byte.saturating_mul(size).saturating_add(base_fee);
        self.sign(key)
    }
}

/// A transaction and its signer's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// The transaction.
    pub tx: Transaction,
    /// The signer's ed25519 signature over [`Transaction::signing_message`].
    pub signature: [u8; 64],
}

impl SignedTx {
    /// The wire bytes: the transaction's encoding, then the signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        self.tx.write(&mut w);
        w.raw(&self.signature);
        w.finish()
    }

    /// The transaction hash the node reports and indexes: SHA-256 of the wire bytes.
    pub fn hash(&self) -> Hash {
        wire::sha256_parts(&[&self.encode()])
    }
}
