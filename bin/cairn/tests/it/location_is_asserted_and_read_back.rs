//! `cairn device assert-location --lat --lng` puts a device in the resolution-12 H3 cell of
//! that point (burning the location fee), `cairn device show` reads it back with its
//! history, and device listings find it by any coarser cell (`GET /v1/devices?cell=` and
//! `cairn device list --cell`) but not by a far-away one; moving it updates the cell index.
//! Owner and class filters select exactly their devices, and paging with `limit=1` and
//! `after` returns every device exactly once, with and without filters.

use crate::device_support::{self as ds, KeyFile, device, keygen, success_receipt};
use crate::harness::{self, Node, NodeBuilder, crn};
use cairn_client::DeviceQuery;
use cairn_types::device_key::DeviceId;
use cairn_types::genesis::StateLayout;
use cairn_types::{Address, DeviceClass};
use h3o::{LatLng, Resolution};
use std::collections::BTreeSet;
use std::time::Duration;

const PARIS: (f64, f64) = (48.858_37, 2.294_481);
const TOKYO: (f64, f64) = (35.658_58, 139.745_4);
const SYDNEY: (f64, f64) = (-33.856_78, 151.215_3);
/// Two points some 40 m from `PARIS`: the same resolution-7 cell, other resolution-12 ones.
const NEAR_PARIS_1: (f64, f64) = (48.858_7, 2.294_8);
const NEAR_PARIS_2: (f64, f64) = (48.858_1, 2.294_1);

/// The resolution-12 cell of a point, or its ancestor at `res`: the API's "inside a cell"
/// follows the H3 hierarchy, and a coarse cell of the point itself may differ from the
/// parent of its fine cell (H3 children do not tile their parent exactly).
fn cell(at: (f64, f64), res: Resolution) -> h3o::CellIndex {
    let fine = LatLng::new(at.0, at.1).expect("coordinate").to_cell(Resolution::Twelve);
    fine.parent(res).expect("coarser parent")
}

fn register(node: &Node, owner: &str, dev: &KeyFile, class: &str) {
    success_receipt(node.cli(&[
        "--json",
        "device",
        "register",
        "--owner",
        owner,
        "--device-key",
        dev.arg(),
        "--class",
        class,
    ]));
}

fn assert_at(node: &Node, owner: &str, dev: &KeyFile, at: (f64, f64)) -> cairn_types::Receipt {
    success_receipt(node.cli(&[
        "--json",
        "device",
        "assert-location",
        "--owner",
        owner,
        "--device",
        &dev.id.to_string(),
        "--lat",
        &at.0.to_string(),
        "--lng",
        &at.1.to_string(),
    ]))
}

/// Ids of one page, in order.
async fn ids(node: &Node, q: &DeviceQuery) -> Vec<DeviceId> {
    let page = node.client().devices(q).await.unwrap_or_else(|e| panic!("{q:?}: {e}"));
    page.devices.iter().map(|d| d.id).collect()
}

fn set(ids: &[DeviceId]) -> BTreeSet<DeviceId> {
    ids.iter().copied().collect()
}

/// Pages through `q` one device at a time; fails on a repeat or an endless listing.
async fn page_by_one(node: &Node, q: DeviceQuery) -> Vec<DeviceId> {
    let mut all = Vec::new();
    let mut after = None;
    for _ in 0..50 {
        let page = node
            .client()
            .devices(&DeviceQuery { limit: Some(1), after: after.clone(), ..q.clone() })
            .await
            .expect("device page");
        assert!(page.devices.len() <= 1, "limit=1 returned {}", page.devices.len());
        all.extend(page.devices.iter().map(|d| d.id));
        match page.next {
            None => {
                let unique = set(&all);
                assert_eq!(unique.len(), all.len(), "paging returned a device twice: {all:?}");
                return all;
            }
            Some(next) => {
                assert!(!page.devices.is_empty(), "an empty page has a next cursor");
                after = Some(next);
            }
        }
    }
    panic!("paging {q:?} did not end; so far {all:?}");
}

#[test]
fn location_is_asserted_and_read_back() {
    scenario(StateLayout::Folded);
}

/// The same on a chain of the compact layout (ADR 0036, before the folded device record of
/// ADR 0037): the location history is read from its own keys there.
#[test]
fn location_is_asserted_and_read_back_on_a_compact_layout_chain() {
    scenario(StateLayout::Compact);
}

/// The same on a chain whose genesis leaves `state_layout` out (started before it, ADR
/// 0036): the listings read the query indexes from state there, not from the node's index.
#[test]
fn location_is_asserted_and_read_back_on_a_legacy_layout_chain() {
    scenario(StateLayout::Legacy);
}

fn scenario(layout: StateLayout) {
    harness::run(Duration::from_secs(120), async move {
        let mut b = NodeBuilder::new();
        if layout == StateLayout::Legacy {
            b = b.edit_genesis(|g| {
                g["params"].as_object_mut().expect("params").remove("state_layout");
            });
        }
        if layout == StateLayout::Compact {
            b = b.edit_genesis(|g| g["params"]["state_layout"] = "compact".into());
        }
        let alice = b.new_keystore_key("alice");
        let bob = b.new_keystore_key("bob");
        let node = b.fund(alice, crn(1_000)).fund(bob, crn(1_000)).start().await;
        assert_eq!(ds::params(&node).await.state_layout, layout);
        let location_fee = ds::params(&node).await.devices.location_fee;
        assert!(location_fee > 0);

        // alice: two hotspots and a sensor; bob: a hotspot and a sensor.
        let a1 = keygen(&node, "a1", false);
        let a2 = keygen(&node, "a2", true);
        let a3 = keygen(&node, "a3", false);
        let b1 = keygen(&node, "b1", false);
        let b2 = keygen(&node, "b2", false);
        register(&node, "alice", &a1, "hotspot");
        register(&node, "alice", &a2, "hotspot");
        register(&node, "alice", &a3, "sensor");
        register(&node, "bob", &b1, "hotspot");
        register(&node, "bob", &b2, "sensor");
        let every = set(&[a1.id, a2.id, a3.id, b1.id, b2.id]);

        // Assert a1 at the Eiffel tower.
        let before = node.account(&alice).await.balance;
        let r = assert_at(&node, "alice", &a1, PARIS);
        assert_eq!(node.account(&alice).await.balance, before - location_fee - r.fee_paid);
        let paris12 = cell(PARIS, Resolution::Twelve);
        let v = node.cli(&["--json", "device", "show", &a1.id.to_string()]).success().json();
        assert_eq!(v["device"]["location"], paris12.to_string(), "{v}");
        assert_eq!(v["device"]["location_count"], 1, "{v}");
        let view = device(&node, &a1.id).await;
        assert_eq!(view.device.location, Some(u64::from(paris12)));
        assert_eq!(view.device.location_count, 1);
        assert_eq!(view.locations.len(), 1);
        assert_eq!(view.locations[0].cell, u64::from(paris12));
        assert_eq!(view.locations[0].height, r.height);
        // The human output shows the cell as H3 tools print it.
        let text = node.cli(&["device", "show", &a1.id.to_string()]).success().stdout;
        assert!(text.contains(&paris12.to_string()), "{text}");
        // a2 sits in Tokyo; a3 and b1 a few dozen metres from a1.
        assert_at(&node, "alice", &a2, TOKYO);
        assert_at(&node, "alice", &a3, NEAR_PARIS_1);
        assert_at(&node, "bob", &b1, NEAR_PARIS_2);

        // Cell filters: a cell lists exactly the devices whose cell lies inside it.
        let paris7 = paris12.parent(Resolution::Seven).expect("res-7 parent");
        let tokyo7 = cell(TOKYO, Resolution::Seven);
        let sydney7 = cell(SYDNEY, Resolution::Seven);
        let neighbour = paris7.grid_disk::<Vec<_>>(1).into_iter().find(|c| *c != paris7).unwrap();
        let mut located = vec![
            (a1.id, paris12),
            (a2.id, cell(TOKYO, Resolution::Twelve)),
            (a3.id, cell(NEAR_PARIS_1, Resolution::Twelve)),
            (b1.id, cell(NEAR_PARIS_2, Resolution::Twelve)),
        ];
        let inside = |located: &[(DeviceId, h3o::CellIndex)], c: h3o::CellIndex| {
            located
                .iter()
                .filter(|(_, at)| at.parent(c.resolution()) == Some(c))
                .map(|(id, _)| *id)
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(inside(&located, paris7), set(&[a1.id, a3.id, b1.id]), "test points moved");
        assert_eq!(inside(&located, paris12), set(&[a1.id]), "test points too close");
        let in_cell =
            |c: h3o::CellIndex| DeviceQuery { cell: Some(u64::from(c)), ..DeviceQuery::default() };
        let mut cells = vec![tokyo7, sydney7, neighbour];
        for res in [0u8, 3, 7, 9, 10, 11, 12] {
            cells.push(paris12.parent(Resolution::try_from(res).unwrap()).expect("parent"));
        }
        for c in &cells {
            let want = inside(&located, *c);
            let got = ids(&node, &in_cell(*c)).await;
            assert_eq!(got.len(), want.len(), "cell {c} (res {}): {got:?}", c.resolution());
            assert_eq!(set(&got), want, "cell {c} (res {})", c.resolution());
            assert_eq!(set(&page_by_one(&node, in_cell(*c)).await), want, "cell {c} paged");
        }
        assert!(ids(&node, &in_cell(sydney7)).await.is_empty());
        // Cell and class together.
        let sensors_in_paris = DeviceQuery { class: Some(DeviceClass::Sensor), ..in_cell(paris7) };
        assert_eq!(ids(&node, &sensors_in_paris).await, vec![a3.id]);
        // The CLI takes the cell in hex.
        let listed = |c: h3o::CellIndex| -> BTreeSet<String> {
            let v = node.cli(&["--json", "device", "list", "--cell", &c.to_string()]).success();
            v.json()["devices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_string())
                .collect()
        };
        let hex_ids = |ids: &[DeviceId]| ids.iter().map(|i| i.to_string()).collect();
        assert_eq!(listed(paris7), hex_ids(&[a1.id, a3.id, b1.id]));
        assert_eq!(listed(sydney7), BTreeSet::new());
        // The route takes the cell as H3 writes it; the decimal index is refused.
        let get = reqwest::Method::GET;
        let listing =
            harness::http(&node, get.clone(), &format!("/v1/devices?cell={paris7}"), None).await;
        assert_eq!(listing.status, 200, "{listing:?}");
        let page: cairn_types::api::DeviceListView = serde_json::from_str(&listing.body).unwrap();
        assert_eq!(page.devices.len(), 3, "{listing:?}");
        let decimal = format!("/v1/devices?cell={}", u64::from(paris7));
        harness::http(&node, get, &decimal, None).await.assert_error(400, "bad_query");

        // Moving a1 to Sydney: two assertions in its history, indexed under Sydney only.
        let r2 = assert_at(&node, "alice", &a1, SYDNEY);
        let view = device(&node, &a1.id).await;
        let sydney12 = cell(SYDNEY, Resolution::Twelve);
        assert_eq!(view.device.location, Some(u64::from(sydney12)));
        assert_eq!(view.device.location_count, 2);
        let history: Vec<(u64, u64)> = view.locations.iter().map(|l| (l.cell, l.height)).collect();
        assert_eq!(history, vec![(u64::from(paris12), r.height), (u64::from(sydney12), r2.height)]);
        located[0].1 = sydney12;
        cells.push(sydney12);
        for c in &cells {
            let want = inside(&located, *c);
            assert_eq!(set(&ids(&node, &in_cell(*c)).await), want, "cell {c} after the move");
        }
        assert_eq!(ids(&node, &in_cell(paris12)).await, vec![], "a1 is still listed in Paris");
        assert_eq!(set(&ids(&node, &in_cell(paris7)).await), set(&[a3.id, b1.id]));
        assert_eq!(ids(&node, &in_cell(sydney7)).await, vec![a1.id]);

        // Owner and class filters, alone and together.
        let by = |owner: Option<Address>, class: Option<DeviceClass>| DeviceQuery {
            owner,
            class,
            ..DeviceQuery::default()
        };
        let cases = [
            (by(Some(alice), None), set(&[a1.id, a2.id, a3.id])),
            (by(Some(bob), None), set(&[b1.id, b2.id])),
            (by(None, Some(DeviceClass::Hotspot)), set(&[a1.id, a2.id, b1.id])),
            (by(None, Some(DeviceClass::Sensor)), set(&[a3.id, b2.id])),
            (by(None, Some(DeviceClass::Compute)), set(&[])),
            (by(Some(alice), Some(DeviceClass::Sensor)), set(&[a3.id])),
            (by(Some(bob), Some(DeviceClass::Hotspot)), set(&[b1.id])),
            (
                DeviceQuery {
                    owner: Some(bob),
                    cell: Some(u64::from(tokyo7)),
                    ..DeviceQuery::default()
                },
                set(&[]),
            ),
            (
                DeviceQuery {
                    owner: Some(alice),
                    cell: Some(u64::from(tokyo7)),
                    ..DeviceQuery::default()
                },
                set(&[a2.id]),
            ),
            (by(None, None), every.clone()),
        ];
        for (q, expected) in &cases {
            let got = ids(&node, q).await;
            assert_eq!(got.len(), expected.len(), "{q:?}: {got:?}");
            assert_eq!(&set(&got), expected, "{q:?}");
            let paged = page_by_one(&node, q.clone()).await;
            assert_eq!(&set(&paged), expected, "{q:?} paged by one");
        }
        // Every listed record is the device's own record.
        let page = node.client().devices(&DeviceQuery::default()).await.expect("all devices");
        for d in &page.devices {
            assert_eq!(d, &device(&node, &d.id).await.device);
        }
        // The CLI filters by owner name and class too.
        let v = node
            .cli(&["--json", "device", "list", "--owner", "bob", "--class", "sensor"])
            .success()
            .json();
        assert_eq!(v["devices"].as_array().map(Vec::len), Some(1), "{v}");
        assert_eq!(v["devices"][0]["id"], b2.id.to_string(), "{v}");
    });
}
