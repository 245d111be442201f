use super::*;
use cairn_app::accounts::Account;
use cairn_state::MemStore;
use cairn_types::{Keypair, Params, Transaction, TxBody};

fn state(keys: &[(&Keypair, u128, u64)]) -> MemStore {
    let mut s = MemStore::default();
    for (k, balance, nonce) in keys {
        s.set_latest(
            cairn_app::state_key::account(&k.address()),
            cairn_types::codec::encode(&Account { balance: *balance, nonce: *nonce }),
        );
    }
    s
}

fn tx(k: &Keypair, nonce: u64, fee: u128, amount: u128) -> SizedTx {
    SizedTx::new(
        Transaction {
            chain_id: "t".into(),
            signer: k.address(),
            nonce,
            max_fee: fee,
            expiry_height: 100,
            body: TxBody::Transfer { to: Address([1; 32]), amount },
        }
        .sign(k),
    )
}

#[test]
fn admission_orders_and_limits() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let s = state(&[(&a, 1_000, 0), (&b, 1_000, 3)]);
    let mut m = Mempool::new(MempoolConfig { max_txs: 10, max_bytes: 1 << 20, max_per_sender: 3 });
    m.admit(tx(&a, 0, 10, 1), &s, &Params::default(), 1).unwrap();
    m.admit(tx(&b, 3, 10, 1), &s, &Params::default(), 1).unwrap();
    m.admit(tx(&a, 1, 10, 1), &s, &Params::default(), 1).unwrap();
    // Replay of a used nonce, a gap, a duplicate.
    assert_eq!(
        m.admit(tx(&b, 2, 10, 1), &s, &Params::default(), 1).unwrap_err().code(),
        "replayed_nonce"
    );
    assert_eq!(
        m.admit(tx(&a, 5, 10, 1), &s, &Params::default(), 1).unwrap_err().code(),
        "nonce_gap"
    );
    assert_eq!(
        m.admit(tx(&a, 0, 10, 1), &s, &Params::default(), 1).unwrap_err().code(),
        "already_known"
    );
    // Spending beyond the balance, counting what is already pending (2 × 11).
    assert_eq!(
        m.admit(tx(&a, 2, 10, 970), &s, &Params::default(), 1).unwrap_err().code(),
        "insufficient_balance"
    );
    m.admit(tx(&a, 2, 10, 968), &s, &Params::default(), 1).unwrap();
    assert_eq!(
        m.admit(tx(&a, 3, 10, 1), &s, &Params::default(), 1).unwrap_err().code(),
        "sender_limit"
    );
    // Expired.
    assert_eq!(
        m.admit(tx(&b, 4, 10, 1), &s, &Params::default(), 101).unwrap_err().code(),
        "expired"
    );
    let c: Vec<_> = m
        .candidates(&s, 100, 1 << 20, u64::MAX)
        .iter()
        .map(|t| (t.tx.tx.signer, t.tx.tx.nonce))
        .collect();
    assert_eq!(c, vec![(a.address(), 0), (b.address(), 3), (a.address(), 1), (a.address(), 2)]);
    assert_eq!(m.candidates(&s, 2, 1 << 20, u64::MAX).len(), 2);
}

#[test]
fn replacement_needs_a_higher_fee() {
    let a = Keypair::from_label("a");
    let s = state(&[(&a, 10_000, 0)]);
    let mut m = Mempool::new(MempoolConfig::default());
    let first = m.admit(tx(&a, 0, 100, 1), &s, &Params::default(), 1).unwrap();
    assert!(matches!(
        m.admit(tx(&a, 0, 109, 2), &s, &Params::default(), 1),
        Err(MempoolError::ReplacementUnderpriced { old: 100, fee: 109, min: 110 })
    ));
    let second = m.admit(tx(&a, 0, 110, 2), &s, &Params::default(), 1).unwrap();
    assert_eq!(m.len(), 1);
    assert!(m.get(&first).is_none());
    assert!(m.get(&second).is_some());
}

#[test]
fn full_pool_refuses() {
    let a = Keypair::from_label("a");
    let s = state(&[(&a, 10_000, 0)]);
    let mut m = Mempool::new(MempoolConfig { max_txs: 1, max_bytes: 1 << 20, max_per_sender: 10 });
    m.admit(tx(&a, 0, 10, 1), &s, &Params::default(), 1).unwrap();
    assert_eq!(
        m.admit(tx(&a, 1, 10, 1), &s, &Params::default(), 1).unwrap_err().code(),
        "mempool_full"
    );
}

#[test]
fn block_removes_included_and_stale() {
    let a = Keypair::from_label("a");
    let s = state(&[(&a, 10_000, 0)]);
    let mut m = Mempool::new(MempoolConfig::default());
    let t0 = tx(&a, 0, 10, 1);
    let t1 = tx(&a, 1, 10, 1);
    m.admit(t0.clone(), &s, &Params::default(), 1).unwrap();
    m.admit(t1.clone(), &s, &Params::default(), 1).unwrap();
    let after = state(&[(&a, 9_000, 2)]);
    m.on_block(&[(t0.hash, a.address())], &[], &after);
    assert!(m.is_empty());
    assert_eq!(m.bytes(), 0);
}

#[test]
fn a_same_nonce_twin_included_elsewhere_is_dropped_with_everything_below_the_account_nonce() {
    let (a, b, c) = (Keypair::from_label("a"), Keypair::from_label("b"), Keypair::from_label("c"));
    let s = state(&[(&a, 10_000, 0), (&b, 10_000, 0), (&c, 10_000, 0)]);
    let mut m = Mempool::new(MempoolConfig::default());
    // This node holds a's nonces 0..3 and b's nonce 0; another validator's block included
    // different transactions (twins: same signer and nonce, other amounts) for a's 0 and 1
    // and for b's 0, so none of the hashes here is in the block.
    for n in 0..3 {
        m.admit(tx(&a, n, 10, 1), &s, &Params::default(), 1).unwrap();
    }
    m.admit(tx(&b, 0, 10, 1), &s, &Params::default(), 1).unwrap();
    let kept = m.admit(tx(&c, 0, 10, 1), &s, &Params::default(), 1).unwrap();
    let twins = [tx(&a, 0, 10, 2), tx(&a, 1, 10, 2), tx(&b, 0, 10, 2)];
    let included: Vec<(Hash, Address)> = twins.iter().map(|t| (t.hash, t.tx.tx.signer)).collect();
    assert!(included.iter().all(|(h, _)| m.get(h).is_none()));
    let after = state(&[(&a, 9_000, 2), (&b, 9_000, 1), (&c, 10_000, 0)]);
    m.on_block(&included, &[], &after);
    // a's nonce 2 still waits (it is next); the spent twins are gone; c is untouched.
    let left: Vec<(Address, u64)> =
        m.senders.iter().flat_map(|(s, q)| q.keys().map(move |n| (*s, *n))).collect();
    let mut want = vec![(a.address(), 2), (c.address(), 0)];
    want.sort();
    assert_eq!(left, want);
    assert!(m.get(&kept).is_some());
    assert_eq!(
        m.bytes(),
        m.senders.values().flat_map(|q| q.values()).map(|e| e.tx.size).sum::<usize>()
    );
    assert_eq!(m.candidates(&after, 10, 1 << 20, u64::MAX).len(), 2);
}

#[test]
fn extreme_nonces_are_refused_without_panicking() {
    let a = Keypair::from_label("a");
    let s = state(&[(&a, 10_000, 5)]);
    let mut m = Mempool::new(MempoolConfig::default());
    m.admit(tx(&a, 5, 10, 1), &s, &Params::default(), 1).unwrap();
    assert_eq!(
        m.admit(tx(&a, 1, 10, 1), &s, &Params::default(), 1).unwrap_err().code(),
        "replayed_nonce"
    );
    assert_eq!(
        m.admit(tx(&a, u64::MAX, 10, 1), &s, &Params::default(), 1).unwrap_err().code(),
        "nonce_gap"
    );
    let s_max = state(&[(&a, 10_000, u64::MAX)]);
    let mut m = Mempool::new(MempoolConfig::default());
    m.admit(tx(&a, u64::MAX, 10, 1), &s_max, &Params::default(), 1).unwrap();
    assert_eq!(m.candidates(&s_max, 10, 1 << 20, u64::MAX).len(), 1);
}

#[test]
fn replacement_must_keep_later_transactions_affordable() {
    let a = Keypair::from_label("a");
    let s = state(&[(&a, 1_000, 0)]);
    let mut m = Mempool::new(MempoolConfig::default());
    m.admit(tx(&a, 0, 10, 100), &s, &Params::default(), 1).unwrap();
    m.admit(tx(&a, 1, 10, 800), &s, &Params::default(), 1).unwrap();
    // Raising nonce 0's spend to 800 would leave nonce 1 unaffordable.
    assert_eq!(
        m.admit(tx(&a, 0, 11, 800), &s, &Params::default(), 1).unwrap_err().code(),
        "insufficient_balance"
    );
    // A replacement that still fits is fine: 150 + 11 + 800 + 10 <= 1000.
    m.admit(tx(&a, 0, 11, 150), &s, &Params::default(), 1).unwrap();
}

#[test]
fn a_final_drop_takes_the_senders_later_transactions_with_it() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let s = state(&[(&a, 10_000, 0), (&b, 10_000, 0)]);
    let mut m = Mempool::new(MempoolConfig::default());
    let first = tx(&a, 0, 10, 1);
    m.admit(first.clone(), &s, &Params::default(), 1).unwrap();
    for n in 1..5 {
        m.admit(tx(&a, n, 10, 1), &s, &Params::default(), 1).unwrap();
    }
    m.admit(tx(&b, 0, 10, 1), &s, &Params::default(), 1).unwrap();
    // The block dropped a's first transaction for good (say it expired): a's later ones can
    // never be included and leave with it; b's stays.
    let expired = StatefulError::Expired { expiry_height: 1, height: 2 };
    m.on_block(&[], &[(first.tx.hash(), expired)], &s);
    assert_eq!(m.len(), 1);
    let c = m.candidates(&s, 100, 1 << 20, u64::MAX);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].tx.tx.signer, b.address());
}

#[test]
fn candidates_start_at_the_account_nonce_and_stop_at_gaps() {
    let a = Keypair::from_label("a");
    let s = state(&[(&a, 10_000, 0)]);
    let mut m = Mempool::new(MempoolConfig::default());
    for n in 0..3 {
        m.admit(tx(&a, n, 10, 1), &s, &Params::default(), 1).unwrap();
    }
    // The account moved on (nonce 2) before the pool was pruned: only nonce 2 is offered.
    let later = state(&[(&a, 10_000, 2)]);
    let c = m.candidates(&later, 100, 1 << 20, u64::MAX);
    assert_eq!(c.iter().map(|t| t.tx.tx.nonce).collect::<Vec<_>>(), vec![2]);
    // An account ahead of every pending nonce gets nothing.
    let ahead = state(&[(&a, 10_000, 7)]);
    assert!(m.candidates(&ahead, 100, 1 << 20, u64::MAX).is_empty());
}

#[test]
fn filling_a_hole_keeps_later_transactions_affordable_and_replacements_respect_the_byte_limit() {
    let a = Keypair::from_label("a");
    let s = state(&[(&a, 1_000, 0)]);
    let mut m = Mempool::new(MempoolConfig::default());
    m.admit(tx(&a, 0, 10, 100), &s, &Params::default(), 1).unwrap();
    m.admit(tx(&a, 1, 10, 800), &s, &Params::default(), 1).unwrap();
    // Replacing nonce 0 must leave nonce 1's 810 affordable.
    assert_eq!(
        m.admit(tx(&a, 0, 11, 200), &s, &Params::default(), 1).unwrap_err().code(),
        "insufficient_balance"
    );
    let one = tx(&a, 0, 10, 1);
    let mut tight =
        Mempool::new(MempoolConfig { max_txs: 10, max_bytes: one.size + 10, max_per_sender: 10 });
    tight.admit(one.clone(), &s, &Params::default(), 1).unwrap();
    let mut bigger = one.tx.tx.clone();
    bigger.max_fee = 20;
    bigger.expiry_height = 101;
    let bigger = SizedTx { size: one.size + 100, ..SizedTx::new(bigger.sign(&a)) };
    assert_eq!(tight.admit(bigger, &s, &Params::default(), 1).unwrap_err().code(), "mempool_full");
}

proptest::proptest! {
    /// Whatever another validator's block included (any twin of any pending nonce), after
    /// `on_block` no pending transaction of a signer in the block sits below its account
    /// nonce, the byte count matches the entries, and the rest is untouched.
    #[test]
    fn after_a_block_no_signer_in_it_keeps_a_spent_nonce(
        pending in proptest::collection::vec(0u64..6, 1..4),
        spent in proptest::collection::vec(0u64..7, 1..4),
    ) {
        let keys: Vec<Keypair> = (0..pending.len())
            .map(|i| Keypair::from_label(&format!("p{i}")))
            .collect();
        let s = state(&keys.iter().map(|k| (k, 1_000_000, 0)).collect::<Vec<_>>());
        let mut m = Mempool::new(MempoolConfig::default());
        for (k, &n) in keys.iter().zip(&pending) {
            for nonce in 0..n {
                m.admit(tx(k, nonce, 10, 1), &s, &Params::default(), 1).unwrap();
            }
        }
        // Signer i's account moved to spent[i] (if listed) through twins this pool never saw.
        let mut after = Vec::new();
        let mut included = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let nonce = spent.get(i).copied().unwrap_or(0);
            after.push((k, 1_000_000, nonce));
            for n in 0..nonce {
                let twin = tx(k, n, 10, 2);
                included.push((twin.hash, k.address()));
            }
        }
        let before: Vec<(Address, u64)> =
            m.senders.iter().flat_map(|(s, q)| q.keys().map(move |n| (*s, *n))).collect();
        m.on_block(&included, &[], &state(&after));
        for (k, _, nonce) in &after {
            let left: Vec<u64> =
                m.senders.get(&k.address()).map(|q| q.keys().copied().collect()).unwrap_or_default();
            proptest::prop_assert!(left.iter().all(|n| n >= nonce), "{left:?} below {nonce}");
            let kept: Vec<u64> = before
                .iter()
                .filter(|(s, n)| *s == k.address() && n >= nonce)
                .map(|(_, n)| *n)
                .collect();
            proptest::prop_assert_eq!(left, kept);
        }
        let bytes: usize = m.senders.values().flat_map(|q| q.values()).map(|e| e.tx.size).sum();
        proptest::prop_assert_eq!(m.bytes(), bytes);
        proptest::prop_assert_eq!(m.len(), m.senders.values().map(|q| q.len()).sum::<usize>());
    }
}

#[test]
fn candidates_come_in_fee_order_and_stop_at_the_cost_budget() {
    let (a, b, c) = (Keypair::from_label("a"), Keypair::from_label("b"), Keypair::from_label("c"));
    let s = state(&[(&a, 1_000_000, 0), (&b, 1_000_000, 0), (&c, 1_000_000, 0)]);
    let mut m = Mempool::new(MempoolConfig::default());
    let p = Params::default();
    // The low fee arrives first; b's second transaction pays most but waits on its first.
    m.admit(tx(&a, 0, 10, 1), &s, &p, 1).unwrap();
    m.admit(tx(&b, 0, 20, 1), &s, &p, 1).unwrap();
    m.admit(tx(&b, 1, 50, 1), &s, &p, 1).unwrap();
    m.admit(tx(&c, 0, 30, 1), &s, &p, 1).unwrap();
    let order = |max_cost| -> Vec<(Address, u64)> {
        m.candidates(&s, 100, 1 << 20, max_cost)
            .iter()
            .map(|t| (t.tx.tx.signer, t.tx.tx.nonce))
            .collect()
    };
    let all = order(u64::MAX);
    assert_eq!(all, vec![(c.address(), 0), (b.address(), 0), (b.address(), 1), (a.address(), 0)]);
    // Equal transfers cost the same (and have the same minimum fee): a budget of three
    // leaves the lowest fee out.
    let one = tx(&a, 0, 10, 1);
    let cost = cairn_types::cost::tx_cost(&one.tx.tx.body, one.size);
    assert_eq!(order(3 * cost), all[..3]);
    assert_eq!(order(3 * cost - 1), all[..2]);
}

/// The producer's loop on a chain whose block budget holds two transfers: the pool offers
/// its best within the budget, the block takes them, the pool prunes what was included.
#[test]
fn a_low_fee_transaction_waits_while_higher_fees_fill_the_block_and_lands_later() {
    use cairn_testkit::{Chain, genesis_with, transfer};
    let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("k{i}"))).collect();
    let to = Keypair::from_label("to");
    let one = transfer(&keys[0], &to, 1, 0, 10_000);
    let cost = cairn_types::cost::tx_cost(&one.tx.body, one.to_bytes().len());
    let refs: Vec<&Keypair> = keys.iter().collect();
    let mut c = Chain::new(&genesis_with(&refs, 10_000_000, |p| {
        p.devices.max_reports_per_tx = 1;
        p.max_tx_bytes = 256;
        p.storage.chunk_size = 128;
        // Two transfers, or the least the validation allows if that is more (still short of
        // three).
        let least = cairn_types::cost::max_batch_cost(1) + 256 / cairn_types::cost::BYTES_PER_UNIT;
        p.max_block_cost = (2 * cost).max(least);
        assert!(p.max_block_cost < 3 * cost);
    }));
    let params = cairn_app::App::params(&c.store).unwrap();
    let mut m = Mempool::new(MempoolConfig::default());
    // The cheapest arrives first; the others pay 2×, 3× and 4× its fee.
    let txs: Vec<SignedTx> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| transfer(k, &to, 1, 0, 10_000 * (i as u128 + 1)))
        .collect();
    for t in &txs {
        m.admit(SizedTx::new(t.clone()), &c.store, &params, 1).unwrap();
    }
    let mut blocks = Vec::new();
    while !m.is_empty() {
        let offered = m.candidates(&c.store, 100, 1 << 20, params.max_block_cost);
        let p = c.block(offered.into_iter().map(|t| t.tx).collect());
        let included: Vec<(Hash, Address)> =
            p.executed.receipts.iter().zip(&p.txs).map(|(r, t)| (r.tx_hash, t.tx.signer)).collect();
        m.on_block(&included, &p.dropped, &c.store);
        blocks.push(p.txs);
        assert!(blocks.len() <= 2, "the pool should empty in two blocks");
    }
    assert_eq!(
        blocks,
        vec![vec![txs[3].clone(), txs[2].clone()], vec![txs[1].clone(), txs[0].clone()]]
    );
}
