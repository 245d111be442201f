//! A report from a device whose bond was already released is rejected as `deregistered`, and
//! the reason names the height at which the device was deregistered (as its message says,
//! "device was deregistered at height H"), not the later height at which its bond returned.

use cairn_testkit::{CRN, Net, ed_device, genesis_with, heartbeat, register, verdicts};
use cairn_types::device::{DeviceStatus, RejectReason};
use cairn_types::{DeviceClass, Keypair, TxBody};

const COOLDOWN: u64 = 5;

#[test]
fn reports_of_a_released_device_name_its_deregistration_height() {
    let owner = Keypair::from_label("it-retired-owner");
    let g = genesis_with(&[&owner], 1_000 * CRN, |p| p.devices.bond_cooldown_blocks = COOLDOWN);
    let mut n = Net::new(&g);
    let dev = ed_device(1);
    n.ok(&owner, register(&dev, &owner, DeviceClass::Relay, 0, None));
    let heartbeat = |n: &mut Net| {
        let epoch = n.params().epoch_of(n.height() + 1);
        let report = heartbeat(&dev, 1, epoch, n.c.parent.timestamp_ms);
        n.ok(&owner, TxBody::SubmitReports { reports: vec![report] })
    };
    let dereg = n.ok(&owner, TxBody::DeregisterDevice { device: dev.id() });
    let expected = RejectReason::Deregistered { height: dereg.height };

    // During the cooldown.
    let r = heartbeat(&mut n);
    assert_eq!(verdicts(&r), (0, vec![(0, expected.clone())]));

    // After the release.
    let release = dereg.height + COOLDOWN;
    n.advance_to(release + 1);
    assert_eq!(
        n.device(&dev.id()).status,
        DeviceStatus::Released { height: release, deregistered_height: dereg.height }
    );
    let r = heartbeat(&mut n);
    assert_eq!(verdicts(&r), (0, vec![(0, expected)]), "the reason names the release height");
}
