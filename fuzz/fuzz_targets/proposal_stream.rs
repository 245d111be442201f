//! Proposal-stream reassembly (`cairn_consensus::parts::Streams`) fed a sequence of
//! arbitrary stream messages from a handful of publishers: each frame is a publisher byte, a
//! little-endian u16 length and that many bytes, decoded as a stream message with the
//! node's codec. Nothing may panic, the bytes held never exceed the total cap (small here, so
//! the caps are reached), and whatever comes out as a proposal checks out (its seal verifies
//! and its stream is signed by the proposer it names).
#![no_main]

use bytes::Bytes;
use cairn_consensus::codec::CairnCodec;
use cairn_consensus::parts::{Limits, ProposalPart, Streams};
use libfuzzer_sys::fuzz_target;
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::codec::Codec;

/// A peer id from a byte (identity multihash of 32 bytes).
fn peer(seed: u8) -> PeerId {
    let bytes = [&[0x00u8, 0x20][..], &[seed % 4; 32]].concat();
    PeerId::from_bytes(&bytes).expect("a valid identity multihash")
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::new(16, 2_000, 6_000);
    let mut streams = Streams::new("fuzz", limits);
    let mut rest = data;
    while let [who, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        let Ok(msg) = Codec::<StreamMessage<ProposalPart>>::decode(
            &CairnCodec,
            Bytes::copy_from_slice(frame),
        ) else {
            continue;
        };
        if let Some(Ok(p)) = streams.insert(peer(*who), msg) {
            assert!(p.block.seal_is_valid("fuzz"), "a proposal with a bad seal came out");
        }
        assert!(
            streams.held() <= limits.total_bytes,
            "{} bytes held, over the cap of {}",
            streams.held(),
            limits.total_bytes
        );
    }
});
