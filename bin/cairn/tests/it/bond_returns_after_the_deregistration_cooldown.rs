//! A deregistered device keeps its bond locked for `params.devices.bond_cooldown_blocks`
//! (set small here by editing genesis.json before the node starts, as `cairn init` has no
//! flag for it); at the release height the owner's balance rises by exactly the bond and
//! the device shows `released` with no bond. Deregistering again during the cooldown fails
//! with `not_active`; after the release the same key registers again with the next device
//! nonce.

use crate::device_support::{
    self as ds, device, failure_code, keygen, min_fee_paid, success_receipt,
};
use crate::harness::{self, NodeBuilder, crn};
use cairn_types::device::DeviceStatus;
use std::time::Duration;

/// Long enough (5 s at 100 ms blocks) to look at the device before its release.
const COOLDOWN: u64 = 50;

#[test]
fn bond_returns_after_the_deregistration_cooldown() {
    harness::run(Duration::from_secs(90), async {
        let b = NodeBuilder::new().edit_genesis(|g| {
            g["params"]["devices"]["bond_cooldown_blocks"] = COOLDOWN.into();
        });
        let owner = b.new_keystore_key("owner");
        let node = b.fund(owner, crn(1_000)).start().await;
        let params = ds::params(&node).await;
        assert_eq!(
            params.devices.bond_cooldown_blocks, COOLDOWN,
            "the genesis edit took no effect"
        );
        let bond = params.devices.bonds.compute;
        let dev = keygen(&node, "gpu", false);
        let id = dev.id.to_string();

        let b0 = node.account(&owner).await.balance;
        let reg = success_receipt(node.cli(&[
            "--json",
            "device",
            "register",
            "--owner",
            "owner",
            "--device-key",
            dev.arg(),
            "--class",
            "compute",
        ]));
        let fee_reg = min_fee_paid(&node, &reg).await;
        assert_eq!(node.account(&owner).await.balance, b0 - bond - fee_reg);

        let dereg = success_receipt(node.cli(&[
            "--json",
            "device",
            "deregister",
            "--owner",
            "owner",
            "--device",
            &id,
        ]));
        let release = dereg.height + COOLDOWN;
        let locked = b0 - bond - fee_reg - dereg.fee_paid;
        let v = device(&node, &dev.id).await;
        assert_eq!(
            v.device.status,
            DeviceStatus::Deregistered { height: dereg.height, bond_release_height: release }
        );
        assert_eq!(v.device.bond, bond, "the bond is still locked during the cooldown");
        let acct = node.account(&owner).await;
        assert!(acct.height < release, "looked too late: height {} ≥ {release}", acct.height);
        assert_eq!(acct.balance, locked, "the bond came back before the cooldown ended");
        let shown = node.cli(&["--json", "device", "show", &id]).success().json();
        assert_eq!(shown["device"]["status"]["state"], "deregistered", "{shown}");
        assert_eq!(shown["device"]["status"]["bond_release_height"], release, "{shown}");

        // A second deregistration fails and moves no bond.
        let (again, code) = failure_code(node.cli(&[
            "--json",
            "device",
            "deregister",
            "--owner",
            "owner",
            "--device",
            &id,
        ]));
        assert_eq!(code, "not_active");
        let locked = locked - again.fee_paid;
        let acct = node.account(&owner).await;
        assert!(acct.height < release, "looked too late: height {} ≥ {release}", acct.height);
        assert_eq!(acct.balance, locked);

        // At the release height the bond returns, exactly.
        let timeout = Duration::from_millis(COOLDOWN * 100 * 20 + 5_000);
        node.wait_for_height(release, timeout).await;
        let acct = node.account(&owner).await;
        assert_eq!(acct.balance, locked + bond, "the owner did not get exactly the bond back");
        let v = device(&node, &dev.id).await;
        assert_eq!(
            v.device.status,
            DeviceStatus::Released { height: release, deregistered_height: dereg.height }
        );
        assert_eq!(v.device.bond, 0);
        let shown = node.cli(&["--json", "device", "show", &id]).success().json();
        assert_eq!(shown["device"]["status"]["state"], "released", "{shown}");
        assert_eq!(shown["device"]["bond"], "0", "{shown}");
        // Only once: more blocks change nothing.
        node.wait_blocks(3).await;
        assert_eq!(node.account(&owner).await.balance, locked + bond);

        // The key registers again (device nonce 1, read from the node by the CLI).
        assert_eq!(v.registrations, 1);
        let rereg = success_receipt(node.cli(&[
            "--json",
            "device",
            "register",
            "--owner",
            "owner",
            "--device-key",
            dev.arg(),
            "--class",
            "compute",
        ]));
        assert_eq!(node.account(&owner).await.balance, locked - rereg.fee_paid);
        let v = device(&node, &dev.id).await;
        assert_eq!(v.device.status, DeviceStatus::Active);
        assert_eq!(v.device.bond, bond);
        assert_eq!(v.device.registered_height, rereg.height);
        assert_eq!(v.registrations, 2);
    });
}
