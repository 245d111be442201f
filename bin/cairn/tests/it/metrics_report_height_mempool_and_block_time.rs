//! `/metrics` reports the chain height (and it grows), the mempool size (a pending
//! transaction shows, a committed one is gone), committed transactions, and the time
//! between the last two blocks as the headers' timestamps give it, as OpenMetrics text
//! under its own content type.

use crate::harness::{self, NodeBuilder, crn, metric};
use cairn_types::Keypair;
use std::time::{Duration, Instant};

const BLOCK_MS: u64 = 500;

#[test]
fn metrics_report_height_mempool_and_block_time() {
    harness::run(Duration::from_secs(60), async {
        let alice = Keypair::from_label("it-metrics-alice");
        let bob = Keypair::from_label("it-metrics-bob");
        let node =
            NodeBuilder::new().block_ms(BLOCK_MS).fund(alice.address(), crn(100)).start().await;
        let client = node.client();

        let text = client.metrics_text().await.expect("metrics");
        for name in [
            "cairn_height",
            "cairn_mempool_size",
            "cairn_txs_committed_total",
            "cairn_block_interval_seconds",
        ] {
            assert!(metric(&text, name).is_some(), "no sample {name} in:\n{text}");
            let family = name.trim_end_matches("_total");
            assert!(text.contains(&format!("# TYPE {family} ")), "no TYPE of {family}");
            assert!(text.contains(&format!("# HELP {family} ")), "no HELP of {family}");
        }
        assert_eq!(metric(&text, "cairn_txs_committed_total"), Some(0.0));
        // Served as what it is: OpenMetrics text, which ends with `# EOF`; rates come from
        // counters.
        let raw = harness::http(&node, reqwest::Method::GET, "/metrics", None).await;
        assert_eq!(raw.status, 200);
        assert_eq!(
            raw.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8",
            "{raw:?}"
        );
        assert!(raw.body.ends_with("# EOF\n"), "{}", raw.body);
        assert!(text.contains("# TYPE cairn_blocks_committed counter"), "{text}");
        assert!(!text.contains("txs_per_second"), "{text}");
        assert_eq!(metric(&text, "cairn_mempool_size"), Some(0.0));

        // The height gauge follows the chain.
        let h1 = metric(&text, "cairn_height").unwrap();
        node.wait_blocks(2).await;
        let h2 = metric(&client.metrics_text().await.expect("metrics"), "cairn_height").unwrap();
        assert!(h2 > h1, "height went from {h1} to {h2}");
        let status = client.status().await.expect("status");
        assert!(status.height as f64 >= h2, "metric {h2} ahead of the chain {}", status.height);

        // A pending transaction shows in the mempool gauge. A block may be cut between the
        // submission and the scrape; then try again with the next nonce.
        let mut nonce = 0;
        let mut seen_pending = false;
        while !seen_pending && nonce < 5 {
            let stx = node.transfer(&alice, bob.address(), crn(1), nonce);
            let hash = client.submit_tx(&stx).await.expect("submit");
            let text = client.metrics_text().await.expect("metrics");
            let pending = client.receipt(&hash).await.is_err_and(|e| e.is_not_found());
            if pending {
                assert_eq!(metric(&text, "cairn_mempool_size"), Some(1.0), "{text}");
                assert!(metric(&text, "cairn_mempool_bytes") > Some(0.0));
                seen_pending = true;
            }
            node.wait_receipt(&hash).await;
            nonce += 1;
        }
        assert!(seen_pending, "every transaction committed before the scrape");
        // The gauges are updated just after the block's receipts become visible.
        node.wait_blocks(1).await;
        let text = client.metrics_text().await.expect("metrics");
        assert_eq!(metric(&text, "cairn_mempool_size"), Some(0.0), "{text}");
        assert_eq!(metric(&text, "cairn_txs_committed_total"), Some(nonce as f64));
        assert_eq!(metric(&text, "cairn_api_txs_accepted_total"), Some(nonce as f64));

        // The block interval is the time between the last two headers' timestamps.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let before = client.status().await.expect("status").height;
            let text = client.metrics_text().await.expect("metrics");
            let after = client.status().await.expect("status").height;
            let height = metric(&text, "cairn_height").unwrap();
            if before == after && height == after as f64 && after >= 2 {
                let last = client.block(after).await.expect("block").header.timestamp_ms;
                let prev = client.block(after - 1).await.expect("block").header.timestamp_ms;
                let interval = metric(&text, "cairn_block_interval_seconds").unwrap();
                assert_eq!(interval, (last - prev) as f64 / 1000.0, "{text}");
                let ms = BLOCK_MS as f64 / 1000.0;
                assert!(interval >= ms * 0.5 && interval <= ms * 10.0, "interval {interval}");
                break;
            }
            assert!(Instant::now() < deadline, "could not scrape between two blocks");
            tokio::time::sleep(Duration::from_millis(BLOCK_MS / 5)).await;
        }
    });
}
