//! Transactions: what an account signs, and the stateless checks every transaction passes
//! before it may touch state (decode, sizes, chain id, amounts, fee floor, signature).

use crate::codec::{self, DecodeError};
use crate::crypto::{self, Signature, domain, signing_message};
use crate::device::{DeviceClass, MakerAttestation, SignedReport};
use crate::device_key::{DeviceId, DeviceKey, DeviceSignature};
use crate::usage::SignedUsageReceipt;
use crate::{Address, Amount, Hash, Height, Keypair, Params};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// What a transaction does. New kinds are appended; existing variants never change.
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
pub enum TxBody {
    /// Moves `amount` base units from the signer to `to`.
    Transfer {
        to: Address,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
    },
    /// Registers a device owned by the signer, locking the class's bond. The device key
    /// signs a [`RegistrationConsent`] for (signer, device_nonce).
    RegisterDevice {
        key: DeviceKey,
        class: DeviceClass,
        #[schema(value_type = crate::openapi::HexBytes)]
        #[serde(with = "hex_bytes")]
        metadata: Vec<u8>,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        device_nonce: u64,
        device_signature: DeviceSignature,
        maker: Option<MakerAttestation>,
    },
    /// Asserts the device's location as an H3 cell at resolution 12; burns the location fee.
    AssertLocation {
        device: DeviceId,
        #[schema(value_type = crate::openapi::CellHex)]
        #[serde(with = "crate::api::cell_hex")]
        cell: u64,
    },
    /// Gives the device (and its bond) to another owner.
    TransferDevice { device: DeviceId, to: Address },
    /// Stops the device; its bond returns to the owner after the cooldown.
    DeregisterDevice { device: DeviceId },
    /// A batch of device reports from an ingest gateway; each report is accepted or rejected
    /// on its own.
    SubmitReports { reports: Vec<SignedReport> },
    /// Admin: adds a device key to the denylist, or removes it (`reason: None`).
    SetDenylist { key: DeviceKey, reason: Option<String> },
    /// Admin: adds or removes a maker from the allow-list.
    SetMaker { maker: Address, allowed: bool },
    /// Opens a usage channel to a relay, energy, storage or compute device, escrowing
    /// `escrow` from the signer (the consumer). The channel id is
    /// [`crate::usage::channel_id`] of the signer and this transaction's nonce.
    OpenChannel {
        device: DeviceId,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        escrow: Amount,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        price_per_unit: Amount,
    },
    /// The provider's owner settles with a consumer receipt; opens the dispute window.
    SettleChannel { receipt: SignedUsageReceipt },
    /// Either party replaces the settled receipt with a higher one inside the window.
    DisputeChannel { receipt: SignedUsageReceipt },
    /// The consumer takes the escrow back from a channel never settled before its timeout.
    CloseChannel { channel: Hash },
    /// Posts a compute job for `replication` providers, escrowing `price` for each. The job
    /// id is [`crate::compute::job_id`] of the signer and this transaction's nonce.
    PostJob {
        workload: Hash,
        input: Hash,
        replication: u8,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        price: Amount,
    },
    /// A compute device's owner takes a place in a job.
    TakeJob { job: Hash, device: DeviceId },
    /// The provider commits to its result: [`crate::compute::commitment`].
    CommitResult { job: Hash, device: DeviceId, commitment: Hash },
    /// The provider reveals the result and salt behind its commitment.
    RevealResult {
        job: Hash,
        device: DeviceId,
        result: Hash,
        #[schema(value_type = crate::openapi::HexBytes)]
        #[serde(with = "hex_array")]
        salt: [u8; 32],
    },
    /// Opens a storage deal with a storage device for `duration_epochs` epochs, escrowing
    /// `price_per_epoch` for each. `root` is [`crate::storage::chunk_root`], which commits
    /// the leaf count `chunks`; the deal's size is `chunks × storage.chunk_size`. Deal id:
    /// [`crate::storage::deal_id`].
    OpenDeal {
        device: DeviceId,
        root: Hash,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        chunks: u64,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        duration_epochs: u64,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        price_per_epoch: Amount,
    },
    /// The provider answers the deal's open challenge with the chunk and its Merkle path.
    ProveStorage {
        deal: Hash,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        index: u64,
        #[schema(value_type = crate::openapi::HexBytes)]
        #[serde(with = "hex_bytes")]
        chunk: Vec<u8>,
        path: Vec<Hash>,
    },
    /// The consumer accepts `result` early: providers who revealed it are paid, the rest of
    /// the escrow returns, nobody is slashed.
    AcceptJob { job: Hash, result: Hash },
    /// The owner claims reward leaves (each with its Merkle path) into its balance: all of
    /// them or none.
    ClaimRewards { claims: Vec<crate::rewards::RewardClaim> },
    /// The admin key lists (or removes) a price oracle.
    SetOracle { oracle: Address, allowed: bool },
    /// A listed oracle reports the CRN price in nano-dollars per CRN.
    ReportPrice {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        nano_usd_per_crn: u128,
    },
    /// Burns `amount` CRN of the signer for data credits of `to` at the oracle price.
    MintCredits {
        to: Address,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
    },
    /// The owner of a device whose rewards are held in fraud escrow appeals.
    Appeal {
        device: DeviceId,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epoch: u64,
    },
    /// The admin key releases held rewards to the owner (`release`) or burns them.
    ResolveFraud {
        device: DeviceId,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epoch: u64,
        release: bool,
    },
    /// Bonds `amount` of the signer's CRN to itself: the signer becomes (or stays) a
    /// validator candidate once its self-bond reaches `staking.min_self_bond`.
    Bond {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
    },
    /// Bonds `amount` of the signer's CRN to `validator`, adding to its voting power.
    Delegate {
        validator: Address,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
    },
    /// Starts unbonding `amount` of what the signer bonded to `validator` (itself for a
    /// self-bond); it returns to the balance after `staking.unbonding_blocks` and stays
    /// slashable until then.
    Unbond {
        validator: Address,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
    },
    /// Proof that a validator signed two conflicting votes; slashes its bond.
    ReportEquivocation { evidence: crate::consensus::DoubleVote },
    /// The owner of a deal's storage device takes the deal on. Until then the deal is not
    /// challenged, faulted or paid; unaccepted within `storage.accept_window_blocks` of its
    /// opening, it expires and its escrow returns to the consumer.
    AcceptDeal { deal: Hash },
    /// Locks `amount` more of the signer's CRN in its governance position for at least
    /// `epochs` epochs (1 to `gov.max_lock_epochs`), `constant` keeping the lock from
    /// running down until an unlock starts. Merges into the signer's position: the lock
    /// only ever lengthens. `amount` 0 extends an existing position.
    Lock {
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epochs: u64,
        constant: bool,
    },
    /// Starts the run-down of a constant position, or withdraws a decaying one whose lock
    /// has ended.
    Unlock,
    /// Submits a proposal, locking `deposit` (at least `gov.min_deposit`) until its tally.
    Propose {
        title: String,
        action: crate::gov::ProposalAction,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        deposit: Amount,
    },
    /// Votes on an open proposal with the voting power the signer had at its start; a
    /// later vote replaces an earlier one.
    Vote {
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        proposal: u64,
        choice: crate::gov::VoteChoice,
    },
}

/// Most reward leaves one claim transaction carries.
pub const MAX_CLAIMS_PER_TX: usize = 256;

impl TxBody {
    pub fn kind(&self) -> &'static str {
        match self {
            TxBody::Transfer { .. } => "transfer",
            TxBody::RegisterDevice { .. } => "register_device",
            TxBody::AssertLocation { .. } => "assert_location",
            TxBody::TransferDevice { .. } => "transfer_device",
            TxBody::DeregisterDevice { .. } => "deregister_device",
            TxBody::SubmitReports { .. } => "submit_reports",
            TxBody::SetDenylist { .. } => "set_denylist",
            TxBody::SetMaker { .. } => "set_maker",
            TxBody::OpenChannel { .. } => "open_channel",
            TxBody::SettleChannel { .. } => "settle_channel",
            TxBody::DisputeChannel { .. } => "dispute_channel",
            TxBody::CloseChannel { .. } => "close_channel",
            TxBody::PostJob { .. } => "post_job",
            TxBody::TakeJob { .. } => "take_job",
            TxBody::CommitResult { .. } => "commit_result",
            TxBody::RevealResult { .. } => "reveal_result",
            TxBody::AcceptJob { .. } => "accept_job",
            TxBody::Bond { .. } => "bond",
            TxBody::Delegate { .. } => "delegate",
            TxBody::Unbond { .. } => "unbond",
            TxBody::ReportEquivocation { .. } => "report_equivocation",
            TxBody::OpenDeal { .. } => "open_deal",
            TxBody::ProveStorage { .. } => "prove_storage",
            TxBody::AcceptDeal { .. } => "accept_deal",
            TxBody::ClaimRewards { .. } => "claim_rewards",
            TxBody::Appeal { .. } => "appeal",
            TxBody::SetOracle { .. } => "set_oracle",
            TxBody::ReportPrice { .. } => "report_price",
            TxBody::MintCredits { .. } => "mint_credits",
            TxBody::ResolveFraud { .. } => "resolve_fraud",
            TxBody::Lock { .. } => "lock",
            TxBody::Unlock => "unlock",
            TxBody::Propose { .. } => "propose",
            TxBody::Vote { .. } => "vote",
        }
    }
}

/// Serde helper: 32 bytes as a hex string.
pub mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        v.try_into().map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}

/// Serde helper: bytes as a hex string.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        hex::decode(&s).map_err(serde::de::Error::custom)
    }
}

/// The signed part of a transaction.
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
pub struct Transaction {
    pub chain_id: String,
    pub signer: Address,
    /// Must equal the signer's account nonce when executed; increases by one per transaction.
    pub nonce: u64,
    /// The fee the signer pays, in base units, burned in full. Must be at least the chain's
    /// minimum for this transaction's size (see [`Params::min_fee`]).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub max_fee: Amount,
    /// Last height at which the transaction may be included (`u64::MAX`: never). JSON: a
    /// decimal string.
    #[schema(value_type = crate::openapi::U64String)]
    #[serde(with = "crate::api::u64_str")]
    pub expiry_height: Height,
    pub body: TxBody,
}

/// A transaction and its signer's signature under `cairn/tx/v1`.
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
pub struct SignedTx {
    pub tx: Transaction,
    pub signature: Signature,
}

/// Why a transaction failed its stateless checks. It is refused and never enters a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatelessError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("transaction is for chain {got:?}, this chain is {expected:?}")]
    WrongChainId { expected: String, got: String },
    #[error("amount plus fee overflows: amount {amount}, fee {fee}")]
    AmountOverflow { amount: Amount, fee: Amount },
    #[error("transfer or bond amount must be positive")]
    ZeroAmount,
    #[error("fee {fee} is below the minimum {min} for a {size}-byte transaction")]
    FeeTooLow { fee: Amount, min: Amount, size: usize },
    #[error("chain id of {len} bytes exceeds {max}")]
    ChainIdTooLong { len: usize, max: usize },
    #[error(transparent)]
    BadSignature(#[from] crypto::BadSignature),
    #[error("the device key's registration consent does not verify for {device}")]
    BadDeviceSignature { device: DeviceId },
    #[error("the maker attestation by {maker} does not verify")]
    BadMakerSignature { maker: Address },
    #[error("device key is invalid: {0}")]
    BadDeviceKey(String),
    #[error("{what} of {len} bytes exceeds {max}")]
    FieldTooLong { what: &'static str, len: usize, max: usize },
    #[error("a report batch holds {count} reports; it must hold 1 to {max}")]
    BatchSize { count: usize, max: usize },
    #[error("cell {cell:#x} is not a valid H3 cell at resolution 12: {reason}")]
    InvalidCell { cell: u64, reason: String },
    #[error("equivocation evidence proves nothing: {0}")]
    BadEvidence(#[from] crate::consensus::EvidenceError),
    /// A small-order key as signer, device key or maker key: anyone can sign for it.
    #[error(transparent)]
    SmallOrderKey(#[from] crypto::SmallOrderKey),
    /// The transaction alone costs more than a block may hold (`Params::max_block_cost`).
    #[error("transaction costs {cost} units; a block holds at most {max}")]
    TooCostly { cost: u64, max: u64 },
}

impl StatelessError {
    /// Stable machine-readable code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            StatelessError::Decode(DecodeError::TooLarge { .. }) => "tx_too_large",
            StatelessError::Decode(DecodeError::Malformed { .. }) => "malformed_tx",
            StatelessError::WrongChainId { .. } => "wrong_chain_id",
            StatelessError::AmountOverflow { .. } => "amount_overflow",
            StatelessError::ZeroAmount => "zero_amount",
            StatelessError::FeeTooLow { .. } => "fee_too_low",
            StatelessError::ChainIdTooLong { .. } => "malformed_tx",
            StatelessError::BadSignature(_) => "bad_signature",
            StatelessError::BadDeviceSignature { .. } => "bad_device_signature",
            StatelessError::BadMakerSignature { .. } => "bad_maker_signature",
            StatelessError::BadDeviceKey(_) => "bad_device_key",
            StatelessError::FieldTooLong { .. } => "field_too_long",
            StatelessError::BatchSize { .. } => "batch_size",
            StatelessError::InvalidCell { .. } => "invalid_cell",
            StatelessError::BadEvidence(_) => "bad_evidence",
            StatelessError::SmallOrderKey(_) => "small_order_key",
            StatelessError::TooCostly { .. } => "tx_too_costly",
        }
    }
}

/// Longest chain id accepted anywhere.
pub const MAX_CHAIN_ID_LEN: usize = 64;

impl Transaction {
    /// Signs with `key`. The signer field must already be `key.address()`.
    pub fn sign(self, key: &Keypair) -> SignedTx {
        let signature = key.sign_payload(domain::TX, &self.chain_id, &self);
        SignedTx { tx: self, signature }
    }

    /// Sets the fee to the chain's minimum for this transaction's encoded size
    /// ([`Params::min_fee`]) and signs with `key`. The encoding has a fixed width per field
    /// and the signature is 64 bytes, so the size is measured once with a blank signature
    /// and does not depend on the fee.
    pub fn sign_with_min_fee(self, key: &Keypair, params: &Params) -> SignedTx {
        let draft = SignedTx { tx: self, signature: Signature([0; 64]) };
        let size = draft.to_bytes().len();
        let mut tx = draft.tx;
        tx.max_fee = params.min_fee(size);
        tx.sign(key)
    }

    /// Amount the body moves out of the signer's balance by its own fields, on top of the
    /// fee (bonds and location fees depend on parameters; the state machine adds them).
    pub fn spend(&self) -> Amount {
        match &self.body {
            TxBody::Transfer { amount, .. }
            | TxBody::Bond { amount }
            | TxBody::Delegate { amount, .. }
            | TxBody::Lock { amount, .. }
            | TxBody::Propose { deposit: amount, .. } => *amount,
            _ => 0,
        }
    }
}

/// `key` signs `body` on `chain_id` at `nonce`, never expiring, at the minimum fee for its
/// size ([`Transaction::sign_with_min_fee`]): the transactions of the benchmarks and the
/// fleet simulator.
pub fn sign_tx(
    chain_id: &str,
    key: &Keypair,
    nonce: u64,
    params: &Params,
    body: TxBody,
) -> SignedTx {
    Transaction {
        chain_id: chain_id.into(),
        signer: key.address(),
        nonce,
        max_fee: 0,
        expiry_height: u64::MAX,
        body,
    }
    .sign_with_min_fee(key, params)
}

impl SignedTx {
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes wire bytes, refusing anything over `max_bytes`.
    pub fn from_bytes(bytes: &[u8], max_bytes: usize) -> Result<SignedTx, DecodeError> {
        codec::decode(bytes, max_bytes, "transaction")
    }

    /// SHA-256 of the canonical encoding (signature included).
    pub fn hash(&self) -> Hash {
        Hash::sha256(&self.to_bytes())
    }

    /// The exact bytes the signature covers.
    pub fn signing_message(&self) -> Vec<u8> {
        signing_message(domain::TX, &self.tx.chain_id, &self.tx)
    }

    /// Every stateless check except the signature, which callers verify in batches.
    pub fn check_shape(
        &self,
        chain_id: &str,
        params: &Params,
        size: usize,
    ) -> Result<(), StatelessError> {
        let tx = &self.tx;
        if tx.chain_id.len() > MAX_CHAIN_ID_LEN {
            return Err(StatelessError::ChainIdTooLong {
                len: tx.chain_id.len(),
                max: MAX_CHAIN_ID_LEN,
            });
        }
        if tx.chain_id != chain_id {
            return Err(StatelessError::WrongChainId {
                expected: chain_id.to_string(),
                got: tx.chain_id.clone(),
            });
        }
        // Under ZIP-215 anyone can sign for a small-order key: it never signs here.
        crypto::refuse_small_order("signer", &tx.signer.0)?;
        if let TxBody::Transfer { amount: 0, .. }
        | TxBody::Bond { amount: 0 }
        | TxBody::Delegate { amount: 0, .. }
        | TxBody::Unbond { amount: 0, .. } = &tx.body
        {
            return Err(StatelessError::ZeroAmount);
        }
        if tx.spend().checked_add(tx.max_fee).is_none() {
            return Err(StatelessError::AmountOverflow { amount: tx.spend(), fee: tx.max_fee });
        }
        let min = params.min_fee(size);
        if tx.max_fee < min {
            return Err(StatelessError::FeeTooLow { fee: tx.max_fee, min, size });
        }
        // A transaction no block could hold would wait in the mempool for ever.
        let cost = crate::cost::tx_cost(&tx.body, size);
        if cost > params.max_block_cost {
            return Err(StatelessError::TooCostly { cost, max: params.max_block_cost });
        }
        Ok(())
    }

    /// The generic stateless checks on one transaction (shape and the signer's signature).
    /// The node's full stateless phase, with body checks and the device, maker and report
    /// signatures a transaction carries, is `cairn_app::check::check_stateless_batch`.
    pub fn check_stateless(
        &self,
        chain_id: &str,
        params: &Params,
        size: usize,
    ) -> Result<(), StatelessError> {
        self.check_shape(chain_id, params, size)?;
        crypto::verify(&self.tx.signer, &self.signature, &self.signing_message())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The fee is the minimum of the signed transaction's own size, whatever the fee it
        /// came with and however long its body, and it is exactly what signing once to
        /// measure the size, then again with the fee, gives.
        #[test]
        fn signing_at_the_minimum_fee_pays_the_minimum_of_the_final_size(
            chain in "[a-z-]{1,24}",
            nonce in any::<u64>(),
            expiry in any::<u64>(),
            fee in any::<u128>(),
            metadata in proptest::collection::vec(any::<u8>(), 0..600),
            base_fee in 0u128..1_000_000,
            fee_per_byte in 0u128..1_000,
        ) {
            let key = Keypair::from_label("fee-sizing");
            let params = Params { base_fee, fee_per_byte, ..Params::default() };
            let body = TxBody::RegisterDevice {
                key: DeviceKey::Ed25519([3; 32]),
                class: DeviceClass::Sensor,
                metadata,
                device_nonce: nonce,
                device_signature: DeviceSignature::Ed25519([0; 64]),
                maker: None,
            };
            let tx = Transaction {
                chain_id: chain.clone(),
                signer: key.address(),
                nonce,
                max_fee: fee,
                expiry_height: expiry,
                body,
            };
            let stx = tx.clone().sign_with_min_fee(&key, &params);
            let size = stx.to_bytes().len();
            prop_assert_eq!(stx.tx.max_fee, params.min_fee(size));
            prop_assert_eq!(stx.check_shape(&chain, &params, size), Ok(()));
            prop_assert!(crypto::verify(&key.address(), &stx.signature, &stx.signing_message()).is_ok());
            // The way it was done before: sign once at fee 0 to measure, set the fee, sign.
            let mut twice = tx;
            twice.max_fee = 0;
            let measured = twice.clone().sign(&key).to_bytes().len();
            twice.max_fee = params.min_fee(measured);
            prop_assert_eq!(stx, twice.sign(&key));
        }
    }

    #[test]
    fn a_signed_tx_never_expires_and_pays_the_minimum_fee() {
        let key = Keypair::from_label("sign-tx");
        let params = Params::default();
        let body = TxBody::Transfer { to: Address([9; 32]), amount: 5 };
        let stx = sign_tx("chain", &key, 7, &params, body.clone());
        let size = stx.to_bytes().len();
        assert_eq!(stx.tx.signer, key.address());
        assert_eq!((stx.tx.nonce, stx.tx.expiry_height), (7, u64::MAX));
        assert_eq!(stx.tx.body, body);
        assert_eq!(stx.tx.max_fee, params.min_fee(size));
        assert_eq!(stx.check_stateless("chain", &params, size), Ok(()));
        // One unit less is refused: the fee is the floor, not above it.
        let mut short = stx.tx.clone();
        short.max_fee -= 1;
        assert_eq!(
            short.sign(&key).check_stateless("chain", &params, size).map_err(|e| e.code()),
            Err("fee_too_low")
        );
    }

    fn sample(key: &Keypair) -> Transaction {
        Transaction {
            chain_id: "test".into(),
            signer: key.address(),
            nonce: 0,
            max_fee: 100_000,
            expiry_height: 100,
            body: TxBody::Transfer { to: Address([9; 32]), amount: 5 },
        }
    }

    #[test]
    fn stateless_checks() {
        let k = Keypair::from_label("a");
        let p = Params::default();
        let stx = sample(&k).sign(&k);
        let size = stx.to_bytes().len();
        assert_eq!(stx.check_stateless("test", &p, size), Ok(()));
        assert!(matches!(
            stx.check_stateless("other", &p, size),
            Err(StatelessError::WrongChainId { .. })
        ));
        let mut tampered = stx.clone();
        tampered.tx.nonce = 1;
        assert_eq!(
            tampered.check_stateless("test", &p, size).map_err(|e| e.code()),
            Err("bad_signature")
        );
        let mut big = sample(&k);
        big.body = TxBody::Transfer { to: Address([9; 32]), amount: u128::MAX };
        let big = big.sign(&k);
        assert_eq!(
            big.check_stateless("test", &p, size).map_err(|e| e.code()),
            Err("amount_overflow")
        );
        let mut cheap = sample(&k);
        cheap.max_fee = 0;
        let cheap = cheap.sign(&k);
        assert_eq!(
            cheap.check_stateless("test", &p, size).map_err(|e| e.code()),
            Err("fee_too_low")
        );
    }

    #[test]
    fn a_transfer_signed_for_the_identity_key_with_the_trivial_signature_is_refused() {
        let p = Params::default();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        for signer in [Address(identity), Address([0; 32])] {
            let mut tx = sample(&Keypair::from_label("a"));
            tx.signer = signer;
            let stx = SignedTx { tx, signature: Signature(sig) };
            let size = stx.to_bytes().len();
            // The signature itself verifies under ZIP-215 for any message ...
            assert!(crypto::verify(&signer, &stx.signature, &stx.signing_message()).is_ok());
            // ... so the signer's key is what is refused.
            assert_eq!(
                stx.check_stateless("test", &p, size).map_err(|e| e.code()),
                Err("small_order_key")
            );
        }
    }

    #[test]
    fn decode_is_strict() {
        let k = Keypair::from_label("a");
        let bytes = sample(&k).sign(&k).to_bytes();
        assert!(SignedTx::from_bytes(&bytes, 4096).is_ok());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            SignedTx::from_bytes(&trailing, 4096),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            SignedTx::from_bytes(&bytes[..10], 4096),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(SignedTx::from_bytes(&bytes, 10), Err(DecodeError::TooLarge { .. })));
    }
}
