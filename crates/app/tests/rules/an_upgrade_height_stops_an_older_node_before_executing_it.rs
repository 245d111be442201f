//! A passed upgrade proposal (a version and a height) stops a node whose version is older
//! before it executes that height: building or checking the block fails with
//! `UpgradeRequired`, whose message says what to run, and nothing is written; the blocks
//! before it run as usual, and a node of that version (or newer) carries on. A name that is
//! not a version, or a height not after the tally, is refused at submission.

use cairn_app::{App, BlockError};
use cairn_testkit::gov::{gov_genesis, lock, proposal, proposal_id, propose, through_tally, vote};
use cairn_testkit::{CRN, Net, failure};
use cairn_types::Keypair;
use cairn_types::gov::{ProposalAction, ProposalStatus, VoteChoice};

#[test]
fn an_upgrade_height_stops_an_older_node_before_executing_it() {
    let alice = Keypair::from_label("gov-u-alice");
    let mut n = Net::new(&gov_genesis(&[&alice], 10_000 * CRN, |_| {}));
    n.c.app = App::new(cairn_testkit::CHAIN).with_version("1.4.2");
    n.ok(&alice, lock(100 * CRN, 10));
    let upgrade = |name: &str, height| ProposalAction::Upgrade { name: name.into(), height };
    let bad = n.run(&alice, propose("not a version", upgrade("next", 40)));
    assert_eq!(failure(&bad).code(), "bad_proposal");
    // Tallied at height 10: a height not after it is refused.
    let bad = n.run(&alice, propose("too early", upgrade("1.5.0", 10)));
    assert_eq!(failure(&bad).code(), "bad_proposal");

    let id = proposal_id(&n.ok(&alice, propose("1.5", upgrade("1.5.0", 25))));
    n.ok(&alice, vote(id, VoteChoice::Yes));
    through_tally(&mut n, id);
    assert_eq!(proposal(&n, id).status, ProposalStatus::Passed);
    n.advance_to(25);
    assert_eq!(n.height(), 24);
    let root = *n.c.roots.last().unwrap();

    let older = n.c.app.propose(&n.c.store, n.c.parent, 0, alice.address(), vec![]);
    let Err(e @ BlockError::UpgradeRequired { .. }) = older else { panic!("{older:?}") };
    let msg = e.to_string();
    assert!(msg.contains("install cairn 1.5.0") && msg.contains("height 25"), "{msg}");
    assert!(msg.contains("runs cairn 1.4.2"), "{msg}");
    assert_eq!(n.height(), 24);
    assert_eq!(*n.c.roots.last().unwrap(), root);

    // The new version builds the block, and the old one will not check it either.
    let newer = App::new(cairn_testkit::CHAIN).with_version("1.5.0");
    let p = newer
        .propose(&n.c.store, n.c.parent, n.c.parent.timestamp_ms + 1_000, alice.address(), vec![])
        .unwrap();
    let checked = n.c.app.verify(&n.c.store, n.c.parent, &p.header, &p.txs);
    assert!(matches!(checked, Err(BlockError::UpgradeRequired { .. })), "{checked:?}");
    assert!(newer.verify(&n.c.store, n.c.parent, &p.header, &p.txs).is_ok());
    n.c.app = App::new(cairn_testkit::CHAIN).with_version("1.6.0");
    n.empty_blocks(2);
}
