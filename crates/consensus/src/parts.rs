//! A proposed block on the wire: the proposer streams it as parts — first the header with
//! the builder's signature over its hash, then the transactions in chunks — and receivers
//! put the stream back together. The header's transaction root binds the chunks to the
//! signed header, so the parts need no signatures of their own.

use crate::context::CairnContext;
use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use cairn_types::crypto::{self, domain};
use cairn_types::{Address, BlockHeader, Hash, Height, Keypair, Signature, SignedTx};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::core;
use std::collections::BTreeMap;

/// A block as proposed: header, transactions, and the signature of the validator that built
/// it (`header.proposer`) over the header hash under `cairn/block/v1`. Also the bytes a node
/// serves to peers that sync.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProposedBlock {
    pub header: BlockHeader,
    pub txs: Vec<SignedTx>,
    pub proposer_signature: Signature,
}

impl ProposedBlock {
    /// Seals a freshly built block with the builder's key.
    pub fn seal(key: &Keypair, chain_id: &str, header: BlockHeader, txs: Vec<SignedTx>) -> Self {
        let proposer_signature = key.sign_payload(domain::BLOCK, chain_id, &header.hash());
        ProposedBlock { header, txs, proposer_signature }
    }

    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Whether the builder named in the header signed it.
    pub fn seal_is_valid(&self, chain_id: &str) -> bool {
        let msg = crypto::signing_message(domain::BLOCK, chain_id, &self.hash());
        crypto::verify(&self.header.proposer, &self.proposer_signature, &msg).is_ok()
    }
}

/// The first part of a stream: where and by whom the block is proposed, and its header.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProposalInit {
    pub height: Height,
    pub round: u32,
    /// The round of the proof of lock a re-proposal comes from.
    pub pol_round: Option<u32>,
    /// The proposer of this round (for a re-proposal, not necessarily the block's builder).
    pub proposer: Address,
    pub header: BlockHeader,
    pub proposer_signature: Signature,
    /// Transactions in the chunks that follow.
    pub tx_count: u32,
}

/// One part of a proposal stream.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalPart {
    Init(Box<ProposalInit>),
    Txs(Vec<SignedTx>),
}

impl core::ProposalPart<CairnContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init(_))
    }

    fn is_last(&self) -> bool {
        false
    }
}

/// A whole proposal as received: the round it was proposed in and the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedProposal {
    pub height: Height,
    pub round: u32,
    pub pol_round: Option<u32>,
    pub proposer: Address,
    pub block: ProposedBlock,
}

/// The stream id of a proposal for `height` and `round` (unique per publisher).
pub fn stream_id(height: Height, round: u32) -> StreamId {
    let mut b = height.to_be_bytes().to_vec();
    b.extend_from_slice(&round.to_be_bytes());
    StreamId::new(Bytes::from(b))
}

/// Transactions of at most about this many encoded bytes go in one part.
pub const CHUNK_BYTES: usize = 512 * 1024;

/// Splits a proposal into stream messages: init, transaction chunks, fin.
pub fn stream(p: &ReceivedProposal) -> Vec<StreamMessage<ProposalPart>> {
    let id = stream_id(p.height, p.round);
    let init = ProposalInit {
        height: p.height,
        round: p.round,
        pol_round: p.pol_round,
        proposer: p.proposer,
        header: p.block.header.clone(),
        proposer_signature: p.block.proposer_signature,
        tx_count: u32::try_from(p.block.txs.len()).unwrap_or(u32::MAX),
    };
    let mut parts = vec![ProposalPart::Init(Box::new(init))];
    let mut chunk = Vec::new();
    let mut bytes = 0usize;
    for tx in &p.block.txs {
        let size = borsh::object_length(tx).unwrap_or(0);
        if !chunk.is_empty() && bytes + size > CHUNK_BYTES {
            parts.push(ProposalPart::Txs(std::mem::take(&mut chunk)));
            bytes = 0;
        }
        bytes += size;
        chunk.push(tx.clone());
    }
    if !chunk.is_empty() {
        parts.push(ProposalPart::Txs(chunk));
    }
    let mut out: Vec<StreamMessage<ProposalPart>> = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| StreamMessage::new(id.clone(), i as u64, StreamContent::Data(part)))
        .collect();
    out.push(StreamMessage::new(id, out.len() as u64, StreamContent::Fin));
    out
}

#[derive(Default)]
struct Stream {
    parts: BTreeMap<u64, ProposalPart>,
    fin: Option<u64>,
    txs: usize,
    arrival: u64,
}

/// Reassembles streams from many publishers, within bounds: at most [`MAX_STREAMS`] open
/// streams (the oldest is dropped), at most `max_txs` transactions per stream.
pub struct Streams {
    open: BTreeMap<(PeerId, StreamId), Stream>,
    arrivals: u64,
    max_txs: usize,
}

/// Most streams being reassembled at once.
pub const MAX_STREAMS: usize = 64;

impl Streams {
    pub fn new(max_txs: usize) -> Streams {
        Streams { open: BTreeMap::new(), arrivals: 0, max_txs }
    }

    pub fn set_max_txs(&mut self, max_txs: usize) {
        self.max_txs = max_txs;
    }

    /// Adds a message from `publisher`; returns the proposal once its stream is complete.
    /// Malformed streams (no init first, too many transactions, a count that does not
    /// match) are dropped.
    pub fn insert(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Option<ReceivedProposal> {
        let key = (publisher, msg.stream_id.clone());
        if !self.open.contains_key(&key) && self.open.len() >= MAX_STREAMS {
            let oldest = self.open.iter().min_by_key(|(_, s)| s.arrival).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.open.remove(&k);
            }
        }
        self.arrivals += 1;
        let arrival = self.arrivals;
        let stream =
            self.open.entry(key.clone()).or_insert_with(|| Stream { arrival, ..Stream::default() });
        match msg.content {
            StreamContent::Fin => stream.fin = Some(msg.sequence),
            StreamContent::Data(part) => {
                if let ProposalPart::Txs(txs) = &part {
                    stream.txs = stream.txs.saturating_add(txs.len());
                }
                if stream.txs > self.max_txs || stream.parts.len() > self.max_txs + 1 {
                    self.open.remove(&key);
                    return None;
                }
                stream.parts.entry(msg.sequence).or_insert(part);
            }
        }
        let fin = stream.fin?;
        if stream.parts.len() as u64 != fin
            || stream.parts.keys().next_back() != fin.checked_sub(1).as_ref()
        {
            return None;
        }
        let stream = self.open.remove(&key)?;
        assemble(stream.parts.into_values())
    }
}

fn assemble(parts: impl Iterator<Item = ProposalPart>) -> Option<ReceivedProposal> {
    let mut parts = parts;
    let ProposalPart::Init(init) = parts.next()? else { return None };
    let mut txs = Vec::new();
    for part in parts {
        match part {
            ProposalPart::Txs(chunk) => txs.extend(chunk),
            ProposalPart::Init(_) => return None,
        }
    }
    if txs.len() != init.tx_count as usize {
        return None;
    }
    let init = *init;
    Some(ReceivedProposal {
        height: init.height,
        round: init.round,
        pol_round: init.pol_round,
        proposer: init.proposer,
        block: ProposedBlock {
            header: init.header,
            txs,
            proposer_signature: init.proposer_signature,
        },
    })
}

#[cfg(test)]
mod tests;
