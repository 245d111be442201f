//! A parameter change by proposal: bad keys and values are refused at submission with the
//! key and value in the reason (and cost only the fee); a proposal that passes is applied
//! at the start of the boundary block that tallies it, so `coverage.witness_cap` reads 14
//! through the block before and 10 from that block's state on, and the deposit returns.

use cairn_testkit::gov::{
    DEPOSIT, GOV_EPOCH, gov_genesis, lock, proposal, proposal_id, propose, set_param, tally_height,
    vote,
};
use cairn_testkit::{CRN, Net, assert_supply_identity, failure};
use cairn_types::gov::{ProposalStatus, VoteChoice};
use cairn_types::{Keypair, TxFailure};

#[test]
fn a_parameter_change_passes_and_takes_effect_at_the_next_boundary() {
    let alice = Keypair::from_label("gov-param-alice");
    let mut n = Net::new(&gov_genesis(&[&alice], 10_000 * CRN, |_| {}));
    assert_eq!(n.params().coverage.witness_cap, 14);
    n.ok(&alice, lock(100 * CRN, 10));
    assert_supply_identity(&n.c.store, &[&alice]);

    // Refused at submission: unknown key, value of the wrong type or out of range, a key
    // fixed at genesis. Each costs the fee only.
    let before = n.balance(&alice);
    let unknown = n.run(&alice, propose("typo", set_param("coverage.witness_kap", "10")));
    assert_eq!(failure(&unknown), &TxFailure::UnknownParam { key: "coverage.witness_kap".into() });
    let negative = n.run(&alice, propose("negative", set_param("coverage.witness_cap", "-1")));
    let TxFailure::BadParamValue { key, value, .. } = failure(&negative) else {
        panic!("{negative:?}")
    };
    assert_eq!((key.as_str(), value.as_str()), ("coverage.witness_cap", "-1"));
    assert_eq!(failure(&negative).code(), "bad_param_value");
    // Validated as genesis is: the reward shares must still sum to 10,000.
    let shares = n.run(&alice, propose("shares", set_param("rewards.shares.coverage", "1")));
    assert_eq!(failure(&shares).code(), "bad_param_value");
    let epoch = n.run(&alice, propose("epoch", set_param("blocks_per_epoch", "5")));
    assert_eq!(failure(&epoch).code(), "bad_param_value");
    let fees = unknown.fee_paid + negative.fee_paid + shares.fee_paid + epoch.fee_paid;
    assert_eq!(n.balance(&alice), before - fees, "a refused proposal kept a deposit");

    let r = n.ok(&alice, propose("Tighter witness cap", set_param("coverage.witness_cap", "10")));
    let id = proposal_id(&r);
    assert_eq!(n.balance(&alice), before - fees - r.fee_paid - DEPOSIT);
    let v = n.ok(&alice, vote(id, VoteChoice::Yes));
    assert_supply_identity(&n.c.store, &[&alice]);

    let at = tally_height(&n, id);
    assert_eq!(at, GOV_EPOCH, "a vote of one epoch is tallied at the next epoch's first block");
    n.advance_to(at);
    assert_eq!(n.params().coverage.witness_cap, 14, "applied before the boundary");
    assert_eq!(proposal(&n, id).status, ProposalStatus::Voting);
    n.block(vec![]);
    assert_eq!(n.params().coverage.witness_cap, 10, "not applied at the boundary");
    let p = proposal(&n, id);
    assert_eq!((p.status, p.decided_height), (ProposalStatus::Passed, Some(at)));
    assert_eq!(n.balance(&alice), before - fees - r.fee_paid - v.fee_paid, "deposit not refunded");
    // Everything else is as it was.
    let mut expect = gov_genesis(&[&alice], 0, |_| {}).params;
    expect.coverage.witness_cap = 10;
    assert_eq!(n.params(), expect);
    // A vote after the tally is refused.
    let late = n.run(&alice, vote(id, VoteChoice::No));
    assert_eq!(failure(&late), &TxFailure::VotingPeriodOver { proposal: id, end_epoch: 1 });
    assert_supply_identity(&n.c.store, &[&alice]);
}
