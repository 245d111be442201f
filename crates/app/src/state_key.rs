//! Every state key is built here and nowhere else.
//!
//! Keys are ASCII prefixes followed by raw bytes; the prefix names the domain so a dump of
//! the state reads naturally and no two domains can collide.

use cairn_types::Address;

/// An account's balance and nonce.
pub fn account(addr: &Address) -> Vec<u8> {
    let mut k = b"acct/".to_vec();
    k.extend_from_slice(addr.as_bytes());
    k
}

/// Chain parameters.
pub fn params() -> Vec<u8> {
    b"meta/params".to_vec()
}

/// Chain id and the solo validator.
pub fn chain() -> Vec<u8> {
    b"meta/chain".to_vec()
}

/// Supply accounting: genesis supply and burned amounts.
pub fn supply() -> Vec<u8> {
    b"meta/supply".to_vec()
}

/// Height and time of the last executed block (written every block, so every block
/// changes the state root and the root commits to the height).
pub fn last_block() -> Vec<u8> {
    b"meta/last_block".to_vec()
}
