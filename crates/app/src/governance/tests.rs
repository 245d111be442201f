//! The tally's boundaries and the position history, on hand-built values.

use super::PositionRecord;
use super::tally::{Verdict, verdict};
use cairn_types::Params;
use cairn_types::gov::{Position, Tally};

fn tally(yes: u128, no: u128, abstain: u128, veto: u128, turnout: u128) -> Tally {
    Tally { yes, no, abstain, veto, turnout }
}

#[test]
fn quorum_is_at_least_its_share_and_veto_and_threshold_strictly_more() {
    let p = Params::default(); // 33.4 % / 50 % / 33.4 %
    // 334 of 1,000 locked CRN voted: exactly the quorum.
    assert_eq!(verdict(&tally(10, 0, 0, 0, 334), 1_000, &p), Verdict::Passed);
    assert_eq!(verdict(&tally(10, 0, 0, 0, 333), 1_000, &p), Verdict::NoQuorum);
    assert_eq!(verdict(&tally(0, 0, 0, 0, 0), 0, &p), Verdict::NoQuorum, "nothing locked");
    // Veto exactly 33.4 % of all power is not a veto; a unit more is.
    assert_eq!(verdict(&tally(666, 0, 0, 334, 1_000), 1_000, &p), Verdict::Passed);
    assert_eq!(verdict(&tally(665, 0, 0, 335, 1_000), 1_000, &p), Verdict::Vetoed);
    // Abstain counts in the veto's base, not in the threshold's.
    assert_eq!(verdict(&tally(100, 0, 900, 334, 1_000), 1_000, &p), Verdict::Rejected);
    assert_eq!(verdict(&tally(101, 100, 900, 0, 1_000), 1_000, &p), Verdict::Passed);
    // Exactly half is not a majority.
    assert_eq!(verdict(&tally(100, 100, 0, 0, 1_000), 1_000, &p), Verdict::Rejected);
    // Nobody for it: rejected even at a zero threshold.
    let mut zero = Params::default();
    zero.gov.threshold_bps = 0;
    assert_eq!(verdict(&tally(0, 0, 10, 0, 1_000), 1_000, &zero), Verdict::Rejected);
}

#[test]
fn a_position_before_a_height_is_the_last_one_set_below_it() {
    let pos = |amount| Some(Position { amount, constant: true, lock_epochs: 3, end_epoch: 0 });
    let rec = PositionRecord { entries: vec![(5, pos(1)), (9, None), (12, pos(2))] };
    assert_eq!(rec.before(5), None, "set in the block itself");
    assert_eq!(rec.before(6), pos(1));
    assert_eq!(rec.before(9), pos(1));
    assert_eq!(rec.before(10), None);
    assert_eq!(rec.before(13), pos(2));
    assert_eq!(rec.current(), pos(2));
}
