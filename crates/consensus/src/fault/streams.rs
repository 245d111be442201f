//! Bad proposal streams sent on purpose, so the integration tests can show that honest
//! validators refuse them and keep committing.
//!
//! Compiled only with the `byzantine` cargo feature (never in a release build) and switched
//! on only by a `stream_fault` entry in the node's `consensus.json`; without the feature, a
//! file that has the entry does not parse. The driver calls [`Injector::on_propose`] and
//! [`Injector::on_part`].

use crate::parts::{self, ProposalPart, ReceivedProposal, StreamSeal};
use bytes::Bytes;
use cairn_types::crypto::domain;
use cairn_types::{Keypair, SignedTx, Transaction, TxBody};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use serde::{Deserialize, Serialize};

/// Which bad streams the validator sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StreamFault {
    /// Truncated copies: before each of its own proposals, a copy with the same header and
    /// seal, no transactions and an early end (signed by itself, the round's proposer); and
    /// for every init it receives from another validator, the same kind of copy naming that
    /// validator as proposer (signed by itself: it has no other key).
    Truncate,
    /// With each of its first [`OVERSIZE_FLOODS`] proposals, streams of parts of
    /// [`OVERSIZE_PART_BYTES`] that never end: [`OVERSIZE_STREAMS`] within the per-stream
    /// cap of a 16 MiB block, and one past it.
    Oversize,
}

/// Proposals that carry an oversized flood.
pub const OVERSIZE_FLOODS: u32 = 3;
/// Streams in one flood that stay within a stream's cap.
pub const OVERSIZE_STREAMS: u32 = 2;
/// Size of one oversized part (twice the honest chunk size).
pub const OVERSIZE_PART_BYTES: usize = 2 * parts::CHUNK_BYTES;
/// Parts of a stream within the cap (12 MiB) and of the one past it (20 MiB).
const PARTS_WITHIN: u32 = 12;
const PARTS_PAST: u32 = 20;

/// The faulty side of one validator.
pub struct Injector {
    fault: StreamFault,
    key: Keypair,
    chain_id: String,
    floods: u32,
}

/// A stream id no honest stream uses: the honest one with `tag` appended.
fn bad_id(height: u64, round: u32, tag: u8) -> StreamId {
    let mut b = parts::stream_id(height, round).to_bytes().to_vec();
    b.push(tag);
    StreamId::new(Bytes::from(b))
}

impl Injector {
    pub fn new(fault: StreamFault, key: Keypair, chain_id: &str) -> Injector {
        tracing::warn!(
            ?fault,
            "this validator sends bad proposal streams on purpose (test configuration)"
        );
        Injector { fault, key, chain_id: chain_id.to_string(), floods: 0 }
    }

    /// Streams to publish before this node's own proposal `p`.
    pub fn on_propose(&mut self, p: &ReceivedProposal) -> Vec<StreamMessage<ProposalPart>> {
        match self.fault {
            StreamFault::Truncate => self.truncated(p, 0xfe),
            StreamFault::Oversize => {
                if self.floods >= OVERSIZE_FLOODS {
                    return Vec::new();
                }
                self.floods += 1;
                self.flood(p)
            }
        }
    }

    /// Streams to publish on receiving `part` from another validator.
    pub fn on_part(
        &mut self,
        part: &StreamMessage<ProposalPart>,
    ) -> Vec<StreamMessage<ProposalPart>> {
        match (self.fault, &part.content) {
            (StreamFault::Truncate, StreamContent::Data(ProposalPart::Init(init))) => {
                let p = ReceivedProposal {
                    height: init.height,
                    round: init.round,
                    pol_round: init.pol_round,
                    proposer: init.proposer,
                    block: parts::ProposedBlock {
                        header: init.header.clone(),
                        txs: Vec::new(),
                        proposer_signature: init.proposer_signature,
                    },
                };
                self.truncated(&p, 0xff)
            }
            _ => Vec::new(),
        }
    }

    /// Init (with `tx_count = 0`), a fin part signed by this node, the end.
    fn truncated(&self, p: &ReceivedProposal, tag: u8) -> Vec<StreamMessage<ProposalPart>> {
        let seal = StreamSeal {
            height: p.height,
            round: p.round,
            pol_round: p.pol_round,
            proposer: p.proposer,
            block: p.block.hash(),
            tx_count: 0,
        };
        let signature = self.key.sign_payload(domain::PROPOSAL_STREAM, &self.chain_id, &seal);
        let init = parts::ProposalInit {
            height: p.height,
            round: p.round,
            pol_round: p.pol_round,
            proposer: p.proposer,
            header: p.block.header.clone(),
            proposer_signature: p.block.proposer_signature,
            tx_count: 0,
        };
        let id = bad_id(p.height, p.round, tag);
        vec![
            StreamMessage::new(
                id.clone(),
                0,
                StreamContent::Data(ProposalPart::Init(Box::new(init))),
            ),
            StreamMessage::new(id.clone(), 1, StreamContent::Data(ProposalPart::Fin(signature))),
            StreamMessage::new(id, 2, StreamContent::Fin),
        ]
    }

    /// Streams of oversized parts that never end.
    fn flood(&self, p: &ReceivedProposal) -> Vec<StreamMessage<ProposalPart>> {
        let big = Transaction {
            chain_id: "x".repeat(OVERSIZE_PART_BYTES),
            signer: self.key.address(),
            nonce: 0,
            max_fee: 0,
            expiry_height: 0,
            body: TxBody::SubmitReports { reports: vec![] },
        }
        .sign(&self.key);
        let part = |txs: Vec<SignedTx>| StreamContent::Data(ProposalPart::Txs(txs));
        let init = parts::stream(p, &self.key, &self.chain_id).into_iter().next();
        let mut out = Vec::new();
        for (s, count) in
            (0..OVERSIZE_STREAMS).map(|s| (s, PARTS_WITHIN)).chain([(OVERSIZE_STREAMS, PARTS_PAST)])
        {
            let id = bad_id(p.height, p.round, s as u8);
            if let Some(init) = &init {
                out.push(StreamMessage::new(id.clone(), 0, init.content.clone()));
            }
            for i in 1..=u64::from(count) {
                out.push(StreamMessage::new(id.clone(), i, part(vec![big.clone()])));
            }
        }
        out
    }
}
