//! One `SubmitReports` batch mixes valid heartbeats of two devices with a replayed
//! sequence number, a report for another epoch, a report of a deregistered device (`cairn
//! device deregister`), one of a denylisted device (`cairn admin denylist`), one from the
//! future and one with a bad signature. The transaction succeeds; its receipt lists exactly
//! the six rejections with their reasons and counts the valid reports as accepted (also ones
//! after a rejection, and one reusing the sequence number a rejected report carried). The
//! API shows every rejection under `/v1/devices/{id}/rejections?epoch=` with its reason, the
//! accepted ones under `/reports`, and the per-epoch counts and cursors match.

use crate::device_support::{
    self as ds, KeyFile, device, heartbeat, keygen, now_ms, reports, signed, success_receipt,
};
use crate::harness::{self, Node, NodeBuilder, crn};
use cairn_types::device::{DeviceStatus, RejectReason, ReportRejection};
use cairn_types::{Keypair, SignedReport, TxBody, TxOutcome, TxStatus};
use std::time::Duration;

/// One epoch covers the whole test: every block is in epoch 0.
const BLOCKS_PER_EPOCH: u64 = 1_000_000;
const DENY_REASON: &str = "tampered enclosure";

fn register(node: &Node, dev: &KeyFile) {
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
}

#[test]
fn bad_reports_are_rejected_with_their_reason_while_the_rest_of_the_batch_is_accepted() {
    harness::run(Duration::from_secs(120), async {
        let gateway = Keypair::from_label("it-bad-reports-gateway");
        let builder = NodeBuilder::new().blocks_per_epoch(BLOCKS_PER_EPOCH);
        let admin = builder.new_keystore_key("admin");
        let owner = builder.new_keystore_key("owner");
        let node = builder
            .admin(admin)
            .fund(admin, crn(10))
            .fund(owner, crn(1_000))
            .fund(gateway.address(), crn(10))
            .start()
            .await;
        let chain = node.chain_id().to_string();
        let params = ds::params(&node).await;

        let a = keygen(&node, "a", false);
        let b = keygen(&node, "b", true);
        let gone = keygen(&node, "gone", false);
        let banned = keygen(&node, "banned", false);
        for d in [&a, &b, &gone, &banned] {
            register(&node, d);
        }
        // a has sent seq 1 already.
        let r = success_receipt(node.cli(&[
            "--json",
            "device",
            "heartbeat",
            "--device-key",
            a.arg(),
            "--from",
            "owner",
        ]));
        assert_eq!(r.outcome, TxOutcome::Reports { accepted: 1, rejected: vec![] });
        assert_eq!(device(&node, &a.id).await.last_seq, 1);
        // gone is deregistered, banned is denylisted.
        let dereg = success_receipt(node.cli(&[
            "--json",
            "device",
            "deregister",
            "--owner",
            "owner",
            "--device",
            &gone.id.to_string(),
        ]));
        let v = device(&node, &gone.id).await;
        assert!(
            matches!(v.device.status, DeviceStatus::Deregistered { height, .. } if height == dereg.height),
            "{v:?}"
        );
        success_receipt(node.cli(&[
            "--json",
            "admin",
            "denylist",
            "--admin",
            "admin",
            "--device-pub",
            &banned.public.to_string(),
            "--reason",
            DENY_REASON,
        ]));
        let v = device(&node, &banned.id).await;
        assert_eq!(v.denylisted.as_ref().map(|e| e.reason.as_str()), Some(DENY_REASON));

        // The batch.
        let now = now_ms();
        let hb = |d: &KeyFile, seq: u64, epoch: u64, ts: u64| {
            heartbeat(&chain, &d.public, &d.signer, seq, epoch, ts)
        };
        let future = now + params.devices.max_clock_skew_ms + 10 * 60_000;
        let mut forged = hb(&b, 3, 0, now);
        // Signed by a's key over b's report: does not verify with b's key.
        forged.signature = a.signer.sign(&forged.report.signing_message(&chain)).unwrap();
        let batch: Vec<SignedReport> = vec![
            hb(&a, 2, 0, now),      // 0 accepted
            hb(&b, 1, 0, now),      // 1 accepted
            hb(&a, 1, 0, now),      // 2 replayed_sequence (last 2)
            hb(&a, 3, 1, now),      // 3 outside_epoch_window
            hb(&gone, 1, 0, now),   // 4 deregistered
            hb(&banned, 1, 0, now), // 5 denylisted
            hb(&b, 2, 0, future),   // 6 future_timestamp
            forged,                 // 7 bad_signature
            hb(&b, 4, 0, now),      // 8 accepted after rejections
            hb(&a, 3, 0, now),      // 9 accepted: seq 3 of the rejected report 3
        ];
        let stx = signed(&chain, &gateway, 0, TxBody::SubmitReports { reports: batch.clone() });
        let r = node.submit_and_wait(&stx).await;
        assert_eq!(r.status, TxStatus::Success, "{r:?}");
        let block = node.client().block(r.height).await.expect("block of the batch");
        let block_time = block.header.timestamp_ms;
        assert_eq!(block.header.epoch, 0);
        let expected = vec![
            ReportRejection {
                index: 2,
                device: a.id,
                seq: 1,
                reason: RejectReason::ReplayedSequence { seq: 1, last: 2 },
            },
            ReportRejection {
                index: 3,
                device: a.id,
                seq: 3,
                reason: RejectReason::OutsideEpochWindow { epoch: 1, current: 0 },
            },
            ReportRejection {
                index: 4,
                device: gone.id,
                seq: 1,
                reason: RejectReason::Deregistered { height: dereg.height },
            },
            ReportRejection {
                index: 5,
                device: banned.id,
                seq: 1,
                reason: RejectReason::Denylisted { reason: DENY_REASON.into() },
            },
            ReportRejection {
                index: 6,
                device: b.id,
                seq: 2,
                reason: RejectReason::FutureTimestamp {
                    timestamp_ms: future,
                    block_time_ms: block_time,
                    max_skew_ms: params.devices.max_clock_skew_ms,
                },
            },
            ReportRejection { index: 7, device: b.id, seq: 3, reason: RejectReason::BadSignature },
        ];
        let TxOutcome::Reports { accepted, rejected } = &r.outcome else {
            panic!("not a report outcome: {r:?}")
        };
        assert_eq!(*accepted, 4, "{r:?}");
        let codes: Vec<&str> = rejected.iter().map(|x| x.reason.code()).collect();
        assert_eq!(
            codes,
            [
                "replayed_sequence",
                "outside_epoch_window",
                "deregistered",
                "denylisted",
                "future_timestamp",
                "bad_signature"
            ]
        );
        assert_eq!(rejected, &expected);
        // The node's stored receipt is the same.
        assert_eq!(node.client().receipt(&r.tx_hash).await.expect("receipt"), r);

        // Accepted reports by device, in batch order.
        let accepted_of = |d: &KeyFile| -> Vec<(u32, u64)> {
            batch
                .iter()
                .enumerate()
                .filter(|(i, x)| {
                    x.report.device == d.public && !expected.iter().any(|e| e.index == *i as u32)
                })
                .map(|(i, x)| (i as u32, x.report.seq))
                .collect()
        };
        assert_eq!(accepted_of(&a), vec![(0, 2), (9, 3)]);
        assert_eq!(accepted_of(&b), vec![(1, 1), (8, 4)]);

        for d in [&a, &b, &gone, &banned] {
            let ok = reports(&node, &d.id, 0, false).await;
            let bad = reports(&node, &d.id, 0, true).await;
            // Reports of this batch, as (index in batch, seq).
            let in_batch = |v: &cairn_types::api::DeviceReportsView| -> Vec<(u32, u64)> {
                v.reports
                    .iter()
                    .filter(|x| x.height == r.height && x.tx_index == r.index)
                    .map(|x| (x.report_index, x.report.seq))
                    .collect()
            };
            assert_eq!(in_batch(&ok), accepted_of(d), "accepted reports of {}", d.id);
            for x in &ok.reports {
                assert_eq!(x.reason, None);
                if x.height == r.height {
                    assert_eq!(x.report, batch[x.report_index as usize].report);
                }
            }
            let want: Vec<&ReportRejection> =
                expected.iter().filter(|e| e.device == d.id).collect();
            let got: Vec<(u32, u64, Option<RejectReason>)> = bad
                .reports
                .iter()
                .map(|x| {
                    assert_eq!((x.height, x.tx_index), (r.height, r.index), "{x:?}");
                    assert_eq!(x.report, batch[x.report_index as usize].report);
                    (x.report_index, x.report.seq, x.reason.clone())
                })
                .collect();
            let want: Vec<(u32, u64, Option<RejectReason>)> =
                want.iter().map(|e| (e.index, e.seq, Some(e.reason.clone()))).collect();
            assert_eq!(got, want, "rejections of {}", d.id);
        }
        // The CLI shows the reasons too.
        let text = node
            .cli(&["device", "reports", &b.id.to_string(), "--epoch", "0", "--rejected"])
            .success()
            .stdout;
        assert!(text.contains("future_timestamp") && text.contains("bad_signature"), "{text}");

        // Counts and cursors. A bad signature proves nothing about the device, so it is not
        // counted against it; the other rejections are — in the epoch record of a device
        // that has one. Only an accepted report makes that record (and puts the device on
        // the epoch's roster), so a device with nothing accepted has none: its rejections are
        // counted by reason alone.
        let va = device(&node, &a.id).await;
        assert_eq!(va.last_seq, 3);
        assert_eq!((va.activity.accepted, va.activity.heartbeats, va.activity.rejected), (3, 3, 2));
        let vb = device(&node, &b.id).await;
        assert_eq!(vb.last_seq, 4);
        assert_eq!((vb.activity.accepted, vb.activity.heartbeats, vb.activity.rejected), (2, 2, 1));
        for d in [&gone, &banned] {
            let v = device(&node, &d.id).await;
            assert_eq!(v.last_seq, 0, "{v:?}");
            assert_eq!((v.activity.accepted, v.activity.rejected), (0, 0), "{v:?}");
        }
        // The reports view carries the same activity.
        assert_eq!(reports(&node, &a.id, 0, false).await.activity, va.activity);
        assert_eq!(reports(&node, &b.id, 0, true).await.activity, vb.activity);
    });
}
