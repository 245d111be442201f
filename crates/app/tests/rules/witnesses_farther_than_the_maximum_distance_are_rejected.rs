//! A witness may stand at most `max_witness_cells` resolution-11 cells from the beaconer:
//! one exactly that far is accepted, one a cell farther is `too_far`.

use cairn_testkit::coverage::{FREQ, Field, MAX_CELLS, WEAK};
use cairn_types::device::RejectReason;

#[test]
fn witnesses_farther_than_the_maximum_distance_are_rejected() {
    let mut f = Field::start("it-too-far");
    let ok = f.witness_at(MAX_CELLS as u32);
    let far = f.witness_at(MAX_CELLS as u32 + 1);
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    let batch = vec![f.witness(&far, hb, WEAK, FREQ), f.witness(&ok, hb, WEAK, FREQ)];
    let (_, accepted, rejected) = f.submit(batch);
    assert_eq!(accepted, 1);
    assert_eq!(rejected, vec![(0, RejectReason::TooFar { cells: MAX_CELLS + 1, max: MAX_CELLS })]);
}
