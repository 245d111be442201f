//! A passed upgrade proposal (`cairn gov propose --upgrade 99.0.0 --height H`) stops the
//! node, which runs an older version, before it executes height H: the process exits on
//! its own with the head at H − 1 and a log line saying which version to install; started
//! again on the same data directory it refuses with the same message.

use crate::harness::{self, NodeBuilder, cli, crn};
use std::time::Duration;

#[test]
fn a_node_older_than_a_passed_upgrade_stops_before_its_height() {
    harness::run(Duration::from_secs(60), async {
        let b = NodeBuilder::new();
        let alice = b.new_keystore_key("alice");
        let mut node = b
            .blocks_per_epoch(20)
            .block_ms(100)
            .fund(alice, crn(10_000))
            .edit_genesis(|g| {
                g["params"]["gov"]["voting_period_epochs"] = 2.into();
                g["params"]["gov"]["max_lock_epochs"] = 10.into();
            })
            .start()
            .await;
        node.cli(&[
            "--json", "gov", "lock", "--from", "alice", "--amount", "100", "--epochs", "10",
        ])
        .success();
        // Well after the tally (two epochs after the proposal's, whichever block it lands in).
        let now = node.client().status().await.unwrap().height;
        let at = (now / 20 + 5) * 20;
        let out = node
            .cli(&[
                "--json",
                "gov",
                "propose",
                "--from",
                "alice",
                "--upgrade",
                "99.0.0",
                "--height",
                &at.to_string(),
                "--title",
                "Next release",
            ])
            .success()
            .json();
        let id = out["id"].as_u64().unwrap().to_string();
        node.cli(&["--json", "gov", "vote", "--from", "alice", "--proposal", &id, "--yes"])
            .success();

        let status = node.wait_for_exit(Duration::from_secs(30)).await;
        let status = status.unwrap_or_else(|| panic!("the node did not stop before height {at}"));
        assert!(!status.success(), "{status}");
        let log = node.log_tail(1);
        let says = format!("the chain upgrades to cairn 99.0.0 at height {at}");
        assert!(log.contains(&says) && log.contains("install cairn 99.0.0"), "{log}");

        // The head is the block before the upgrade height, and the node will not start again.
        let dir = node.data_dir().to_str().unwrap().to_string();
        let again = cli(&["node", "--data-dir", &dir, "--listen", "127.0.0.1:0"], &[]);
        assert!(!again.status.success(), "{again:?}");
        assert!(again.stderr.contains(&says), "{again:?}");
        assert!(again.stderr.contains(&format!("stands at height {}", at - 1)), "{again:?}");
    });
}
