//! A witness must hear the beacon within `max_frequency_delta_khz` (100 kHz) of its
//! frequency: 100 kHz off is accepted, 101 kHz off is `frequency_mismatch`.

use cairn_testkit::coverage::{FREQ, Field, WEAK};
use cairn_types::device::RejectReason;

#[test]
fn a_witness_heard_on_another_frequency_is_rejected() {
    let mut f = Field::start("it-frequency");
    let (x, y) = (f.witness_at(10), f.witness_at(11));
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    let batch = vec![f.witness(&x, hb, WEAK, FREQ + 100), f.witness(&y, hb, WEAK, FREQ - 101)];
    let (_, accepted, rejected) = f.submit(batch);
    assert_eq!(accepted, 1);
    assert_eq!(
        rejected,
        vec![(
            1,
            RejectReason::FrequencyMismatch { got: FREQ - 101, beacon: FREQ, max_delta: 100 }
        )]
    );
}
