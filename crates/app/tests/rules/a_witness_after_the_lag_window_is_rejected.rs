//! A witness must arrive within `witness_lag_blocks` of the beacon: one in the last block of
//! the window is accepted, one a block later is `late_witness`.

use cairn_testkit::coverage::{FREQ, Field, WEAK, WITNESS_LAG};
use cairn_types::device::RejectReason;

#[test]
fn a_witness_after_the_lag_window_is_rejected() {
    let mut f = Field::start("it-late-witness");
    let (x, y) = (f.witness_at(10), f.witness_at(11));
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    f.advance_to(hb + WITNESS_LAG);
    let in_time = f.witness(&x, hb, WEAK, FREQ);
    assert_eq!(f.submit(vec![in_time]), (hb + WITNESS_LAG, 1, vec![]));
    let late = f.witness(&y, hb, WEAK, FREQ);
    let (at, accepted, rejected) = f.submit(vec![late]);
    assert_eq!((at, accepted), (hb + WITNESS_LAG + 1, 0));
    assert_eq!(
        rejected,
        vec![(
            0,
            RejectReason::LateWitness {
                beacon_height: hb,
                height: hb + WITNESS_LAG + 1,
                max_lag: WITNESS_LAG
            }
        )]
    );
}
