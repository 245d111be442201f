//! A parameter change tallied at the boundary that fixes a deferred reward run is applied
//! after the run is fixed: the run of the epoch that ended is computed with the parameters it
//! ran with (the emission before the change) and settled at the due block fixed at the
//! boundary, even when the same change sets the settle delay to 0; the next epoch is then
//! rewarded inline, with the new emission.

use cairn_testkit::gov::{GOV_EPOCH, gov_genesis, lock, proposal_id, propose, tally_height, vote};
use cairn_testkit::{CRN, Net, assert_supply_identity};
use cairn_types::Keypair;
use cairn_types::gov::{ParamChange, ProposalAction, VoteChoice};

#[test]
fn a_parameter_change_at_the_boundary_leaves_the_deferred_run_as_fixed() {
    let alice = Keypair::from_label("gov-deferred-alice");
    let delay = 3;
    let mut n = Net::new(&gov_genesis(&[&alice], 10_000 * CRN, |p| {
        p.reward_settle_delay_blocks = delay;
    }));
    let before = n.params().rewards.emission_per_epoch;
    n.ok(&alice, lock(100 * CRN, 10));
    let change = |key: &str, value: String| ParamChange { key: key.into(), value };
    let action = ProposalAction::ParamChange {
        changes: vec![
            change("rewards.emission_per_epoch", (before / 2).to_string()),
            change("reward_settle_delay_blocks", "0".into()),
        ],
    };
    let id = proposal_id(&n.ok(&alice, propose("Halve and inline", action)));
    n.ok(&alice, vote(id, VoteChoice::Yes));
    let at = tally_height(&n, id);
    assert_eq!(at, GOV_EPOCH);
    n.advance_to(at);
    // The boundary: the run of epoch 0 is fixed, then the change lands.
    assert_eq!(n.block(vec![]).executed.rewards, None);
    assert_eq!(n.params().rewards.emission_per_epoch, before / 2);
    assert_eq!(n.params().reward_settle_delay_blocks, 0);
    n.advance_to(at + delay);
    let settled =
        n.block(vec![]).executed.reward_report().unwrap().expect("settled at the due block");
    assert_eq!(settled.summary.epoch, 0);
    assert_eq!(settled.summary.emission, before);
    assert_eq!(Some(&settled), n.c.inline_reports.get(&0));
    assert_supply_identity(&n.c.store, &[&alice]);
    // Epoch 1 is rewarded inline at its boundary, with the new emission.
    n.advance_to(2 * GOV_EPOCH);
    let inline = n
        .block(vec![])
        .executed
        .rewards
        .as_deref()
        .cloned()
        .expect("rewarded inline at the boundary");
    assert_eq!((inline.summary.epoch, inline.summary.emission), (1, before / 2));
    assert_supply_identity(&n.c.store, &[&alice]);
}
