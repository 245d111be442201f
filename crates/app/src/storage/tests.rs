//! Storage deal tests on the in-memory store.

use super::*;
use crate::credits::get_credit_supply;
use crate::devices::tests::{
    CRN, FEE, Net, START, assert_credit_identity, buy_credits, credits_of, ed_device, failure,
    register,
};
use crate::tests::genesis;
use cairn_types::storage::{StorageParams, chunk_proof, chunk_root, chunks};
use cairn_types::{DeviceSigner, Keypair, Receipt, TxBody};

const BPE: u64 = 4;
const PRICE: Amount = CRN / 10;

struct Setup {
    n: Net,
    consumer: Keypair,
    provider: Keypair,
    /// Owns a storage device of its own, not the deals'.
    stranger: Keypair,
    dev: DeviceSigner,
    data: Vec<u8>,
}

fn setup() -> Setup {
    setup_with_window(StorageParams::default().accept_window_blocks)
}

/// The setup with `storage.accept_window_blocks` = `window`.
fn setup_with_window(window: u64) -> Setup {
    let consumer = Keypair::from_label("consumer");
    let provider = Keypair::from_label("provider");
    let stranger = Keypair::from_label("stranger");
    let mut g = genesis(&[&consumer, &provider, &stranger], START);
    g.params.blocks_per_epoch = BPE;
    g.params.devices.heartbeat_slots = 4;
    g.params.storage.chunk_size = 64;
    g.params.storage.response_blocks = 1;
    g.params.storage.accept_window_blocks = window;
    g.params.credits.oracles = vec![consumer.address()];
    let mut n = Net::new(&g);
    let dev = ed_device(77);
    let mut txs = buy_credits(&mut n, &consumer, 200 * PRICE);
    txs.push(n.tx(&provider, register(&dev, &provider, DeviceClass::Storage, 0, None)));
    txs.push(n.tx(&stranger, register(&ed_device(79), &stranger, DeviceClass::Storage, 0, None)));
    let p = n.block(txs);
    assert!(p.executed.receipts.iter().all(Receipt::is_success), "{:?}", p.executed.receipts);
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    Setup { n, consumer, provider, stranger, dev, data }
}

fn open(s: &mut Setup, epochs: u64) -> Hash {
    let cs = chunks(&s.data, 64);
    let (root, count) = (chunk_root(&cs), cs.len() as u64);
    open_with(s, root, count, epochs)
}

/// Opens a deal over `root` claiming `count` chunks, and the provider accepts it in the
/// next block.
fn open_with(s: &mut Setup, root: Hash, count: u64, epochs: u64) -> Hash {
    let id = open_pending(s, root, count, epochs);
    let r = accept(s, &id);
    assert!(r.is_success(), "{r:?}");
    id
}

/// Opens a deal over `root` claiming `count` chunks; nobody accepts it.
fn open_pending(s: &mut Setup, root: Hash, count: u64, epochs: u64) -> Hash {
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

/// The file's deal, opened and not accepted.
fn open_file_pending(s: &mut Setup, epochs: u64) -> Hash {
    let cs = chunks(&s.data, 64);
    let (root, count) = (chunk_root(&cs), cs.len() as u64);
    open_pending(s, root, count, epochs)
}

/// The provider accepts deal `id`.
fn accept(s: &mut Setup, id: &Hash) -> Receipt {
    let provider = s.provider.clone();
    s.n.run(&provider, TxBody::AcceptDeal { deal: *id })
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
    let mut last_answer = 0;
    for _ in 0..100 {
        let c = next_challenge(&mut s, &id);
        let r = answer(&mut s, &id, c.index, &data);
        assert!(r.is_success(), "epoch {}: {r:?}", c.epoch);
        last_answer = r.height;
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
    // The last answer's epoch counts them (the first epochs' records have expired by now).
    let last_epoch = s.n.params().epoch_of(last_answer);
    let act = crate::devices::get_activity(&s.n.c.store, &s.dev.id(), last_epoch).unwrap();
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
    let id = open_file_pending(&mut s, 10);
    // Before acceptance, then after it and before the first challenge.
    let provider = s.provider.clone();
    let early = TxBody::ProveStorage { deal: id, index: 0, chunk: vec![], path: vec![] };
    assert_eq!(failure(&s.n.run(&provider, early.clone())).code(), "no_challenge");
    assert!(accept(&mut s, &id).is_success());
    assert!(!s.n.params().starts_epoch(s.n.height() + 1));
    assert_eq!(failure(&s.n.run(&provider, early)).code(), "no_challenge");
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
    let big = open_pending(&mut s, root, 1 << 20, 10);
    let small = open_pending(&mut s, root, 1 << 10, 10);
    // Accepted in one block, so both are challenged from the same epoch.
    let provider = s.provider.clone();
    let txs = vec![
        s.n.tx(&provider, TxBody::AcceptDeal { deal: big }),
        s.n.tx(&provider, TxBody::AcceptDeal { deal: small }),
    ];
    assert!(s.n.block(txs).executed.receipts.iter().all(Receipt::is_success));
    let cb = next_challenge(&mut s, &big);
    let cs = deal(&s, &small).challenge.expect("both challenged at once");
    assert_eq!(cb.epoch, cs.epoch);
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

fn is_pending(d: &Deal) -> bool {
    matches!(d.status, DealStatus::Pending { .. })
}

fn is_expired(d: &Deal) -> bool {
    matches!(d.status, DealStatus::Expired { .. })
}

fn active_list(s: &Setup) -> Vec<Hash> {
    active_deals(&s.n.c.store).unwrap()
}

#[test]
fn a_deal_the_provider_never_accepted_costs_its_bond_nothing() {
    // The griefing: anyone with a few credits opens a deal with a provider that never got
    // the file. Challenged from the next epoch, it missed every one, and each miss took the
    // fault fee from the bond. Unaccepted, the deal is neither challenged nor faulted.
    let mut s = setup();
    let bond = s.n.device(&s.dev.id()).bond;
    let balance = s.n.balance(&s.provider);
    let max = s.n.params().storage.max_misses;
    let id = open_file_pending(&mut s, 10);
    assert!(is_pending(&deal(&s, &id)));
    // More epoch starts than the misses that would end the deal, all inside the window.
    s.n.empty_blocks(BPE * (u64::from(max) + 3));
    let d = deal(&s, &id);
    assert!(is_pending(&d), "{:?}", d.status);
    assert_eq!((d.challenge, d.faults, d.misses_in_row, d.proven_epochs), (None, 0, 0, 0));
    assert_eq!(s.n.device(&s.dev.id()).bond, bond);
    assert_eq!(s.n.balance(&s.provider), balance);
    // Nor is it paid: there is no challenge to answer.
    let data = s.data.clone();
    assert_eq!(failure(&answer(&mut s, &id, 0, &data)).code(), "no_challenge");
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().consumed, 0);
    assert_credit_identity(&s.n.c.store);
}

#[test]
fn only_the_deals_provider_can_accept_it() {
    let mut s = setup();
    let id = open_file_pending(&mut s, 10);
    let (consumer, stranger, provider) =
        (s.consumer.clone(), s.stranger.clone(), s.provider.clone());
    // The consumer, and the owner of another storage device.
    for k in [&consumer, &stranger] {
        let r = s.n.run(k, TxBody::AcceptDeal { deal: id });
        assert_eq!(
            failure(&r),
            &TxFailure::NotOwner {
                device: s.dev.id(),
                owner: provider.address(),
                signer: k.address()
            }
        );
    }
    s.n.empty_blocks(BPE);
    let d = deal(&s, &id);
    assert!(is_pending(&d) && d.challenge.is_none(), "{d:?}");
    assert!(accept(&mut s, &id).is_success());
    assert_eq!(deal(&s, &id).status, DealStatus::Active);
    let c = next_challenge(&mut s, &id);
    let data = s.data.clone();
    assert!(answer(&mut s, &id, c.index, &data).is_success());
    // The authority is the device's owner of the day: once the device changed hands, its
    // new owner accepts, the old one no longer can.
    let other = open_file_pending(&mut s, 10);
    let to = stranger.address();
    assert!(s.n.run(&provider, TxBody::TransferDevice { device: s.dev.id(), to }).is_success());
    assert_eq!(
        failure(&accept(&mut s, &other)),
        &TxFailure::NotOwner { device: s.dev.id(), owner: to, signer: provider.address() }
    );
    assert!(s.n.run(&stranger, TxBody::AcceptDeal { deal: other }).is_success());
    assert_eq!(deal(&s, &other).status, DealStatus::Active);
}

#[test]
fn an_unaccepted_deal_expires_and_returns_the_consumers_credits() {
    let window = 5;
    let mut s = setup_with_window(window);
    let who = s.consumer.address();
    let credits = credits_of(&s.n.c.store, &s.consumer);
    let worth = value::held(&s.n.c.store, &who).unwrap();
    let bond = s.n.device(&s.dev.id()).bond;
    let balance = s.n.balance(&s.provider);
    let opened_at = s.n.height() + 1;
    let id = open_file_pending(&mut s, 10);
    let accept_by = opened_at + window;
    assert_eq!(deal(&s, &id).status, DealStatus::Pending { accept_by });
    // The escrow, credits and value, is locked while the deal waits.
    assert_eq!(credits_of(&s.n.c.store, &s.consumer), credits - 10 * PRICE);
    let locked = value::escrowed(&s.n.c.store, &id).unwrap();
    assert_eq!(locked.credits, 10 * PRICE);
    assert!(locked.value > 0 && value::held(&s.n.c.store, &who).unwrap() == worth - locked.value);
    // It expires at the first epoch start after its window.
    let expires_at = (accept_by / BPE + 1) * BPE;
    s.n.advance_to(expires_at);
    assert!(is_pending(&deal(&s, &id)));
    s.n.empty_blocks(1);
    let d = deal(&s, &id);
    assert_eq!(
        d.status,
        DealStatus::Expired { accept_by, height: expires_at, refunded: 10 * PRICE }
    );
    assert_eq!((d.escrow_left, d.faults, d.challenge), (0, 0, None));
    assert_eq!(credits_of(&s.n.c.store, &s.consumer), credits);
    assert_eq!(value::held(&s.n.c.store, &who).unwrap(), worth);
    assert_eq!(value::escrowed(&s.n.c.store, &id).unwrap(), Default::default());
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().escrowed, 0);
    assert_eq!(value::value_supply(&s.n.c.store).unwrap().escrowed, 0);
    assert_credit_identity(&s.n.c.store);
    // Nothing was charged to the provider, and the deal is out of the epoch's work.
    assert_eq!((s.n.device(&s.dev.id()).bond, s.n.balance(&s.provider)), (bond, balance));
    assert!(!active_list(&s).contains(&id));
    s.n.empty_blocks(2 * BPE);
    assert_eq!(deal(&s, &id), d);
}

#[test]
fn accepting_twice_an_expired_or_an_unknown_deal_is_refused() {
    let window = 2;
    let mut s = setup_with_window(window);
    let unknown = Hash([1; 32]);
    assert_eq!(failure(&accept(&mut s, &unknown)), &TxFailure::UnknownDeal { deal: unknown });
    // Accepted in the last block of its window; a second acceptance is refused and changes
    // nothing.
    let id = open_file_pending(&mut s, 10);
    let DealStatus::Pending { accept_by } = deal(&s, &id).status else { panic!() };
    s.n.advance_to(accept_by);
    assert!(accept(&mut s, &id).is_success());
    let accepted = deal(&s, &id);
    assert_eq!(failure(&accept(&mut s, &id)), &TxFailure::DealAlreadyAccepted { deal: id });
    assert_eq!(deal(&s, &id), accepted);
    // Opened at a height ≡ 2 (mod 4): one block past its window is not yet the epoch start
    // that refunds it, and the deal is refused as expired all the same.
    while (s.n.height() + 1) % BPE != 2 {
        s.n.empty_blocks(1);
    }
    let late = open_file_pending(&mut s, 10);
    let DealStatus::Pending { accept_by } = deal(&s, &late).status else { panic!() };
    s.n.advance_to(accept_by + 1);
    assert_ne!((accept_by + 1) % BPE, 0);
    let before = deal(&s, &late);
    assert_eq!(failure(&accept(&mut s, &late)), &TxFailure::DealExpired { deal: late, accept_by });
    assert_eq!(deal(&s, &late), before);
    // And once the epoch start has refunded it.
    while is_pending(&deal(&s, &late)) {
        s.n.empty_blocks(1);
    }
    assert_eq!(failure(&accept(&mut s, &late)), &TxFailure::DealExpired { deal: late, accept_by });
    assert!(matches!(deal(&s, &late).status, DealStatus::Expired { .. }));
    // A deal that ran its course was accepted once: that is the refusal it gets.
    let short = open_file_pending(&mut s, 1);
    assert!(accept(&mut s, &short).is_success());
    while deal(&s, &short).status == DealStatus::Active {
        s.n.empty_blocks(1);
    }
    assert_eq!(failure(&accept(&mut s, &short)), &TxFailure::DealAlreadyAccepted { deal: short });
    assert_credit_identity(&s.n.c.store);
}

#[test]
fn an_accepted_deal_runs_its_duration_from_the_epoch_after_acceptance() {
    let mut s = setup();
    let id = open_file_pending(&mut s, 3);
    // Accepted two epochs after opening: its three epochs start after the acceptance.
    s.n.empty_blocks(2 * BPE);
    let at = s.n.height() + 1;
    assert!(accept(&mut s, &id).is_success());
    let d = deal(&s, &id);
    assert_eq!((d.first_epoch, d.last_epoch), (at / BPE + 1, at / BPE + 3));
    let data = s.data.clone();
    for epoch in d.first_epoch..=d.last_epoch {
        let c = next_challenge(&mut s, &id);
        assert_eq!(c.epoch, epoch);
        assert!(answer(&mut s, &id, c.index, &data).is_success());
    }
    while deal(&s, &id).status == DealStatus::Active {
        s.n.empty_blocks(1);
    }
    let d = deal(&s, &id);
    assert_eq!((d.proven_epochs, d.faults, d.escrow_left), (3, 0, 0));
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().consumed, 3 * PRICE);
}

#[test]
fn a_deregistered_device_cannot_take_a_deal_on() {
    let mut s = setup();
    let id = open_file_pending(&mut s, 3);
    let provider = s.provider.clone();
    assert!(s.n.run(&provider, TxBody::DeregisterDevice { device: s.dev.id() }).is_success());
    assert_eq!(failure(&accept(&mut s, &id)), &TxFailure::NotActive { device: s.dev.id() });
    assert!(is_pending(&deal(&s, &id)));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Whenever the provider accepts, or never does: its bond pays only for challenges of
    /// an accepted deal, an acceptance is taken exactly inside the window, an unaccepted
    /// deal returns the whole escrow, and credits and their value add up throughout.
    #[test]
    fn the_bond_pays_only_for_deals_the_provider_accepted(
        window in 1u64..10,
        delay in 1u64..14,
        accepts in proptest::prelude::any::<bool>(),
    ) {
        let mut s = setup_with_window(window);
        let credits = credits_of(&s.n.c.store, &s.consumer);
        let bond = s.n.device(&s.dev.id()).bond;
        let fee = s.n.params().storage.fault_fee;
        let opened_at = s.n.height() + 1;
        let id = open_file_pending(&mut s, 2);
        let mut accepted = false;
        for _ in 1..delay {
            s.n.empty_blocks(1);
            proptest::prop_assert_eq!(s.n.device(&s.dev.id()).bond, bond);
        }
        if accepts {
            let r = accept(&mut s, &id);
            accepted = opened_at + delay <= opened_at + window;
            proptest::prop_assert_eq!(r.is_success(), accepted, "{:?}", r);
            if !accepted {
                proptest::prop_assert_eq!(failure(&r).code(), "deal_expired");
            }
        }
        // Long enough for an accepted deal to end (it never answers) and an unaccepted one
        // to expire.
        s.n.empty_blocks(window + 5 * BPE);
        let d = deal(&s, &id);
        proptest::prop_assert_eq!(s.n.device(&s.dev.id()).bond, bond - fee * u128::from(d.faults));
        if accepted {
            proptest::prop_assert!(d.faults > 0);
            proptest::prop_assert!(matches!(d.status, DealStatus::Ended { .. }), "{:?}", d.status);
        } else {
            proptest::prop_assert_eq!(d.faults, 0);
            let expired = matches!(
                d.status,
                DealStatus::Expired { refunded, .. } if refunded == 2 * PRICE
            );
            proptest::prop_assert!(expired, "{:?}", d.status);
        }
        // Never answered: the whole escrow is back either way.
        proptest::prop_assert_eq!(credits_of(&s.n.c.store, &s.consumer), credits);
        assert_credit_identity(&s.n.c.store);
    }
}

/// Bytes a block holding one `OpenDeal` of the consumer's writes to state (keys and values).
fn bytes_written_by_one_open(s: &mut Setup, root: Hash, count: u64) -> usize {
    let body = TxBody::OpenDeal {
        device: s.dev.id(),
        root,
        chunks: count,
        duration_epochs: 1,
        price_per_epoch: PRICE,
    };
    let consumer = s.consumer.clone();
    let tx = s.n.tx(&consumer, body);
    let p = s.n.block(vec![tx]);
    assert!(p.executed.receipts[0].is_success(), "{:?}", p.executed.receipts);
    p.executed.changes.iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len)).sum()
}

#[test]
fn opening_a_deal_writes_as_much_with_a_hundred_pending_as_with_none() {
    // The pile-up: every deal sat in one list value that each `OpenDeal` read and wrote
    // back whole, so each pending deal made the next one dearer to execute and to keep in
    // the tree's history, for the price of a fee and a refunded escrow. Opening now writes
    // one slot and the count.
    let mut s = setup();
    let cs = chunks(&s.data, 64);
    let (root, count) = (chunk_root(&cs), cs.len() as u64);
    let first = bytes_written_by_one_open(&mut s, root, count);
    for _ in 0..100 {
        open_pending(&mut s, root, count, 1);
    }
    let later = bytes_written_by_one_open(&mut s, root, count);
    // Only the width of numbers may differ (none today); a list would add 32 bytes a deal.
    assert!(later <= first + 16, "first open wrote {first} bytes, the 102nd {later}");
    assert_eq!(active_list(&s).len(), 102);
}

#[test]
fn the_epoch_start_keeps_every_surviving_deal_in_order_and_drops_the_rest() {
    // Three deals: the middle one is never accepted and expires; the others move up.
    let mut s = setup_with_window(1);
    let cs = chunks(&s.data, 64);
    let (root, count) = (chunk_root(&cs), cs.len() as u64);
    let a = open_with(&mut s, root, count, 5);
    let expiring = open_pending(&mut s, root, count, 5);
    let c = open_with(&mut s, root, count, 5);
    assert_eq!(active_list(&s), vec![a, expiring, c]);
    while !is_expired(&deal(&s, &expiring)) {
        s.n.block(vec![]);
    }
    assert_eq!(active_list(&s), vec![a, c]);
    let count_key = state_key::active_deal_count();
    assert_eq!(s.n.c.store.get_decoded::<u64>(&count_key).unwrap(), Some(2));
    assert_eq!(s.n.c.store.get(&state_key::active_deal(2)).unwrap(), None);
}

/// Every failure of the storage deals' kinds lands on the receipt as the variant it always
/// had.
#[test]
fn every_storage_error_maps_onto_its_receipt_failure() {
    use crate::credits::LockError;
    use crate::devices::DeviceAccessError;
    use StorageError as E;
    use cairn_types::TxFailure as F;
    let (a, b) = (Address([1; 32]), Address([2; 32]));
    let (deal, d) = (Hash([4; 32]), Hash([5; 32]));
    crate::handler::assert_failure_table(vec![
        (E::BadDeal { max_epochs: 52 }, "bad_deal", F::BadDeal { max_epochs: 52 }),
        (
            E::DealTooLarge { chunks: 9, chunk_size: 64, max_bytes: 512 },
            "deal_too_large",
            F::DealTooLarge { chunks: 9, chunk_size: 64, max_bytes: 512 },
        ),
        (
            E::EscrowOverflow { price_per_epoch: u128::MAX, epochs: 2 },
            "credit_overflow",
            F::CreditOverflow { what: "escrow".into(), a: u128::MAX, b: 2 },
        ),
        (E::UnknownDevice { device: d }, "unknown_device", F::UnknownDevice { device: d }),
        (E::NotActive { device: d }, "not_active", F::NotActive { device: d }),
        (E::UnknownDeal { deal }, "unknown_deal", F::UnknownDeal { deal }),
        (E::DealAlreadyAccepted { deal }, "deal_already_accepted", F::DealAlreadyAccepted { deal }),
        (
            E::DealExpired { deal, accept_by: 40 },
            "deal_expired",
            F::DealExpired { deal, accept_by: 40 },
        ),
        (E::NoChallenge { deal }, "no_challenge", F::NoChallenge { deal }),
        (
            E::WrongChunk { expected: 1, got: 2 },
            "wrong_chunk",
            F::WrongChunk { expected: 1, got: 2 },
        ),
        (E::LateResponse { deadline: 30 }, "late_response", F::LateResponse { deadline: 30 }),
        (E::BadMerklePath { index: 3 }, "bad_merkle_path", F::BadMerklePath { index: 3 }),
        (
            E::Device(DeviceAccessError::UnknownDevice { device: d }),
            "unknown_device",
            F::UnknownDevice { device: d },
        ),
        (
            E::Device(DeviceAccessError::NotOwner { device: d, owner: a, signer: b }),
            "not_owner",
            F::NotOwner { device: d, owner: a, signer: b },
        ),
        (
            E::Escrow(LockError::EscrowedOverflow { escrowed: 5, amount: 6 }),
            "credit_overflow",
            F::CreditOverflow { what: "escrowed".into(), a: 5, b: 6 },
        ),
    ]);
}
