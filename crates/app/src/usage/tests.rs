//! Usage channel tests on the in-memory store.

use super::*;
use crate::credits::get_credit_supply;
use crate::devices::tests::{
    CRN, FEE, Net, START, assert_credit_identity, assert_supply_identity, buy_credits, credits_of,
    ed_device, failure, register,
};
use crate::tests::genesis;
use cairn_types::usage::{UsageReceipt, channel_id};
use cairn_types::{DeviceClass, DeviceSigner, Keypair, Receipt, TxBody, TxStatus};

const PRICE: Amount = 1_000;
const ESCROW: Amount = 100_000;
const WINDOW: u64 = 12;

struct Setup {
    n: Net,
    consumer: Keypair,
    provider: Keypair,
    device: DeviceId,
}

fn setup(class: DeviceClass) -> Setup {
    setup_with(class, |_| {})
}

/// [`setup`] on parameters `edit` changes last.
fn setup_with(class: DeviceClass, edit: impl FnOnce(&mut cairn_types::Params)) -> Setup {
    let consumer = Keypair::from_label("consumer");
    let provider = Keypair::from_label("provider");
    let mut g = genesis(&[&consumer, &provider], START);
    g.params.usage.dispute_window_blocks = WINDOW;
    g.params.usage.channel_timeout_blocks = 50;
    g.params.credits.oracles = vec![consumer.address()];
    edit(&mut g.params);
    let mut n = Net::new(&g);
    let dev = ed_device(7);
    // The consumer buys credits (one per base unit of CRN) as the provider registers.
    let mut txs = buy_credits(&mut n, &consumer, 10 * ESCROW);
    txs.push(n.tx(&provider, register(&dev, &provider, class, 0, None)));
    let p = n.block(txs);
    assert!(p.executed.receipts.iter().all(Receipt::is_success), "{:?}", p.executed.receipts);
    Setup { n, consumer, provider, device: dev.id() }
}

fn receipt(consumer: &Keypair, channel: Hash, total_units: u64, seq: u64) -> SignedUsageReceipt {
    let receipt = UsageReceipt { channel, total_units, seq };
    let signature = consumer.sign_raw(&receipt.signing_message(crate::tests::CHAIN));
    SignedUsageReceipt { receipt, signature }
}

/// Opens a channel; returns its id.
fn open(s: &mut Setup) -> Hash {
    let nonce = s.n.account(&s.consumer).nonce;
    let body = TxBody::OpenChannel { device: s.device, escrow: ESCROW, price_per_unit: PRICE };
    let r = s.n.run(&s.consumer.clone(), body);
    assert!(r.is_success(), "{r:?}");
    channel_id(&s.consumer.address(), nonce)
}

fn channel(s: &Setup, id: &Hash) -> Channel {
    get_channel(&s.n.c.store, id).unwrap().expect("channel")
}

fn supply_identity_holds(s: &Setup) {
    assert_supply_identity(&s.n.c.store, &[&s.consumer, &s.provider]);
    assert_credit_identity(&s.n.c.store);
}

fn code(r: &Receipt) -> &'static str {
    failure(r).code()
}

#[test]
fn opening_a_channel_escrows_credits_from_the_consumer() {
    let mut s = setup(DeviceClass::Relay);
    let (before, credits) = (s.n.balance(&s.consumer), credits_of(&s.n.c.store, &s.consumer));
    let id = open(&mut s);
    assert_eq!(s.n.balance(&s.consumer), before - FEE);
    assert_eq!(credits_of(&s.n.c.store, &s.consumer), credits - ESCROW);
    let c = channel(&s, &id);
    assert_eq!(
        (c.consumer, c.device, c.escrow, c.price_per_unit),
        (s.consumer.address(), s.device, ESCROW, PRICE)
    );
    assert_eq!(c.status, ChannelStatus::Open);
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().escrowed, ESCROW);
    supply_identity_holds(&s);
}

#[test]
fn only_usage_devices_take_channels_and_escrow_must_be_positive() {
    let mut s = setup(DeviceClass::Hotspot);
    let consumer = s.consumer.clone();
    let r = s.n.run(
        &consumer,
        TxBody::OpenChannel { device: s.device, escrow: ESCROW, price_per_unit: PRICE },
    );
    assert_eq!(code(&r), "not_a_usage_device");
    let mut s = setup(DeviceClass::Energy);
    let r = s
        .n
        .run(&consumer, TxBody::OpenChannel { device: s.device, escrow: 0, price_per_unit: PRICE });
    assert_eq!(code(&r), "empty_channel");
    let r = s.n.run(
        &consumer,
        TxBody::OpenChannel { device: Hash([9; 32]), escrow: 1, price_per_unit: 1 },
    );
    assert_eq!(code(&r), "unknown_device");
}

#[test]
fn a_settled_channel_consumes_the_used_credits_and_refunds_the_rest_when_the_window_closes() {
    let mut s = setup(DeviceClass::Storage);
    let id = open(&mut s);
    let provider = s.provider.clone();
    let (p0, c0) = (s.n.balance(&s.provider), credits_of(&s.n.c.store, &s.consumer));
    let r = s.n.run(&provider, TxBody::SettleChannel { receipt: receipt(&s.consumer, id, 30, 3) });
    assert!(r.is_success(), "{r:?}");
    let settled_at = s.n.height();
    let ChannelStatus::Settling { closes_at, .. } = channel(&s, &id).status else {
        panic!("not settling")
    };
    assert_eq!(closes_at, settled_at + WINDOW);
    // Still settling in the last block of the window.
    s.n.advance_to(closes_at);
    assert!(matches!(channel(&s, &id).status, ChannelStatus::Settling { .. }));
    s.n.empty_blocks(1);
    let c = channel(&s, &id);
    assert_eq!(
        c.status,
        ChannelStatus::Closed {
            height: closes_at,
            units: 30,
            paid: 30 * PRICE,
            refunded: ESCROW - 30 * PRICE
        }
    );
    // The provider is paid from the reward pools for the units (usage); the credits are
    // consumed.
    assert_eq!(s.n.balance(&s.provider), p0 - FEE);
    assert_eq!(credits_of(&s.n.c.store, &s.consumer), c0 + ESCROW - 30 * PRICE);
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().consumed, 30 * PRICE);
    let epoch = s.n.params().epoch_of(closes_at);
    assert_eq!(crate::devices::get_activity(&s.n.c.store, &s.device, epoch).unwrap().units, 30);
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().escrowed, 0);
    supply_identity_holds(&s);
}

#[test]
fn units_settled_in_an_epoch_the_device_was_up_count_whatever_its_uptime_at_the_payout() {
    // Settled at block 25 of epoch 0 (blocks 0–29), paid out at block 37 of epoch 1; the
    // device heartbeats through epoch 0 or not at all, and never in epoch 1.
    for up_before in [true, false] {
        let mut s = setup(DeviceClass::Relay);
        let dev = ed_device(7);
        let (consumer, provider) = (s.consumer.clone(), s.provider.clone());
        let mut seq = 0;
        let beating: Vec<&DeviceSigner> = if up_before { vec![&dev] } else { vec![] };
        s.n.heartbeats_to(&consumer, &beating, &mut seq, 20);
        let id = open(&mut s);
        s.n.heartbeats_to(&consumer, &beating, &mut seq, 25);
        let body = TxBody::SettleChannel { receipt: receipt(&s.consumer, id, 30, 1) };
        assert!(s.n.run(&provider, body).is_success());
        s.n.heartbeats_to(&consumer, &beating, &mut seq, 30);
        s.n.advance_to(38);
        assert!(matches!(channel(&s, &id).status, ChannelStatus::Closed { height: 37, .. }));
        let act = crate::devices::get_activity(&s.n.c.store, &s.device, 1).unwrap();
        assert_eq!((act.units, act.units_pregated), (30, if up_before { 30 } else { 0 }));
        // Epoch 1's reward report: below the gate (no heartbeat), the units count only when
        // the device was up in the epoch it settled.
        s.n.advance_to(60);
        let report =
            s.n.block(vec![]).executed.reward_report().unwrap().expect("epoch 1 is rewarded");
        let e = report.entries.iter().find(|e| e.device == s.device).expect("an entry");
        assert!(!e.uptime_ok);
        if up_before {
            assert_eq!(e.scores, vec![(cairn_types::rewards::Pool::Usage, 30)]);
            assert!(e.amount > 0 && e.not_counted.is_empty(), "{e:?}");
        } else {
            assert!(e.scores.is_empty() && e.amount == 0);
            assert_eq!(e.not_counted, vec!["uptime_below_gate".to_string()]);
        }
    }
}

#[test]
fn a_payout_in_the_last_block_before_its_epochs_records_expire_still_reads_their_uptime() {
    // Compact layout (ADR 0036): with a dispute window of one epoch and short compute
    // windows, epoch 0's records are kept two epochs. Settled in the last block of epoch 0,
    // the channel pays out in block 59, the last block before epoch 0's records go.
    let mut s = setup_with(DeviceClass::Relay, |p| {
        p.usage.dispute_window_blocks = p.blocks_per_epoch;
        p.compute.commit_window_blocks = 1;
        p.compute.reveal_window_blocks = 1;
        p.state_layout = cairn_types::genesis::StateLayout::Compact;
    });
    let params = s.n.params();
    let bpe = params.blocks_per_epoch;
    assert_eq!(params.state_layout, cairn_types::genesis::StateLayout::Compact);
    assert_eq!(crate::devices::expiry::epochs_kept(&params), 2);
    let dev = ed_device(7);
    let consumer = s.consumer.clone();
    let mut seq = 0;
    s.n.heartbeats_to(&consumer, &[&dev], &mut seq, 20);
    let id = open(&mut s);
    s.n.heartbeats_to(&consumer, &[&dev], &mut seq, bpe - 1);
    let body = TxBody::SettleChannel { receipt: receipt(&s.consumer, id, 30, 1) };
    let r = s.n.run(&s.provider.clone(), body);
    assert_eq!((r.height, r.is_success()), (bpe - 1, true), "{r:?}");
    s.n.advance_to(2 * bpe);
    assert!(
        matches!(channel(&s, &id).status, ChannelStatus::Closed { height, .. } if height == 2 * bpe - 1)
    );
    let act = crate::devices::get_activity(&s.n.c.store, &s.device, 1).unwrap();
    assert_eq!((act.units, act.units_pregated), (30, 30), "up in epoch 0: pregated");
    let activity0 = crate::state_key::epoch_activity(&s.device, 0);
    assert!(s.n.c.store.get(&activity0).unwrap().is_some());
    s.n.block(vec![]);
    assert!(s.n.c.store.get(&activity0).unwrap().is_none(), "gone at block {}", 2 * bpe);
}

#[test]
fn units_settled_and_paid_out_in_one_epoch_take_that_epochs_gate() {
    let mut s = setup(DeviceClass::Relay);
    let id = open(&mut s);
    let provider = s.provider.clone();
    let body = TxBody::SettleChannel { receipt: receipt(&s.consumer, id, 30, 1) };
    assert!(s.n.run(&provider, body).is_success());
    // Settled and paid out in epoch 0, in which the device never heartbeats.
    s.n.advance_to(20);
    let act = crate::devices::get_activity(&s.n.c.store, &s.device, 0).unwrap();
    assert_eq!((act.units, act.units_pregated), (30, 0));
}

#[test]
fn a_channel_settled_with_an_old_receipt_is_corrected_by_the_consumers_dispute() {
    let mut s = setup(DeviceClass::Relay);
    let id = open(&mut s);
    let (provider, consumer) = (s.provider.clone(), s.consumer.clone());
    assert!(
        s.n.run(&provider, TxBody::SettleChannel { receipt: receipt(&consumer, id, 10, 2) })
            .is_success()
    );
    let r = s.n.run(&consumer, TxBody::DisputeChannel { receipt: receipt(&consumer, id, 40, 5) });
    assert!(r.is_success(), "{r:?}");
    let ChannelStatus::Settling { receipt: now, closes_at, .. } = channel(&s, &id).status else {
        panic!()
    };
    assert_eq!((now.total_units, now.seq), (40, 5));
    s.n.advance_to(closes_at + 1);
    assert!(matches!(channel(&s, &id).status, ChannelStatus::Closed { units: 40, .. }));
}

#[test]
fn a_dispute_must_be_higher_signed_by_the_consumer_and_inside_the_window() {
    let mut s = setup(DeviceClass::Compute);
    let id = open(&mut s);
    let (provider, consumer) = (s.provider.clone(), s.consumer.clone());
    assert!(
        s.n.run(&provider, TxBody::SettleChannel { receipt: receipt(&consumer, id, 10, 4) })
            .is_success()
    );
    // Same or lower seq: refused.
    let r = s.n.run(&consumer, TxBody::DisputeChannel { receipt: receipt(&consumer, id, 20, 4) });
    assert_eq!(failure(&r), &TxFailure::ReceiptNotHigher { seq: 4, settled: 4 });
    let r = s.n.run(&consumer, TxBody::DisputeChannel { receipt: receipt(&consumer, id, 20, 3) });
    assert_eq!(code(&r), "receipt_not_higher");
    // A higher seq with a lower total is refused too.
    let r = s.n.run(&consumer, TxBody::DisputeChannel { receipt: receipt(&consumer, id, 9, 5) });
    assert_eq!(code(&r), "receipt_total_lower");
    // Signed by someone else.
    let r = s.n.run(&consumer, TxBody::DisputeChannel { receipt: receipt(&provider, id, 50, 9) });
    assert_eq!(code(&r), "bad_receipt_signature");
    // A stranger may not dispute.
    let stranger = Keypair::from_label("stranger");
    let r = s.n.run(&provider, TxBody::Transfer { to: stranger.address(), amount: 10 * CRN });
    assert!(r.is_success());
    let r = s.n.run(&stranger, TxBody::DisputeChannel { receipt: receipt(&consumer, id, 50, 9) });
    assert_eq!(code(&r), "not_a_party");
    // Just inside the window (the last block before it closes): accepted.
    let ChannelStatus::Settling { closes_at, .. } = channel(&s, &id).status else { panic!() };
    s.n.advance_to(closes_at - 1);
    let r = s.n.run(&consumer, TxBody::DisputeChannel { receipt: receipt(&consumer, id, 12, 6) });
    assert_eq!(r.status, TxStatus::Success);
    // Just outside (the block that closes it): refused.
    let r = s.n.run(&consumer, TxBody::DisputeChannel { receipt: receipt(&consumer, id, 13, 7) });
    assert_eq!(failure(&r), &TxFailure::DisputeWindowClosed { closed_at: closes_at });
    assert!(matches!(channel(&s, &id).status, ChannelStatus::Closed { units: 12, .. }));
}

#[test]
fn only_the_providers_owner_settles_and_only_an_open_channel() {
    let mut s = setup(DeviceClass::Relay);
    let id = open(&mut s);
    let consumer = s.consumer.clone();
    let r = s.n.run(&consumer, TxBody::SettleChannel { receipt: receipt(&consumer, id, 1, 1) });
    assert_eq!(code(&r), "not_a_party");
    let provider = s.provider.clone();
    assert!(
        s.n.run(&provider, TxBody::SettleChannel { receipt: receipt(&consumer, id, 1, 1) })
            .is_success()
    );
    let r = s.n.run(&provider, TxBody::SettleChannel { receipt: receipt(&consumer, id, 2, 2) });
    assert_eq!(code(&r), "channel_not_open");
    let r = s
        .n
        .run(&provider, TxBody::SettleChannel { receipt: receipt(&consumer, Hash([1; 32]), 2, 2) });
    assert_eq!(code(&r), "unknown_channel");
}

#[test]
fn units_beyond_the_escrow_are_neither_paid_nor_counted() {
    let mut s = setup(DeviceClass::Energy);
    let id = open(&mut s);
    let provider = s.provider.clone();
    let over = (ESCROW / PRICE) as u64 + 50;
    assert!(
        s.n.run(&provider, TxBody::SettleChannel { receipt: receipt(&s.consumer, id, over, 1) })
            .is_success()
    );
    let ChannelStatus::Settling { closes_at, .. } = channel(&s, &id).status else { panic!() };
    s.n.advance_to(closes_at + 1);
    let covered = (ESCROW / PRICE) as u64;
    assert_eq!(
        channel(&s, &id).status,
        ChannelStatus::Closed { height: closes_at, units: covered, paid: ESCROW, refunded: 0 }
    );
    supply_identity_holds(&s);
}

#[test]
fn an_unsettled_channel_returns_its_escrow_after_the_timeout() {
    let mut s = setup(DeviceClass::Relay);
    let id = open(&mut s);
    let consumer = s.consumer.clone();
    let timeout = channel(&s, &id).timeout_height;
    s.n.advance_to(timeout - 1);
    let r = s.n.run(&consumer, TxBody::CloseChannel { channel: id });
    assert_eq!(failure(&r), &TxFailure::ChannelNotTimedOut { timeout });
    let before = credits_of(&s.n.c.store, &consumer);
    let r = s.n.run(&consumer, TxBody::CloseChannel { channel: id });
    assert!(r.is_success(), "{r:?}");
    assert_eq!(credits_of(&s.n.c.store, &consumer), before + ESCROW);
    assert!(matches!(channel(&s, &id).status, ChannelStatus::Closed { units: 0, paid: 0, .. }));
    supply_identity_holds(&s);
}

/// Every failure of the usage channels' kinds lands on the receipt as the variant it always
/// had.
#[test]
fn every_usage_error_maps_onto_its_receipt_failure() {
    use crate::credits::LockError;
    use cairn_types::TxFailure as F;
    let a = Address([1; 32]);
    let (c, d) = (Hash([4; 32]), Hash([5; 32]));
    crate::handler::assert_failure_table(vec![
        (UsageError::EmptyChannel, "empty_channel", F::EmptyChannel),
        (UsageError::UnknownDevice { device: d }, "unknown_device", F::UnknownDevice { device: d }),
        (UsageError::NotActive { device: d }, "not_active", F::NotActive { device: d }),
        (
            UsageError::NotAUsageDevice { class: DeviceClass::Hotspot },
            "not_a_usage_device",
            F::NotAUsageDevice { class: DeviceClass::Hotspot },
        ),
        (
            UsageError::UnknownChannel { channel: c },
            "unknown_channel",
            F::UnknownChannel { channel: c },
        ),
        (
            UsageError::ChannelNotOpen { channel: c },
            "channel_not_open",
            F::ChannelNotOpen { channel: c },
        ),
        (
            UsageError::ChannelNotSettling { channel: c },
            "channel_not_settling",
            F::ChannelNotSettling { channel: c },
        ),
        (
            UsageError::BadReceiptSignature { consumer: a },
            "bad_receipt_signature",
            F::BadReceiptSignature { consumer: a },
        ),
        (
            UsageError::ReceiptNotHigher { seq: 3, settled: 4 },
            "receipt_not_higher",
            F::ReceiptNotHigher { seq: 3, settled: 4 },
        ),
        (
            UsageError::ReceiptTotalLower { total: 5, settled: 6 },
            "receipt_total_lower",
            F::ReceiptTotalLower { total: 5, settled: 6 },
        ),
        (
            UsageError::DisputeWindowClosed { closed_at: 70 },
            "dispute_window_closed",
            F::DisputeWindowClosed { closed_at: 70 },
        ),
        (UsageError::NotAParty { signer: a }, "not_a_party", F::NotAParty { signer: a }),
        (
            UsageError::ChannelNotTimedOut { timeout: 80 },
            "channel_not_timed_out",
            F::ChannelNotTimedOut { timeout: 80 },
        ),
        (
            UsageError::Escrow(LockError::InsufficientCredits { needed: 9, available: 1 }),
            "insufficient_credits",
            F::InsufficientCredits { needed: 9, available: 1 },
        ),
    ]);
}
