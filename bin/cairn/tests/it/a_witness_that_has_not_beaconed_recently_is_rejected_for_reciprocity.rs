//! A witness must itself have beaconed validly in the last `reciprocity_blocks`: a witness
//! whose beacon is exactly that old is accepted, one whose beacon is a block older is
//! `no_reciprocity` naming its last beacon, and one that never beaconed names none.

use crate::coverage_support::{FREQ, Field, RECIPROCITY, WEAK, WITNESS_LAG, at_distance};
use crate::harness;
use cairn_types::device::RejectReason;
use std::time::Duration;

#[test]
fn a_witness_that_has_not_beaconed_recently_is_rejected_for_reciprocity() {
    harness::run(Duration::from_secs(60), async {
        let mut f = Field::start("it-reciprocity").await;
        let b = f.b.clone();
        let x = f.hotspot(&b, Some(at_distance(f.home, 10))).await;
        let y = f.hotspot(&b, Some(at_distance(f.home, 11))).await;
        let silent = f.hotspot(&b, Some(at_distance(f.home, 12))).await;
        // x and y beacon in the same block.
        let head = f.height().await;
        let beacons = vec![f.beacon_report(&x, head).await, f.beacon_report(&y, head).await];
        let (hx, accepted, _) = f.submit(beacons).await;
        assert_eq!(accepted, 2);
        // At hx + RECIPROCITY x's beacon is exactly as old as allowed; a block later y's is
        // one block too old.
        let h = hx + RECIPROCITY;
        f.advance_to(h - 1).await;
        let beaconer = f.beaconer.clone();
        let hb = f.beacon(&beaconer).await;
        assert!(h + 1 - hb <= WITNESS_LAG);
        let batch = vec![f.witness(&x, hb, WEAK, FREQ), f.witness(&silent, hb, WEAK, FREQ)];
        let (at, accepted, rejected) = f.submit(batch).await;
        assert_eq!((at, accepted), (h, 1));
        assert_eq!(
            rejected,
            vec![(1, RejectReason::NoReciprocity { last_beacon: None, window: RECIPROCITY })]
        );
        let late = f.witness(&y, hb, WEAK, FREQ);
        let (at, accepted, rejected) = f.submit(vec![late]).await;
        assert_eq!((at, accepted), (h + 1, 0));
        assert_eq!(
            rejected,
            vec![(0, RejectReason::NoReciprocity { last_beacon: Some(hx), window: RECIPROCITY })]
        );
    });
}
