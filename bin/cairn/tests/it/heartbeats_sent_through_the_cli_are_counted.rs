//! Heartbeats sent with `cairn device heartbeat` (signed by the device key file, paid for by
//! another account) are each accepted, and the node counts them: `GET
//! /v1/devices/{id}/reports?epoch=` lists them in chain order with their sequence numbers
//! (default: last + 1; an explicit gap is allowed), where each landed, and the device's
//! activity (heartbeats, accepted, slots) and last_seq match. Paging the list with `limit`
//! and `after` gives the same reports; `cairn device reports` prints the same view.

use crate::device_support::{self as ds, device, keygen, reports, success_receipt};
use crate::harness::{self, NodeBuilder, crn, http};
use cairn_types::api::DeviceReportsView;
use cairn_types::device::ReportPayload;
use cairn_types::{Receipt, TxOutcome};
use std::collections::BTreeSet;
use std::time::Duration;

/// One epoch covers the whole test, so every heartbeat lands in epoch 0.
const BLOCKS_PER_EPOCH: u64 = 1_000_000;

#[test]
fn heartbeats_sent_through_the_cli_are_counted() {
    harness::run(Duration::from_secs(90), async {
        let b = NodeBuilder::new().blocks_per_epoch(BLOCKS_PER_EPOCH);
        let owner = b.new_keystore_key("owner");
        let gateway = b.new_keystore_key("gateway");
        let node = b.fund(owner, crn(100)).fund(gateway, crn(100)).start().await;
        let params = ds::params(&node).await;
        assert_eq!(params.blocks_per_epoch, BLOCKS_PER_EPOCH);
        let dev = keygen(&node, "meter", false);
        success_receipt(node.cli(&[
            "--json",
            "device",
            "register",
            "--owner",
            "owner",
            "--device-key",
            dev.arg(),
            "--class",
            "energy",
        ]));
        let id = dev.id.to_string();
        let before = node.account(&gateway).await.balance;

        // Three with default sequence numbers, one jumping to 10, one more by default.
        let mut sent: Vec<(u64, Receipt)> = Vec::new();
        for seq in [None, None, None, Some(10u64), None] {
            let seq_text = seq.map(|s| s.to_string());
            let mut args = vec![
                "--json",
                "device",
                "heartbeat",
                "--device-key",
                dev.arg(),
                "--from",
                "gateway",
            ];
            if let Some(s) = &seq_text {
                args.extend(["--seq", s.as_str()]);
            }
            let r = success_receipt(node.cli(&args));
            assert_eq!(r.outcome, TxOutcome::Reports { accepted: 1, rejected: vec![] }, "{r:?}");
            let expected_seq = seq.unwrap_or_else(|| sent.last().map_or(1, |(s, _)| s + 1));
            sent.push((expected_seq, r));
        }
        let seqs: Vec<u64> = sent.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, vec![1, 2, 3, 10, 11]);
        let fees: u128 = sent.iter().map(|(_, r)| r.fee_paid).sum();
        assert_eq!(node.account(&gateway).await.balance, before - fees);

        // The reports, in order, where they landed.
        let view = reports(&node, &dev.id, 0, false).await;
        assert_eq!(view.device, dev.id);
        assert_eq!(view.epoch, 0);
        let listed: Vec<(u64, u64, u32, u32)> = view
            .reports
            .iter()
            .map(|r| (r.report.seq, r.height, r.tx_index, r.report_index))
            .collect();
        let expected: Vec<(u64, u64, u32, u32)> =
            sent.iter().map(|(s, r)| (*s, r.height, r.index, 0)).collect();
        assert_eq!(listed, expected);
        for r in &view.reports {
            assert_eq!(r.reason, None, "{r:?}");
            let report = &r.report;
            assert_eq!(report.device, dev.public);
            assert_eq!(report.epoch, 0);
            assert!(matches!(report.payload, ReportPayload::Heartbeat { .. }), "{r:?}");
        }
        // The reports are the ones in the blocks.
        for (_, r) in &sent {
            let block = node.client().block(r.height).await.expect("block");
            let tx = &block.txs[r.index as usize].tx;
            let cairn_types::TxBody::SubmitReports { reports } = &tx.body else {
                panic!("not a report batch: {tx:?}")
            };
            assert_eq!(reports.len(), 1);
            let listed = view.reports.iter().find(|x| x.height == r.height).unwrap();
            // The index holds the report; its signature is in the block and verifies.
            assert_eq!(reports[0].report, listed.report);
            dev.public
                .verify(&listed.report.signing_message(node.chain_id()), &reports[0].signature)
                .expect("the block carries the device's signature");
        }

        // Counts: five heartbeats, five accepted, none rejected; slots as the heights say.
        let slots = params.devices.heartbeat_slots as u64;
        let filled: BTreeSet<u64> = sent
            .iter()
            .map(|(_, r)| (r.height % BLOCKS_PER_EPOCH) * slots / BLOCKS_PER_EPOCH)
            .collect();
        for a in [&view.activity, &device(&node, &dev.id).await.activity] {
            assert_eq!(a.heartbeats, 5, "{a:?}");
            assert_eq!(a.accepted, 5, "{a:?}");
            assert_eq!(a.rejected, 0, "{a:?}");
            assert_eq!(a.slots_filled() as usize, filled.len(), "{a:?}");
        }
        assert_eq!(view.uptime.slots_filled as usize, filled.len());
        let v = device(&node, &dev.id).await;
        assert_eq!(v.last_seq, 11);
        assert_eq!(v.epoch, 0);
        let shown = node.cli(&["--json", "device", "show", &id]).success().json();
        assert_eq!(shown["last_seq"], 11, "{shown}");
        assert_eq!(shown["activity"]["heartbeats"], 5, "{shown}");

        // Nothing was rejected, and another epoch holds nothing.
        let rejected = reports(&node, &dev.id, 0, true).await;
        assert!(rejected.reports.is_empty(), "{rejected:?}");
        let later = reports(&node, &dev.id, 1, false).await;
        assert!(later.reports.is_empty(), "{later:?}");
        assert_eq!(later.activity.heartbeats, 0);

        // Two at a time through the raw API gives the same list.
        let mut paged = Vec::new();
        let mut path = format!("/v1/devices/{id}/reports?epoch=0&limit=2");
        for _ in 0..10 {
            let resp = http(&node, reqwest::Method::GET, &path, None).await;
            assert_eq!(resp.status, 200, "{resp:?}");
            let page: DeviceReportsView = serde_json::from_str(&resp.body).expect("reports view");
            assert!(page.reports.len() <= 2);
            paged.extend(page.reports);
            match page.next {
                Some(next) => {
                    path = format!("/v1/devices/{id}/reports?epoch=0&limit=2&after={next}")
                }
                None => break,
            }
        }
        assert_eq!(paged, view.reports);

        // The CLI prints the same view.
        let out = node.cli(&["--json", "device", "reports", &id, "--epoch", "0"]).success();
        assert_eq!(out.json(), serde_json::to_value(&view).unwrap());
        let text = node.cli(&["device", "reports", &id, "--epoch", "0"]).success().stdout;
        assert!(text.contains("heartbeat"), "{text}");
    });
}
