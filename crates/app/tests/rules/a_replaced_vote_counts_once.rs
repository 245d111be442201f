//! A later vote replaces the earlier one: alice's no, then yes, then yes again count her
//! power once, as yes; the turnout counts her locked CRN once. Her power is her 100 CRN ×
//! 4 (ten epochs left of a ten-epoch maximum), bob's 100 CRN × 4 × 5 / 10.

use cairn_testkit::gov::{
    gov_genesis, lock, proposal, proposal_id, propose, set_param, through_tally, vote,
};
use cairn_testkit::{CRN, Net};
use cairn_types::gov::{ProposalStatus, Tally, VoteChoice};
use cairn_types::{Keypair, TxBody};

#[test]
fn a_replaced_vote_counts_once() {
    let (alice, bob) = (Keypair::from_label("gov-r-alice"), Keypair::from_label("gov-r-bob"));
    let mut n = Net::new(&gov_genesis(&[&alice, &bob], 10_000 * CRN, |_| {}));
    n.ok(&alice, lock(100 * CRN, 10));
    n.ok(&bob, lock(100 * CRN, 5));
    let id = proposal_id(&n.ok(&alice, propose("cap", set_param("coverage.witness_cap", "10"))));
    n.ok(&alice, vote(id, VoteChoice::No));
    n.ok(&bob, vote(id, VoteChoice::No));
    let (a, b) = (400 * CRN, 200 * CRN);
    let tally = |n: &Net| proposal(n, id).tally;
    assert_eq!(tally(&n), Tally { no: a + b, turnout: 200 * CRN, ..Tally::default() });
    n.ok(&alice, vote(id, VoteChoice::Yes));
    assert_eq!(tally(&n), Tally { yes: a, no: b, turnout: 200 * CRN, ..Tally::default() });
    // Again, and twice in one block: still once.
    let again = vec![
        n.tx(&alice, TxBody::Vote { proposal: id, choice: VoteChoice::Yes }),
        n.tx(&alice, TxBody::Vote { proposal: id, choice: VoteChoice::Yes }),
    ];
    n.block(again);
    assert_eq!(tally(&n), Tally { yes: a, no: b, turnout: 200 * CRN, ..Tally::default() });
    through_tally(&mut n, id);
    assert_eq!(proposal(&n, id).status, ProposalStatus::Passed, "400 yes against 200 no");
}
