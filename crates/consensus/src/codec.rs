//! The wire format of every engine message: consensus gossip, proposal streams, validator
//! proofs, block sync, and the write-ahead log. Each engine type maps to an explicit borsh
//! struct here, with Cairn's own vote and proposal types inside, so the bytes are pinned by
//! this file and not by the engine's internals. Decoding is strict (no trailing bytes) and
//! bounded by [`MAX_MESSAGE`].

use crate::context::{BlockId, CairnContext, Height, Proposal, ValidatorAddress, Vote};
use crate::parts::ProposalPart;
use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use cairn_types::consensus as cc;
use cairn_types::{Address, Hash, Signature as CairnSignature, codec as cairn_codec};
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature,
    Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof,
    Validity, VoteType,
};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_signing_ed25519::Signature;
use malachitebft_sync::{ValueRequest, ValueResponse};

/// Largest message decoded (a sync response of a few full blocks).
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Why bytes are not a valid message, or a message cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Decode(#[from] cairn_codec::DecodeError),
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("Cairn consensus messages carry no vote extensions")]
    Extension,
}

/// The codec of every engine message.
#[derive(Clone, Copy, Debug, Default)]
pub struct CairnCodec;

fn sig_to_wire(s: &Signature) -> CairnSignature {
    CairnSignature(s.to_bytes())
}

fn sig_from_wire(s: &CairnSignature) -> Signature {
    Signature::from_bytes(s.0)
}

fn round_to_wire(r: Round) -> Option<u32> {
    r.as_u32()
}

fn round_from_wire(r: Option<u32>) -> Round {
    r.map_or(Round::Nil, Round::new)
}

/// A defined round: votes, proposals and certificates always have one.
fn defined(r: Round) -> Result<u32, CodecError> {
    r.as_u32().ok_or(CodecError::Invalid("round"))
}

fn vote_to_wire(v: &SignedMessage<CairnContext, Vote>) -> Result<cc::SignedVote, CodecError> {
    Ok(cc::SignedVote {
        vote: v.message.to_cairn().ok_or(CodecError::Invalid("vote round"))?,
        signature: sig_to_wire(&v.signature),
    })
}

fn vote_from_wire(v: &cc::SignedVote) -> SignedMessage<CairnContext, Vote> {
    SignedMessage::new(Vote::from_cairn(&v.vote), sig_from_wire(&v.signature))
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireProposal {
    proposal: cc::Proposal,
    signature: CairnSignature,
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireConsensus {
    Vote(cc::SignedVote),
    Proposal(WireProposal),
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WirePolka {
    height: u64,
    round: u32,
    block: Hash,
    signatures: Vec<(Address, CairnSignature)>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRoundSignature {
    kind: cc::VoteKind,
    block: Option<Hash>,
    validator: Address,
    signature: CairnSignature,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRoundCertificate {
    height: u64,
    round: u32,
    /// 0: skip (f+1 votes of a later round), 1: precommit (2f+1 precommits).
    precommit: bool,
    signatures: Vec<WireRoundSignature>,
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireLiveness {
    Vote(cc::SignedVote),
    Polka(WirePolka),
    Round(WireRoundCertificate),
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireContent {
    Data(ProposalPart),
    Fin,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireStreamMessage {
    stream_id: Vec<u8>,
    sequence: u64,
    content: WireContent,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireValidatorProof {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: CairnSignature,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireStatus {
    peer_id: Vec<u8>,
    tip_height: u64,
    history_min_height: u64,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRequest {
    from: u64,
    to: u64,
}

/// A commit certificate in sync responses: the precommit signatures of a decided block.
#[derive(BorshSerialize, BorshDeserialize)]
struct WireCommit {
    height: u64,
    round: u32,
    block: Hash,
    signatures: Vec<cc::CommitSignature>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireDecided {
    block: Vec<u8>,
    commit: WireCommit,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireResponse {
    start_height: u64,
    values: Vec<WireDecided>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireProposedValue {
    height: u64,
    round: Option<u32>,
    valid_round: Option<u32>,
    proposer: Address,
    block: Hash,
    valid: bool,
}

fn polka_to_wire(p: &PolkaCertificate<CairnContext>) -> Result<WirePolka, CodecError> {
    Ok(WirePolka {
        height: p.height.0,
        round: defined(p.round)?,
        block: p.value_id.0,
        signatures: p
            .polka_signatures
            .iter()
            .map(|s| (s.address.0, sig_to_wire(&s.signature)))
            .collect(),
    })
}

fn polka_from_wire(p: WirePolka) -> PolkaCertificate<CairnContext> {
    PolkaCertificate {
        height: Height(p.height),
        round: Round::new(p.round),
        value_id: BlockId(p.block),
        polka_signatures: p
            .signatures
            .iter()
            .map(|(a, s)| PolkaSignature::new(ValidatorAddress(*a), sig_from_wire(s)))
            .collect(),
    }
}

fn kind_to_wire(t: VoteType) -> cc::VoteKind {
    match t {
        VoteType::Prevote => cc::VoteKind::Prevote,
        VoteType::Precommit => cc::VoteKind::Precommit,
    }
}

fn kind_from_wire(k: cc::VoteKind) -> VoteType {
    match k {
        cc::VoteKind::Prevote => VoteType::Prevote,
        cc::VoteKind::Precommit => VoteType::Precommit,
    }
}

fn round_cert_to_wire(
    c: &RoundCertificate<CairnContext>,
) -> Result<WireRoundCertificate, CodecError> {
    Ok(WireRoundCertificate {
        height: c.height.0,
        round: defined(c.round)?,
        precommit: matches!(c.cert_type, RoundCertificateType::Precommit),
        signatures: c
            .round_signatures
            .iter()
            .map(|s| WireRoundSignature {
                kind: kind_to_wire(s.vote_type),
                block: match s.value_id {
                    NilOrVal::Nil => None,
                    NilOrVal::Val(id) => Some(id.0),
                },
                validator: s.address.0,
                signature: sig_to_wire(&s.signature),
            })
            .collect(),
    })
}

fn round_cert_from_wire(c: WireRoundCertificate) -> RoundCertificate<CairnContext> {
    RoundCertificate {
        height: Height(c.height),
        round: Round::new(c.round),
        cert_type: if c.precommit {
            RoundCertificateType::Precommit
        } else {
            RoundCertificateType::Skip
        },
        round_signatures: c
            .signatures
            .iter()
            .map(|s| RoundSignature {
                vote_type: kind_from_wire(s.kind),
                value_id: s.block.map_or(NilOrVal::Nil, |h| NilOrVal::Val(BlockId(h))),
                address: ValidatorAddress(s.validator),
                signature: sig_from_wire(&s.signature),
            })
            .collect(),
    }
}

/// Encodes a wire struct.
fn enc<T: BorshSerialize>(t: &T) -> Bytes {
    Bytes::from(cairn_codec::encode(t))
}

/// Decodes a wire struct strictly.
fn dec<T: BorshDeserialize>(bytes: &[u8], what: &'static str) -> Result<T, CodecError> {
    Ok(cairn_codec::decode(bytes, MAX_MESSAGE, what)?)
}

impl Codec<ProposalPart> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ProposalPart, CodecError> {
        dec(&bytes, "proposal part")
    }

    fn encode(&self, msg: &ProposalPart) -> Result<Bytes, CodecError> {
        Ok(enc(msg))
    }
}

impl Codec<SignedConsensusMsg<CairnContext>> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<SignedConsensusMsg<CairnContext>, CodecError> {
        Ok(match dec::<WireConsensus>(&bytes, "consensus message")? {
            WireConsensus::Vote(v) => SignedConsensusMsg::Vote(vote_from_wire(&v)),
            WireConsensus::Proposal(p) => SignedConsensusMsg::Proposal(SignedMessage::new(
                Proposal::from_cairn(&p.proposal),
                sig_from_wire(&p.signature),
            )),
        })
    }

    fn encode(&self, msg: &SignedConsensusMsg<CairnContext>) -> Result<Bytes, CodecError> {
        Ok(enc(&match msg {
            SignedConsensusMsg::Vote(v) => WireConsensus::Vote(vote_to_wire(v)?),
            SignedConsensusMsg::Proposal(p) => WireConsensus::Proposal(WireProposal {
                proposal: p.message.to_cairn().ok_or(CodecError::Invalid("proposal round"))?,
                signature: sig_to_wire(&p.signature),
            }),
        }))
    }
}

impl Codec<LivenessMsg<CairnContext>> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<LivenessMsg<CairnContext>, CodecError> {
        Ok(match dec::<WireLiveness>(&bytes, "liveness message")? {
            WireLiveness::Vote(v) => LivenessMsg::Vote(vote_from_wire(&v)),
            WireLiveness::Polka(p) => LivenessMsg::PolkaCertificate(polka_from_wire(p)),
            WireLiveness::Round(c) => LivenessMsg::SkipRoundCertificate(round_cert_from_wire(c)),
        })
    }

    fn encode(&self, msg: &LivenessMsg<CairnContext>) -> Result<Bytes, CodecError> {
        Ok(enc(&match msg {
            LivenessMsg::Vote(v) => WireLiveness::Vote(vote_to_wire(v)?),
            LivenessMsg::PolkaCertificate(p) => WireLiveness::Polka(polka_to_wire(p)?),
            LivenessMsg::SkipRoundCertificate(c) => WireLiveness::Round(round_cert_to_wire(c)?),
        }))
    }
}

impl Codec<StreamMessage<ProposalPart>> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<StreamMessage<ProposalPart>, CodecError> {
        let w: WireStreamMessage = dec(&bytes, "proposal stream message")?;
        let content = match w.content {
            WireContent::Data(p) => StreamContent::Data(p),
            WireContent::Fin => StreamContent::Fin,
        };
        Ok(StreamMessage::new(StreamId::new(Bytes::from(w.stream_id)), w.sequence, content))
    }

    fn encode(&self, msg: &StreamMessage<ProposalPart>) -> Result<Bytes, CodecError> {
        Ok(enc(&WireStreamMessage {
            stream_id: msg.stream_id.to_bytes().to_vec(),
            sequence: msg.sequence,
            content: match &msg.content {
                StreamContent::Data(p) => WireContent::Data(p.clone()),
                StreamContent::Fin => WireContent::Fin,
            },
        }))
    }
}

impl Codec<ValidatorProof<CairnContext>> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<CairnContext>, CodecError> {
        let w: WireValidatorProof = dec(&bytes, "validator proof")?;
        Ok(ValidatorProof::new(w.public_key, w.peer_id, sig_from_wire(&w.signature)))
    }

    fn encode(&self, msg: &ValidatorProof<CairnContext>) -> Result<Bytes, CodecError> {
        Ok(enc(&WireValidatorProof {
            public_key: msg.public_key.clone(),
            peer_id: msg.peer_id.clone(),
            signature: sig_to_wire(&msg.signature),
        }))
    }
}

impl Codec<Status<CairnContext>> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Status<CairnContext>, CodecError> {
        let w: WireStatus = dec(&bytes, "sync status")?;
        Ok(Status {
            peer_id: PeerId::from_bytes(&w.peer_id).map_err(|_| CodecError::Invalid("peer id"))?,
            tip_height: Height(w.tip_height),
            history_min_height: Height(w.history_min_height),
        })
    }

    fn encode(&self, msg: &Status<CairnContext>) -> Result<Bytes, CodecError> {
        Ok(enc(&WireStatus {
            peer_id: msg.peer_id.to_bytes(),
            tip_height: msg.tip_height.0,
            history_min_height: msg.history_min_height.0,
        }))
    }
}

impl Codec<Request<CairnContext>> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Request<CairnContext>, CodecError> {
        let w: WireRequest = dec(&bytes, "sync request")?;
        Ok(Request::ValueRequest(ValueRequest::new(Height(w.from)..=Height(w.to))))
    }

    fn encode(&self, msg: &Request<CairnContext>) -> Result<Bytes, CodecError> {
        let Request::ValueRequest(r) = msg;
        Ok(enc(&WireRequest { from: r.range.start().0, to: r.range.end().0 }))
    }
}

fn commit_to_wire(c: &ExtendedCommitCertificate<CairnContext>) -> Result<WireCommit, CodecError> {
    let mut signatures = Vec::with_capacity(c.commit_signatures.len());
    for s in &c.commit_signatures {
        if s.extension.is_some() {
            return Err(CodecError::Extension);
        }
        signatures.push(cc::CommitSignature {
            validator: s.address.0,
            signature: sig_to_wire(&s.signature),
        });
    }
    Ok(WireCommit { height: c.height.0, round: defined(c.round)?, block: c.value_id.0, signatures })
}

fn commit_from_wire(c: WireCommit) -> ExtendedCommitCertificate<CairnContext> {
    ExtendedCommitCertificate {
        height: Height(c.height),
        round: Round::new(c.round),
        value_id: BlockId(c.block),
        commit_signatures: c
            .signatures
            .iter()
            .map(|s| {
                ExtendedCommitSignature::new(
                    ValidatorAddress(s.validator),
                    sig_from_wire(&s.signature),
                    None,
                )
            })
            .collect(),
    }
}

fn response_to_wire(msg: &Response<CairnContext>) -> Result<WireResponse, CodecError> {
    let Response::ValueResponse(r) = msg;
    let mut values = Vec::with_capacity(r.values.len());
    for v in &r.values {
        values.push(WireDecided {
            block: v.value_bytes.to_vec(),
            commit: commit_to_wire(&v.certificate)?,
        });
    }
    Ok(WireResponse { start_height: r.start_height.0, values })
}

impl Codec<Response<CairnContext>> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Response<CairnContext>, CodecError> {
        let w: WireResponse = dec(&bytes, "sync response")?;
        let values = w
            .values
            .into_iter()
            .map(|v| RawDecidedValue::new(Bytes::from(v.block), commit_from_wire(v.commit)))
            .collect();
        Ok(Response::ValueResponse(ValueResponse::new(Height(w.start_height), values)))
    }

    fn encode(&self, msg: &Response<CairnContext>) -> Result<Bytes, CodecError> {
        Ok(enc(&response_to_wire(msg)?))
    }
}

impl HasEncodedLen<Response<CairnContext>> for CairnCodec {
    fn encoded_len(&self, msg: &Response<CairnContext>) -> Result<usize, CodecError> {
        Ok(borsh::object_length(&response_to_wire(msg)?).unwrap_or(usize::MAX))
    }
}

impl Codec<ProposedValue<CairnContext>> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ProposedValue<CairnContext>, CodecError> {
        let w: WireProposedValue = dec(&bytes, "proposed value")?;
        Ok(ProposedValue {
            height: Height(w.height),
            round: round_from_wire(w.round),
            valid_round: round_from_wire(w.valid_round),
            proposer: ValidatorAddress(w.proposer),
            value: BlockId(w.block),
            validity: Validity::from_bool(w.valid),
        })
    }

    fn encode(&self, msg: &ProposedValue<CairnContext>) -> Result<Bytes, CodecError> {
        Ok(enc(&WireProposedValue {
            height: msg.height.0,
            round: round_to_wire(msg.round),
            valid_round: round_to_wire(msg.valid_round),
            proposer: msg.proposer.0,
            block: msg.value.0,
            valid: msg.validity.is_valid(),
        }))
    }
}

impl Codec<PolkaCertificate<CairnContext>> for CairnCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<PolkaCertificate<CairnContext>, CodecError> {
        Ok(polka_from_wire(dec(&bytes, "polka certificate")?))
    }

    fn encode(&self, msg: &PolkaCertificate<CairnContext>) -> Result<Bytes, CodecError> {
        Ok(enc(&polka_to_wire(msg)?))
    }
}

#[cfg(test)]
mod tests;
