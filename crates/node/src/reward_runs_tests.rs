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
async fn a_node_refuses_to_keep_fewer_versions_than_the_settle_delay_needs() {
    let dir = data_dir(deferred_params());
    let mut c = config(dir.path());
    c.keep_versions = 3;
    let err = start(c.clone()).await.err().unwrap().to_string();
    assert!(err.contains("--keep-versions 3 is too few") && err.contains("4 or more"), "{err}");
    c.keep_versions = 4;
    start(c).await.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_computed_ahead_and_again_after_a_restart_settles_at_its_due_block() {
    let dir = data_dir(deferred_params());
    let mut c = config(dir.path());
    c.keep_versions = 4;
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
    // Settled: nothing held any more (block 11 ends epoch 1 and holds again).
    assert_eq!(node.shared.store.tree_hold(), None);
    let snap = node.shared.snapshot().unwrap();
    assert_eq!(cairn_app::rewards::deferred::pending(&snap).unwrap(), None);
    drop(snap);
    node.shutdown().await;
}
