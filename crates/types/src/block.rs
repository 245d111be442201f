//! Blocks: header, transactions, and the certificate that makes them final.

use crate::crypto::{self, BadSignature, Signature, domain};
use crate::{Address, Hash, Height, Keypair, SignedTx, codec};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
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
/// under `cairn/block/v1`. The BFT adapter adds a variant carrying the engine's commit.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Certificate {
    Solo { signer: Address, signature: Signature },
}

impl Certificate {
    pub fn solo(key: &Keypair, chain_id: &str, block_hash: &Hash) -> Certificate {
        Certificate::Solo {
            signer: key.address(),
            signature: key.sign_payload(domain::BLOCK, chain_id, block_hash),
        }
    }

    pub fn verify(&self, chain_id: &str, block_hash: &Hash) -> Result<(), BadSignature> {
        match self {
            Certificate::Solo { signer, signature } => crypto::verify(
                signer,
                signature,
                &crypto::signing_message(domain::BLOCK, chain_id, block_hash),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<SignedTx>,
    pub certificate: Certificate,
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// The chain entropy this block hands to its child: SHA-256 over the entropy domain, the
    /// block hash and the certificate. Nobody can know it before the block is certified (the
    /// certificate carries the proposer's signature over the block hash), and anyone can
    /// recompute it from the block.
    pub fn entropy(&self) -> Hash {
        entropy_of(&self.hash(), &codec::encode(&self.certificate))
    }
}

/// Entropy from a block (or genesis) hash and the bytes that certify it.
pub fn entropy_of(hash: &Hash, certificate: &[u8]) -> Hash {
    Hash::sha256_parts(&[domain::ENTROPY.as_bytes(), &hash.0, certificate])
}
