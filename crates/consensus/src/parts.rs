//! A proposed block on the wire: the round's proposer streams it as parts — first the header
//! with the builder's signature over its hash, then the transactions in chunks, then its own
//! signature over the stream — and receivers put the stream back together.
//!
//! A completed stream counts only if it checks out as a whole ([`verify`]): the fin part is
//! signed by the proposer the init part names, the transactions hash to the header's
//! transaction root, and the builder's seal verifies. A stream that fails any of these says
//! nothing about the block whose header it copied: it is dropped as the sender's fault and
//! no verdict is recorded for that block hash. The host then checks that the signer is the
//! round's proposer (it alone knows the validator set).
//!
//! Reassembly is bounded in bytes: each stream may hold at most the chain's largest block
//! plus [`STREAM_OVERHEAD`], and all streams together (with the blocks the host keeps for
//! later heights, [`Streams::set_reserved`]) at most a node setting. Over the total, the
//! oldest stream of the publisher holding the most bytes is dropped first, so a peer that
//! floods evicts its own streams before anyone else's.

use crate::context::CairnContext;
use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use cairn_types::crypto::{self, domain};
use cairn_types::{Address, BlockHeader, Hash, Height, Keypair, Signature, SignedTx, merkle};
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

/// One part of a proposal stream: the init, transaction chunks, and the fin with the round
/// proposer's signature over the stream ([`StreamSeal`]).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalPart {
    Init(Box<ProposalInit>),
    Txs(Vec<SignedTx>),
    Fin(Signature),
}

impl core::ProposalPart<CairnContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init(_))
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_))
    }
}

/// What the round's proposer signs (under `cairn/proposal-stream/v1`) in the fin part: where
/// and how the block is proposed, and the block hash. The hash binds the header, and the
/// header's transaction root binds the chunks, so this covers the whole stream.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StreamSeal {
    pub height: Height,
    pub round: u32,
    pub pol_round: Option<u32>,
    pub proposer: Address,
    pub block: Hash,
    pub tx_count: u32,
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

impl ReceivedProposal {
    fn seal_payload(&self) -> StreamSeal {
        StreamSeal {
            height: self.height,
            round: self.round,
            pol_round: self.pol_round,
            proposer: self.proposer,
            block: self.block.hash(),
            tx_count: u32::try_from(self.block.txs.len()).unwrap_or(u32::MAX),
        }
    }

    /// Encoded size of the block's transactions and header, for memory accounting.
    pub fn bytes(&self) -> usize {
        borsh::object_length(&self.block).unwrap_or(usize::MAX)
    }
}

/// Why a stream was refused. None of these says anything about the block whose header the
/// stream carried.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("stream holds {bytes} bytes, over the cap of {cap} per stream")]
    StreamTooLarge { bytes: usize, cap: usize },
    #[error("stream holds {txs} transactions, over the cap of {cap}")]
    TooManyTxs { txs: usize, cap: usize },
    #[error("stream dropped to keep reassembly within {cap} bytes")]
    Evicted { cap: usize },
    #[error("the stream does not start with an init part")]
    NoInit,
    #[error("the stream does not end with a signed fin part")]
    NoFin,
    #[error("part {index} of the stream is out of place")]
    Misplaced { index: usize },
    #[error("the init announces {announced} transactions, the stream carries {carried}")]
    CountMismatch { announced: u32, carried: usize },
    #[error("the init is for height {init}, its header for height {header}")]
    HeightMismatch { init: Height, header: Height },
    #[error("the transactions' root {got} is not the header's {expected}")]
    TxRoot { expected: Hash, got: Hash },
    #[error("the builder's seal over block {block} does not verify")]
    Seal { block: Hash },
    #[error("the fin is not signed by the proposer {proposer} the init names")]
    Signature { proposer: Address },
    #[error("{claimed} is not the proposer of height {height} round {round} ({expected:?} is)")]
    NotRoundProposer { claimed: Address, expected: Option<Address>, height: Height, round: u32 },
}

impl StreamError {
    /// A short code, the label of the refused-streams metric.
    pub fn code(&self) -> &'static str {
        match self {
            StreamError::StreamTooLarge { .. } => "stream_too_large",
            StreamError::TooManyTxs { .. } => "too_many_txs",
            StreamError::Evicted { .. } => "evicted",
            StreamError::NoInit | StreamError::NoFin | StreamError::Misplaced { .. } => "malformed",
            StreamError::CountMismatch { .. } | StreamError::HeightMismatch { .. } => "malformed",
            StreamError::TxRoot { .. } => "tx_root",
            StreamError::Seal { .. } => "seal",
            StreamError::Signature { .. } => "signature",
            StreamError::NotRoundProposer { .. } => "not_round_proposer",
        }
    }
}

/// The stream id of a proposal for `height` and `round` (unique per publisher).
pub fn stream_id(height: Height, round: u32) -> StreamId {
    let mut b = height.to_be_bytes().to_vec();
    b.extend_from_slice(&round.to_be_bytes());
    StreamId::new(Bytes::from(b))
}

/// Transactions of at most about this many encoded bytes go in one part.
pub const CHUNK_BYTES: usize = 512 * 1024;

/// Bytes a stream may hold beyond the block's own size (init, part framing, fin).
pub const STREAM_OVERHEAD: usize = 64 * 1024;

/// Splits a proposal into stream messages: init, transaction chunks, and the fin part
/// signed by `key` (the round's proposer, named in the init), then the end of the stream.
pub fn stream(
    p: &ReceivedProposal,
    key: &Keypair,
    chain_id: &str,
) -> Vec<StreamMessage<ProposalPart>> {
    let id = stream_id(p.height, p.round);
    let seal = key.sign_payload(domain::PROPOSAL_STREAM, chain_id, &p.seal_payload());
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
    parts.push(ProposalPart::Fin(seal));
    let mut out: Vec<StreamMessage<ProposalPart>> = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| StreamMessage::new(id.clone(), i as u64, StreamContent::Data(part)))
        .collect();
    out.push(StreamMessage::new(id, out.len() as u64, StreamContent::Fin));
    out
}

/// Caps of reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Transactions in one stream (the chain's `max_block_txs`).
    pub max_txs: usize,
    /// Bytes one stream may hold (the chain's `max_block_bytes` + [`STREAM_OVERHEAD`]).
    pub stream_bytes: usize,
    /// Bytes all streams (and the reserved blocks kept for later heights) may hold.
    pub total_bytes: usize,
}

impl Limits {
    /// The caps for a chain whose blocks hold at most `max_block_txs` transactions and
    /// `max_block_bytes` bytes, with at most `total_bytes` held at once (never below one
    /// whole stream).
    pub fn new(max_block_txs: usize, max_block_bytes: usize, total_bytes: usize) -> Limits {
        let stream_bytes = max_block_bytes.saturating_add(STREAM_OVERHEAD);
        Limits { max_txs: max_block_txs, stream_bytes, total_bytes: total_bytes.max(stream_bytes) }
    }
}

#[derive(Default)]
struct Stream {
    parts: BTreeMap<u64, ProposalPart>,
    fin: Option<u64>,
    txs: usize,
    bytes: usize,
    arrival: u64,
}

/// Reassembles streams from many publishers, within bounds: at most [`MAX_STREAMS`] open
/// streams, at most `max_txs` transactions and `stream_bytes` bytes per stream, and
/// `total_bytes` in all (see the module documentation for which stream goes first).
pub struct Streams {
    open: BTreeMap<(PeerId, StreamId), Stream>,
    arrivals: u64,
    limits: Limits,
    chain_id: String,
    /// Bytes held by open streams.
    held: usize,
    /// Bytes the host holds in blocks for later heights, counted against the total.
    reserved: usize,
    /// Streams dropped to make room, since the last [`Streams::take_evicted`].
    evicted: u64,
}

/// Most streams being reassembled at once.
pub const MAX_STREAMS: usize = 64;

impl Streams {
    pub fn new(chain_id: &str, limits: Limits) -> Streams {
        Streams {
            open: BTreeMap::new(),
            arrivals: 0,
            limits,
            chain_id: chain_id.to_string(),
            held: 0,
            reserved: 0,
            evicted: 0,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes held by streams being reassembled.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Sets the bytes held elsewhere that count against the total cap.
    pub fn set_reserved(&mut self, bytes: usize) {
        self.reserved = bytes;
    }

    /// Streams dropped to make room since the last call.
    pub fn take_evicted(&mut self) -> u64 {
        std::mem::take(&mut self.evicted)
    }

    fn remove(&mut self, key: &(PeerId, StreamId)) -> Option<Stream> {
        let s = self.open.remove(key)?;
        self.held = self.held.saturating_sub(s.bytes);
        Some(s)
    }

    /// The stream to drop first: the oldest of the publisher holding the most bytes.
    fn victim(&self) -> Option<(PeerId, StreamId)> {
        let mut by_publisher: BTreeMap<PeerId, usize> = BTreeMap::new();
        for ((p, _), s) in &self.open {
            *by_publisher.entry(*p).or_default() += s.bytes;
        }
        let (heaviest, _) =
            by_publisher.iter().max_by_key(|(p, b)| (**b, std::cmp::Reverse(**p)))?;
        self.open
            .iter()
            .filter(|((p, _), _)| p == heaviest)
            .min_by_key(|(_, s)| s.arrival)
            .map(|(k, _)| k.clone())
    }

    /// Adds a message from `publisher`. Returns nothing while the stream is incomplete, the
    /// verified proposal once it completes, and an error when the stream is dropped (over a
    /// cap, or complete but not checking out; see [`verify`]).
    pub fn insert(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Option<Result<ReceivedProposal, StreamError>> {
        let key = (publisher, msg.stream_id.clone());
        if !self.open.contains_key(&key) && self.open.len() >= MAX_STREAMS {
            let oldest = self.open.iter().min_by_key(|(_, s)| s.arrival).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.remove(&k);
                self.evicted += 1;
            }
        }
        self.arrivals += 1;
        let arrival = self.arrivals;
        let limits = self.limits;
        let stream =
            self.open.entry(key.clone()).or_insert_with(|| Stream { arrival, ..Stream::default() });
        match msg.content {
            StreamContent::Fin => stream.fin = Some(msg.sequence),
            StreamContent::Data(part) => {
                if stream.parts.contains_key(&msg.sequence) {
                    return None;
                }
                let size = borsh::object_length(&part).unwrap_or(usize::MAX);
                if let ProposalPart::Txs(txs) = &part {
                    stream.txs = stream.txs.saturating_add(txs.len());
                }
                let bytes = stream.bytes.saturating_add(size);
                let refused =
                    if stream.txs > limits.max_txs || stream.parts.len() > limits.max_txs + 2 {
                        Some(StreamError::TooManyTxs { txs: stream.txs, cap: limits.max_txs })
                    } else if bytes > limits.stream_bytes {
                        Some(StreamError::StreamTooLarge { bytes, cap: limits.stream_bytes })
                    } else {
                        None
                    };
                if let Some(e) = refused {
                    self.remove(&key);
                    return Some(Err(e));
                }
                stream.bytes = bytes;
                stream.parts.insert(msg.sequence, part);
                self.held = self.held.saturating_add(size);
                while self.held.saturating_add(self.reserved) > limits.total_bytes {
                    let Some(victim) = self.victim() else { break };
                    self.remove(&victim);
                    if victim == key {
                        return Some(Err(StreamError::Evicted { cap: limits.total_bytes }));
                    }
                    self.evicted += 1;
                }
            }
        }
        let stream = self.open.get(&key)?;
        let fin = stream.fin?;
        if stream.parts.len() as u64 != fin
            || stream.parts.keys().next_back() != fin.checked_sub(1).as_ref()
        {
            return None;
        }
        let stream = self.remove(&key)?;
        Some(verify(stream.parts.into_values(), &self.chain_id))
    }
}

/// Puts a complete stream's parts (in sequence order) together and checks it as a whole:
/// init first, transaction chunks, the fin last; the announced count; the header's height;
/// the builder's seal; the fin's signature by the proposer the init names; and the
/// transaction root. Whether that proposer is the round's is the host's check.
pub fn verify(
    parts: impl Iterator<Item = ProposalPart>,
    chain_id: &str,
) -> Result<ReceivedProposal, StreamError> {
    let mut parts = parts.enumerate();
    let Some((_, ProposalPart::Init(init))) = parts.next() else { return Err(StreamError::NoInit) };
    let mut txs = Vec::new();
    let mut seal = None;
    for (index, part) in parts {
        match part {
            ProposalPart::Txs(chunk) if seal.is_none() => txs.extend(chunk),
            ProposalPart::Fin(sig) if seal.is_none() => seal = Some(sig),
            _ => return Err(StreamError::Misplaced { index }),
        }
    }
    let seal = seal.ok_or(StreamError::NoFin)?;
    if txs.len() != init.tx_count as usize {
        return Err(StreamError::CountMismatch { announced: init.tx_count, carried: txs.len() });
    }
    if init.header.height != init.height {
        return Err(StreamError::HeightMismatch { init: init.height, header: init.header.height });
    }
    let init = *init;
    let p = ReceivedProposal {
        height: init.height,
        round: init.round,
        pol_round: init.pol_round,
        proposer: init.proposer,
        block: ProposedBlock {
            header: init.header,
            txs,
            proposer_signature: init.proposer_signature,
        },
    };
    if !p.block.seal_is_valid(chain_id) {
        return Err(StreamError::Seal { block: p.block.hash() });
    }
    let msg = crypto::signing_message(domain::PROPOSAL_STREAM, chain_id, &p.seal_payload());
    if crypto::verify(&p.proposer, &seal, &msg).is_err() {
        return Err(StreamError::Signature { proposer: p.proposer });
    }
    let got = merkle::root(&p.block.txs.iter().map(SignedTx::hash).collect::<Vec<_>>());
    if got != p.block.header.tx_root {
        return Err(StreamError::TxRoot { expected: p.block.header.tx_root, got });
    }
    Ok(p)
}

/// Whether the proposer a (verified) stream names, and whose signature its fin carries, is
/// the proposer of its height and round in `set` (the validator set of that height).
pub fn check_round_proposer(
    p: &ReceivedProposal,
    set: &cairn_types::consensus::ValidatorSet,
) -> Result<(), StreamError> {
    let expected = set.proposer(p.height, p.round).map(|v| v.address);
    if expected == Some(p.proposer) {
        Ok(())
    } else {
        Err(StreamError::NotRoundProposer {
            claimed: p.proposer,
            expected,
            height: p.height,
            round: p.round,
        })
    }
}

#[cfg(test)]
mod tests;
