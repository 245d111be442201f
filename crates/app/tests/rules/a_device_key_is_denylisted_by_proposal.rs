//! With no admin key in the genesis, `SetDenylist` and `SetMaker` are refused (`not_admin`);
//! a passed denylist proposal lists the key, so its registration is refused with the
//! proposal's reason, and a second proposal takes it off again; a maker proposal allows a
//! maker.

use cairn_app::state_key;
use cairn_state::StateRead;
use cairn_testkit::gov::{gov_genesis, lock, proposal, proposal_id, propose, through_tally, vote};
use cairn_testkit::{CRN, Net, ed_device, failure, register};
use cairn_types::gov::{ProposalAction, ProposalStatus, VoteChoice};
use cairn_types::{DeviceClass, Keypair, TxBody};

#[test]
fn a_device_key_is_denylisted_by_proposal() {
    let alice = Keypair::from_label("gov-d-alice");
    let mut n = Net::new(&gov_genesis(&[&alice], 10_000 * CRN, |p| assert!(p.admin.is_none())));
    let dev = ed_device(7);
    let admin_only =
        n.run(&alice, TxBody::SetDenylist { key: dev.public_key(), reason: Some("x".into()) });
    assert_eq!(failure(&admin_only).code(), "not_admin");
    let maker = Keypair::from_label("gov-d-maker").address();
    let admin_only = n.run(&alice, TxBody::SetMaker { maker, allowed: true });
    assert_eq!(failure(&admin_only).code(), "not_admin");

    n.ok(&alice, lock(100 * CRN, 10));
    let deny =
        ProposalAction::Denylist { key: dev.public_key(), reason: Some("cloned keys".into()) };
    let id = proposal_id(&n.ok(&alice, propose("deny", deny)));
    let allow = ProposalAction::Maker { maker, allowed: true };
    let m = proposal_id(&n.ok(&alice, propose("maker", allow)));
    n.ok(&alice, vote(id, VoteChoice::Yes));
    n.ok(&alice, vote(m, VoteChoice::Yes));
    through_tally(&mut n, id);
    assert_eq!(proposal(&n, id).status, ProposalStatus::Passed);
    assert_eq!(proposal(&n, m).status, ProposalStatus::Passed);
    assert!(n.c.store.get(&state_key::maker(&maker)).unwrap().is_some(), "maker not allowed");
    let refused = n.run(&alice, register(&dev, &alice, DeviceClass::Sensor, 0, None));
    let f = failure(&refused);
    assert_eq!(f.code(), "denylisted");
    assert!(f.to_string().contains("cloned keys"), "{f}");

    let undo = ProposalAction::Denylist { key: dev.public_key(), reason: None };
    let id = proposal_id(&n.ok(&alice, propose("undo", undo)));
    n.ok(&alice, vote(id, VoteChoice::Yes));
    through_tally(&mut n, id);
    n.ok(&alice, register(&dev, &alice, DeviceClass::Sensor, 0, None));
}
