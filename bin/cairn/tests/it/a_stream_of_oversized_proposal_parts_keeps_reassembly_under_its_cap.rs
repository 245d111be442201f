//! One of four validators sends, with its first proposals, streams of oversized parts that
//! never end (the test-only `stream_fault` of `consensus.json`): two of 12 MiB and one of
//! 20 MiB, past the per-stream cap of a 16 MiB block. The honest validators run with the
//! smallest reassembly budget (one stream's cap): the bytes they hold in reassembly never
//! exceed it (the `cairn_consensus_reassembly_bytes` gauge, sampled throughout), the streams
//! dropped (over the per-stream cap or evicted) are counted, and all keep committing.

use crate::cluster::Cluster;
use crate::harness::{metric, run};
use std::time::{Duration, Instant};

/// One stream's cap for the default `max_block_bytes` (16 MiB) plus the stream overhead.
const CAP: f64 = (16 * 1024 * 1024 + 64 * 1024) as f64;

fn refused(text: &str, reason: &str) -> f64 {
    metric(text, &format!("cairn_consensus_streams_refused_total{{reason=\"{reason}\"}}"))
        .unwrap_or(0.0)
}

#[test]
fn a_stream_of_oversized_proposal_parts_keeps_reassembly_under_its_cap() {
    run(Duration::from_secs(170), async {
        let mut c = Cluster::builder(4).start(&[]).await;
        c.edit_config(3, |cfg| cfg["stream_fault"] = serde_json::json!("oversize"));
        for i in 0..3 {
            // Zero means the smallest budget: one whole stream.
            c.edit_config(i, |cfg| cfg["max_reassembly_bytes"] = serde_json::json!(0));
        }
        for i in 0..4 {
            c.start(i).await;
        }
        let mut max_seen = 0.0f64;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let mut done = true;
            for n in &c.nodes[..3] {
                let text = n.client().metrics_text().await.unwrap();
                let held = metric(&text, "cairn_consensus_reassembly_bytes")
                    .unwrap_or_else(|| panic!("no reassembly gauge:\n{text}"));
                assert!(held <= CAP, "{held} bytes held in reassembly, over the cap {CAP}");
                max_seen = max_seen.max(held);
                // Streams of the flood were dropped: over the per-stream cap, or evicted to
                // stay within the total (gossip may shed some of the flood on the way).
                done &= refused(&text, "stream_too_large") + refused(&text, "evicted") >= 1.0;
            }
            if done {
                break;
            }
            assert!(Instant::now() < deadline, "the floods were not refused in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(max_seen >= 1024.0 * 1024.0, "the flood never reached reassembly ({max_seen})");
        eprintln!("most bytes seen held in reassembly: {max_seen} (cap {CAP})");
        // Everyone keeps committing, the same chain.
        let h = *c.heights().await.iter().max().unwrap();
        c.converge(h + 4, Duration::from_secs(60)).await;
        for n in &c.nodes[..3] {
            let text = n.client().metrics_text().await.unwrap();
            let held = metric(&text, "cairn_consensus_reassembly_bytes").unwrap();
            assert!(held <= CAP, "{held} bytes held after the floods");
        }
    });
}
