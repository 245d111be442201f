//! Positions: a lock of 0 or more than `gov.max_lock_epochs` epochs is refused; a second
//! lock merges and never shortens; a constant position keeps its power until its owner
//! starts the unlock, then runs down; CRN returns only once the lock has ended
//! (`still_locked` before), exactly the amount locked, and the supply identity holds
//! throughout.

use cairn_testkit::gov::{GOV_EPOCH, gov_genesis, lock, position};
use cairn_testkit::{CRN, Net, assert_supply_identity, failure};
use cairn_types::gov::{Position, voting_power};
use cairn_types::{Keypair, TxBody, TxFailure};

#[test]
fn a_lock_only_lengthens_and_returns_only_after_it_ends() {
    let alice = Keypair::from_label("gov-l-alice");
    let mut n = Net::new(&gov_genesis(&[&alice], 10_000 * CRN, |_| {}));
    let gp = n.params().gov;
    for epochs in [0, 11] {
        let r = n.run(&alice, lock(CRN, epochs));
        assert_eq!(failure(&r), &TxFailure::BadLock { amount: CRN, epochs, max: 10 });
    }
    assert_eq!(failure(&n.run(&alice, lock(0, 3))).code(), "bad_lock", "extends nothing");
    assert_eq!(failure(&n.run(&alice, TxBody::Unlock)).code(), "no_position");
    let start = n.balance(&alice);
    let r1 = n.ok(&alice, TxBody::Lock { amount: 100 * CRN, epochs: 3, constant: true });
    let p = position(&n, &alice).unwrap();
    assert_eq!(p, Position { amount: 100 * CRN, constant: true, lock_epochs: 3, end_epoch: 0 });
    // A shorter merge keeps the longer lock; power stays while constant.
    let r2 = n.ok(&alice, lock(50 * CRN, 2));
    let p = position(&n, &alice).unwrap();
    assert_eq!(p, Position { amount: 150 * CRN, constant: true, lock_epochs: 3, end_epoch: 0 });
    assert_eq!(voting_power(&p, 0, &gp), voting_power(&p, 50, &gp));
    assert_eq!(voting_power(&p, 0, &gp), 150 * CRN * 4 * 3 / 10);
    assert_supply_identity(&n.c.store, &[&alice]);

    // Start the unlock in epoch 0: it runs down to epoch 3.
    let u = n.ok(&alice, TxBody::Unlock);
    assert_eq!(position(&n, &alice).unwrap().end_epoch, 3);
    n.advance_to(3 * GOV_EPOCH - 1);
    let early = n.run(&alice, TxBody::Unlock);
    assert_eq!(failure(&early), &TxFailure::StillLocked { end_epoch: 3 });
    let fees = r1.fee_paid + r2.fee_paid + u.fee_paid + early.fee_paid;
    assert_eq!(n.balance(&alice), start - 150 * CRN - fees);
    let done = n.ok(&alice, TxBody::Unlock);
    assert_eq!(n.height(), 3 * GOV_EPOCH);
    assert_eq!(position(&n, &alice), None);
    assert_eq!(n.balance(&alice), start - fees - done.fee_paid, "not exactly the locked CRN");
    assert_supply_identity(&n.c.store, &[&alice]);
}
