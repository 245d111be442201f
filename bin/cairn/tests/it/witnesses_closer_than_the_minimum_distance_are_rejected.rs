//! A witness must stand at least `min_witness_cells` resolution-11 cells from the beaconer:
//! one exactly that far is accepted, one a cell closer is `too_close`.

use crate::coverage_support::{FREQ, Field, MIN_CELLS, WEAK};
use crate::harness;
use cairn_types::device::RejectReason;
use std::time::Duration;

#[test]
fn witnesses_closer_than_the_minimum_distance_are_rejected() {
    harness::run(Duration::from_secs(60), async {
        let mut f = Field::start("it-too-close").await;
        let near = f.witness_at(MIN_CELLS as u32 - 1).await;
        let ok = f.witness_at(MIN_CELLS as u32).await;
        let beaconer = f.beaconer.clone();
        let hb = f.beacon(&beaconer).await;
        let batch = vec![f.witness(&ok, hb, WEAK, FREQ), f.witness(&near, hb, WEAK, FREQ)];
        let (_, accepted, rejected) = f.submit(batch).await;
        assert_eq!(accepted, 1);
        assert_eq!(
            rejected,
            vec![(1, RejectReason::TooClose { cells: MIN_CELLS - 1, min: MIN_CELLS })]
        );
    });
}
