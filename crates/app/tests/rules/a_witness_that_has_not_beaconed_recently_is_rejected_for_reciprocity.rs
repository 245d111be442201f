//! A witness must itself have beaconed validly in the last `reciprocity_blocks`: a witness
//! whose beacon is exactly that old is accepted, one whose beacon is a block older is
//! `no_reciprocity` naming its last beacon, and one that never beaconed names none.

use cairn_testkit::coverage::{FREQ, Field, RECIPROCITY, WEAK, WITNESS_LAG, at_distance};
use cairn_types::device::RejectReason;

#[test]
fn a_witness_that_has_not_beaconed_recently_is_rejected_for_reciprocity() {
    let mut f = Field::start("it-reciprocity");
    let b = f.b.clone();
    let x = f.hotspot(&b, Some(at_distance(f.home, 10)));
    let y = f.hotspot(&b, Some(at_distance(f.home, 11)));
    let silent = f.hotspot(&b, Some(at_distance(f.home, 12)));
    // x and y beacon in the same block.
    let head = f.height();
    let beacons = vec![f.beacon_report(&x, head), f.beacon_report(&y, head)];
    let (hx, accepted, _) = f.submit(beacons);
    assert_eq!(accepted, 2);
    // At hx + RECIPROCITY x's beacon is exactly as old as allowed; a block later y's is
    // one block too old.
    let h = hx + RECIPROCITY;
    f.advance_to(h - 1);
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    assert!(h + 1 - hb <= WITNESS_LAG);
    let batch = vec![f.witness(&x, hb, WEAK, FREQ), f.witness(&silent, hb, WEAK, FREQ)];
    let (at, accepted, rejected) = f.submit(batch);
    assert_eq!((at, accepted), (h, 1));
    assert_eq!(
        rejected,
        vec![(1, RejectReason::NoReciprocity { last_beacon: None, window: RECIPROCITY })]
    );
    let late = f.witness(&y, hb, WEAK, FREQ);
    let (at, accepted, rejected) = f.submit(vec![late]);
    assert_eq!((at, accepted), (h + 1, 0));
    assert_eq!(
        rejected,
        vec![(0, RejectReason::NoReciprocity { last_beacon: Some(hx), window: RECIPROCITY })]
    );
}
