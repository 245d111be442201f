//! A witness must stand at least `min_witness_cells` resolution-11 cells from the beaconer:
//! one exactly that far is accepted, one a cell closer is `too_close`.

use cairn_testkit::coverage::{FREQ, Field, MIN_CELLS, WEAK};
use cairn_types::device::RejectReason;

#[test]
fn witnesses_closer_than_the_minimum_distance_are_rejected() {
    let mut f = Field::start("it-too-close");
    let near = f.witness_at(MIN_CELLS as u32 - 1);
    let ok = f.witness_at(MIN_CELLS as u32);
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    let batch = vec![f.witness(&ok, hb, WEAK, FREQ), f.witness(&near, hb, WEAK, FREQ)];
    let (_, accepted, rejected) = f.submit(batch);
    assert_eq!(accepted, 1);
    assert_eq!(
        rejected,
        vec![(1, RejectReason::TooClose { cells: MIN_CELLS - 1, min: MIN_CELLS })]
    );
}
