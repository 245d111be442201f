//! Data credits: non-transferable units of fixed fiat value, minted only by burning CRN at
//! the oracle price (docs/adr/0010-data-credits.md).

use crate::{Address, Amount, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Most oracles the chain lists.
pub const MAX_ORACLES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CreditParams {
    /// The fiat value of one credit in nano-dollars (10 000 = $0.00001).
    #[serde(with = "crate::api::amount_str")]
    pub credit_value_nano_usd: u128,
    /// Price reports older than this many blocks are ignored; minting refuses a price
    /// without any fresh report.
    pub price_max_age_blocks: u64,
    /// CRN burned for credits is minted back into the reward pools, at most this much per
    /// epoch (burn-and-mint equilibrium).
    #[serde(with = "crate::api::amount_str")]
    pub remint_cap_per_epoch: Amount,
    /// Oracles listed at genesis (the admin key changes the list later).
    pub oracles: Vec<Address>,
}

impl Default for CreditParams {
    fn default() -> Self {
        CreditParams {
            credit_value_nano_usd: 10_000,
            price_max_age_blocks: 100,
            remint_cap_per_epoch: 5_000 * crate::UNITS_PER_CRN,
            oracles: Vec::new(),
        }
    }
}

/// An oracle's last price: nano-dollars per whole CRN, and when it was reported.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct PriceReport {
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
)]
pub struct CreditSupply {
    #[serde(with = "crate::api::amount_str")]
    pub minted: u128,
    #[serde(with = "crate::api::amount_str")]
    pub consumed: u128,
    #[serde(with = "crate::api::amount_str")]
    pub escrowed: u128,
}

/// The lower median of the fresh reports at `height` (those at most `max_age` blocks old),
/// or None without any.
pub fn median_price(reports: &[PriceReport], height: Height, max_age: u64) -> Option<u128> {
    let mut fresh: Vec<u128> = reports
        .iter()
        .filter(|r| r.height <= height && height - r.height <= max_age)
        .map(|r| r.nano_usd_per_crn)
        .collect();
    fresh.sort_unstable();
    fresh.get(fresh.len().checked_sub(1)? / 2).copied()
}

/// Credits bought by burning `crn` base units at `nano_usd_per_crn`, rounded down:
/// crn × price / (10^6 × credit value).
pub fn credits_for(crn: Amount, nano_usd_per_crn: u128, credit_value_nano_usd: u128) -> u128 {
    let per = (crate::UNITS_PER_CRN).saturating_mul(credit_value_nano_usd);
    crate::rewards::mul_div(crn, nano_usd_per_crn, per.max(1))
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
        assert_eq!(credits_for(1_000_000, 1_250_000_000, 10_000), 125_000);
        // 0.000001 CRN (1 unit) at $1.25 is $0.00000125: no whole credit.
        assert_eq!(credits_for(1, 1_250_000_000, 10_000), 0);
        // 9 units: 9 × 1.25e9 / 1e10 = 1.125 → 1.
        assert_eq!(credits_for(9, 1_250_000_000, 10_000), 1);
    }
}
