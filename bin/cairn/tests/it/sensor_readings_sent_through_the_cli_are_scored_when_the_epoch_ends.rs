//! A sensor registered and located through the CLI sends readings with
//! `cairn device reading`; an out-of-range one is rejected with its reason while the others
//! count; when the epoch ends the node has scored the sensor: timeliness × in-range ×
//! agreement (full agreement: it has no neighbour).

use crate::device_support::{keygen, success_receipt};
use crate::harness::{self, NodeBuilder, crn};
use cairn_types::TxOutcome;
use std::time::Duration;

/// 15 s at 100 ms blocks: room for the CLI calls inside epoch 0, even on a loaded machine.
const EPOCH: u64 = 150;

#[test]
fn sensor_readings_sent_through_the_cli_are_scored_when_the_epoch_ends() {
    harness::run(Duration::from_secs(90), async {
        let b = NodeBuilder::new().blocks_per_epoch(EPOCH);
        let owner = b.new_keystore_key("owner");
        let node = b.fund(owner, crn(1_000)).start().await;
        let dev = keygen(&node, "thermo", false);
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
            "sensor",
        ]));
        success_receipt(node.cli(&[
            "--json",
            "device",
            "assert-location",
            "--owner",
            "owner",
            "--device",
            &id,
            "--lat",
            "48.85",
            "--lng",
            "2.35",
        ]));
        for v in ["21.5", "22", "-0.5"] {
            let r = success_receipt(node.cli(&[
                "--json",
                "device",
                "reading",
                "--device-key",
                dev.arg(),
                "--from",
                "owner",
                "--value",
                v,
            ]));
            assert_eq!(r.outcome, TxOutcome::Reports { accepted: 1, rejected: vec![] }, "{v}");
        }
        let r = success_receipt(node.cli(&[
            "--json",
            "device",
            "reading",
            "--device-key",
            dev.arg(),
            "--from",
            "owner",
            "--value",
            "61",
        ]));
        let TxOutcome::Reports { accepted: 0, rejected } = &r.outcome else { panic!("{r:?}") };
        assert_eq!(rejected[0].reason.code(), "out_of_range");
        assert!(r.height < EPOCH, "the readings must land in epoch 0 (at {})", r.height);

        let before = node.client().sensor(&dev.id, Some(0)).await.expect("sensor");
        assert_eq!((before.readings.readings, before.readings.out_of_range), (3, 1));
        assert_eq!(before.readings.mean(), Some((21_500 + 22_000 - 500) / 3));
        assert_eq!(before.quality, None);

        node.wait_for_height(EPOCH + 1, Duration::from_secs(30)).await;
        let v = node.cli(&["--json", "device", "sensor", &id, "--epoch", "0"]).success().json();
        assert_eq!(v["quality"]["timeliness"], 300, "{v}"); // 3 of 10 expected readings
        assert_eq!(v["quality"]["in_range"], 750, "{v}"); // 3 of 4
        assert_eq!(v["quality"]["agreement"], 1000, "{v}"); // no neighbour
        assert_eq!(v["quality"]["quality"], 225, "{v}");
    });
}
