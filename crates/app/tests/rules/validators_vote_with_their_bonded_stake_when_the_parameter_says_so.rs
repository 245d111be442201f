//! With `gov.stake_votes` on (a BFT chain's choice), a validator of the set at a proposal's
//! start votes with the whole CRN of its power, without a lock, and that stake counts in the
//! quorum's base; with it off, the same validator has no voting power.

use cairn_testkit::gov::{
    gov_genesis, proposal, proposal_id, propose, set_param, through_tally, vote,
};
use cairn_testkit::{CRN, Net, assert_supply_identity, failure};
use cairn_types::Keypair;
use cairn_types::genesis::GenesisValidator;
use cairn_types::gov::{ProposalStatus, Tally, VoteChoice};

fn chain(stake_votes: bool, alice: &Keypair, validator: &Keypair) -> Net {
    let mut g = gov_genesis(&[alice, validator], 10_000 * CRN, |p| p.gov.stake_votes = stake_votes);
    g.validators = vec![GenesisValidator { address: validator.address(), stake: 500 * CRN }];
    Net::new(&g)
}

#[test]
fn validators_vote_with_their_bonded_stake_when_the_parameter_says_so() {
    let alice = Keypair::from_label("gov-st-alice");
    let validator = Keypair::from_label("gov-st-validator");

    let mut n = chain(true, &alice, &validator);
    let id = proposal_id(&n.ok(&alice, propose("cap", set_param("coverage.witness_cap", "10"))));
    let p = proposal(&n, id);
    assert_eq!(p.stake, vec![(validator.address(), 500 * CRN)]);
    assert_eq!(p.eligible(), 500 * CRN);
    n.ok(&validator, vote(id, VoteChoice::Yes));
    assert_eq!(
        proposal(&n, id).tally,
        Tally { yes: 500 * CRN, turnout: 500 * CRN, ..Tally::default() }
    );
    // Alice, with neither lock nor stake, has no say.
    assert_eq!(failure(&n.run(&alice, vote(id, VoteChoice::No))).code(), "no_voting_power");
    through_tally(&mut n, id);
    assert_eq!(proposal(&n, id).status, ProposalStatus::Passed);
    assert_eq!(n.params().coverage.witness_cap, 10);
    assert_supply_identity(&n.c.store, &[&alice, &validator]);

    let mut n = chain(false, &alice, &validator);
    let id = proposal_id(&n.ok(&alice, propose("cap", set_param("coverage.witness_cap", "10"))));
    assert!(proposal(&n, id).stake.is_empty());
    assert_eq!(failure(&n.run(&validator, vote(id, VoteChoice::Yes))).code(), "no_voting_power");
}
