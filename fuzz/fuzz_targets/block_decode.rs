//! `codec::decode::<Block>` on arbitrary bytes (blocks arrive from peers and from storage).
//! Decoding must never panic, and a decoded block must re-encode to exactly the input.
//! Hashing and certificate verification of whatever decodes must not panic either.
#![no_main]

use cairn_types::{Block, Params, codec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params = Params::default();
    // A block holds at most max_block_bytes of transactions plus header and certificate.
    let max = params.max_block_bytes as usize + 64 * 1024;
    let Ok(block) = codec::decode::<Block>(data, max, "block") else {
        return;
    };
    let bytes = codec::encode(&block);
    assert_eq!(bytes, data, "decoded block is not canonical");
    assert_eq!(codec::decode::<Block>(&bytes, max, "block").as_ref(), Ok(&block));
    let hash = block.hash();
    let _ = block.certificate.verify("cairn-fuzz", &hash);
    for stx in &block.txs {
        let size = stx.to_bytes().len();
        let _ = stx.check_stateless(&stx.tx.chain_id, &params, size);
    }
});
