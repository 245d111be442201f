//! The BFT wire format (`cairn_consensus::codec`): every engine message a peer can send —
//! consensus votes and proposals, liveness certificates, proposal stream parts, validator
//! proofs, sync status, requests and responses — and the write-ahead log entries, decoded
//! from arbitrary bytes. Nothing may panic, and whatever decodes must encode back to exactly
//! the input (the encoding is canonical and decoding strict).
#![no_main]

use bytes::Bytes;
use cairn_consensus::codec::CairnCodec;
use cairn_consensus::context::CairnContext;
use cairn_consensus::parts::ProposalPart;
use libfuzzer_sys::fuzz_target;
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{PolkaCertificate, ValidatorProof};
use malachitebft_app_channel::app::types::sync::{Request, Response, Status};

fn round_trip<T>(data: &[u8])
where
    CairnCodec: Codec<T>,
{
    if let Ok(msg) = Codec::<T>::decode(&CairnCodec, Bytes::copy_from_slice(data)) {
        let again = Codec::<T>::encode(&CairnCodec, &msg).expect("a decoded message encodes");
        assert_eq!(&again[..], data, "decode then encode changed the bytes");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    match kind % 9 {
        0 => round_trip::<SignedConsensusMsg<CairnContext>>(rest),
        1 => round_trip::<LivenessMsg<CairnContext>>(rest),
        2 => round_trip::<StreamMessage<ProposalPart>>(rest),
        3 => round_trip::<ValidatorProof<CairnContext>>(rest),
        4 => round_trip::<Status<CairnContext>>(rest),
        5 => round_trip::<Request<CairnContext>>(rest),
        6 => round_trip::<Response<CairnContext>>(rest),
        7 => round_trip::<ProposedValue<CairnContext>>(rest),
        _ => round_trip::<PolkaCertificate<CairnContext>>(rest),
    }
});
