//! A witness may stand at most `max_witness_cells` resolution-11 cells from the beaconer:
//! one exactly that far is accepted, one a cell farther is `too_far`.

use crate::coverage_support::{FREQ, Field, MAX_CELLS, WEAK};
use crate::harness;
use cairn_types::device::RejectReason;
use std::time::Duration;

#[test]
fn witnesses_farther_than_the_maximum_distance_are_rejected() {
    harness::run(Duration::from_secs(60), async {
        let mut f = Field::start("it-too-far").await;
        let ok = f.witness_at(MAX_CELLS as u32).await;
        let far = f.witness_at(MAX_CELLS as u32 + 1).await;
        let beaconer = f.beaconer.clone();
        let hb = f.beacon(&beaconer).await;
        let batch = vec![f.witness(&far, hb, WEAK, FREQ), f.witness(&ok, hb, WEAK, FREQ)];
        let (_, accepted, rejected) = f.submit(batch).await;
        assert_eq!(accepted, 1);
        assert_eq!(
            rejected,
            vec![(0, RejectReason::TooFar { cells: MAX_CELLS + 1, max: MAX_CELLS })]
        );
    });
}
