//! `SignedTx::from_bytes` on arbitrary wire bytes, exactly as the node's API decodes a
//! submitted transaction. Decoding must never panic; whatever decodes must be canonical
//! (re-encoding gives the input back byte for byte, so one transaction has one hash), and
//! the stateless checks must not panic on it.
#![no_main]

use cairn_types::{Params, SignedTx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params = Params::default();
    let max = params.max_tx_bytes as usize;
    let Ok(stx) = SignedTx::from_bytes(data, max) else {
        return;
    };
    assert_eq!(stx.to_bytes(), data, "decoded transaction is not canonical");
    assert_eq!(SignedTx::from_bytes(&stx.to_bytes(), max).as_ref(), Ok(&stx));
    let _ = stx.hash();
    // Against its own chain id (so every check up to the signature runs) and another one.
    let own = stx.tx.chain_id.clone();
    let _ = stx.check_stateless(&own, &params, data.len());
    let _ = stx.check_stateless("cairn-fuzz", &params, data.len());
    let _ = stx.check_shape(&own, &params, usize::MAX);
});
