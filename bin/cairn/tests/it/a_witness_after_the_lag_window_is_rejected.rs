//! A witness must arrive within `witness_lag_blocks` of the beacon: one in the last block of
//! the window is accepted, one a block later is `late_witness`.

use crate::coverage_support::{FREQ, Field, WEAK, WITNESS_LAG};
use crate::harness;
use cairn_types::device::RejectReason;
use std::time::Duration;

#[test]
fn a_witness_after_the_lag_window_is_rejected() {
    harness::run(Duration::from_secs(60), async {
        let mut f = Field::start("it-late-witness").await;
        let (x, y) = (f.witness_at(10).await, f.witness_at(11).await);
        let beaconer = f.beaconer.clone();
        let hb = f.beacon(&beaconer).await;
        f.advance_to(hb + WITNESS_LAG).await;
        let in_time = f.witness(&x, hb, WEAK, FREQ);
        assert_eq!(f.submit(vec![in_time]).await, (hb + WITNESS_LAG, 1, vec![]));
        let late = f.witness(&y, hb, WEAK, FREQ);
        let (at, accepted, rejected) = f.submit(vec![late]).await;
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
    });
}
