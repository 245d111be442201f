//! A consumer prepares a file and opens a deal through the CLI; the provider takes it on with
//! `cairn storage accept` and answers the first challenge with `cairn storage prove` from its copy of the file, which consumes the
//! epoch's data credits (the provider earns from the storage pool); it skips the next one and
//! is faulted at the following epoch start, paying the fault fee.

use crate::device_support::{keygen, success_receipt};
use crate::harness::{self, Node, NodeBuilder, crn};
use cairn_types::Hash;
use cairn_types::storage::{Challenge, DealStatus, deal_id};
use std::time::{Duration, Instant};

/// 3 s epochs at 100 ms blocks, 2 s to answer.
const EPOCH: u64 = 30;

async fn wait_challenge(node: &Node, deal: &Hash, after_epoch: Option<u64>) -> Challenge {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let d = node.client().deal(deal).await.expect("deal");
        if let Some(c) = d.challenge.filter(|c| after_epoch.is_none_or(|e| c.epoch > e)) {
            return c;
        }
        assert!(Instant::now() < until, "no challenge: {d:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_storage_provider_is_paid_for_answered_challenges_and_faulted_for_missed_ones() {
    harness::run(Duration::from_secs(90), async {
        let b = NodeBuilder::new().blocks_per_epoch(EPOCH).edit_genesis(|g| {
            g["params"]["storage"]["response_blocks"] = 20.into();
        });
        let consumer = b.new_keystore_key("consumer");
        let provider = b.new_keystore_key("provider");
        let node =
            b.fund(consumer, crn(1_000)).fund(provider, crn(1_000)).oracle(consumer).start().await;
        node.buy_credits("consumer", "10");
        let dev = keygen(&node, "disk", false);
        success_receipt(node.cli(&[
            "--json",
            "device",
            "register",
            "--owner",
            "provider",
            "--device-key",
            dev.arg(),
            "--class",
            "storage",
        ]));
        let file = node.dir().join("photo.bin");
        std::fs::write(&file, (0..5000u32).map(|i| (i % 253) as u8).collect::<Vec<u8>>())
            .expect("file");
        let file = file.to_str().expect("path");
        let prepared = node.cli(&["--json", "storage", "prepare", file]).success().json();
        // Five chunks of 1 024 bytes: the deal counts 5 120 bytes for the 5 000-byte file.
        assert_eq!(prepared["file_size"], 5000);
        assert_eq!(prepared["chunks"], 5);
        assert_eq!(prepared["size"], 5120);
        node.cli(&[
            "--json",
            "storage",
            "open-deal",
            "--from",
            "consumer",
            "--device",
            &dev.id.to_string(),
            "--file",
            file,
            "--epochs",
            "5",
            "--price",
            "100000",
        ])
        .success();
        let deal = deal_id(&consumer, 2);
        let shown = node.client().deal(&deal).await.expect("deal");
        assert_eq!(shown.root.to_string(), prepared["root"].as_str().expect("root"));
        assert_eq!((shown.chunks, shown.size), (5, 5120));
        assert!(matches!(shown.status, DealStatus::Pending { .. }), "{:?}", shown.status);
        success_receipt(node.cli(&[
            "--json",
            "storage",
            "accept",
            &deal.to_string(),
            "--owner",
            "provider",
        ]));
        let accepted = node.client().deal(&deal).await.expect("deal");
        assert_eq!(accepted.status, DealStatus::Active);

        let first = wait_challenge(&node, &deal, None).await;
        let before = node.account(&provider).await.balance;
        let r = success_receipt(node.cli(&[
            "--json",
            "storage",
            "prove",
            "--owner",
            "provider",
            "--deal",
            &deal.to_string(),
            "--file",
            file,
        ]));
        assert!(r.height < first.deadline);
        // The answer consumed one epoch's credits; the provider earns from the storage pool.
        assert_eq!(node.account(&provider).await.balance, before - r.fee_paid);
        let consumed = node.client().oracles().await.expect("oracles").credits.consumed;
        assert_eq!(consumed, 100_000);

        // Skip the next challenge; the epoch after it records the miss.
        let second = wait_challenge(&node, &deal, Some(first.epoch)).await;
        let bond = node.client().device(&dev.id).await.expect("device").device.bond;
        wait_challenge(&node, &deal, Some(second.epoch)).await;
        let d = node.client().deal(&deal).await.expect("deal");
        assert_eq!((d.proven_epochs, d.faults, d.misses_in_row), (1, 1, 1));
        let fee = node.client().params().await.expect("params").storage.fault_fee;
        assert_eq!(node.client().device(&dev.id).await.expect("device").device.bond, bond - fee);
    });
}
