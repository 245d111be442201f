//! A treasury spend moves CRN from the treasury account (no key controls it) to the
//! recipient at the tally that passes it; a spend larger than the treasury holds passes the
//! vote but fails to apply, moves nothing, and says why.

use cairn_testkit::gov::{gov_genesis, lock, proposal, proposal_id, propose, through_tally, vote};
use cairn_testkit::{CRN, Net, assert_supply_identity};
use cairn_types::gov::{ProposalAction, ProposalStatus, VoteChoice};
use cairn_types::rewards::treasury_address;
use cairn_types::{Keypair, TxBody};

#[test]
fn a_treasury_spend_pays_its_recipient_once_passed() {
    let (alice, carol) = (Keypair::from_label("gov-t-alice"), Keypair::from_label("gov-t-carol"));
    let mut n = Net::new(&gov_genesis(&[&alice, &carol], 10_000 * CRN, |_| {}));
    let treasury = treasury_address();
    n.ok(&alice, TxBody::Transfer { to: treasury, amount: 500 * CRN });
    n.ok(&alice, lock(100 * CRN, 10));
    let treasury_balance =
        |n: &Net| cairn_app::accounts::get_account(&n.c.store, &treasury).unwrap().balance;
    let spend = |amount| ProposalAction::TreasurySpend { to: carol.address(), amount };

    let id = proposal_id(&n.ok(&alice, propose("grant", spend(200 * CRN))));
    let too_much = proposal_id(&n.ok(&alice, propose("too much", spend(1_000_000 * CRN))));
    n.ok(&alice, vote(id, VoteChoice::Yes));
    n.ok(&alice, vote(too_much, VoteChoice::Yes));
    let carol_before = n.balance(&carol);
    through_tally(&mut n, id);
    assert_eq!(proposal(&n, id).status, ProposalStatus::Passed);
    assert_eq!(n.balance(&carol), carol_before + 200 * CRN);
    // The boundary's reward run paid the treasury its share just before the tally.
    let share = n.c.reports[&0].summary.to_treasury;
    assert_eq!(treasury_balance(&n), 500 * CRN + share - 200 * CRN);
    let ProposalStatus::Failed { reason } = proposal(&n, too_much).status else {
        panic!("{:?}", proposal(&n, too_much))
    };
    assert!(reason.contains("insufficient balance"), "{reason}");
    assert_eq!(treasury_balance(&n), 500 * CRN + share - 200 * CRN);
    assert_supply_identity(&n.c.store, &[&alice, &carol]);
}
