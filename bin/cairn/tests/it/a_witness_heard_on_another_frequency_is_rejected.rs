//! A witness must hear the beacon within `max_frequency_delta_khz` (100 kHz) of its
//! frequency: 100 kHz off is accepted, 101 kHz off is `frequency_mismatch`.

use crate::coverage_support::{FREQ, Field, WEAK};
use crate::harness;
use cairn_types::device::RejectReason;
use std::time::Duration;

#[test]
fn a_witness_heard_on_another_frequency_is_rejected() {
    harness::run(Duration::from_secs(60), async {
        let mut f = Field::start("it-frequency").await;
        let (x, y) = (f.witness_at(10).await, f.witness_at(11).await);
        let beaconer = f.beaconer.clone();
        let hb = f.beacon(&beaconer).await;
        let batch = vec![f.witness(&x, hb, WEAK, FREQ + 100), f.witness(&y, hb, WEAK, FREQ - 101)];
        let (_, accepted, rejected) = f.submit(batch).await;
        assert_eq!(accepted, 1);
        assert_eq!(
            rejected,
            vec![(
                1,
                RejectReason::FrequencyMismatch { got: FREQ - 101, beacon: FREQ, max_delta: 100 }
            )]
        );
    });
}
