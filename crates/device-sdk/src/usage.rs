//! Usage receipts: what a consumer signs, off-chain, for service a device delivered on a
//! usage channel.
//!
//! A [`UsageReceipt`] is `channel` (32 bytes), `total_units` (`u64`), `seq` (`u64`), signed
//! by the consumer's account key under `cairn/usage-receipt/v1`. Receipts are cumulative:
//! each new one has a higher `seq` and the total so far, and the provider's owner settles
//! the channel with the highest it holds ([`crate::tx::TxBody::SettleChannel`]).

use crate::keys::{AccountKey, Hash};
use crate::wire::{self, Writer};
use alloc::vec::Vec;

/// The consumer's statement of the units delivered on a channel so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageReceipt {
    /// The channel id (from the node, or `SHA-256("cairn/channel-id/v1" ‖ consumer ‖
    /// nonce as big-endian u64)` of the opening transaction).
    pub channel: Hash,
    /// Units delivered on the channel in total.
    pub total_units: u64,
    /// Higher than the seq of every earlier receipt on the channel.
    pub seq: u64,
}

impl UsageReceipt {
    /// Appends the encoding: channel, total units, seq.
    pub fn write(&self, w: &mut Writer) {
        w.raw(&self.channel).u64(self.total_units).u64(self.seq);
    }

    /// The bytes the consumer signs on chain `chain_id`.
    pub fn signing_message(&self, chain_id: &str) -> Vec<u8> {
        let mut w = wire::signing_prefix(wire::tag::USAGE_RECEIPT, chain_id, 48);
        self.write(&mut w);
        w.finish()
    }

    /// The consumer signs the receipt.
    pub fn sign(self, consumer: &AccountKey, chain_id: &str) -> SignedUsageReceipt {
        let signature = consumer.sign(&self.signing_message(chain_id));
        SignedUsageReceipt { receipt: self, signature }
    }
}

/// A usage receipt with the consumer's ed25519 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedUsageReceipt {
    /// The receipt.
    pub receipt: UsageReceipt,
    /// The consumer's signature over [`UsageReceipt::signing_message`].
    pub signature: [u8; 64],
}

impl SignedUsageReceipt {
    /// Appends the encoding: the receipt, then the 64 signature bytes.
    pub fn write(&self, w: &mut Writer) {
        self.receipt.write(w);
        w.raw(&self.signature);
    }

    /// The wire bytes of the signed receipt (what `cairn channel receipt` writes as JSON).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(112);
        self.write(&mut w);
        w.finish()
    }
}
