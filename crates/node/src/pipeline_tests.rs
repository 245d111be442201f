//! A block built on [`Ahead`] — its parent's changes and tree nodes in memory over the
//! store's view before it — is the block the committed parent gives: the same roots and the
//! same tree nodes; a failed commit takes the block built on it along.

use super::*;
use crate::pruning_tests::{config, data_dir};
use crate::{GENESIS_FILE, producer, start};
use cairn_app::check::SizedTx;
use cairn_app::{App, Parent};
use cairn_types::genesis::GenesisAccount;
use cairn_types::{Address, Certificate, Genesis, Keypair, SignedTx, Transaction, TxBody};

const CHAIN: &str = "pipeline-test";

fn keys() -> Vec<Keypair> {
    (0..12).map(|i| Keypair::from_label(&format!("pipe-{i}"))).collect()
}

/// A chain whose [`keys`] hold funds, in a temporary directory.
fn funded_dir() -> tempfile::TempDir {
    let dir = data_dir(cairn_types::Params::default());
    let path = dir.path().join(GENESIS_FILE);
    let mut genesis: Genesis = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    genesis.chain_id = CHAIN.into();
    genesis.accounts = keys()
        .iter()
        .map(|k| GenesisAccount { address: k.address(), balance: 1_000_000_000 })
        .collect();
    std::fs::write(&path, serde_json::to_vec(&genesis).unwrap()).unwrap();
    dir
}

/// Transfers of `nonce` from every key: to the next key and to a new account each, so the
/// two blocks write keys of the same tree paths and keys of their own.
fn transfers(nonce: u64) -> Vec<SizedTx> {
    let keys = keys();
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let to = if nonce.is_multiple_of(2) {
            keys[(i + 1) % keys.len()].address()
        } else {
            Address([nonce as u8 * 16 + i as u8; 32])
        };
        let tx = Transaction {
            chain_id: CHAIN.into(),
            signer: k.address(),
            nonce,
            max_fee: 10_000,
            expiry_height: 1_000,
            body: TxBody::Transfer { to, amount: 1 + nonce as u128 },
        };
        out.push(SizedTx::new(tx.sign(k)));
    }
    out
}

fn certify(shared: &Shared, p: cairn_app::Proposal) -> (Block, Executed) {
    let hash = p.header.hash();
    let certificate = Certificate::solo(&shared.key, shared.app.chain_id(), &hash);
    (Block { header: p.header, txs: p.txs, certificate }, p.executed)
}

fn included(b: &Block) -> Vec<SignedTx> {
    b.txs.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_built_while_its_parent_commits_is_the_block_the_committed_parent_verifies() {
    let dir = funded_dir();
    let node = start(config(dir.path())).await.unwrap();
    let shared = node.shared.clone();
    let app = &shared.app;
    let proposer = shared.key.address();
    let before = shared.snapshot().unwrap();
    let parent = shared.parent(&before).unwrap();
    let first = app
        .propose_until(&before, parent, parent.timestamp_ms + 1, proposer, transfers(0), None)
        .unwrap();
    let (b1, e1) = certify(&shared, first);
    assert_eq!(b1.txs.len(), keys().len());
    // The next block, on the first one's changes and nodes laid over the view before it.
    let ahead = Ahead::new(&before, &e1).unwrap();
    assert_eq!(ahead.version().unwrap(), Some(b1.header.height));
    let p1 = Parent::of_block(&b1);
    let second =
        app.propose_until(&ahead, p1, p1.timestamp_ms + 1, proposer, transfers(1), None).unwrap();
    let (b2, e2) = certify(&shared, second);
    assert_eq!(b2.txs.len(), keys().len(), "every nonce-1 transfer follows its nonce-0 one");
    drop(before);

    shared.store.commit_block(&b1, &e1.receipts, &e1.changes, &e1.tree_batch, None).unwrap();
    let after = shared.snapshot().unwrap();
    let verified = app.verify(&after, p1, &b2.header, &included(&b2)).unwrap();
    assert_eq!(verified.state_root, b2.header.state_root);
    assert_eq!(verified.changes, e2.changes);
    assert_eq!(verified.tree_batch.node_batch.nodes(), e2.tree_batch.node_batch.nodes());
    assert_eq!(verified.receipts, e2.receipts);
    drop(after);
    shared.store.commit_block(&b2, &e2.receipts, &e2.changes, &e2.tree_batch, None).unwrap();
    let end = shared.snapshot().unwrap();
    assert_eq!(cairn_state::tree::root_at(&end, b2.header.height).unwrap(), b2.header.state_root);
    drop(end);
    node.shutdown().await;
}

#[test]
fn a_view_ahead_is_refused_over_a_store_not_at_the_blocks_parent() {
    let dir = funded_dir();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let node = runtime.block_on(start(config(dir.path()))).unwrap();
    let shared = node.shared.clone();
    let snap = shared.snapshot().unwrap();
    let parent = shared.parent(&snap).unwrap();
    let p = shared
        .app
        .propose_until(&snap, parent, 1, shared.key.address(), transfers(0), None)
        .unwrap();
    let (b, e) = certify(&shared, p);
    producer::commit(&shared, &b, &e, &[], 0, Instant::now()).unwrap();
    // The store now stands at the block itself: laying it over again would apply it twice.
    let now = shared.snapshot().unwrap();
    assert!(Ahead::new(&now, &e).is_err());
    drop((snap, now));
    runtime.block_on(node.shutdown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_made_ahead_commit_in_order_and_a_failed_commit_takes_the_next_block_along() {
    let dir = funded_dir();
    let node = start(config(dir.path())).await.unwrap();
    let shared = node.shared.clone();
    {
        let snap = shared.snapshot().unwrap();
        let params = App::params(&snap).unwrap();
        let mut pool = shared.mempool();
        for t in transfers(0) {
            pool.admit(t, &snap, &params, 1).unwrap();
        }
    }
    let s = shared.clone();
    let first = tokio::task::spawn_blocking(move || producer::produce_ahead(&s)).await.unwrap();
    let first = first.unwrap();
    assert!(first.before.is_none(), "no block was in flight before the first");
    let first = first.hash;
    // Not visible before it is durable; the synchronous producer makes it durable first.
    let s = shared.clone();
    tokio::task::spawn_blocking(move || producer::produce_block(&s)).await.unwrap().unwrap();
    let snap = shared.snapshot().unwrap();
    assert_eq!(snap.height().unwrap(), Some(2));
    assert_eq!(snap.block(1).unwrap().unwrap().hash(), first);
    assert_eq!(snap.block(1).unwrap().unwrap().txs.len(), keys().len());
    assert!(shared.mempool().is_empty());
    assert!(shared.in_flight().is_none());

    // A commit that fails (here: a block the store already holds) fails the next call,
    // which commits nothing; the call after builds on the store again.
    let block2 = snap.block(2).unwrap().unwrap();
    drop(snap);
    let replay = Executed {
        height: 2,
        receipts: Vec::new(),
        changes: Default::default(),
        state_root: block2.header.state_root,
        tree_batch: Default::default(),
        rewards: None,
        reward_index: None,
    };
    let flight =
        InFlight::start(&shared, block2, replay, Vec::new(), 0, Instant::now(), None).unwrap();
    *shared.in_flight() = Some(flight);
    let s = shared.clone();
    let failed = tokio::task::spawn_blocking(move || producer::produce_ahead(&s)).await.unwrap();
    assert!(failed.is_err());
    assert_eq!(shared.snapshot().unwrap().height().unwrap(), Some(2));
    let s = shared.clone();
    let third = tokio::task::spawn_blocking(move || producer::produce_ahead(&s)).await.unwrap();
    assert!(third.unwrap().before.is_none(), "the failed block is not counted as durable");
    let s = shared.clone();
    let durable =
        tokio::task::spawn_blocking(move || producer::finish_in_flight(&s)).await.unwrap();
    assert!(durable.unwrap().is_some(), "the block in flight is durable, its time told");
    assert_eq!(shared.snapshot().unwrap().height().unwrap(), Some(3));
    node.shutdown().await;
}
