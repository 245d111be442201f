//! `cairn sim` against a node that makes blocks on demand: eighty devices of every class
//! around one city, a quarter of them cheating, all thirteen behaviours (each with the fewest
//! devices it needs), three measured epochs after
//! the default warm-up, a fixed seed. The figures it prints come from the node's reward
//! reports, so they are checked against the node too: what the simulator says was held in
//! escrow and flagged is what the node holds and flags. The same seed on a fresh node gives
//! the same figures.

use crate::harness::{NodeBuilder, cli, crn, run};
use cairn_types::Keypair;
use std::collections::BTreeMap;
use std::time::Duration;

const EPOCH: u64 = 20;
/// Devices, adversarial share and seed of the main run.
const FLEET: (&str, &str, &str) = ("80", "0.25", "7");
/// Every behaviour the simulator has, by name.
const BEHAVIOURS: [&str; 13] = [
    "spoofer",
    "ring",
    "replayer",
    "inflater",
    "storage-cheat",
    "lazy-compute",
    "copier",
    "sybil",
    "storage-inflater",
    "double-witness",
    "loud-beacon",
    "self-dealer",
    "roster-griefer",
];

async fn node(funder: &Keypair) -> crate::harness::Node {
    NodeBuilder::new()
        .blocks_per_epoch(EPOCH)
        .fund(funder.address(), crn(100_000))
        .oracle(funder.address())
        .edit_genesis(|g| {
            let p = &mut g["params"];
            // Hotspots beacon about twice an epoch, their witnesses are in within half an
            // interval (so the unheard rule has a judged beacon at every boundary); jobs and
            // channels settle within a few ticks; storage challenges are answered in the
            // epoch's first slots.
            p["coverage"]["beacon_interval_blocks"] = 8.into();
            p["coverage"]["witness_lag_blocks"] = 4.into();
            // The probation of new hotspots follows: two beacon intervals and the lag.
            p["fraud"]["probation_blocks"] = 20.into();
            p["compute"]["commit_window_blocks"] = 6.into();
            p["compute"]["reveal_window_blocks"] = 6.into();
            p["usage"]["dispute_window_blocks"] = 4.into();
            p["storage"]["response_blocks"] = 5.into();
        })
        .blocks_on_demand()
        .start()
        .await
}

fn sim(
    node: &crate::harness::Node,
    funder: &Keypair,
    (devices, adversarial, seed): (&str, &str, &str),
    behaviours: &str,
) -> serde_json::Value {
    let secret = hex::encode(funder.secret_bytes());
    let args = [
        "--node",
        node.url(),
        "--json",
        "sim",
        "--devices",
        devices,
        "--adversarial",
        adversarial,
        "--epochs",
        "3",
        "--seed",
        seed,
        "--funder",
        &secret,
        "--behaviours",
        behaviours,
    ];
    cli(&args, &[]).success().json()
}

fn share(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

#[test]
fn the_fleet_simulator_keeps_fraud_paid_and_honest_work_rejected_within_one_percent() {
    run(Duration::from_secs(480), async {
        let funder = Keypair::from_label("it-sim-funder");
        let behaviours = BEHAVIOURS.join(",");
        let n = node(&funder).await;
        let r = sim(&n, &funder, FLEET, &behaviours);
        assert_eq!(r["devices"], 80, "{r}");
        assert_eq!(r["adversarial_devices"], 20, "{r}");
        assert!(r["warnings"].as_array().is_some_and(|w| w.is_empty()), "{r:#}");
        for key in ["fraud_paid_share", "honest_rejected_share", "honest_withheld_share"] {
            let x = share(&r, key);
            assert!((0.0..=0.01).contains(&x), "{key} = {x}: {r:#}");
        }
        assert_eq!(r["goals_met"], true);
        // Honest devices did real work and were paid for it.
        assert!(r["honest"]["reports"].as_u64().unwrap() > 1_000, "{r:#}");
        assert!(share(&r["honest"], "paid_share") > 0.99, "{r:#}");
        // Every behaviour tried, and each was stopped by the check meant for it (the paid-value
        // caps and the roster of accepted reports leave no count behind: for those, what was
        // paid says it).
        let b = &r["behaviours"];
        assert_eq!(b.as_object().map(|o| o.len()), Some(BEHAVIOURS.len()), "{b:#}");
        for name in BEHAVIOURS {
            let row = &b[name];
            assert!(
                row["attempted_crn"].as_str().unwrap() != "0",
                "{name} attempted nothing: {row}"
            );
            assert!(share(row, "fraud_paid_share") <= 0.01, "{name}: {row}");
            assert_eq!(row["gets_through"], false, "{name}: {row}");
        }
        assert_eq!(b["roster-griefer"]["honest_held_device_epochs"], 0, "{b:#}");
        // A self-dealer is paid back about what it burned for its work, and gains (next to)
        // nothing on it: base units of rounding at most.
        let dealer = &b["self-dealer"];
        for key in ["burned_crn", "gross_paid_crn"] {
            assert!(dealer[key].as_str().unwrap() != "0", "{key}: {dealer}");
        }
        assert!(share(dealer, "fraud_paid_share") < 1e-6, "{dealer}");
        let caught = [
            ("spoofer", "unheard"),
            ("ring", "witness_ring"),
            ("replayer", "replayed_sequence"),
            ("inflater", "rssi_above_fspl"),
            ("storage-cheat", "bad_merkle_path"),
            ("lazy-compute", "compute_slash"),
            ("copier", "copied_sensor"),
            ("sybil", "colocated"),
            ("double-witness", "duplicate_witness"),
            ("loud-beacon", "beacon_frequency_outside_plan"),
        ];
        for (name, check) in caught {
            let row = &b[name];
            assert!(
                row["caught_by"][check].as_u64().unwrap_or(0) > 0,
                "{name} not by {check}: {row}"
            );
        }

        // The node agrees: what it flagged, per detector, over the simulated epochs.
        let (first, last) = (r["first_epoch"].as_u64().unwrap(), r["last_epoch"].as_u64().unwrap());
        let mut flagged: BTreeMap<String, u64> = BTreeMap::new();
        for e in first..=last {
            for entry in n.client().epoch_report(e).await.unwrap().entries {
                for f in entry.flags {
                    *flagged.entry(f.detector().to_string()).or_default() += 1;
                }
            }
        }
        let said = |name: &str, check: &str| b[name]["caught_by"][check].as_u64().unwrap_or(0);
        assert_eq!(flagged.get("witness_ring").copied().unwrap_or(0), said("ring", "witness_ring"));
        assert_eq!(flagged.get("copied_sensor").copied(), Some(said("copier", "copied_sensor")));
        assert_eq!(flagged.get("colocated").copied(), Some(said("sybil", "colocated")));
        // Only the spoofer is unheard: no honest hotspot is flagged by the rule.
        assert_eq!(flagged.get("unheard").copied(), Some(said("spoofer", "unheard")));
        assert!(r["honest"]["not_counted"].get("unheard").is_none(), "{r:#}");
        assert!(n.client().supply().await.unwrap().held > 0, "flagged rewards are held");

        // Same seed, fresh node: the same figures.
        let again = sim(&node(&funder).await, &funder, FLEET, &behaviours);
        for key in [
            "fraud_paid_share",
            "fraud_held_share",
            "honest_rejected_share",
            "honest_withheld_share",
        ] {
            assert_eq!(r[key], again[key], "{key}");
        }
        assert_eq!(r["honest"], again["honest"]);
        assert_eq!(r["behaviours"], again["behaviours"]);
    });
}
