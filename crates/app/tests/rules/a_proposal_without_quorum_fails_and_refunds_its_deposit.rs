//! Quorum is measured on the locked CRN behind the votes against what was locked when the
//! proposal was submitted: 100 of 1,000 locked CRN voting (10 % < 33.4 %) is no quorum,
//! however unanimous. The proposal fails, nothing is applied, and the deposit returns. With
//! bob's 900 voting too, the same kind of proposal passes.

use cairn_testkit::gov::{
    gov_genesis, lock, proposal, proposal_id, propose, set_param, through_tally, vote,
};
use cairn_testkit::{CRN, Net, assert_supply_identity};
use cairn_types::Keypair;
use cairn_types::gov::{ProposalStatus, VoteChoice};

#[test]
fn a_proposal_without_quorum_fails_and_refunds_its_deposit() {
    let (alice, bob) = (Keypair::from_label("gov-q-alice"), Keypair::from_label("gov-q-bob"));
    let mut n = Net::new(&gov_genesis(&[&alice, &bob], 10_000 * CRN, |_| {}));
    n.ok(&alice, lock(100 * CRN, 10));
    n.ok(&bob, lock(900 * CRN, 10));
    let before = n.balance(&alice);
    let r = n.ok(&alice, propose("alone", set_param("coverage.witness_cap", "10")));
    let id = proposal_id(&r);
    assert_eq!(proposal(&n, id).locked_at_start, 1_000 * CRN);
    let v = n.ok(&alice, vote(id, VoteChoice::Yes));
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
    through_tally(&mut n, id);
    assert_eq!(proposal(&n, id).status, ProposalStatus::NoQuorum);
    assert_eq!(n.params().coverage.witness_cap, 14);
    assert_eq!(n.balance(&alice), before - r.fee_paid - v.fee_paid, "deposit not refunded");
    assert_supply_identity(&n.c.store, &[&alice, &bob]);

    // The same with bob voting: quorum, passed.
    let id =
        proposal_id(&n.ok(&alice, propose("together", set_param("coverage.witness_cap", "10"))));
    n.ok(&alice, vote(id, VoteChoice::Yes));
    n.ok(&bob, vote(id, VoteChoice::Yes));
    through_tally(&mut n, id);
    assert_eq!(proposal(&n, id).status, ProposalStatus::Passed);
    assert_eq!(n.params().coverage.witness_cap, 10);
}
