//! Blocks: header, transactions, and the certificate that makes them final.

use crate::consensus::{Commit, CommitError, ValidatorSet};
use crate::crypto::{self, BadSignature, Signature, domain};
use crate::{Address, Hash, Height, Keypair, SignedTx, codec};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

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
pub struct BlockHeader {
    pub height: Height,
    /// Hash of the previous header; for height 1, the genesis hash.
    pub parent_hash: Hash,
    /// Unix milliseconds, strictly greater than the parent's. The only clock the state
    /// machine ever reads.
    pub timestamp_ms: u64,
    pub proposer: Address,
    pub epoch: u64,
    /// Merkle root of the transaction hashes, in block order.
    pub tx_root: Hash,
    /// Merkle root of the receipt hashes, in block order.
    pub receipts_root: Hash,
    /// Root of the authenticated state tree after executing this block.
    pub state_root: Hash,
}

impl BlockHeader {
    pub fn hash(&self) -> Hash {
        Hash::sha256(&codec::encode(self))
    }
}

/// Proof that a block is final. In solo mode: the proposer's signature over the block hash
/// under `cairn/block/v1`. In BFT mode: the engine's commit, the precommits of more than two
/// thirds of the validator set's power plus the proposer's own signature over the block hash
/// (see [`Commit`]).
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
pub enum Certificate {
    Solo { signer: Address, signature: Signature },
    Bft(Commit),
}

/// Why a certificate does not prove its block final.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error(transparent)]
    BadSignature(#[from] BadSignature),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error("a BFT certificate can only be checked against the validator set of its height")]
    NeedsValidatorSet,
}

impl Certificate {
    pub fn solo(key: &Keypair, chain_id: &str, block_hash: &Hash) -> Certificate {
        Certificate::Solo {
            signer: key.address(),
            signature: key.sign_payload(domain::BLOCK, chain_id, block_hash),
        }
    }

    /// Checks the solo signature over `block_hash`. A BFT certificate needs the validator
    /// set: see [`Certificate::verify_block`].
    pub fn verify(&self, chain_id: &str, block_hash: &Hash) -> Result<(), CertificateError> {
        match self {
            Certificate::Solo { signer, signature } => Ok(crypto::verify(
                signer,
                signature,
                &crypto::signing_message(domain::BLOCK, chain_id, block_hash),
            )?),
            Certificate::Bft(_) => Err(CertificateError::NeedsValidatorSet),
        }
    }

    /// Checks the certificate of the block with `header`: a solo certificate against its
    /// signer, a BFT commit against `validators`, the set that certifies the block's height.
    pub fn verify_block(
        &self,
        chain_id: &str,
        header: &BlockHeader,
        validators: &ValidatorSet,
    ) -> Result<(), CertificateError> {
        match self {
            Certificate::Solo { .. } => self.verify(chain_id, &header.hash()),
            Certificate::Bft(commit) => Ok(commit.verify(chain_id, validators, header)?),
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
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<SignedTx>,
    pub certificate: Certificate,
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// The chain entropy this block hands to its child: SHA-256 over the entropy domain and
    /// the block (header) hash, the value every validator voted on. No signature enters it:
    /// an ed25519 signer can make many valid signatures of one message, so a builder could
    /// hand different seals of one block to different validators (ADR 0016). Anyone
    /// recomputes it from the header.
    pub fn entropy(&self) -> Hash {
        entropy_of(&self.hash())
    }
}

/// Entropy from a block (or genesis) hash.
pub fn entropy_of(hash: &Hash) -> Hash {
    Hash::sha256_parts(&[domain::ENTROPY.as_bytes(), &hash.0])
}
