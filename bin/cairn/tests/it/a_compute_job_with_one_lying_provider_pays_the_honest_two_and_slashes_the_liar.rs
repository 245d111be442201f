//! Three providers take a compute job through the CLI, commit and reveal; one reveals a
//! different result. When the reveal phase ends the two who agree are paid (their places'
//! data credits are consumed and each counts a verified job for the compute pool), the liar's
//! bond is slashed, and the consumer gets the liar's share of credits back.

use crate::device_support::{keygen, success_receipt};
use crate::harness::{self, NodeBuilder, crn};
use cairn_types::Hash;
use cairn_types::compute::{JobStatus, job_id};
use std::time::Duration;

/// Blocks for each phase (100 ms blocks): room for the CLI calls.
const WINDOW: u64 = 120;

#[test]
fn a_compute_job_with_one_lying_provider_pays_the_honest_two_and_slashes_the_liar() {
    harness::run(Duration::from_secs(120), async {
        let b = NodeBuilder::new().edit_genesis(|g| {
            g["params"]["compute"]["commit_window_blocks"] = WINDOW.into();
            g["params"]["compute"]["reveal_window_blocks"] = WINDOW.into();
        });
        let consumer = b.new_keystore_key("consumer");
        let owners: Vec<_> = (0..3).map(|i| b.new_keystore_key(&format!("p{i}"))).collect();
        let mut b = b.fund(consumer, crn(1_000));
        for o in &owners {
            b = b.fund(*o, crn(1_000));
        }
        let node = b.oracle(consumer).start().await;
        node.buy_credits("consumer", "10");
        let mut devices = Vec::new();
        for i in 0..3 {
            let dev = keygen(&node, &format!("gpu{i}"), false);
            let owner = format!("p{i}");
            success_receipt(node.cli(&[
                "--json",
                "device",
                "register",
                "--owner",
                &owner,
                "--device-key",
                dev.arg(),
                "--class",
                "compute",
            ]));
            devices.push(dev);
        }
        let (w, input) =
            (Hash::sha256(b"workload").to_string(), Hash::sha256(b"input").to_string());
        node.cli(&[
            "--json",
            "compute",
            "post",
            "--from",
            "consumer",
            "--workload",
            &w,
            "--input",
            &input,
            "--price",
            "2000000",
        ])
        .success();
        let job = job_id(&consumer, 2);
        let jid = job.to_string();
        let good = Hash::sha256(b"42").to_string();
        let bad = Hash::sha256(b"41").to_string();
        let results = [&good, &good, &bad];
        let bonds0: Vec<u128> = {
            let mut v = Vec::new();
            for d in &devices {
                v.push(node.client().device(&d.id).await.expect("device").device.bond);
            }
            v
        };
        for (i, dev) in devices.iter().enumerate() {
            let (owner, id) = (format!("p{i}"), dev.id.to_string());
            let secret = node.dir().join(format!("secret{i}.json"));
            let secret = secret.to_str().expect("path");
            success_receipt(node.cli(&[
                "--json", "compute", "take", "--owner", &owner, "--job", &jid, "--device", &id,
            ]));
            success_receipt(node.cli(&[
                "--json", "compute", "commit", "--owner", &owner, "--job", &jid, "--device", &id,
                "--result", results[i], "--secret", secret,
            ]));
        }
        // Everyone committed, so reveals are open.
        for (i, dev) in devices.iter().enumerate() {
            let (owner, id) = (format!("p{i}"), dev.id.to_string());
            let secret = node.dir().join(format!("secret{i}.json"));
            success_receipt(node.cli(&[
                "--json",
                "compute",
                "reveal",
                "--owner",
                &owner,
                "--job",
                &jid,
                "--device",
                &id,
                "--secret",
                secret.to_str().expect("path"),
            ]));
        }
        let deadline = node.client().job(&job).await.expect("job").reveal_deadline;
        node.wait_for_height(deadline + 1, Duration::from_secs(60)).await;
        let done = node.client().job(&job).await.expect("job");
        let JobStatus::Done { result, paid, slashed, refunded, .. } = &done.status else {
            panic!("{done:?}")
        };
        assert_eq!(result.map(|r| r.to_string()), Some(good.clone()));
        assert_eq!(paid, &vec![devices[0].id, devices[1].id]);
        assert_eq!(slashed, &vec![devices[2].id]);
        assert_eq!(*refunded, 2_000_000);
        let consumed = node.client().oracles().await.expect("oracles").credits.consumed;
        assert_eq!(consumed, 2 * 2_000_000);
        let credits = node.client().credits(&consumer).await.expect("credits").credits;
        assert_eq!(credits, crn(10) - 2 * 2_000_000);
        let slash = node.client().params().await.expect("params").compute.slash;
        let liar = node.client().device(&devices[2].id).await.expect("device").device.bond;
        assert_eq!(liar, bonds0[2] - slash);
        let honest = node.client().device(&devices[0].id).await.expect("device").device.bond;
        assert_eq!(honest, bonds0[0]);
    });
}
