//! `tree::verify_proof` with an arbitrary root, key, value and proof bytes (proofs come from
//! untrusted nodes over the API). It must return Ok or an error, never panic.
#![no_main]

use cairn_state::tree::verify_proof;
use cairn_types::Hash;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    root: [u8; 32],
    key: &'a [u8],
    value: Option<&'a [u8]>,
    proof: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let _ = verify_proof(Hash(input.root), input.key, input.value, input.proof);
    // The same proof against the all-zero root and as an exclusion proof.
    let _ = verify_proof(Hash::ZERO, input.key, None, input.proof);
});
