//! A deregistered device keeps its bond locked for `params.devices.bond_cooldown_blocks`; at
//! the release height (not a block before) the owner's balance rises by exactly the bond and
//! the device shows `released` with no bond. Deregistering again during the cooldown fails
//! with `not_active`; after the release the same key registers again with the next device
//! nonce.

use cairn_testkit::{CRN, Net, ed_device, failure, genesis_with, register};
use cairn_types::device::DeviceStatus;
use cairn_types::{DeviceClass, DeviceId, Keypair, TxBody};

const COOLDOWN: u64 = 50;

/// How many times the key has been registered (its next device nonce), under every state
/// layout.
fn registrations(n: &Net, id: &DeviceId) -> u64 {
    cairn_app::devices::folded::registrations(&n.c.store, id).unwrap()
}

#[test]
fn bond_returns_after_the_deregistration_cooldown() {
    let owner = Keypair::from_label("it-bond-owner");
    let g = genesis_with(&[&owner], 1_000 * CRN, |p| p.devices.bond_cooldown_blocks = COOLDOWN);
    let mut n = Net::new(&g);
    let params = n.params();
    assert_eq!(params.devices.bond_cooldown_blocks, COOLDOWN, "the genesis edit took no effect");
    let bond = params.devices.bonds.compute;
    let dev = ed_device(1);
    let id = dev.id();

    let b0 = n.balance(&owner);
    let reg = n.ok(&owner, register(&dev, &owner, DeviceClass::Compute, 0, None));
    assert_eq!(n.balance(&owner), b0 - bond - reg.fee_paid);

    let dereg = n.ok(&owner, TxBody::DeregisterDevice { device: id });
    let release = dereg.height + COOLDOWN;
    let locked = b0 - bond - reg.fee_paid - dereg.fee_paid;
    let d = n.device(&id);
    assert_eq!(
        d.status,
        DeviceStatus::Deregistered { height: dereg.height, bond_release_height: release }
    );
    assert_eq!(d.bond, bond, "the bond is still locked during the cooldown");
    assert_eq!(n.balance(&owner), locked, "the bond came back before the cooldown ended");

    // A second deregistration fails and moves no bond.
    let again = n.run(&owner, TxBody::DeregisterDevice { device: id });
    assert_eq!(failure(&again).code(), "not_active");
    let locked = locked - again.fee_paid;
    assert_eq!(n.balance(&owner), locked);

    // In the last block of the cooldown the bond is still locked; at the release height it
    // returns, exactly.
    n.advance_to(release);
    assert_eq!(n.balance(&owner), locked, "the bond came back before the release height");
    n.block(vec![]);
    assert_eq!(n.height(), release);
    assert_eq!(n.balance(&owner), locked + bond, "the owner did not get exactly the bond back");
    let d = n.device(&id);
    assert_eq!(
        d.status,
        DeviceStatus::Released { height: release, deregistered_height: dereg.height }
    );
    assert_eq!(d.bond, 0);
    // Only once: more blocks change nothing.
    n.empty_blocks(3);
    assert_eq!(n.balance(&owner), locked + bond);

    // The key registers again, with device nonce 1.
    assert_eq!(registrations(&n, &id), 1);
    let rereg = n.ok(&owner, register(&dev, &owner, DeviceClass::Compute, 1, None));
    assert_eq!(n.balance(&owner), locked - rereg.fee_paid);
    let d = n.device(&id);
    assert_eq!(d.status, DeviceStatus::Active);
    assert_eq!(d.bond, bond);
    assert_eq!(d.registered_height, rereg.height);
    assert_eq!(registrations(&n, &id), 2);
}
