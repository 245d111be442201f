//! The identity checks of a witness: the beaconer cannot witness its own beacon
//! (`self_witness`), a hotspot of the same owner cannot witness it (`same_owner`), a hotspot
//! without a location cannot witness (`no_location`), and a beacon that was never accepted
//! cannot be witnessed (`unknown_beacon`). A proper witness in the same batch is accepted.

use cairn_testkit::coverage::{FREQ, Field, WEAK, at_distance};
use cairn_types::device::RejectReason;

#[test]
fn a_hotspot_cannot_witness_itself_its_owners_beacons_or_beacons_that_never_were() {
    let mut f = Field::start("it-witness-identity");
    let a = f.a.clone();
    let sibling = f.hotspot(&a, Some(at_distance(f.home, 10)));
    f.beacon(&sibling);
    let b = f.b.clone();
    let nowhere = f.hotspot(&b, None);
    f.beacon(&nowhere);
    let good = f.witness_at(10);
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    let batch = vec![
        f.witness(&beaconer, hb, WEAK, FREQ),
        f.witness(&sibling, hb, WEAK, FREQ),
        f.witness(&nowhere, hb, WEAK, FREQ),
        f.witness(&good, hb - 1, WEAK, FREQ),
        f.witness(&good, hb, WEAK, FREQ),
    ];
    let (_, accepted, rejected) = f.submit(batch);
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
}
