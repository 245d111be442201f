//! Voting power is a snapshot: a vote counts the voter's position as it stood before the
//! proposal's block, at the proposal's start epoch. Locking after a proposal opens adds
//! nothing to it (carol, who locked after, has no power: `no_voting_power`; alice's second
//! lock leaves her vote at the first one's power), and a lock in the proposal's own block
//! does not count either; a later proposal sees the new locks.

use cairn_testkit::gov::{gov_genesis, lock, proposal, proposal_id, propose, set_param, vote};
use cairn_testkit::{CRN, Net, assert_supply_identity, failure};
use cairn_types::gov::{Tally, VoteChoice};
use cairn_types::{Keypair, TxFailure};

#[test]
fn voting_power_is_read_as_it_stood_before_the_proposal() {
    let alice = Keypair::from_label("gov-s-alice");
    let carol = Keypair::from_label("gov-s-carol");
    let mut n = Net::new(&gov_genesis(&[&alice, &carol], 10_000 * CRN, |_| {}));
    n.ok(&alice, lock(100 * CRN, 10));
    // Carol's lock and alice's proposal in one block: the lock comes first, yet is after
    // the snapshot.
    let txs = vec![
        n.tx(&carol, lock(100 * CRN, 10)),
        n.tx(&alice, propose("cap", set_param("coverage.witness_cap", "10"))),
    ];
    let p = n.block(txs);
    let id = cairn_testkit::gov::proposal_id(&p.executed.receipts[1]);
    n.ok(&alice, lock(100 * CRN, 10));
    let refused = n.run(&carol, vote(id, VoteChoice::Yes));
    assert_eq!(
        failure(&refused),
        &TxFailure::NoVotingPower { voter: carol.address(), proposal: id }
    );
    n.ok(&alice, vote(id, VoteChoice::Yes));
    assert_eq!(
        proposal(&n, id).tally,
        Tally { yes: 400 * CRN, turnout: 100 * CRN, ..Tally::default() },
        "power added after the start counted"
    );
    let unknown = n.run(&alice, vote(id + 1, VoteChoice::Yes));
    assert_eq!(failure(&unknown).code(), "unknown_proposal");

    // The next proposal sees alice's 200 and carol's 100.
    let next = proposal_id(&n.ok(&carol, propose("next", set_param("coverage.witness_cap", "9"))));
    n.ok(&alice, vote(next, VoteChoice::Yes));
    n.ok(&carol, vote(next, VoteChoice::No));
    assert_eq!(
        proposal(&n, next).tally,
        Tally { yes: 800 * CRN, no: 400 * CRN, turnout: 300 * CRN, ..Tally::default() }
    );
    assert_supply_identity(&n.c.store, &[&alice, &carol]);
}
