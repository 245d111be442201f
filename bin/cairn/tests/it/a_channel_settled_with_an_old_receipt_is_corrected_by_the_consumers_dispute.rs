//! A provider settles a usage channel with an old receipt (fewer units); inside the dispute
//! window the consumer posts its latest one; when the window closes the channel consumes the
//! credits of the latest total, refunds the rest of the escrow, and counts the units as the
//! device's usage (what it earns from the usage pool). Everything goes through the CLI on a
//! running node; the consumer first buys data credits.

use crate::device_support::{failure_code, keygen, success_receipt};
use crate::harness::{self, NodeBuilder, crn};
use cairn_types::usage::{ChannelStatus, channel_id};
use std::time::Duration;

/// 6 s at 100 ms blocks: time for the dispute before the payout.
const WINDOW: u64 = 60;

#[test]
fn a_channel_settled_with_an_old_receipt_is_corrected_by_the_consumers_dispute() {
    harness::run(Duration::from_secs(90), async {
        let b = NodeBuilder::new().blocks_per_epoch(1_000_000).edit_genesis(|g| {
            g["params"]["usage"]["dispute_window_blocks"] = WINDOW.into();
        });
        let consumer = b.new_keystore_key("consumer");
        let provider = b.new_keystore_key("provider");
        let node =
            b.fund(consumer, crn(1_000)).fund(provider, crn(1_000)).oracle(consumer).start().await;
        node.buy_credits("consumer", "20");
        let dev = keygen(&node, "relay", false);
        let id = dev.id.to_string();
        success_receipt(node.cli(&[
            "--json",
            "device",
            "register",
            "--owner",
            "provider",
            "--device-key",
            dev.arg(),
            "--class",
            "relay",
        ]));

        // Open: 10 000 000 credits of escrow at 10 000 a unit. The consumer's third
        // transaction (after the price report and the mint), nonce 2.
        node.cli(&[
            "--json", "usage", "open", "--from", "consumer", "--device", &id, "--escrow",
            "10000000", "--price", "10000",
        ])
        .success();
        let channel = channel_id(&consumer, 2);
        let ch = channel.to_string();
        let dir = node.dir().to_path_buf();
        let (r1, r2) = (dir.join("r1.json"), dir.join("r2.json"));
        let (r1s, r2s) = (r1.to_str().expect("path"), r2.to_str().expect("path"));
        for (units, seq, out) in [("100", "1", r1s), ("400", "2", r2s)] {
            node.cli(&[
                "--json",
                "usage",
                "receipt",
                "--consumer",
                "consumer",
                "--channel",
                &ch,
                "--units",
                units,
                "--seq",
                seq,
                "--out",
                out,
            ])
            .success();
        }

        // The provider settles with the old receipt; the consumer corrects it.
        let p0 = node.account(&provider).await.balance;
        let settle = success_receipt(node.cli(&[
            "--json",
            "usage",
            "settle",
            "--owner",
            "provider",
            "--receipt",
            r1s,
        ]));
        success_receipt(node.cli(&[
            "--json",
            "usage",
            "dispute",
            "--from",
            "consumer",
            "--receipt",
            r2s,
        ]));
        // Posting the old one again is refused.
        let (refused, code) = failure_code(node.cli(&[
            "--json",
            "usage",
            "dispute",
            "--from",
            "provider",
            "--receipt",
            r1s,
        ]));
        assert_eq!(code, "receipt_not_higher");

        let shown = node.client().channel(&channel).await.expect("channel");
        let ChannelStatus::Settling { receipt, closes_at, .. } = shown.status else {
            panic!("not settling: {shown:?}")
        };
        assert_eq!((receipt.total_units, receipt.seq), (400, 2));
        assert_eq!(closes_at, settle.height + WINDOW);

        node.wait_for_height(closes_at + 1, Duration::from_secs(30)).await;
        let closed = node.client().channel(&channel).await.expect("channel");
        let price = 10_000;
        assert_eq!(
            closed.status,
            ChannelStatus::Closed {
                height: closes_at,
                units: 400,
                paid: 400 * price,
                refunded: 10_000_000 - 400 * price
            }
        );
        // The credits of 400 units are consumed, the rest is back with the consumer.
        let oracles = node.client().oracles().await.expect("oracles");
        assert_eq!(oracles.credits.consumed, 400 * price);
        let credits = node.client().credits(&consumer).await.expect("credits").credits;
        assert_eq!(credits, crn(20) - 400 * price);
        // The provider's owner paid only the fees of its own two transactions.
        let p1 = node.account(&provider).await.balance;
        assert_eq!(p1, p0 - settle.fee_paid - refused.fee_paid);
        let device = node.client().device(&dev.id).await.expect("device");
        assert_eq!(device.usage_units, 400);
    });
}
