//! A node that prunes (the default) keeps a few epochs of blocks: `cairn chain verify`,
//! `cairn rewards audit` and a query of an old block, which need what it dropped, fail
//! saying that they need an archive node, while recent blocks are served; killed and
//! restarted, the pruned node serves the same state root.

use crate::harness::{self, NodeBuilder};

/// Two blocks an epoch, escrow of one epoch, a four-block evidence window and a two-block
/// dispute window: the node keeps 3 epochs (6 blocks).
fn short_windows(g: &mut serde_json::Value) {
    let p = &mut g["params"];
    p["blocks_per_epoch"] = 2.into();
    p["devices"]["heartbeat_slots"] = 1.into();
    p["fraud"]["escrow_epochs"] = 1.into();
    p["staking"]["max_evidence_age_blocks"] = 4.into();
    p["usage"]["dispute_window_blocks"] = 2.into();
}

#[test]
fn a_pruned_node_tells_replays_and_old_queries_to_ask_an_archive_node() {
    harness::run(std::time::Duration::from_secs(120), async {
        let mut node = NodeBuilder::new()
            .chain_id("it-pruned")
            .edit_genesis(short_windows)
            .blocks_on_demand()
            .start()
            .await;
        for _ in 0..16 {
            node.make_block().await;
        }
        let root = node.client().status().await.expect("status").state_root;
        for args in
            [vec!["chain", "verify"], vec!["rewards", "audit", "1"], vec!["query", "block", "1"]]
        {
            let out = node.cli(&args);
            assert!(!out.status.success(), "{args:?} succeeded on a pruned node:\n{}", out.stdout);
            assert!(
                out.stderr.contains("archive node"),
                "{args:?} does not say it needs an archive node:\n{}",
                out.stderr
            );
        }
        let out = node.cli(&["query", "block", "16"]).success();
        assert!(out.stdout.contains("16"), "{}", out.stdout);
        node.restart().await;
        assert_eq!(node.client().status().await.expect("status").state_root, root);
    });
}
