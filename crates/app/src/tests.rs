//! State-machine tests on the in-memory store.

use super::*;
use crate::accounts::{get_account, get_supply};
use cairn_state::MemStore;
// The chain runs the library build of this crate: blocks built by hand use its types.
use cairn_testkit::cairn_app::{BlockError, Parent, SizedTx};
pub(crate) use cairn_testkit::{CHAIN, Chain, genesis, transfer};
use cairn_types::{Keypair, TxFailure, TxStatus};
use proptest::prelude::*;

const FEE: u128 = 10_000;

#[test]
fn transfer_moves_balance_and_burns_fee() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let mut c = Chain::new(&genesis(&[&a, &b], 1_000_000));
    let p = c.block(vec![transfer(&a, &b, 250, 0, FEE)]);
    assert_eq!(p.executed.receipts.len(), 1);
    assert!(p.executed.receipts[0].is_success());
    assert_eq!(
        get_account(&c.store, &a.address()).unwrap(),
        accounts::Account { balance: 1_000_000 - 250 - FEE, nonce: 1 }
    );
    assert_eq!(get_account(&c.store, &b.address()).unwrap().balance, 1_000_250);
    let s = get_supply(&c.store).unwrap();
    assert_eq!(s.burned, FEE);
    assert_eq!(s.total(), 2_000_000 - FEE);
}

#[test]
fn failed_body_charges_only_the_fee() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let mut c = Chain::new(&genesis(&[&a, &b], 100_000));
    let p = c.block(vec![transfer(&a, &b, 95_000, 0, FEE)]);
    assert_eq!(
        p.executed.receipts[0].status,
        TxStatus::Failed {
            error: TxFailure::InsufficientBalance { needed: 95_000, available: 90_000 }
        }
    );
    assert_eq!(
        get_account(&c.store, &a.address()).unwrap(),
        accounts::Account { balance: 90_000, nonce: 1 }
    );
    assert_eq!(get_account(&c.store, &b.address()).unwrap().balance, 100_000);
}

#[test]
fn unincludable_candidates_are_dropped_not_charged() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let mut c = Chain::new(&genesis(&[&a, &b], 100_000));
    let gap = transfer(&a, &b, 1, 5, FEE);
    let mut expired = transfer(&a, &b, 1, 0, FEE).tx;
    expired.expiry_height = 0;
    let expired = expired.sign(&a);
    let p = c.block(vec![gap, expired]);
    assert!(p.txs.is_empty());
    assert_eq!(p.dropped.len(), 2);
    assert_eq!(p.dropped[0].1.code(), "nonce_gap");
    assert_eq!(p.dropped[1].1.code(), "expired");
    assert_eq!(
        get_account(&c.store, &a.address()).unwrap(),
        accounts::Account { balance: 100_000, nonce: 0 }
    );
    // Replay of an executed transaction is dropped as a replay.
    let t = transfer(&a, &b, 1, 0, FEE);
    c.block(vec![t.clone()]);
    let p = c.block(vec![t]);
    assert_eq!(p.dropped[0].1.code(), "replayed_nonce");
}

#[test]
fn verify_rejects_tampering() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let c = Chain::new(&genesis(&[&a, &b], 100_000));
    let sized = vec![SizedTx::new(transfer(&a, &b, 5, 0, FEE))];
    let p = c.app.propose(&c.store, c.parent, 5_000, c.validator.address(), sized).unwrap();
    let mut h = p.header.clone();
    h.state_root = Hash::ZERO;
    assert!(matches!(
        c.app.verify(&c.store, c.parent, &h, &p.txs),
        Err(BlockError::RootMismatch { what: "state", .. })
    ));
    let mut h = p.header.clone();
    h.timestamp_ms = c.parent.timestamp_ms;
    assert!(matches!(
        c.app.verify(&c.store, c.parent, &h, &p.txs),
        Err(BlockError::TimestampNotIncreasing { .. })
    ));
    let mut txs = p.txs.clone();
    txs[0].signature.0[3] ^= 1;
    assert!(matches!(
        c.app.verify(&c.store, c.parent, &p.header, &txs),
        Err(BlockError::RootMismatch { what: "transaction", .. })
    ));
    let mut h = p.header.clone();
    h.tx_root = merkle::root(&txs.iter().map(SignedTx::hash).collect::<Vec<_>>());
    assert!(matches!(
        c.app.verify(&c.store, c.parent, &h, &txs),
        Err(BlockError::BadTx { index: 0, .. })
    ));
    let mut h = p.header.clone();
    h.epoch += 1;
    assert!(matches!(
        c.app.verify(&c.store, c.parent, &h, &p.txs),
        Err(BlockError::WrongEpoch { .. })
    ));
    // A transaction that cannot be included makes the whole block invalid.
    let gap = vec![transfer(&a, &b, 5, 3, FEE)];
    let mut h = p.header.clone();
    h.tx_root = merkle::root(&gap.iter().map(SignedTx::hash).collect::<Vec<_>>());
    assert!(matches!(
        c.app.verify(&c.store, c.parent, &h, &gap),
        Err(BlockError::NotIncludable { .. })
    ));
}

/// A genesis whose block budget holds two transfers of `a` and not three (the other limits shrunk
/// so that validation allows so small a budget), and the cost of one.
fn two_transfer_budget(a: &Keypair, b: &Keypair) -> (cairn_types::Genesis, u64) {
    let one = transfer(a, b, 1, 0, FEE);
    let cost = cairn_types::cost::tx_cost(&one.tx.body, one.to_bytes().len());
    let g = cairn_testkit::genesis_with(&[a, b], 10_000_000, |p| {
        p.devices.max_reports_per_tx = 1;
        p.max_tx_bytes = 256;
        p.storage.chunk_size = 128;
        // Two transfers, or the least the validation allows if that is more (still short of
        // three).
        let least = cairn_types::cost::max_batch_cost(1) + 256 / cairn_types::cost::BYTES_PER_UNIT;
        p.max_block_cost = (2 * cost).max(least);
        assert!(p.max_block_cost < 3 * cost);
    });
    if let Err(e) = g.validate() {
        panic!("the budget of two transfers must be a valid parameter: {e}");
    }
    (g, cost)
}

#[test]
fn a_block_stops_at_its_cost_budget_and_the_rest_waits() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let (g, _) = two_transfer_budget(&a, &b);
    let mut c = Chain::new(&g);
    let txs: Vec<SignedTx> = (0..5).map(|n| transfer(&a, &b, 1, n, FEE)).collect();
    let p = c.block(txs.clone());
    assert_eq!(p.txs, txs[..2]);
    assert!(p.dropped.is_empty());
    let p = c.block(txs[2..].to_vec());
    assert_eq!(p.txs, txs[2..4]);
}

/// The proposer's deadline (ADR 0039): once passed, the block takes no further candidate
/// but always the first, and what it holds is an ordinary block to a verifier, which never
/// looks at the time.
#[test]
fn a_proposal_past_its_deadline_holds_its_first_candidate_and_verifies() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let c = Chain::new(&genesis(&[&a, &b], 1_000_000));
    let txs: Vec<SignedTx> = (0..5).map(|n| transfer(&a, &b, 1, n, FEE)).collect();
    let sized = || txs.iter().cloned().map(SizedTx::new).collect::<Vec<_>>();
    let (t, me) = (c.parent.timestamp_ms + 1_000, c.validator.address());
    let passed = std::time::Instant::now();
    let p = c.app.propose_until(&c.store, c.parent, t, me, sized(), Some(passed)).unwrap();
    assert_eq!(p.txs, txs[..1]);
    assert!(p.dropped.is_empty());
    let again = c.app.verify(&c.store, c.parent, &p.header, &p.txs).unwrap();
    assert_eq!(again.state_root, p.executed.state_root);
    // With time to spare, or no deadline, the same candidates all fit.
    let later = passed + std::time::Duration::from_secs(3_600);
    let p = c.app.propose_until(&c.store, c.parent, t, me, sized(), Some(later)).unwrap();
    assert_eq!(p.txs, txs);
    let p = c.app.propose(&c.store, c.parent, t, me, sized()).unwrap();
    assert_eq!(p.txs, txs);
}

/// The proposer's write tail (ADR 0048): a block stops before a transaction whose writes
/// would carry it past its end, always holding its first, and verifies as any other.
#[test]
fn a_proposal_stops_before_writes_it_has_no_time_to_commit_and_verifies() {
    // The chain's app is the test kit's build of this crate.
    use cairn_testkit::cairn_app::WriteTail;
    use std::time::{Duration, Instant};
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let c = Chain::new(&genesis(&[&a, &b], 1_000_000));
    let txs: Vec<SignedTx> = (0..5).map(|n| transfer(&a, &b, 1, n, FEE)).collect();
    let sized = || txs.iter().cloned().map(SizedTx::new).collect::<Vec<_>>();
    let (t, me) = (c.parent.timestamp_ms + 1_000, c.validator.address());
    let hour = Duration::from_secs(3_600);
    let propose = |per_write| {
        let tail = WriteTail { end: Instant::now() + hour, per_write };
        c.app.propose_paced(&c.store, c.parent, t, me, sized(), None, Some(tail)).unwrap()
    };
    // An hour a write: the first transfer's writes and one more transfer's would take
    // longer than the hour left.
    let p = propose(hour);
    assert_eq!(p.txs, txs[..1]);
    let again = c.app.verify(&c.store, c.parent, &p.header, &p.txs).unwrap();
    assert_eq!(again.state_root, p.executed.state_root);
    assert!(p.txs_done <= Instant::now());
    // A microsecond a write: everything fits.
    assert_eq!(propose(Duration::from_micros(1)).txs, txs);
}

#[test]
fn a_write_tail_stops_a_block_whose_next_transaction_would_end_past_it() {
    use crate::WriteTail;
    use std::time::{Duration, Instant};
    let now = Instant::now();
    let tail =
        WriteTail { end: now + Duration::from_millis(450), per_write: Duration::from_micros(100) };
    // 2,000 writes in 2 transactions: the next is expected to bring 3,000, 300 ms.
    assert!(!tail.stops(now, 2_000, 2));
    assert!(tail.stops(now + Duration::from_millis(151), 2_000, 2));
    assert!(!tail.stops(now + Duration::from_millis(149), 2_000, 2));
    // One transaction of 3,000 writes: the next would bring 6,000, 600 ms.
    assert!(tail.stops(now, 3_000, 1));
    // Nothing written yet: nothing expected.
    assert!(!tail.stops(now + Duration::from_millis(449), 0, 1));
}

#[test]
fn a_hostile_proposers_over_budget_block_is_refused() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let (g, _) = two_transfer_budget(&a, &b);
    let c = Chain::new(&g);
    // Three transfers executed as a block without the budget (as a proposer that ignores
    // it would), with correct roots.
    let txs: Vec<SignedTx> = (0..3).map(|n| transfer(&a, &b, 1, n, FEE)).collect();
    let params = crate::App::params(&c.store).unwrap();
    let (height, timestamp_ms) = (c.parent.height + 1, c.parent.timestamp_ms + 1_000);
    let env = || crate::component::BlockEnv {
        chain_id: CHAIN,
        params: &params,
        height,
        timestamp_ms,
        entropy: c.parent.entropy,
        past: &crate::rewards::deferred::NoPast,
    };
    let sized = txs.iter().cloned().map(crate::check::SizedTx::new).collect();
    let (executed, included, _, _) =
        crate::execute::execute(&c.store, env(), sized, crate::execute::Mode::Verify).unwrap();
    assert_eq!(included.len(), 3);
    assert!(executed.receipts.iter().all(|r| r.is_success()));
    let header = cairn_types::BlockHeader {
        height,
        parent_hash: c.parent.hash,
        timestamp_ms,
        proposer: c.validator.address(),
        epoch: params.epoch_of(height),
        tx_root: merkle::root(&txs.iter().map(SignedTx::hash).collect::<Vec<_>>()),
        receipts_root: executed.receipts_root(),
        state_root: executed.state_root,
    };
    let err = c.app.verify(&c.store, c.parent, &header, &txs).unwrap_err();
    assert!(
        matches!(err, BlockError::OverBudget { cost, max } if cost > max && max == params.max_block_cost),
        "{err}"
    );
    // The same block with two of its transactions is within the budget and valid.
    let two = &txs[..2];
    let sized = two.iter().cloned().map(crate::check::SizedTx::new).collect();
    let (executed, _, _, _) =
        crate::execute::execute(&c.store, env(), sized, crate::execute::Mode::Verify).unwrap();
    let header = cairn_types::BlockHeader {
        tx_root: merkle::root(&two.iter().map(SignedTx::hash).collect::<Vec<_>>()),
        receipts_root: executed.receipts_root(),
        state_root: executed.state_root,
        ..header
    };
    c.app.verify(&c.store, c.parent, &header, two).unwrap();
}

#[test]
fn a_transaction_no_block_could_hold_is_refused_as_too_costly() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let (g, cost) = two_transfer_budget(&a, &b);
    let mut params = g.params.clone();
    let t = transfer(&a, &b, 1, 0, FEE);
    let size = t.to_bytes().len();
    assert!(t.check_shape(CHAIN, &params, size).is_ok());
    params.max_block_cost = cost - 1;
    let e = t.check_shape(CHAIN, &params, size).unwrap_err();
    assert_eq!(e.code(), "tx_too_costly");
}

#[test]
fn block_size_limit_defers_the_rest() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let mut g = genesis(&[&a, &b], 10_000_000);
    g.params.max_block_txs = 3;
    let mut c = Chain::new(&g);
    let p = c.block((0..5).map(|n| transfer(&a, &b, 1, n, FEE)).collect());
    assert_eq!(p.txs.len(), 3);
    assert!(p.dropped.is_empty());
}

#[test]
fn empty_blocks_still_change_the_root() {
    let a = Keypair::from_label("a");
    let mut c = Chain::new(&genesis(&[&a], 1));
    let r1 = c.block(vec![]).header.state_root;
    let r2 = c.block(vec![]).header.state_root;
    assert_ne!(r1, r2);
    assert_eq!(
        c.store.get_decoded::<LastBlock>(&state_key::last_block()).unwrap().unwrap().height,
        2
    );
}

fn total_balances(store: &MemStore, keys: &[Keypair]) -> u128 {
    keys.iter().map(|k| get_account(store, &k.address()).unwrap().balance).sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any sequence of transfers (including failing and unincludable ones) conserves
    /// supply: balances = genesis − burned fees; and replaying the same blocks on a fresh
    /// node gives the same state root at every height.
    #[test]
    fn transfers_conserve_supply_and_replay_identically(
        ops in prop::collection::vec(
            (0usize..4, 0usize..4, 0u128..400_000, 0u64..3, prop::bool::ANY), 1..40),
        per_block in 1usize..8,
    ) {
        let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("p{i}"))).collect();
        let refs: Vec<&Keypair> = keys.iter().collect();
        let g = genesis(&refs, 1_000_000);
        let mut c = Chain::new(&g);
        let mut nonces = [0u64; 4];
        let mut blocks = Vec::new();
        for chunk in ops.chunks(per_block) {
            let txs: Vec<SignedTx> = chunk.iter().map(|&(f, t, amt, skew, bump)| {
                let nonce = nonces[f] + if bump { skew } else { 0 };
                if !bump || skew == 0 { nonces[f] += 1; }
                transfer(&keys[f], &keys[t], amt.max(1), nonce, FEE)
            }).collect();
            let p = c.block(txs);
            // Nonces of dropped transactions were never used: resync from state.
            for (i, k) in keys.iter().enumerate() {
                nonces[i] = get_account(&c.store, &k.address()).unwrap().nonce;
            }
            let s = get_supply(&c.store).unwrap();
            prop_assert_eq!(total_balances(&c.store, &keys), s.genesis - s.burned);
            prop_assert_eq!(s.genesis, 4_000_000);
            blocks.push(p);
        }
        // Replay on a fresh store.
        let mut replay = Chain::new(&g);
        for p in &blocks {
            let e = replay.app.verify(&replay.store, replay.parent, &p.header, &p.txs).unwrap();
            replay.store.apply(p.header.height, &e.changes, &e.tree_batch);
            replay.parent = Parent::of_block(&replay.certify(p));
            replay.roots.push(e.state_root);
        }
        prop_assert_eq!(replay.roots, c.roots);
    }
}

#[test]
fn each_block_records_the_entropy_its_parent_handed_on() {
    let a = Keypair::from_label("a");
    let g = genesis(&[&a], 1);
    let mut c = Chain::new(&g);
    let genesis_entropy = c.parent.entropy;
    let p1 = c.block(vec![]);
    assert_eq!(entropy_at(&c.store, 1).unwrap(), Some(genesis_entropy));
    let b1 = c.certify(&p1);
    c.block(vec![]);
    // Block 2's entropy comes from block 1's hash alone, and anyone can recompute it.
    assert_eq!(entropy_at(&c.store, 2).unwrap(), Some(b1.entropy()));
    assert_eq!(b1.entropy(), cairn_types::block::entropy_of(&b1.hash()));
    assert_ne!(b1.entropy(), genesis_entropy);
    // The certificate does not enter it: whoever certified block 1, block 2 is the same.
    let mut other = b1.clone();
    other.certificate =
        cairn_types::Certificate::solo(&Keypair::from_label("other"), CHAIN, &b1.hash());
    assert_eq!(other.entropy(), b1.entropy());
}

#[test]
fn verify_refuses_a_block_built_on_other_entropy() {
    let a = Keypair::from_label("a");
    let c = Chain::new(&genesis(&[&a], 1));
    let p = c.app.propose(&c.store, c.parent, 5_000, c.validator.address(), vec![]).unwrap();
    let mut forged = c.parent;
    forged.entropy = Hash::sha256(b"chosen by the proposer");
    assert!(matches!(
        c.app.verify(&c.store, forged, &p.header, &p.txs),
        Err(BlockError::RootMismatch { what: "state", .. })
    ));
}

#[test]
fn entropy_older_than_the_window_is_gone() {
    let a = Keypair::from_label("a");
    let mut c = Chain::new(&genesis(&[&a], 1));
    for _ in 0..(ENTROPY_WINDOW + 2) {
        c.block(vec![]);
    }
    let head = ENTROPY_WINDOW + 2;
    assert!(entropy_at(&c.store, head).unwrap().is_some());
    assert!(entropy_at(&c.store, head - ENTROPY_WINDOW + 1).unwrap().is_some());
    assert_eq!(entropy_at(&c.store, 2).unwrap(), None);
    assert_eq!(entropy_at(&c.store, 1).unwrap(), None);
}

#[test]
fn signatures_checked_at_admission_are_not_verified_again_but_shapes_are() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let c = Chain::new(&genesis(&[&a, &b], 1_000_000));
    let t = c.parent.timestamp_ms + 1000;
    let v = c.validator.address();
    // A transfer whose signature is broken, marked as if this node had admitted it.
    let mut forged = transfer(&a, &b, 1, 0, FEE);
    forged.signature.0[0] ^= 1;
    let mut admitted = SizedTx::new(forged);
    admitted.checked = true;
    let p = c.app.propose(&c.store, c.parent, t, v, vec![admitted.clone()]).unwrap();
    assert_eq!(p.txs.len(), 1);
    // A node that never saw it checks the signature and refuses the block...
    assert!(matches!(
        c.app.verify(&c.store, c.parent, &p.header, &p.txs),
        Err(BlockError::BadTx { index: 0, .. })
    ));
    // ...a node that admitted it does not verify the signature a second time.
    assert!(c.app.verify_sized(&c.store, c.parent, &p.header, vec![admitted]).is_ok());

    // Shapes are checked again whatever the mark: a fee below the floor is refused.
    let mut cheap = SizedTx::new(transfer(&a, &b, 1, 0, 1));
    cheap.checked = true;
    let p = c.app.propose(&c.store, c.parent, t, v, vec![cheap.clone()]).unwrap();
    assert!(matches!(
        c.app.verify_sized(&c.store, c.parent, &p.header, vec![cheap]),
        Err(BlockError::BadTx { error: StatelessError::FeeTooLow { .. }, .. })
    ));
}

/// Every failure of a balance lands on the receipt as the variant it always had.
#[test]
fn every_accounts_error_maps_onto_its_receipt_failure() {
    use crate::accounts::AccountsError as E;
    use cairn_types::Address;
    let a = Address([1; 32]);
    crate::handler::assert_failure_table(vec![
        (
            E::InsufficientBalance { needed: 7, available: 3 },
            "insufficient_balance",
            TxFailure::InsufficientBalance { needed: 7, available: 3 },
        ),
        (
            E::BalanceOverflow { account: a },
            "balance_overflow",
            TxFailure::BalanceOverflow { account: a },
        ),
    ]);
}

/// A block's parallel reads (here, the tree nodes its update visits) run on the block pool:
/// with every thread of rayon's global pool held busy, as admission's signature checks hold
/// it while gateways submit, a block is still made at once, not after them.
#[test]
fn a_block_is_made_while_every_thread_of_the_global_pool_is_busy() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, mpsc};
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = genesis(&[&a, &b], 10_000_000);
    let mut c = Chain::new(&g);
    // A tree at version 1, so the next block's update reads its nodes ahead in parallel.
    c.block(vec![transfer(&a, &b, 1, 0, FEE)]);
    let hold = Arc::new(AtomicBool::new(true));
    let busy = Arc::new(AtomicUsize::new(0));
    let threads = rayon::current_num_threads();
    for _ in 0..threads {
        let (hold, busy) = (hold.clone(), busy.clone());
        rayon::spawn(move || {
            busy.fetch_add(1, Ordering::SeqCst);
            while hold.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
    }
    while busy.load(Ordering::SeqCst) < threads {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let (done, made) = mpsc::channel();
    // As admitted by a node: its signature checked already (that check is admission's).
    let mut admitted = SizedTx::new(transfer(&a, &b, 1, 1, FEE));
    admitted.checked = true;
    let (t, v) = (c.parent.timestamp_ms + 1000, c.validator.address());
    let maker = std::thread::spawn(move || {
        let p = c.app.propose(&c.store, c.parent, t, v, vec![admitted]);
        let _ = done.send(p.map(|p| p.txs.len()).map_err(|e| e.to_string()));
    });
    let result = made.recv_timeout(std::time::Duration::from_secs(20));
    hold.store(false, Ordering::SeqCst);
    maker.join().unwrap();
    assert_eq!(result, Ok(Ok(1)), "the block waited for the global pool");
}
