//! Cairn's shared vocabulary: ids, amounts, keys and signatures, transactions, blocks,
//! receipts, genesis and parameters, and the canonical encoding used to hash and sign them.
//!
//! Nothing here does I/O. Every other crate (state machine, store, node, client, CLI) builds
//! on these types, so they stay small and stable.

pub mod address;
pub mod api;
pub mod appended;
pub mod block;
pub mod codec;
pub mod compute;
pub mod consensus;
pub mod cost;
pub mod credits;
pub mod crypto;
pub mod device;
pub mod device_key;
pub mod genesis;
pub mod gov;
pub mod hash;
pub mod merkle;
pub mod openapi;
pub mod receipt;
pub mod rewards;
pub mod routes;
pub mod storage;
pub mod tx;
pub mod usage;
pub mod vectors;

pub use address::{Address, AddressError};
pub use block::{Block, BlockHeader, Certificate};
pub use crypto::{Keypair, Signature};
pub use device::{DeviceClass, Report, ReportPayload, SignedReport};
pub use device_key::{DeviceId, DeviceKey, DeviceSignature, DeviceSigner};
pub use genesis::{Genesis, Params};
pub use hash::Hash;
pub use receipt::{Receipt, TxFailure, TxOutcome, TxStatus};
pub use tx::{SignedTx, Transaction, TxBody};

/// Token amounts in base units. One CRN is `10^DECIMALS` base units.
pub type Amount = u128;
/// Block height. Genesis state is height 0; the first block is height 1.
pub type Height = u64;
/// Number of decimal places of CRN.
pub const DECIMALS: u32 = 6;
/// Base units in one CRN.
pub const UNITS_PER_CRN: Amount = 1_000_000;

/// Formats base units as a decimal CRN string, e.g. `1500000` → `"1.5"`.
pub fn format_crn(amount: Amount) -> String {
    let whole = amount / UNITS_PER_CRN;
    let frac = amount % UNITS_PER_CRN;
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:06}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Parses a decimal CRN string (at most 6 decimals) into base units.
pub fn parse_crn(s: &str) -> Result<Amount, AmountParseError> {
    let bad = || AmountParseError(s.to_string());
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if frac.len() > DECIMALS as usize
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: Amount = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let frac_units: Amount = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<6}");
        padded.parse().map_err(|_| bad())?
    };
    whole.checked_mul(UNITS_PER_CRN).and_then(|w| w.checked_add(frac_units)).ok_or_else(bad)
}

/// A CRN amount string that is not a decimal with at most 6 places, or overflows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CRN amount {0:?}: expected a decimal number with at most 6 places")]
pub struct AmountParseError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crn_round_trip() {
        assert_eq!(format_crn(1_500_000), "1.5");
        assert_eq!(format_crn(1), "0.000001");
        assert_eq!(format_crn(7_000_000), "7");
        assert_eq!(parse_crn("1.5"), Ok(1_500_000));
        assert_eq!(parse_crn("0.000001"), Ok(1));
        assert_eq!(parse_crn(".5"), Ok(500_000));
        assert!(parse_crn("1.0000001").is_err());
        assert!(parse_crn("-1").is_err());
        assert!(parse_crn("").is_err());
        assert!(parse_crn("999999999999999999999999999999999999999").is_err());
    }
}
