//! With `gov.stake_votes` on, a delegation is part of its validator's power, and that power
//! votes as the validator votes: the delegator has no vote of its own through it
//! (`no_voting_power`), and the validator's vote carries the delegated CRN. A delegator who
//! wants its own say locks CRN it holds; that lock, not its delegation, is what its vote
//! counts, beside the validator's unchanged stake (docs/adr/0033).

use cairn_testkit::gov::{
    GOV_EPOCH, gov_genesis, lock, proposal, proposal_id, propose, set_param, vote,
};
use cairn_testkit::{CRN, Net, assert_supply_identity, failure};
use cairn_types::genesis::GenesisValidator;
use cairn_types::gov::{Tally, VoteChoice};
use cairn_types::{Keypair, TxBody, TxFailure};

/// A chain whose one validator bonded 500 CRN, where alice delegated `delegated` to it
/// before the first epoch boundary, now in the epoch after it.
fn chain(alice: &Keypair, validator: &Keypair, delegated: u128) -> Net {
    let mut g = gov_genesis(&[alice, validator], 10_000 * CRN, |p| p.gov.stake_votes = true);
    g.validators = vec![GenesisValidator { address: validator.address(), stake: 500 * CRN }];
    let mut n = Net::new(&g);
    if delegated > 0 {
        n.ok(alice, TxBody::Delegate { validator: validator.address(), amount: delegated });
    }
    // The delegation counts in the set from the next epoch on.
    n.advance_to(GOV_EPOCH + 1);
    n
}

#[test]
fn a_delegators_stake_votes_with_its_validator_and_only_a_lock_gives_it_a_vote_of_its_own() {
    let alice = Keypair::from_label("gov-d-alice");
    let validator = Keypair::from_label("gov-d-validator");
    let cap = |v: &str| propose("cap", set_param("coverage.witness_cap", v));

    // The validator's snapshotted stake holds the delegation (the boundary also compounded
    // the validators' reward pool into it, on both chains alike).
    let mut alone = chain(&alice, &validator, 0);
    let id = proposal_id(&alone.ok(&alice, cap("10")));
    let [(_, without)] = proposal(&alone, id).stake[..] else { panic!("one validator") };
    let mut n = chain(&alice, &validator, 300 * CRN);
    let id = proposal_id(&n.ok(&alice, cap("10")));
    let [(v, stake)] = proposal(&n, id).stake[..] else { panic!("one validator") };
    assert_eq!(v, validator.address());
    assert!(stake >= without + 300 * CRN, "{stake} with the delegation, {without} without");

    let refused = n.run(&alice, vote(id, VoteChoice::No));
    assert_eq!(
        failure(&refused),
        &TxFailure::NoVotingPower { voter: alice.address(), proposal: id }
    );
    n.ok(&validator, vote(id, VoteChoice::Yes));
    assert_eq!(
        proposal(&n, id).tally,
        Tally { yes: stake, turnout: stake, ..Tally::default() },
        "the delegated CRN vote with the validator"
    );

    // With a lock of her own, alice votes that lock; the validator still votes all of its
    // stake.
    n.ok(&alice, lock(100 * CRN, 10));
    let next = proposal_id(&n.ok(&alice, cap("9")));
    let p = proposal(&n, next);
    assert_eq!(p.stake, vec![(validator.address(), stake)]);
    n.ok(&alice, vote(next, VoteChoice::No));
    n.ok(&validator, vote(next, VoteChoice::Yes));
    let p = proposal(&n, next);
    assert_eq!(p.eligible(), stake + 100 * CRN);
    assert_eq!(
        p.tally,
        Tally { yes: stake, no: 400 * CRN, turnout: stake + 100 * CRN, ..Tally::default() }
    );
    assert_supply_identity(&n.c.store, &[&alice, &validator]);
}
