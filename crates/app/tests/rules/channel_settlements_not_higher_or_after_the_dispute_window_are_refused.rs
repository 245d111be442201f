//! A usage channel's dispute window: a dispute with a receipt no higher than the settled one
//! is `receipt_not_higher`; a higher receipt in the last block of the window replaces it;
//! one at the window's end is `dispute_window_closed`, and the channel pays for the replaced receipt.

use cairn_app::usage::get_channel;
use cairn_testkit::{CHAIN, CRN, ed_device, failure, market, register};
use cairn_types::usage::{ChannelStatus, SignedUsageReceipt, UsageReceipt, channel_id};
use cairn_types::{DeviceClass, Hash, Keypair, TxBody, TxFailure};

const WINDOW: u64 = 4;

fn receipt(consumer: &Keypair, channel: Hash, units: u64, seq: u64) -> SignedUsageReceipt {
    let receipt = UsageReceipt { channel, total_units: units, seq };
    let signature = consumer.sign_raw(&receipt.signing_message(CHAIN));
    SignedUsageReceipt { receipt, signature }
}

#[test]
fn channel_settlements_not_higher_or_after_the_dispute_window_are_refused() {
    let consumer = Keypair::from_label("it-channel-consumer");
    let provider = Keypair::from_label("it-channel-provider");
    let mut c = market(&consumer, &provider, 20 * CRN, |p| {
        p.blocks_per_epoch = 1_000_000;
        p.usage.dispute_window_blocks = WINDOW;
    });
    let dev = ed_device(1);
    c.ok(&provider, register(&dev, &provider, DeviceClass::Relay, 0, None));
    let nonce = c.next_nonce(&consumer);
    let open = TxBody::OpenChannel { device: dev.id(), escrow: 10_000_000, price_per_unit: 10_000 };
    c.ok(&consumer, open);
    let ch = channel_id(&consumer.address(), nonce);
    let r = |units, seq| receipt(&consumer, ch, units, seq);

    let settled = c.ok(&provider, TxBody::SettleChannel { receipt: r(100, 2) }).height;
    let closes_at = settled + WINDOW;
    let rs = c.send(
        &consumer,
        vec![
            TxBody::DisputeChannel { receipt: r(150, 2) },
            TxBody::DisputeChannel { receipt: r(50, 1) },
        ],
    );
    assert_eq!(*failure(&rs[0]), TxFailure::ReceiptNotHigher { seq: 2, settled: 2 });
    assert_eq!(*failure(&rs[1]), TxFailure::ReceiptNotHigher { seq: 1, settled: 2 });
    c.advance_to(closes_at - 1);
    c.ok(&consumer, TxBody::DisputeChannel { receipt: r(300, 3) });
    let late = c.send(&consumer, vec![TxBody::DisputeChannel { receipt: r(400, 4) }]);
    assert_eq!(late[0].height, closes_at);
    assert_eq!(*failure(&late[0]), TxFailure::DisputeWindowClosed { closed_at: closes_at });
    let shown = get_channel(&c.c.store, &ch).unwrap().unwrap();
    let ChannelStatus::Closed { units, paid, refunded, .. } = shown.status else {
        panic!("channel not closed at the window's end: {shown:?}")
    };
    assert_eq!((units, paid, refunded), (300, 3_000_000, 7_000_000));
}
