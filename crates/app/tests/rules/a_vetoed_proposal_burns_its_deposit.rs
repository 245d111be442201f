//! Veto power above `gov.veto_bps` of all votes' power vetoes a proposal, whatever the yes
//! share: nothing is applied, and its deposit is burned (the supply shrinks by it, and the
//! supply identity holds).

use cairn_testkit::gov::{
    DEPOSIT, gov_genesis, lock, proposal, proposal_id, propose, set_param, through_tally, vote,
};
use cairn_testkit::{CRN, Net, assert_supply_identity};
use cairn_types::Keypair;
use cairn_types::gov::{ProposalStatus, VoteChoice};

#[test]
fn a_vetoed_proposal_burns_its_deposit() {
    let (alice, bob) = (Keypair::from_label("gov-v-alice"), Keypair::from_label("gov-v-bob"));
    let mut n = Net::new(&gov_genesis(&[&alice, &bob], 10_000 * CRN, |_| {}));
    n.ok(&alice, lock(200 * CRN, 10));
    n.ok(&bob, lock(150 * CRN, 10));
    let before = n.balance(&alice);
    let r = n.ok(&alice, propose("spam", set_param("coverage.witness_cap", "1")));
    let id = proposal_id(&r);
    let v = n.ok(&alice, vote(id, VoteChoice::Yes));
    n.ok(&bob, vote(id, VoteChoice::Veto));
    // 150 of 350 (43 %) veto: above 33.4 %, though yes has 57 %.
    let burned = n.supply().burned;
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
    through_tally(&mut n, id);
    assert_eq!(proposal(&n, id).status, ProposalStatus::Vetoed);
    assert_eq!(n.params().coverage.witness_cap, 14);
    assert_eq!(n.balance(&alice), before - r.fee_paid - v.fee_paid - DEPOSIT);
    assert_eq!(n.supply().burned, burned + DEPOSIT, "the deposit was not burned");
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
}
