//! A usage channel's dispute window: a dispute with a receipt no higher than the settled one
//! is `receipt_not_higher`; a higher receipt in the last block of the window replaces it;
//! one at the window's end is `dispute_window_closed`, and the channel pays for the replaced receipt.

use crate::harness::{self, NodeBuilder, crn};
use crate::on_demand::{OnDemand, failure};
use cairn_types::usage::{ChannelStatus, SignedUsageReceipt, UsageReceipt, channel_id};
use cairn_types::{DeviceClass, Hash, Keypair, TxBody, TxFailure};
use std::time::Duration;

const WINDOW: u64 = 4;

fn receipt(
    chain: &str,
    consumer: &Keypair,
    channel: Hash,
    units: u64,
    seq: u64,
) -> SignedUsageReceipt {
    let receipt = UsageReceipt { channel, total_units: units, seq };
    let signature = consumer.sign_raw(&receipt.signing_message(chain));
    SignedUsageReceipt { receipt, signature }
}

#[test]
fn channel_settlements_not_higher_or_after_the_dispute_window_are_refused() {
    harness::run(Duration::from_secs(60), async {
        let consumer = Keypair::from_label("it-channel-consumer");
        let provider = Keypair::from_label("it-channel-provider");
        let builder = NodeBuilder::new()
            .blocks_per_epoch(1_000_000)
            .fund(consumer.address(), crn(1_000))
            .fund(provider.address(), crn(1_000))
            .oracle(consumer.address())
            .edit_genesis(|g| g["params"]["usage"]["dispute_window_blocks"] = WINDOW.into());
        let mut c = OnDemand::start(builder).await;
        c.buy_credits(&consumer, crn(20)).await;
        let dev = c.device(&provider, DeviceClass::Relay, 1).await;
        let nonce = c.next_nonce(&consumer);
        let open =
            TxBody::OpenChannel { device: dev.id(), escrow: 10_000_000, price_per_unit: 10_000 };
        c.ok(&consumer, open).await;
        let ch = channel_id(&consumer.address(), nonce);
        let chain = c.chain.clone();
        let r = |units, seq| receipt(&chain, &consumer, ch, units, seq);

        let settled = c.ok(&provider, TxBody::SettleChannel { receipt: r(100, 2) }).await.height;
        let closes_at = settled + WINDOW;
        let rs = c
            .send(
                &consumer,
                vec![
                    TxBody::DisputeChannel { receipt: r(150, 2) },
                    TxBody::DisputeChannel { receipt: r(50, 1) },
                ],
            )
            .await;
        assert_eq!(*failure(&rs[0]), TxFailure::ReceiptNotHigher { seq: 2, settled: 2 });
        assert_eq!(*failure(&rs[1]), TxFailure::ReceiptNotHigher { seq: 1, settled: 2 });
        c.advance_to(closes_at - 1).await;
        c.ok(&consumer, TxBody::DisputeChannel { receipt: r(300, 3) }).await;
        let late = c.send(&consumer, vec![TxBody::DisputeChannel { receipt: r(400, 4) }]).await;
        assert_eq!(late[0].height, closes_at);
        assert_eq!(*failure(&late[0]), TxFailure::DisputeWindowClosed { closed_at: closes_at });
        let shown = c.node.client().channel(&ch).await.unwrap();
        let ChannelStatus::Closed { units, paid, refunded, .. } = shown.status else {
            panic!("channel not closed at the window's end: {shown:?}")
        };
        assert_eq!((units, paid, refunded), (300, 3_000_000, 7_000_000));
    });
}
