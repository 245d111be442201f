//! `serde_json::from_slice` on arbitrary bytes into the request bodies the node accepts
//! (`SubmitTxRequest`, `SubmitBatchRequest`) and into `Genesis` (read from a file). None may
//! panic; whatever parses must serialize and parse back to an equal value, and genesis
//! validation must not panic.
#![no_main]

use cairn_types::Genesis;
use cairn_types::api::{SubmitBatchRequest, SubmitTxRequest};
use libfuzzer_sys::fuzz_target;
use std::fmt::Debug;

fn round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_vec(value).unwrap_or_default();
    let back: T = match serde_json::from_slice(&json) {
        Ok(v) => v,
        Err(e) => panic!("re-parsing our own JSON failed: {e}: {}", String::from_utf8_lossy(&json)),
    };
    assert_eq!(&back, value);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<SubmitTxRequest>(data) {
        round_trip(&req);
    }
    if let Ok(req) = serde_json::from_slice::<SubmitBatchRequest>(data) {
        round_trip(&req);
    }
    if let Ok(genesis) = serde_json::from_slice::<Genesis>(data) {
        round_trip(&genesis);
        let _ = genesis.validate();
        let _ = genesis.total_supply();
        let _ = genesis.hash();
        let _ = genesis.params.epoch_of(u64::MAX);
        let _ = genesis.params.min_fee(usize::MAX);
    }
});
