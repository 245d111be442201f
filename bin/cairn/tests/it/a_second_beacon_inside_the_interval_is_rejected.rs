//! At most one beacon per device per `beacon_interval_blocks`: a second beacon one block
//! before the interval ends is `beacon_interval` (naming the next allowed height); at that
//! height it is accepted.

use crate::coverage_support::{BEACON_INTERVAL, Field};
use crate::harness;
use cairn_types::device::RejectReason;
use std::time::Duration;

#[test]
fn a_second_beacon_inside_the_interval_is_rejected() {
    harness::run(Duration::from_secs(60), async {
        let mut f = Field::start("it-beacon-interval").await;
        let a = f.a.clone();
        let x = f.hotspot(&a, None).await;
        let first = f.beacon(&x).await;
        let next = first + BEACON_INTERVAL;

        f.advance_to(next - 1).await;
        let head = f.height().await;
        let early = f.beacon_report(&x, head).await;
        let (at, accepted, rejected) = f.submit(vec![early]).await;
        assert_eq!((at, accepted), (next - 1, 0));
        assert_eq!(rejected, vec![(0, RejectReason::BeaconInterval { last: first, next })]);

        let head = f.height().await;
        let on_time = f.beacon_report(&x, head).await;
        let (at, accepted, rejected) = f.submit(vec![on_time]).await;
        assert_eq!((at, accepted, rejected), (next, 1, vec![]));
    });
}
