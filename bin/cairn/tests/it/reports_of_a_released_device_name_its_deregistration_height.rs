//! A report from a device whose bond was already released is rejected as `deregistered`, and
//! the reason names the height at which the device was deregistered (as its message says,
//! "device was deregistered at height H"), not the later height at which its bond returned.

use crate::device_support::{device, keygen, success_receipt};
use crate::harness::{self, NodeBuilder, crn};
use cairn_types::TxOutcome;
use cairn_types::device::{DeviceStatus, RejectReason};
use std::time::Duration;

const COOLDOWN: u64 = 5;

#[test]
fn reports_of_a_released_device_name_its_deregistration_height() {
    harness::run(Duration::from_secs(60), async {
        let b = NodeBuilder::new().edit_genesis(|g| {
            g["params"]["devices"]["bond_cooldown_blocks"] = COOLDOWN.into();
        });
        let owner = b.new_keystore_key("owner");
        let node = b.fund(owner, crn(1_000)).start().await;
        let dev = keygen(&node, "retired", false);
        let id = dev.id.to_string();
        success_receipt(node.cli(&[
            "--json",
            "device",
            "register",
            "--owner",
            "owner",
            "--device-key",
            dev.arg(),
            "--class",
            "relay",
        ]));
        let heartbeat = || {
            success_receipt(node.cli(&[
                "--json",
                "device",
                "heartbeat",
                "--device-key",
                dev.arg(),
                "--from",
                "owner",
                "--seq",
                "1",
            ]))
        };
        let dereg = success_receipt(node.cli(&[
            "--json",
            "device",
            "deregister",
            "--owner",
            "owner",
            "--device",
            &id,
        ]));
        let expected = RejectReason::Deregistered { height: dereg.height };

        // During the cooldown.
        let r = heartbeat();
        let TxOutcome::Reports { accepted: 0, rejected } = &r.outcome else { panic!("{r:?}") };
        assert_eq!(rejected.len(), 1, "{r:?}");
        assert_eq!(rejected[0].reason, expected);

        // After the release.
        let release = dereg.height + COOLDOWN;
        node.wait_for_height(release, Duration::from_secs(30)).await;
        let v = device(&node, &dev.id).await;
        assert_eq!(
            v.device.status,
            DeviceStatus::Released { height: release, deregistered_height: dereg.height }
        );
        let r = heartbeat();
        let TxOutcome::Reports { accepted: 0, rejected } = &r.outcome else { panic!("{r:?}") };
        assert_eq!(rejected.len(), 1, "{r:?}");
        assert_eq!(rejected[0].reason, expected, "the reason names the release height");
    });
}
