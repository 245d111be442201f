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
    let cs = chunks(&s.data, 64);
    let (root, count) = (chunk_root(&cs), cs.len() as u64);
    open_with(s, root, count, epochs)
}

/// Opens a deal over `root` claiming `count` chunks.
fn open_with(s: &mut Setup, root: Hash, count: u64, epochs: u64) -> Hash {
    let nonce = s.n.account(&s.consumer).nonce;
    let body = TxBody::OpenDeal {
        device: s.dev.id(),
        root,
        chunks: count,
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
    // 1 000 bytes are 16 chunks of 64: the deal counts 1 024 bytes.
    assert_eq!((d.chunks, d.size), (16, 1024));
    let act = crate::devices::get_activity(&s.n.c.store, &s.dev.id(), d.first_epoch).unwrap();
    assert_eq!(act.proven_bytes, 1024);
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
    let body = |chunks, epochs, price| TxBody::OpenDeal {
        device: s.dev.id(),
        root: Hash::ZERO,
        chunks,
        duration_epochs: epochs,
        price_per_epoch: price,
    };
    for (chunks, epochs, price) in [(0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 10_001, 1)] {
        assert_eq!(failure(&s.n.run(&consumer, body(chunks, epochs, price))).code(), "bad_deal");
    }
    // An escrow beyond a u128 is refused as such, not saturated.
    assert_eq!(
        failure(&s.n.run(&consumer, body(1, 2, u128::MAX))),
        &TxFailure::CreditOverflow { what: "escrow".into(), a: u128::MAX, b: 2 }
    );
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
            chunks: 1,
            duration_epochs: 1,
            price_per_epoch: 1,
        },
    );
    assert_eq!(failure(&r).code(), "not_active");
}

#[test]
fn a_deal_declaring_more_than_the_maximum_is_refused() {
    let mut s = setup();
    let consumer = s.consumer.clone();
    let max = s.n.params().storage.max_deal_bytes;
    assert_eq!(max, 64 << 30, "64 GiB by default");
    let body = |chunks| TxBody::OpenDeal {
        device: s.dev.id(),
        root: Hash([9; 32]),
        chunks,
        duration_epochs: 1,
        price_per_epoch: 1,
    };
    // The exploit: 2^60 bytes over a self-similar tree (2^54 chunks of 64 bytes); one chunk
    // past the maximum; a count whose size does not fit a u64.
    let too_many = [1u64 << 54, max / 64 + 1, u64::MAX];
    for chunks in too_many {
        let consumed = get_credit_supply(&s.n.c.store).unwrap();
        let r = s.n.run(&consumer, body(chunks));
        assert_eq!(
            failure(&r),
            &TxFailure::DealTooLarge { chunks, chunk_size: 64, max_bytes: max },
            "{chunks} chunks"
        );
        assert_eq!(get_credit_supply(&s.n.c.store).unwrap(), consumed, "nothing escrowed");
    }
    // Exactly the maximum is a deal.
    let nonce = s.n.account(&consumer).nonce;
    assert!(s.n.run(&consumer, body(max / 64)).is_success());
    let d = deal(&s, &deal_id(&consumer.address(), nonce));
    assert_eq!((d.chunks, d.size), (max / 64, max));
}

#[test]
fn a_deals_size_follows_from_its_committed_chunk_count() {
    let mut s = setup();
    let data = s.data.clone();
    let cs = chunks(&data, 64);
    assert_eq!(cs.len(), 16);
    let root = chunk_root(&cs);
    // Honest: the size is the committed count times the chunk size.
    let honest = open_with(&mut s, root, 16, 10);
    assert_eq!((deal(&s, &honest).chunks, deal(&s, &honest).size), (16, 16 * 64));
    // Claiming 13 chunks over a root that commits 16: a root without the count proved the
    // low chunks of the 16-chunk file under a claimed 13 (the same path lengths); now no
    // answer proves, so the claim is never paid.
    let claimed = open_with(&mut s, root, 13, 10);
    assert_eq!(deal(&s, &claimed).size, 13 * 64);
    let first13: Vec<&[u8]> = cs[..13].to_vec();
    let provider = s.provider.clone();
    let mut last = None;
    for _ in 0..3 {
        let c = match last {
            None => next_challenge(&mut s, &claimed),
            Some(e) => next_challenge_after(&mut s, &claimed, e),
        };
        last = Some(c.epoch);
        assert!(c.index < 13);
        let chunk = cs[c.index as usize].to_vec();
        let prove = |path| TxBody::ProveStorage {
            deal: claimed,
            index: c.index,
            chunk: chunk.clone(),
            path,
        };
        // The file's own path, and a path over the first 13 chunks (the right length for 13
        // but another tree): both in the one block before the deadline.
        let txs = vec![
            s.n.tx(&provider, prove(chunk_proof(&cs, c.index).unwrap())),
            s.n.tx(&provider, prove(chunk_proof(&first13, c.index).unwrap())),
        ];
        for r in s.n.block(txs).executed.receipts {
            assert_eq!(failure(&r), &TxFailure::BadMerklePath { index: c.index });
        }
    }
    assert_eq!(deal(&s, &claimed).proven_epochs, 0);
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().consumed, 0);
}

#[test]
fn an_answer_whose_path_length_does_not_match_the_committed_leaf_count_is_refused() {
    let mut s = setup();
    let id = open(&mut s, 10);
    let c = next_challenge(&mut s, &id);
    let data = s.data.clone();
    let cs = chunks(&data, 64);
    let path = chunk_proof(&cs, c.index).unwrap();
    assert_eq!(path.len(), 4, "16 chunks: four siblings");
    let chunk = cs[c.index as usize].to_vec();
    let provider = s.provider.clone();
    let prove =
        |path| TxBody::ProveStorage { deal: id, index: c.index, chunk: chunk.clone(), path };
    let mut longer = path.clone();
    longer.push(path[0]);
    let shorter = path[..3].to_vec();
    // Wrong lengths first, then the committed length, in the one block before the deadline.
    let txs = vec![
        s.n.tx(&provider, prove(longer)),
        s.n.tx(&provider, prove(shorter)),
        s.n.tx(&provider, prove(vec![])),
        s.n.tx(&provider, prove(path)),
    ];
    let rs = s.n.block(txs).executed.receipts;
    for r in &rs[..3] {
        assert_eq!(failure(r), &TxFailure::BadMerklePath { index: c.index });
    }
    assert!(rs[3].is_success(), "{:?}", rs[3]);
    assert_eq!(deal(&s, &id).proven_epochs, 1);
}

#[test]
fn a_self_similar_tree_proves_only_under_the_count_its_root_commits() {
    use cairn_types::storage::{committed_root, inner_hash, leaf_hash};
    // 2^20 identical chunks cost 20 hashes to commit. Claimed as 2^20 chunks the proofs
    // pass (the deal is 64 MiB, under the maximum, and is paid only what its consumer
    // pays); claimed as 2^10 over the same tree, neither the tree's path nor a shorter one
    // does.
    let mut s = setup();
    let chunk = vec![7u8; 64];
    let mut node = leaf_hash(&chunk);
    let mut siblings = Vec::new();
    for _ in 0..20 {
        siblings.push(node);
        node = inner_hash(&node, &node);
    }
    let root = committed_root(1 << 20, &node);
    let big = open_with(&mut s, root, 1 << 20, 10);
    let small = open_with(&mut s, root, 1 << 10, 10);
    let cb = next_challenge(&mut s, &big);
    let cs = deal(&s, &small).challenge.expect("both challenged at once");
    assert_eq!(cb.epoch, cs.epoch);
    let provider = s.provider.clone();
    let prove = |deal: Hash, index: u64, path: Vec<Hash>| TxBody::ProveStorage {
        deal,
        index,
        chunk: chunk.clone(),
        path,
    };
    let txs = vec![
        s.n.tx(&provider, prove(small, cs.index, siblings.clone())),
        s.n.tx(&provider, prove(small, cs.index, siblings[..10].to_vec())),
        s.n.tx(&provider, prove(big, cb.index, siblings.clone())),
    ];
    let rs = s.n.block(txs).executed.receipts;
    assert_eq!(failure(&rs[0]), &TxFailure::BadMerklePath { index: cs.index });
    assert_eq!(failure(&rs[1]), &TxFailure::BadMerklePath { index: cs.index });
    assert!(rs[2].is_success(), "{:?}", rs[2]);
    assert_eq!(deal(&s, &big).size, 64 << 20);
    assert_eq!(deal(&s, &big).proven_epochs, 1);
}
