//! The identity checks of a witness: the beaconer cannot witness its own beacon
//! (`self_witness`), a hotspot of the same owner cannot witness it (`same_owner`), a hotspot
//! without a location cannot witness (`no_location`), and a beacon that was never accepted
//! cannot be witnessed (`unknown_beacon`). A proper witness in the same batch is accepted.

use crate::coverage_support::{FREQ, Field, WEAK, at_distance};
use crate::harness;
use cairn_types::device::RejectReason;
use std::time::Duration;

#[test]
fn a_hotspot_cannot_witness_itself_its_owners_beacons_or_beacons_that_never_were() {
    harness::run(Duration::from_secs(60), async {
        let mut f = Field::start("it-witness-identity").await;
        let a = f.a.clone();
        let sibling = f.hotspot(&a, Some(at_distance(f.home, 10))).await;
        f.beacon(&sibling).await;
        let b = f.b.clone();
        let nowhere = f.hotspot(&b, None).await;
        f.beacon(&nowhere).await;
        let good = f.witness_at(10).await;
        let beaconer = f.beaconer.clone();
        let hb = f.beacon(&beaconer).await;
        let batch = vec![
            f.witness(&beaconer, hb, WEAK, FREQ),
            f.witness(&sibling, hb, WEAK, FREQ),
            f.witness(&nowhere, hb, WEAK, FREQ),
            f.witness(&good, hb - 1, WEAK, FREQ),
            f.witness(&good, hb, WEAK, FREQ),
        ];
        let (_, accepted, rejected) = f.submit(batch).await;
        assert_eq!(accepted, 1);
        assert_eq!(
            rejected,
            vec![
                (0, RejectReason::SelfWitness),
                (1, RejectReason::SameOwner { owner: a.address() }),
                (2, RejectReason::NoLocation),
                (3, RejectReason::UnknownBeacon { beaconer: beaconer.id(), height: hb - 1 }),
            ]
        );
    });
}
