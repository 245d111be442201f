//! Storage deal tests on the in-memory store.

use super::*;
use crate::credits::get_credit_supply;
use crate::devices::tests::{
    CRN, FEE, Net, START, assert_credit_identity, buy_credits, credits_of, ed_device, failure,
    register,
};
use crate::tests::genesis;
use cairn_types::storage::{chunk_proof, chunk_root, chunks};
use cairn_types::{DeviceSigner, Keypair, Receipt, TxBody};

const BPE: u64 = 4;
const PRICE: Amount = CRN / 10;

struct Setup {
    n: Net,
    consumer: Keypair,
    provider: Keypair,
    dev: DeviceSigner,
    data: Vec<u8>,
}

fn setup() -> Setup {
    let consumer = Keypair::from_label("consumer");
    let provider = Keypair::from_label("provider");
    let mut g = genesis(&[&consumer, &provider], START);
    g.params.blocks_per_epoch = BPE;
    g.params.devices.heartbeat_slots = 4;
    g.params.storage.chunk_size = 64;
    g.params.storage.response_blocks = 1;
    g.params.credits.oracles = vec![consumer.address()];
    let mut n = Net::new(&g);
    let dev = ed_device(77);
    let mut txs = buy_credits(&mut n, &consumer, 200 * PRICE);
    txs.push(n.tx(&provider, register(&dev, &provider, DeviceClass::Storage, 0, None)));
    let p = n.block(txs);
    assert!(p.executed.receipts.iter().all(Receipt::is_success), "{:?}", p.executed.receipts);
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    Setup { n, consumer, provider, dev, data }
}

fn open(s: &mut Setup, epochs: u64) -> Hash {
    let root = chunk_root(&chunks(&s.data, 64));
    let nonce = s.n.account(&s.consumer).nonce;
    let body = TxBody::OpenDeal {
        device: s.dev.id(),
        root,
        size: s.data.len() as u64,
        duration_epochs: epochs,
        price_per_epoch: PRICE,
    };
    let consumer = s.consumer.clone();
    let r = s.n.run(&consumer, body);
    assert!(r.is_success(), "{r:?}");
    deal_id(&consumer.address(), nonce)
}

fn deal(s: &Setup, id: &Hash) -> Deal {
    get_deal(&s.n.c.store, id).unwrap().expect("deal")
}

/// Runs empty blocks until the deal has an open challenge; returns it.
fn next_challenge(s: &mut Setup, id: &Hash) -> Challenge {
    for _ in 0..(2 * BPE + 2) {
        if let Some(c) = deal(s, id).challenge {
            return c;
        }
        s.n.empty_blocks(1);
    }
    panic!("no challenge came: {:?}", deal(s, id))
}

fn answer(s: &mut Setup, id: &Hash, index: u64, data: &[u8]) -> Receipt {
    let cs = chunks(data, 64);
    let path = chunk_proof(&cs, index).unwrap_or_default();
    let chunk = cs.get(index as usize).map(|c| c.to_vec()).unwrap_or_default();
    let provider = s.provider.clone();
    s.n.run(&provider, TxBody::ProveStorage { deal: *id, index, chunk, path })
}

#[test]
fn an_honest_provider_is_never_faulted_over_100_epochs() {
    let mut s = setup();
    let id = open(&mut s, 100);
    let before = s.n.balance(&s.provider);
    let data = s.data.clone();
    for _ in 0..100 {
        let c = next_challenge(&mut s, &id);
        let r = answer(&mut s, &id, c.index, &data);
        assert!(r.is_success(), "epoch {}: {r:?}", c.epoch);
    }
    // The epoch after the last one ends the deal.
    while deal(&s, &id).status == DealStatus::Active {
        s.n.empty_blocks(1);
    }
    let d = deal(&s, &id);
    assert_eq!((d.faults, d.proven_epochs, d.escrow_left), (0, 100, 0));
    assert!(matches!(d.status, DealStatus::Ended { faulted: false, refunded: 0, .. }));
    // The answers consumed the consumer's credits; the provider paid only its fees (it
    // earns from the storage pool for the proven bytes).
    assert_eq!(s.n.balance(&s.provider), before - 100 * FEE);
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().consumed, 100 * PRICE);
    assert_credit_identity(&s.n.c.store);
    let act = crate::devices::get_activity(&s.n.c.store, &s.dev.id(), d.first_epoch).unwrap();
    assert_eq!(act.proven_bytes, 1000);
}

#[test]
fn a_provider_that_dropped_a_chunk_is_caught_within_one_challenge_period_and_pays_the_fault_fee() {
    let mut s = setup();
    let id = open(&mut s, 10);
    let c = next_challenge(&mut s, &id);
    // The provider lost the challenged chunk: what it sends is not in the file.
    let mut damaged = s.data.clone();
    let at = c.index as usize * 64;
    damaged[at] ^= 0xff;
    let r = answer(&mut s, &id, c.index, &damaged);
    assert_eq!(failure(&r), &TxFailure::BadMerklePath { index: c.index });
    let bond = s.n.device(&s.dev.id()).bond;
    // The next epoch start records the miss and slashes the fee.
    let next = next_challenge_after(&mut s, &id, c.epoch);
    let d = deal(&s, &id);
    assert_eq!((d.faults, d.misses_in_row), (1, 1));
    assert_eq!(s.n.device(&s.dev.id()).bond, bond - s.n.params().storage.fault_fee);
    assert!(next.epoch == c.epoch + 1, "caught at the very next epoch");
}

fn next_challenge_after(s: &mut Setup, id: &Hash, epoch: u64) -> Challenge {
    for _ in 0..(2 * BPE + 2) {
        if let Some(c) = deal(s, id).challenge.filter(|c| c.epoch > epoch) {
            return c;
        }
        s.n.empty_blocks(1);
    }
    panic!("no later challenge: {:?}", deal(s, id))
}

#[test]
fn misses_in_a_row_end_the_deal_and_refund_the_rest() {
    let mut s = setup();
    let id = open(&mut s, 10);
    let consumer_before = credits_of(&s.n.c.store, &s.consumer);
    let max = s.n.params().storage.max_misses;
    let mut last = next_challenge(&mut s, &id).epoch;
    for _ in 1..max {
        last = next_challenge_after(&mut s, &id, last).epoch;
    }
    while deal(&s, &id).status == DealStatus::Active {
        s.n.empty_blocks(1);
    }
    let d = deal(&s, &id);
    assert!(
        matches!(d.status, DealStatus::Ended { faulted: true, refunded, .. } if refunded == 10 * PRICE)
    );
    assert_eq!(d.faults, u64::from(max));
    assert_eq!(credits_of(&s.n.c.store, &s.consumer), consumer_before + 10 * PRICE);
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().escrowed, 0);
    assert_credit_identity(&s.n.c.store);
}

#[test]
fn answers_must_name_the_challenged_chunk_in_time() {
    let mut s = setup();
    let id = open(&mut s, 10);
    // Before the first challenge.
    let provider = s.provider.clone();
    let r = s
        .n
        .run(&provider, TxBody::ProveStorage { deal: id, index: 0, chunk: vec![], path: vec![] });
    assert_eq!(failure(&r).code(), "no_challenge");
    let c = next_challenge(&mut s, &id);
    let data = s.data.clone();
    let wrong = (c.index + 1) % deal(&s, &id).chunks;
    assert_eq!(
        failure(&answer(&mut s, &id, wrong, &data)),
        &TxFailure::WrongChunk { expected: c.index, got: wrong }
    );
    // That block was the last before the deadline: now it is late.
    let r = answer(&mut s, &id, c.index, &data);
    assert_eq!(failure(&r), &TxFailure::LateResponse { deadline: c.deadline });
    // Someone else cannot answer.
    let consumer = s.consumer.clone();
    let r = s
        .n
        .run(&consumer, TxBody::ProveStorage { deal: id, index: 0, chunk: vec![], path: vec![] });
    assert_eq!(failure(&r).code(), "not_owner");
}

#[test]
fn deals_need_a_storage_device_and_sane_terms() {
    let mut s = setup();
    let consumer = s.consumer.clone();
    let body = |size, epochs, price| TxBody::OpenDeal {
        device: s.dev.id(),
        root: Hash::ZERO,
        size,
        duration_epochs: epochs,
        price_per_epoch: price,
    };
    for (size, epochs, price) in [(0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 10_001, 1)] {
        assert_eq!(failure(&s.n.run(&consumer, body(size, epochs, price))).code(), "bad_deal");
    }
    let hotspot = ed_device(78);
    let provider = s.provider.clone();
    assert!(
        s.n.run(&provider, register(&hotspot, &provider, DeviceClass::Hotspot, 0, None))
            .is_success()
    );
    let r = s.n.run(
        &consumer,
        TxBody::OpenDeal {
            device: hotspot.id(),
            root: Hash::ZERO,
            size: 1,
            duration_epochs: 1,
            price_per_epoch: 1,
        },
    );
    assert_eq!(failure(&r).code(), "not_active");
}
