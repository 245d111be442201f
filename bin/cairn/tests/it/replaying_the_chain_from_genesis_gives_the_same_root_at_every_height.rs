//! After transfers, replaying every block from genesis
//! on a fresh in-memory state gives the header's state root at every height: checked by
//! `cairn chain verify` and again here, block by block, with `App::verify` on a `MemStore`.
//! The replayed receipts and final balances are the node's, and a tampered block does not
//! replay.

use crate::harness::{self, NodeBuilder, crn, min_fee_of, resign};
use cairn_app::{App, Parent, accounts};
use cairn_client::Client;
use cairn_state::MemStore;
use cairn_types::{Certificate, Hash, Keypair, Receipt, TxBody, TxStatus};
use std::time::Duration;

#[test]
fn replaying_the_chain_from_genesis_gives_the_same_root_at_every_height() {
    harness::run(Duration::from_secs(60), async {
        let alice = Keypair::from_label("it-replay-alice");
        let bob = Keypair::from_label("it-replay-bob");
        let carol = Keypair::from_label("it-replay-carol");
        let node = NodeBuilder::new()
            .chain_id("cairn-replay")
            .fund(alice.address(), crn(100))
            .fund(bob.address(), crn(50))
            .fund(carol.address(), crn(10))
            .start()
            .await;
        let client = node.client();

        // Transfers over several blocks.
        let mut committed = 0u64;
        for n in 0..3 {
            let r = node
                .submit_and_wait(&node.transfer(&alice, bob.address(), crn(1) + n, n as u64))
                .await;
            assert!(r.is_success());
            let r =
                node.submit_and_wait(&node.transfer(&bob, carol.address(), 7 + n, n as u64)).await;
            assert!(r.is_success());
            committed += 2;
        }

        // A replacement that would leave a later pending transaction unaffordable is refused
        // at admission, so nothing in the block fails: nonce n spends 1 CRN, nonce n+1 spends
        // 8 CRN (both fit); replacing n with an 8 CRN spend is refused.
        let n = node.account(&carol.address()).await.nonce;
        let small = node.transfer(&carol, alice.address(), crn(1), n);
        let fee = min_fee_of(&small);
        let big_next = node.transfer(&carol, alice.address(), crn(8), n + 1);
        let replacement = resign(small.tx.clone(), &carol, |t| {
            t.body = TxBody::Transfer { to: alice.address(), amount: crn(8) };
            t.max_fee = fee.div_ceil(10) * 11;
        });
        let carol_before = node.account(&carol.address()).await.balance;
        // One batch request, so no block can be cut between the three admissions.
        let results = client
            .submit_batch(&[small.clone(), big_next.clone(), replacement.clone()])
            .await
            .expect("batch");
        assert_eq!(results[0].error, None);
        assert_eq!(results[1].error, None);
        let refused = results[2].error.as_ref().expect("the replacement must be refused");
        assert_eq!(refused.code, "insufficient_balance", "{refused:?}");
        let mut last = None;
        for t in [&small, &big_next] {
            let r = node.wait_receipt(&t.hash()).await;
            assert_eq!(r.status, TxStatus::Success);
            assert_eq!(r.fee_paid, fee);
            last = Some(r);
        }
        let last = last.expect("receipts");
        let carol_now = node.account(&carol.address()).await;
        assert_eq!(carol_now.balance, carol_before - crn(9) - 2 * fee);
        assert_eq!(carol_now.nonce, n + 2);
        committed += 2;
        // Some empty blocks on top.
        node.wait_blocks(3).await;

        // `cairn chain verify` replays everything and ends on the head's root.
        let v = node.cli(&["--json", "chain", "verify"]).success().json();
        let head = v["blocks"].as_u64().expect("blocks replayed");
        assert!(head >= 5, "{v}");
        assert_eq!(v["chain_id"], "cairn-replay");
        assert_eq!(v["transactions"].as_u64(), Some(committed), "{v}");
        let head_block = client.block(head).await.expect("head");
        assert_eq!(v["state_root"], head_block.header.state_root.to_string(), "{v}");

        // The same replay here, comparing every height's root.
        let state = replay(client, head).await;
        for k in [&alice, &bob, &carol] {
            let replayed = accounts::get_account(&state, &k.address()).expect("account");
            let served = node.account(&k.address()).await;
            assert_eq!((replayed.balance, replayed.nonce), (served.balance, served.nonce));
        }

        // A tampered block does not replay.
        let tampered_height = last.height;
        let (state, parent) = replay_to(client, tampered_height - 1).await;
        let app = App::new(node.chain_id());
        let block = client.raw_block(tampered_height).await.expect("raw block");
        let mut bad = block.header.clone();
        bad.state_root = Hash::sha256(b"not the root");
        assert!(app.verify(&state, parent, &bad, &block.txs).is_err(), "wrong state root replayed");
        let mut bad_txs = block.txs.clone();
        bad_txs.pop();
        assert!(
            app.verify(&state, parent, &block.header, &bad_txs).is_err(),
            "missing tx replayed"
        );
        assert!(app.verify(&state, parent, &block.header, &block.txs).is_ok());
    });
}

/// Replays blocks 1..=`to` on a fresh `MemStore`, asserting at each height that the state
/// root is the header's, that the block is certified by the genesis validator, and that
/// the receipts are those the node serves.
async fn replay(client: &Client, to: u64) -> MemStore {
    let genesis = client.genesis().await.expect("genesis");
    let app = App::new(genesis.chain_id.clone());
    let mut state = MemStore::default();
    let changes = App::genesis_changes(&genesis).expect("genesis changes");
    let (_root, batch) = App::genesis_root(&state, &changes).expect("genesis root");
    state.apply(0, &changes, &batch);
    let mut parent = Parent::of_genesis(&genesis);
    for height in 1..=to {
        let block = client.raw_block(height).await.expect("raw block");
        let view = client.block(height).await.expect("block");
        assert_eq!(view.hash, block.hash(), "raw and JSON block {height} differ");
        assert_eq!(view.header, block.header);
        let Certificate::Solo { signer, .. } = &block.certificate else {
            panic!("block {height} of a solo chain has a BFT certificate");
        };
        assert_eq!(*signer, genesis.validator, "block {height} certified by another key");
        block.certificate.verify(&genesis.chain_id, &block.hash()).expect("certificate");
        let executed = app
            .verify(&state, parent, &block.header, &block.txs)
            .unwrap_or_else(|e| panic!("block {height} does not replay: {e}"));
        assert_eq!(executed.state_root, block.header.state_root, "state root at height {height}");
        let served: Vec<Receipt> =
            view.txs.iter().map(|t| t.receipt.clone().expect("receipt")).collect();
        assert_eq!(executed.receipts, served, "receipts at height {height}");
        state.apply(height, &executed.changes, &executed.tree_batch);
        parent = Parent::of_block(&block);
    }
    state
}

/// Replays blocks 1..=`to` without the per-height assertions; returns the state and parent.
async fn replay_to(client: &Client, to: u64) -> (MemStore, Parent) {
    let genesis = client.genesis().await.expect("genesis");
    let app = App::new(genesis.chain_id.clone());
    let mut state = MemStore::default();
    let changes = App::genesis_changes(&genesis).expect("genesis changes");
    let (_root, batch) = App::genesis_root(&state, &changes).expect("genesis root");
    state.apply(0, &changes, &batch);
    let mut parent = Parent::of_genesis(&genesis);
    for height in 1..=to {
        let block = client.raw_block(height).await.expect("raw block");
        let executed = app.verify(&state, parent, &block.header, &block.txs).expect("replays");
        state.apply(height, &executed.changes, &executed.tree_batch);
        parent = Parent::of_block(&block);
    }
    (state, parent)
}
