//! Data credits: non-transferable units of fixed fiat value, minted only by burning CRN at
//! the oracle price (docs/adr/0010-data-credits.md).

use crate::{Address, Amount, Height, TxFailure};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Most oracles the chain lists.
pub const MAX_ORACLES: usize = 32;

/// Highest price an oracle may report: 10^18 nano-dollars ($1 billion) per CRN
/// (`price_too_high` above). Far above any real price, it keeps one report from naming a
/// number whose products are meaningless; minting's arithmetic is checked regardless.
pub const MAX_NANO_USD_PER_CRN: u128 = 1_000_000_000_000_000_000;

/// Default `credits.min_oracles`: the median needs three fresh reports, so one oracle
/// alone cannot set the price.
pub const DEFAULT_MIN_ORACLES: u32 = 3;

#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct CreditParams {
    /// The fiat value of one credit in nano-dollars (10 000 = $0.00001).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub credit_value_nano_usd: u128,
    /// Price reports older than this many blocks are ignored; minting refuses a price
    /// without any fresh report.
    pub price_max_age_blocks: u64,
    /// CRN burned for credits is minted back into the reward pools, at most this much per
    /// epoch (burn-and-mint equilibrium).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub remint_cap_per_epoch: Amount,
    /// Oracles listed at genesis (the admin key changes the list later).
    pub oracles: Vec<Address>,
    /// Fresh reports the price needs: minting fails with fewer (`not_enough_oracles`, or
    /// `stale_price` with none). 1 to [`MAX_ORACLES`].
    pub min_oracles: u32,
}

impl Default for CreditParams {
    fn default() -> Self {
        CreditParams {
            credit_value_nano_usd: 10_000,
            price_max_age_blocks: 100,
            remint_cap_per_epoch: 5_000 * crate::UNITS_PER_CRN,
            oracles: Vec::new(),
            min_oracles: DEFAULT_MIN_ORACLES,
        }
    }
}

/// An oracle's last price: nano-dollars per whole CRN, and when it was reported.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct PriceReport {
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub nano_usd_per_crn: u128,
    pub height: Height,
}

/// Credits in existence: minted, consumed (burned by use), and held in escrows.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct CreditSupply {
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub minted: u128,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub consumed: u128,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub escrowed: u128,
}

/// The fresh prices at `height` (reports at most `max_age` blocks old), ascending.
pub fn fresh_prices(reports: &[PriceReport], height: Height, max_age: u64) -> Vec<u128> {
    let mut fresh: Vec<u128> = reports
        .iter()
        .filter(|r| r.height <= height && height - r.height <= max_age)
        .map(|r| r.nano_usd_per_crn)
        .collect();
    fresh.sort_unstable();
    fresh
}

/// The lower median of the fresh reports at `height` (those at most `max_age` blocks old),
/// or None without any.
pub fn median_price(reports: &[PriceReport], height: Height, max_age: u64) -> Option<u128> {
    let fresh = fresh_prices(reports, height, max_age);
    fresh.get(fresh.len().checked_sub(1)? / 2).copied()
}

/// Why there is no price to mint at: no fresh report, or fewer than the quorum. Receipts
/// record it as `stale_price` / `not_enough_oracles`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoQuorum {
    #[error("no fresh price: no oracle reported within {max_age} blocks")]
    Stale { max_age: u64 },
    #[error("only {fresh} fresh price reports; the price needs {min}")]
    TooFew { fresh: u32, min: u32 },
}

impl From<NoQuorum> for TxFailure {
    fn from(e: NoQuorum) -> TxFailure {
        match e {
            NoQuorum::Stale { max_age } => TxFailure::StalePrice { max_age },
            NoQuorum::TooFew { fresh, min } => TxFailure::NotEnoughOracles { fresh, min },
        }
    }
}

/// The price minting uses at `height`: the lower median of the fresh reports when there
/// are at least `min_oracles` of them (`stale_price` with none, `not_enough_oracles` with
/// some but too few).
pub fn quorum_price(
    reports: &[PriceReport],
    height: Height,
    max_age: u64,
    min_oracles: u32,
) -> Result<u128, NoQuorum> {
    let fresh = fresh_prices(reports, height, max_age);
    let count = u32::try_from(fresh.len()).unwrap_or(u32::MAX);
    if count == 0 {
        return Err(NoQuorum::Stale { max_age });
    }
    if count < min_oracles.max(1) {
        return Err(NoQuorum::TooFew { fresh: count, min: min_oracles });
    }
    fresh.get((fresh.len() - 1) / 2).copied().ok_or(NoQuorum::Stale { max_age })
}

/// Credits bought by burning `crn` base units at `nano_usd_per_crn`, rounded down:
/// crn × price / (10^6 × credit value); None when the count does not fit a u128 (or the
/// credit value is 0), never a wrapped or saturated count.
pub fn credits_for(
    crn: Amount,
    nano_usd_per_crn: u128,
    credit_value_nano_usd: u128,
) -> Option<u128> {
    let per = crate::UNITS_PER_CRN.checked_mul(credit_value_nano_usd)?;
    checked_mul_div(crn, nano_usd_per_crn, per)
}

/// `a × b / c` rounded down, or None when c is 0 or the quotient needs more than 128 bits.
pub fn checked_mul_div(a: u128, b: u128, c: u128) -> Option<u128> {
    if c == 0 {
        return None;
    }
    if let Some(p) = a.checked_mul(b) {
        return Some(p / c);
    }
    // The quotient fits iff a × b < c × 2^128, that is iff the product's high half is
    // below c; `mul_div` is then exact.
    (mul_high(a, b) < c).then(|| crate::rewards::mul_div(a, b, c))
}

/// The high 128 bits of the 256-bit product a × b.
fn mul_high(a: u128, b: u128) -> u128 {
    let m = u128::from(u64::MAX);
    let (a1, a0) = (a >> 64, a & m);
    let (b1, b0) = (b >> 64, b & m);
    let lo = a0 * b0;
    let (mid, mid_carry) = (a1 * b0).overflowing_add(a0 * b1);
    let (_, carry) = lo.overflowing_add(mid << 64);
    a1 * b1 + (mid >> 64) + (u128::from(mid_carry) << 64) + u128::from(carry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(p: u128, h: u64) -> PriceReport {
        PriceReport { nano_usd_per_crn: p, height: h }
    }

    #[test]
    fn the_median_takes_only_fresh_reports_and_the_lower_middle() {
        let reports = [r(300, 100), r(100, 95), r(200, 90), r(900, 10)];
        // At 100 with max age 10: 300, 100, 200 → 200. The stale 900 is ignored.
        assert_eq!(median_price(&reports, 100, 10), Some(200));
        // Max age 5: 300, 100 → lower middle 100.
        assert_eq!(median_price(&reports, 100, 5), Some(100));
        // Exactly max_age old counts; one block more does not.
        assert_eq!(median_price(&[r(7, 90)], 100, 10), Some(7));
        assert_eq!(median_price(&[r(7, 89)], 100, 10), None);
        assert_eq!(median_price(&[], 100, 10), None);
    }

    #[test]
    fn credits_are_bought_at_the_oracle_price_rounded_down() {
        // 1 CRN at $1.25 = 1 250 000 000 nano-dollars buys 125 000 credits of $0.00001.
        assert_eq!(credits_for(1_000_000, 1_250_000_000, 10_000), Some(125_000));
        // 0.000001 CRN (1 unit) at $1.25 is $0.00000125: no whole credit.
        assert_eq!(credits_for(1, 1_250_000_000, 10_000), Some(0));
        // 9 units: 9 × 1.25e9 / 1e10 = 1.125 → 1.
        assert_eq!(credits_for(9, 1_250_000_000, 10_000), Some(1));
    }

    #[test]
    fn credits_beyond_a_u128_are_none_not_a_wrapped_count() {
        // At u128::MAX nano-dollars per CRN and $0.00001 credits, 10 000 CRN buy exactly
        // u128::MAX credits; 20 000 CRN would buy twice that, which the old arithmetic kept
        // modulo 2^128.
        let crn = crate::UNITS_PER_CRN;
        assert_eq!(credits_for(10_000 * crn, u128::MAX, 10_000), Some(u128::MAX));
        assert_eq!(credits_for(20_000 * crn, u128::MAX, 10_000), None);
        // Just fitting and just not: a × b / c with the quotient exactly u128::MAX.
        assert_eq!(checked_mul_div(u128::MAX, 2, 2), Some(u128::MAX));
        assert_eq!(checked_mul_div(u128::MAX, 3, 2), None);
        assert_eq!(checked_mul_div(1 << 127, 4, 2), None);
        assert_eq!(checked_mul_div(1 << 127, 4, 4), Some(1 << 127));
        assert_eq!(checked_mul_div(5, 3, 0), None);
        assert_eq!(credits_for(1, 1, 0), None);
        // The highest price a report may carry, at the smallest credit value, still buys
        // whole CRN's worth for every amount up to about 3.4e20 CRN.
        let most = u128::MAX / (MAX_NANO_USD_PER_CRN / crate::UNITS_PER_CRN);
        assert!(credits_for(most, MAX_NANO_USD_PER_CRN, 1).is_some());
        assert_eq!(credits_for(most + 1, MAX_NANO_USD_PER_CRN, 1), None);
    }

    #[test]
    fn the_price_needs_min_oracles_fresh_reports() {
        let reports = [r(300, 100), r(100, 95), r(200, 90), r(900, 10)];
        assert_eq!(quorum_price(&reports, 100, 10, 3), Ok(200));
        // One fresh report alone does not set the price when three are needed.
        assert_eq!(
            quorum_price(&[r(u128::MAX, 100)], 100, 10, 3).map_err(TxFailure::from),
            Err(TxFailure::NotEnoughOracles { fresh: 1, min: 3 })
        );
        assert_eq!(
            quorum_price(&reports, 100, 5, 3).map_err(TxFailure::from),
            Err(TxFailure::NotEnoughOracles { fresh: 2, min: 3 })
        );
        assert_eq!(quorum_price(&reports, 100, 5, 2), Ok(100));
        assert_eq!(
            quorum_price(&[r(7, 89)], 100, 10, 1).map_err(TxFailure::from),
            Err(TxFailure::StalePrice { max_age: 10 })
        );
        assert_eq!(quorum_price(&[r(7, 90)], 100, 10, 1), Ok(7));
    }

    /// A missing quorum lands on the receipt as the variant it always had.
    #[test]
    fn every_no_quorum_maps_onto_its_receipt_failure() {
        for (e, code, failure) in [
            (NoQuorum::Stale { max_age: 5 }, "stale_price", TxFailure::StalePrice { max_age: 5 }),
            (
                NoQuorum::TooFew { fresh: 1, min: 3 },
                "not_enough_oracles",
                TxFailure::NotEnoughOracles { fresh: 1, min: 3 },
            ),
        ] {
            assert_eq!(e.to_string(), failure.to_string());
            let got = TxFailure::from(e);
            assert_eq!(got.code(), code);
            assert_eq!(got, failure);
        }
    }
}
