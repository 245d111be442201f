//! Free-space path loss in integer arithmetic, so every node gets the same answer.
//!
//! FSPL(dB) = 20·log10(d / 1 m) + 20·log10(f / 1 kHz) − 87.56 (the usual 32.44 constant for
//! km and MHz, moved to metres and kilohertz). Values are in centi-decibels (0.01 dB).
//! log10 comes from a fixed-point log2 (32 fractional bits, by repeated squaring), each step
//! rounding down.

/// log2(x) in Q32 (x ≥ 1), rounded down.
fn log2_q32(x: u64) -> u64 {
    let x = x.max(1);
    let k = 63 - u64::from(x.leading_zeros());
    // y = x / 2^k in Q62, in [1, 2).
    let mut y: u128 = if k <= 62 { u128::from(x) << (62 - k) } else { u128::from(x) >> (k - 62) };
    let mut frac: u64 = 0;
    for bit in (0..32).rev() {
        y = (y * y) >> 62;
        if y >= 2u128 << 62 {
            y >>= 1;
            frac |= 1 << bit;
        }
    }
    (k << 32) | frac
}

/// log10(2) in Q32.
const LOG10_2_Q32: u128 = 1_292_913_987;

/// 20·log10(x) in centi-dB, rounded down.
pub fn db20_cdb(x: u64) -> i64 {
    let log10_q64 = u128::from(log2_q32(x)) * LOG10_2_Q32; // Q64
    // 20 dB × 100 centi = 2000.
    ((log10_q64 * 2000) >> 64) as i64
}

/// Free-space path loss for `distance_m` metres at `frequency_khz`, in centi-dB.
pub fn fspl_cdb(distance_m: u64, frequency_khz: u64) -> i64 {
    db20_cdb(distance_m) + db20_cdb(frequency_khz) - 8_756
}

/// The strongest signal physics allows at the witness, in centi-dBm: transmit power minus
/// the path loss, plus the tolerance.
pub fn max_rssi_cdbm(
    tx_power_dbm: i16,
    distance_m: u64,
    frequency_khz: u64,
    tolerance_cdb: i64,
) -> i64 {
    i64::from(tx_power_dbm) * 100 - fspl_cdb(distance_m, frequency_khz) + tolerance_cdb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_of_powers_of_ten_are_exact_to_a_hundredth_of_a_db() {
        assert_eq!(db20_cdb(1), 0);
        for (x, want) in [(10u64, 2_000), (100, 4_000), (1_000, 6_000), (1_000_000, 12_000)] {
            let got = db20_cdb(x);
            assert!((want - 1..=want).contains(&got), "20·log10({x}) = {got}");
        }
        // 20·log10(2) = 6.0206 dB.
        assert!((601..=602).contains(&db20_cdb(2)), "{}", db20_cdb(2));
    }

    /// Worked by hand: 1 km at 868.1 MHz.
    /// 20·log10(1000 m) = 60.000; 20·log10(868 100 kHz) = 20 × 5.93857 = 118.771;
    /// FSPL = 60.000 + 118.771 − 87.56 = 91.211 dB. With 14 dBm transmitted and 3 dB of
    /// tolerance the strongest believable RSSI is 14 − 91.211 + 3 = −74.21 dBm.
    #[test]
    fn fspl_matches_hand_computed_figures() {
        let f = fspl_cdb(1_000, 868_100);
        assert!((9_120..=9_122).contains(&f), "FSPL {f}");
        let max = max_rssi_cdbm(14, 1_000, 868_100, 300);
        assert!((-7_422..=-7_420).contains(&max), "max RSSI {max}");
        // 10 km: 20 dB more loss (FSPL 111.21 dB).
        let f10 = fspl_cdb(10_000, 868_100);
        assert!((11_120..=11_122).contains(&f10), "FSPL {f10}");
        // 500 m at 915 MHz: 20·log10(500) = 53.979, 20·log10(915 000) = 119.228,
        // FSPL = 53.979 + 119.228 − 87.56 = 85.647 dB.
        let f2 = fspl_cdb(500, 915_000);
        assert!((8_563..=8_565).contains(&f2), "FSPL {f2}");
    }
}
