//! A device key whose bond was released registers again (device nonce 1) and asserts a new
//! location. Its record and its location history must agree: `locations` holds
//! `location_count` entries in assertion order, ending with the new cell, and no earlier
//! assertion is overwritten in place. (Whether the history restarts or carries over from the
//! key's first life, both of those hold.) Under the folded state layout (a new chain's, ADR
//! 0037) the state keeps the last two assertions of that history, and `locations` shows them.

use crate::device_support::{device, keygen, success_receipt};
use crate::harness::{self, Node, NodeBuilder, crn};
use h3o::{LatLng, Resolution};
use std::time::Duration;

const COOLDOWN: u64 = 5;

fn cell(lat: f64, lng: f64) -> u64 {
    u64::from(LatLng::new(lat, lng).expect("coordinate").to_cell(Resolution::Twelve))
}

fn assert_at(node: &Node, id: &str, lat: f64, lng: f64) -> cairn_types::Receipt {
    success_receipt(node.cli(&[
        "--json",
        "device",
        "assert-location",
        "--owner",
        "owner",
        "--device",
        id,
        "--lat",
        &lat.to_string(),
        "--lng",
        &lng.to_string(),
    ]))
}

#[test]
fn a_re_registered_device_keeps_a_consistent_location_history() {
    harness::run(Duration::from_secs(60), async {
        let b = NodeBuilder::new().edit_genesis(|g| {
            g["params"]["devices"]["bond_cooldown_blocks"] = COOLDOWN.into();
        });
        let owner = b.new_keystore_key("owner");
        let node = b.fund(owner, crn(1_000)).start().await;
        let dev = keygen(&node, "roamer", false);
        let id = dev.id.to_string();
        let register = || {
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
            ]))
        };

        // First life: two assertions, then deregistration and release.
        register();
        let first = assert_at(&node, &id, 10.0, 10.0);
        let second = assert_at(&node, &id, 20.0, 20.0);
        let v = device(&node, &dev.id).await;
        assert_eq!(v.device.location_count, 2);
        assert_eq!(v.locations.len(), 2);
        let dereg = success_receipt(node.cli(&[
            "--json",
            "device",
            "deregister",
            "--owner",
            "owner",
            "--device",
            &id,
        ]));
        node.wait_for_height(dereg.height + COOLDOWN, Duration::from_secs(30)).await;
        let v = device(&node, &dev.id).await;
        assert!(
            matches!(v.device.status, cairn_types::device::DeviceStatus::Released { .. }),
            "{v:?}"
        );

        // Second life: a fresh record, consistent with its history.
        register();
        let v = device(&node, &dev.id).await;
        assert_eq!(v.registrations, 2);
        assert_eq!(v.device.location, None);
        assert_eq!(
            v.locations.len(),
            v.device.location_count as usize,
            "history and count disagree after re-registration: {:?}",
            v.locations
        );
        let r = assert_at(&node, &id, 30.0, 30.0);
        let v = device(&node, &dev.id).await;
        let new_cell = cell(30.0, 30.0);
        assert_eq!(v.device.location, Some(new_cell));
        let folded = crate::device_support::params(&node).await.state_layout
            == cairn_types::genesis::StateLayout::Folded;
        let count = v.device.location_count as usize;
        assert_eq!(
            v.locations.len(),
            if folded { count.min(2) } else { count },
            "history and count disagree: {:?}",
            v.locations
        );
        let last = v.locations.last().expect("a location history");
        assert_eq!((last.cell, last.height), (new_cell, r.height), "{:?}", v.locations);
        let heights: Vec<u64> = v.locations.iter().map(|l| l.height).collect();
        assert!(heights.windows(2).all(|w| w[0] < w[1]), "history out of order: {:?}", v.locations);
        // Either a fresh history or the whole of it; never a mix.
        let history: Vec<(u64, u64)> = v.locations.iter().map(|l| (l.cell, l.height)).collect();
        let fresh = vec![(new_cell, r.height)];
        let whole = vec![
            (cell(10.0, 10.0), first.height),
            (cell(20.0, 20.0), second.height),
            (new_cell, r.height),
        ];
        // The folded record keeps the last two of either.
        let kept = |h: &[(u64, u64)]| h[h.len().saturating_sub(2)..].to_vec();
        let (fresh, whole) = if folded { (kept(&fresh), kept(&whole)) } else { (fresh, whole) };
        assert!(history == fresh || history == whole, "history {history:?}");
        // Listing by the first life's cells does not find it.
        for (lat, lng) in [(10.0, 10.0), (20.0, 20.0)] {
            let q = cairn_client::DeviceQuery { cell: Some(cell(lat, lng)), ..Default::default() };
            assert!(node.client().devices(&q).await.expect("list").devices.is_empty());
        }
    });
}
