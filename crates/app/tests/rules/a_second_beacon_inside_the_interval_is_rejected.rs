//! At most one beacon per device per `beacon_interval_blocks`: a second beacon one block
//! before the interval ends is `beacon_interval` (naming the next allowed height); at that
//! height it is accepted.

use cairn_testkit::coverage::{BEACON_INTERVAL, Field};
use cairn_types::device::RejectReason;

#[test]
fn a_second_beacon_inside_the_interval_is_rejected() {
    let mut f = Field::start("it-beacon-interval");
    let a = f.a.clone();
    let x = f.hotspot(&a, None);
    let first = f.beacon(&x);
    let next = first + BEACON_INTERVAL;

    f.advance_to(next - 1);
    let head = f.height();
    let early = f.beacon_report(&x, head);
    let (at, accepted, rejected) = f.submit(vec![early]);
    assert_eq!((at, accepted), (next - 1, 0));
    assert_eq!(rejected, vec![(0, RejectReason::BeaconInterval { last: first, next })]);

    let head = f.height();
    let on_time = f.beacon_report(&x, head);
    let (at, accepted, rejected) = f.submit(vec![on_time]);
    assert_eq!((at, accepted, rejected), (next, 1, vec![]));
}
