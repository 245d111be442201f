//! The producer's time for a block (ADR 0039): candidates it has no time for wait in the
//! mempool and land in the next blocks, best fee first.

use super::*;
use crate::pruning_tests::{config, data_dir};
use cairn_app::check::SizedTx;
use cairn_types::genesis::GenesisAccount;
use cairn_types::{Address, SignedTx, Transaction, TxBody};
use std::time::Duration;

const CHAIN: &str = "producer-test";

/// A chain with `params` whose keys `k0`..`k4` hold funds, in a temporary directory.
fn funded_dir_with(keys: &[Keypair], params: cairn_types::Params) -> tempfile::TempDir {
    let dir = data_dir(params);
    let path = dir.path().join(GENESIS_FILE);
    let mut genesis: Genesis = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    genesis.chain_id = CHAIN.into();
    genesis.accounts = keys
        .iter()
        .map(|k| GenesisAccount { address: k.address(), balance: 1_000_000_000 })
        .collect();
    std::fs::write(&path, serde_json::to_vec(&genesis).unwrap()).unwrap();
    dir
}

/// A chain whose keys `k0`..`k4` hold funds, in a temporary directory.
fn funded_dir(keys: &[Keypair]) -> tempfile::TempDir {
    funded_dir_with(keys, cairn_types::Params::default())
}

/// Admits `txs` to the node's mempool.
fn admit(shared: &Shared, txs: &[SignedTx]) {
    let snap = shared.snapshot().unwrap();
    let params = cairn_app::App::params(&snap).unwrap();
    let mut pool = shared.mempool();
    for t in txs {
        pool.admit(SizedTx::new(t.clone()), &snap, &params, 1).unwrap();
    }
}

/// A transfer of 1 from `k` paying `fee`.
fn transfer(k: &Keypair, fee: u128) -> SignedTx {
    Transaction {
        chain_id: CHAIN.into(),
        signer: k.address(),
        nonce: 0,
        max_fee: fee,
        expiry_height: 1_000,
        body: TxBody::Transfer { to: Address([7; 32]), amount: 1 },
    }
    .sign(k)
}

/// Starts a node with `propose_within`, admits one transfer per key (the fee rising with the
/// key's index, the cheapest first), then makes blocks until the mempool is empty (at most
/// ten). Returns the transfers and the transactions of each block.
async fn blocks_with(propose_within: Option<Duration>) -> (Vec<SignedTx>, Vec<Vec<SignedTx>>) {
    let keys: Vec<Keypair> = (0..5).map(|i| Keypair::from_label(&format!("k{i}"))).collect();
    let dir = funded_dir(&keys);
    let mut c = config(dir.path());
    c.propose_within = propose_within;
    let node = start(c).await.unwrap();
    let shared = node.shared.clone();
    let txs: Vec<SignedTx> =
        keys.iter().enumerate().map(|(i, k)| transfer(k, 10_000 * (i as u128 + 1))).collect();
    admit(&shared, &txs);
    let mut blocks = Vec::new();
    while !shared.mempool().is_empty() && blocks.len() < 10 {
        let pending = shared.mempool().len();
        let hash = producer::produce_block(&shared).unwrap();
        let snap = shared.snapshot().unwrap();
        let head = snap.head().unwrap().unwrap();
        let block = snap.block(head.height).unwrap().unwrap();
        assert_eq!(block.header.hash(), hash);
        // What the block did not take is still pending.
        assert_eq!(shared.mempool().len(), pending - block.txs.len());
        blocks.push(block.txs);
    }
    node.shutdown().await;
    (txs, blocks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_past_the_proposers_time_leaves_the_rest_in_the_mempool_in_fee_order() {
    // No time at all: every block takes only its first candidate, the best fee waiting.
    let (txs, blocks) = blocks_with(Some(Duration::ZERO)).await;
    let by_fee: Vec<Vec<SignedTx>> = txs.iter().rev().map(|t| vec![t.clone()]).collect();
    assert_eq!(blocks, by_fee);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_with_time_to_spare_takes_every_candidate_in_one_block() {
    for within in [None, Some(Duration::from_secs(3_600))] {
        let (txs, blocks) = blocks_with(within).await;
        assert_eq!(blocks, vec![txs.iter().rev().cloned().collect::<Vec<_>>()], "{within:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_that_settles_a_reward_run_of_unknown_time_takes_only_its_first_candidate() {
    // Six blocks an epoch, the run of epoch 0 fixed at block 6 and settled from block 9.
    let mut params = crate::pruning_tests::short_params();
    params.blocks_per_epoch = 6;
    params.reward_settle_delay_blocks = 3;
    let keys: Vec<Keypair> = (0..5).map(|i| Keypair::from_label(&format!("k{i}"))).collect();
    let dir = funded_dir_with(&keys, params);
    let mut c = config(dir.path());
    c.keep_versions = 4;
    // Time for every candidate, were it not for the settlement (ADR 0043).
    c.propose_within = Some(Duration::from_secs(3_600));
    let node = start(c).await.unwrap();
    let shared = node.shared.clone();
    for _ in 1..=8 {
        producer::produce_block(&shared).unwrap();
    }
    let run = cairn_app::rewards::deferred::pending(&shared.snapshot().unwrap()).unwrap().unwrap();
    assert_eq!(run.due, 9);
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !shared.app.runs().is_done(&run) {
        assert!(std::time::Instant::now() < until, "the background run did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(shared.pace.settle_share_time(1), None, "no settle block seen yet");
    let txs: Vec<SignedTx> =
        keys.iter().enumerate().map(|(i, k)| transfer(k, 10_000 * (i as u128 + 1))).collect();
    admit(&shared, &txs);
    // Block 9 settles the run (its share's time unknown): the best fee only.
    producer::produce_block(&shared).unwrap();
    let snap = shared.snapshot().unwrap();
    let block = snap.block(9).unwrap().unwrap();
    assert_eq!(block.txs, vec![txs[4].clone()]);
    assert_eq!(cairn_app::rewards::deferred::pending(&snap).unwrap(), None, "settled");
    drop(snap);
    // Block 10 settles nothing: the rest, in fee order.
    producer::produce_block(&shared).unwrap();
    let block = shared.snapshot().unwrap().block(10).unwrap().unwrap();
    assert_eq!(block.txs, txs[..4].iter().rev().cloned().collect::<Vec<_>>());
    node.shutdown().await;
}

/// The first block of a node with a second a block and time for every candidate, whose
/// pace has learned `per_write` of write tail a key (if given), over one transfer from each
/// of `keys` keys: made in series (`serial`) or handed to a commit beside the next. Its
/// transactions, and the tail per write the pace holds once it is durable.
async fn first_block_with_tail(
    keys: usize,
    per_write: Option<Duration>,
    serial: bool,
) -> (usize, Option<Duration>) {
    let keys: Vec<Keypair> = (0..keys).map(|i| Keypair::from_label(&format!("t{i}"))).collect();
    let dir = funded_dir(&keys);
    let mut c = config(dir.path());
    c.block_interval = Duration::from_secs(1);
    c.propose_within = Some(Duration::from_secs(3_600));
    let node = start(c).await.unwrap();
    let shared = node.shared.clone();
    if let Some(per_write) = per_write {
        shared.pace.observe_tail(per_write * 256, 256);
    }
    let txs: Vec<SignedTx> =
        keys.iter().enumerate().map(|(i, k)| transfer(k, 10_000 * (i as u128 + 1))).collect();
    admit(&shared, &txs);
    let s = shared.clone();
    tokio::task::spawn_blocking(move || {
        if serial {
            producer::produce_block(&s).map(|_| ())
        } else {
            producer::produce_ahead(&s).and_then(|_| producer::finish_in_flight(&s)).map(|_| ())
        }
    })
    .await
    .unwrap()
    .unwrap();
    let block = shared.snapshot().unwrap().block(1).unwrap().unwrap();
    let learned = shared.pace.tail_per_write();
    node.shutdown().await;
    (block.txs.len(), learned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_committed_beside_the_next_stops_for_its_writes_as_one_in_series() {
    // 20 ms a key: either way the block is to be durable by 90 % of the second, its
    // writes' commit included: under 45 keys, a transfer writing at least its sender's
    // (ADR 0048, ADR 0049).
    let per_write = Some(Duration::from_millis(20));
    for serial in [true, false] {
        let (txs, _) = first_block_with_tail(60, per_write, serial).await;
        assert!((1..45).contains(&txs), "{txs} transactions, in series: {serial}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commit_thread_teaches_the_pace_a_blocks_write_tail() {
    // Nothing learned before: the block takes all 300 transfers, over 256 keys written,
    // and its commit, on a thread of its own, tells the pace their tail.
    let (txs, learned) = first_block_with_tail(300, None, false).await;
    assert_eq!(txs, 300);
    assert!(learned.is_some_and(|d| d > Duration::ZERO), "{learned:?}");
}
