//! A witness may report at most the power free-space path loss leaves at its distance, plus
//! the tolerance. At 10 cells (10 × 49.60 m = 496 m) on 868.1 MHz from a 14 dBm beacon, worked
//! by hand with each logarithm rounded down to a hundredth of a dB as the chain does:
//! FSPL = 20·log10(496) + 20·log10(868 100) − 87.56 = 53.90 + 118.77 − 87.56 = 85.11 dB, so
//! the maximum is 14 − 85.11 + 3 (tolerance) = −68.11 dBm. −68.11 dBm is accepted and
//! −68.10 dBm is `rssi_above_fspl`.

use cairn_testkit::coverage::{FREQ, Field};
use cairn_types::device::RejectReason;

#[test]
fn a_witness_stronger_than_free_space_path_loss_allows_is_rejected() {
    let mut f = Field::start("it-fspl");
    let (x, y) = (f.witness_at(10), f.witness_at(10));
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    let max_cdbm = -6_811;
    let batch = vec![f.witness(&x, hb, max_cdbm, FREQ), f.witness(&y, hb, max_cdbm + 1, FREQ)];
    let (_, accepted, rejected) = f.submit(batch);
    assert_eq!(accepted, 1);
    assert_eq!(
        rejected,
        vec![(
            1,
            RejectReason::RssiAboveFspl {
                rssi_cdbm: max_cdbm + 1,
                max_cdbm: i64::from(max_cdbm),
                distance_m: 496
            }
        )]
    );
}
