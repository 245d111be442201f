//! `cairn device beacon` without `--frequency-khz` or `--tx-power-dbm` takes them from the
//! region plan of the hotspot's location: a hotspot in Paris beacons on 868.1 MHz (EU868),
//! one in New York on 902.3 MHz (US915; 868.1 MHz would be refused there). A power above
//! the plan's maximum EIRP is refused with its reason.

use crate::device_support::{KeyFile, keygen, success_receipt};
use crate::harness::{self, Node, NodeBuilder, crn};
use cairn_types::TxOutcome;
use std::time::Duration;

fn located_hotspot(node: &Node, name: &str, lat: &str, lng: &str) -> KeyFile {
    let dev = keygen(node, name, false);
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
        "hotspot",
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
        lat,
        "--lng",
        lng,
    ]));
    dev
}

fn beacon(node: &Node, dev: &KeyFile, extra: &[&str]) -> TxOutcome {
    let mut args = vec!["--json", "device", "beacon", "--device-key", dev.arg(), "--from", "owner"];
    args.extend_from_slice(extra);
    success_receipt(node.cli(&args)).outcome
}

#[test]
fn hotspots_beacon_through_the_cli_on_their_region_plans_channel() {
    harness::run(Duration::from_secs(90), async {
        let b = NodeBuilder::new();
        let owner = b.new_keystore_key("owner");
        let node = b.fund(owner, crn(1_000)).start().await;
        let paris = located_hotspot(&node, "paris", "48.85", "2.35");
        let new_york = located_hotspot(&node, "new-york", "40.71", "-74.0");
        let TxOutcome::Reports { accepted: 0, rejected } =
            beacon(&node, &paris, &["--tx-power-dbm", "17"])
        else {
            panic!("a 17 dBm beacon in Paris was accepted");
        };
        assert_eq!(rejected[0].reason.code(), "beacon_power_outside_plan");
        let ok = TxOutcome::Reports { accepted: 1, rejected: vec![] };
        assert_eq!(beacon(&node, &paris, &[]), ok);
        assert_eq!(beacon(&node, &new_york, &[]), ok);
        let TxOutcome::Reports { accepted: 0, rejected } =
            beacon(&node, &new_york, &["--frequency-khz", "868100"])
        else {
            panic!("an 868.1 MHz beacon in New York was accepted");
        };
        assert_eq!(rejected[0].reason.code(), "beacon_frequency_outside_plan");
    });
}
