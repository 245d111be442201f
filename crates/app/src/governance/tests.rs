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

mod chain {
    use cairn_testkit::gov::{gov_genesis, position};
    use cairn_testkit::{CRN, Net, assert_supply_identity};
    use cairn_types::{Keypair, TxBody};
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Lock { who: usize, amount: u128, epochs: u64, constant: bool },
        Unlock { who: usize },
        Blocks(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..2usize, 0u128..50, 0u64..13, any::<bool>()).prop_map(
                |(who, amount, epochs, constant)| Op::Lock {
                    who,
                    amount: amount * CRN,
                    epochs,
                    constant
                }
            ),
            (0..2usize).prop_map(|who| Op::Unlock { who }),
            (1u64..25).prop_map(Op::Blocks),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Whatever the locks and unlocks, a lock never ends sooner than it did before it
        /// (nor than the epochs asked for), CRN leaves a position only by an unlock after
        /// its end, and the supply identity holds after every block.
        #[test]
        fn locks_only_lengthen_and_the_supply_identity_holds(ops in proptest::collection::vec(op(), 1..30)) {
            let keys = [Keypair::from_label("gov-p-a"), Keypair::from_label("gov-p-b")];
            let mut n = Net::new(&gov_genesis(&[&keys[0], &keys[1]], 10_000 * CRN, |_| {}));
            for op in ops {
                let epoch = n.params().epoch_of(n.height() + 1);
                match op {
                    Op::Lock { who, amount, epochs, constant } => {
                        let before = position(&n, &keys[who]);
                        let r = n.run(&keys[who], TxBody::Lock { amount, epochs, constant });
                        let after = position(&n, &keys[who]);
                        if r.is_success() {
                            let p = after.unwrap();
                            prop_assert!(p.remaining(epoch) >= epochs);
                            if let Some(b) = before {
                                prop_assert!(p.remaining(epoch) >= b.remaining(epoch));
                                prop_assert!(p.constant || !b.constant);
                                prop_assert_eq!(p.amount, b.amount + amount);
                            }
                        } else {
                            prop_assert_eq!(after, before);
                        }
                    }
                    Op::Unlock { who } => {
                        let before = position(&n, &keys[who]);
                        let balance = n.balance(&keys[who]);
                        let r = n.run(&keys[who], TxBody::Unlock);
                        let paid = n.balance(&keys[who]) + r.fee_paid - balance;
                        match before {
                            Some(b) if !b.constant && b.end_epoch <= epoch => {
                                prop_assert!(r.is_success());
                                prop_assert_eq!(paid, b.amount);
                            }
                            _ => prop_assert_eq!(paid, 0),
                        }
                    }
                    Op::Blocks(k) => n.empty_blocks(k),
                }
                assert_supply_identity(&n.c.store, &[&keys[0], &keys[1]]);
            }
        }
    }
}
