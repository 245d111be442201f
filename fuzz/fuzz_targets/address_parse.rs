//! `Address::from_bech32` and `Hash::from_hex` on arbitrary UTF-8 (both parse user input from
//! the CLI and every JSON body of the API). Neither may panic; whatever parses must print
//! back to a string that parses to the same value, and the printed form must be canonical.
#![no_main]

use cairn_types::{Address, Hash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(addr) = Address::from_bech32(s) {
        let printed = addr.to_bech32();
        assert_eq!(Address::from_bech32(&printed), Ok(addr));
        // Inputs may differ only in letter case (bech32 allows all-uppercase).
        assert_eq!(printed, s.to_ascii_lowercase(), "address parsed from a non-canonical form");
    }
    if let Ok(hash) = Hash::from_hex(s) {
        let printed = hash.to_hex();
        assert_eq!(Hash::from_hex(&printed), Ok(hash));
        let digits = s.strip_prefix("0x").unwrap_or(s);
        assert_eq!(printed, digits.to_ascii_lowercase());
    }
});
