//! The node's deferred reward runs: computed in the background once the epoch's last block
//! commits, the snapshot held against pruning, the epoch served as pending until its settle
//! block, and after a restart between the boundary and the settle block the run computed
//! again from the store's past values, settling the same summary.

use crate::pruning_tests::{config, data_dir, get};
use crate::{producer, start};
use cairn_app::rewards::deferred::{Computed, PendingRun};
use std::time::{Duration, Instant};

/// Six blocks an epoch, settled three blocks after the boundary.
fn deferred_params() -> cairn_types::Params {
    let mut p = crate::pruning_tests::short_params();
    p.blocks_per_epoch = 6;
    p.reward_settle_delay_blocks = 3;
    p
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_keeping_fewer_versions_than_the_settle_delay_starts() {
    let dir = data_dir(deferred_params());
    for keep in [1, 3, 4] {
        let mut c = config(dir.path());
        c.keep_versions = keep;
        start(c).await.unwrap().shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_store_lost_a_pending_runs_snapshot_refuses_to_start_naming_it() {
    let dir = data_dir(deferred_params());
    let mut c = config(dir.path());
    c.keep_versions = 1;
    let node = start(c.clone()).await.unwrap();
    for _ in 1..=6 {
        producer::produce_block(&node.shared).unwrap();
    }
    // Block 6 fixed the run of epoch 0 on the state of block 5; a commit with nothing held
    // (never the node's own) prunes it.
    node.shared.store.hold_tree_version(None);
    producer::produce_block(&node.shared).unwrap();
    node.shutdown().await;
    let err = format!("{:#}", start(c).await.err().unwrap());
    assert!(err.contains("reward run of epoch 0") && err.contains("state of block 5"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_computed_ahead_and_again_after_a_restart_settles_at_its_due_block() {
    let dir = data_dir(deferred_params());
    let mut c = config(dir.path());
    // One version, fewer than the delay: the snapshot's values are held apart.
    c.keep_versions = 1;
    let node = start(c.clone()).await.unwrap();
    let run = PendingRun { epoch: 0, boundary: 6, due: 9 };
    for _ in 1..=5 {
        producer::produce_block(&node.shared).unwrap();
    }
    // Block 5 ends epoch 0: its state is held and the run computed in the background.
    assert_eq!(node.shared.store.tree_hold(), Some(5));
    let runs = node.shared.app.runs().clone();
    wait_for("the background run", || runs.is_done(&run));
    assert!(node.shared.metrics.chain.reward_run_seconds.get() > 0.0);
    let ahead: std::sync::Arc<Computed> =
        runs.get_or_compute(&run, || panic!("computed again")).unwrap();
    producer::produce_block(&node.shared).unwrap();
    let (status, body) = get(&node.shared, "/v1/epochs/0/rewards").await;
    assert_eq!(status, 404, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("pending") && message.contains("settled from block 9"), "{message}");
    producer::produce_block(&node.shared).unwrap();
    // At height 7 the tree is that of block 7 alone; block 5's values are still read, its
    // tree is not proven.
    let snap = node.shared.snapshot().unwrap();
    assert_eq!((snap.tree_kept_from().unwrap(), snap.values_held()), (7, Some(5)));
    assert!(cairn_state::AtVersion::new(&snap, 5).is_ok());
    let key = cairn_app::state_key::epoch_rewards(0);
    assert!(matches!(
        cairn_state::tree::prove(&snap, &key, 5),
        Err(cairn_state::StateError::Pruned { version: 5, oldest: 7 })
    ));
    drop(snap);
    // Killed at height 7: the runs computed here are gone with the process.
    node.shutdown().await;

    let node = start(c).await.unwrap();
    assert_eq!(node.shared.store.tree_hold(), Some(5));

    producer::produce_block(&node.shared).unwrap();
    let (status, _) = get(&node.shared, "/v1/epochs/0/rewards").await;
    assert_eq!(status, 404);
    producer::produce_block(&node.shared).unwrap();
    let (status, body) = get(&node.shared, "/v1/epochs/0/rewards").await;
    assert_eq!(status, 200, "{body}");
    let summary: cairn_types::rewards::EpochRewards =
        serde_json::from_value(body["summary"].clone()).unwrap();
    assert_eq!(summary, ahead.report.summary);
    // Settled: nothing held any more (block 11 ends epoch 1 and holds again), and the
    // next commit lets block 5's values go.
    assert_eq!(node.shared.store.tree_hold(), None);
    let snap = node.shared.snapshot().unwrap();
    assert_eq!(cairn_app::rewards::deferred::pending(&snap).unwrap(), None);
    assert_eq!(snap.values_held(), Some(5));
    drop(snap);
    producer::produce_block(&node.shared).unwrap();
    let snap = node.shared.snapshot().unwrap();
    assert_eq!(snap.values_held(), None);
    assert!(cairn_state::AtVersion::new(&snap, 5).is_err());
    drop(snap);
    node.shutdown().await;
}
