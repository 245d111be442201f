//! A chain that settles each reward run over several blocks (ADR 0041), one entry a block
//! at least from three blocks after its boundary: while the run is being settled the epoch
//! is served as being settled and none of its leaves is listed as claimable; a node killed
//! in the middle (SIGKILL) and restarted goes on from the cursor in its state, with its
//! reward index matching the blocks committed; once the last share is in, the node serves
//! the whole report, the owner's leaves are claimable, and `cairn rewards audit` recomputes
//! it on the state before the boundary and finds it in the block that completed it. The node
//! keeps one tree version, fewer than the settle delay: the run's snapshot is read from the
//! values held apart for it (ADR 0044), after the kill too.

use crate::fleet_support::{EPOCH, Fleet};
use crate::harness;
use std::time::Duration;

#[test]
fn rewards_settled_over_several_blocks_are_served_once_settled_survive_a_kill_and_audit_the_same() {
    harness::run(Duration::from_secs(180), async {
        let mut f = Fleet::start_with("it-spread", 3, Some(1), &["--keep-versions", "1"]).await;
        // Block 33 settles the first share of epoch 2's run.
        f.run_to(3 * EPOCH + 3).await;
        let being_settled = |f: &Fleet| {
            let out = f.c.node.cli(&["rewards", "report", "2"]);
            !out.status.success() && out.stderr.contains("being settled")
        };
        assert!(being_settled(&f), "epoch 2 was served before its last share");
        let claimable = f.c.node.client().claimable(&f.a.address()).await.unwrap();
        assert!(claimable.claims.iter().all(|c| c.epoch != 2), "{claimable:?}");
        // Killed in the middle of the settlement, restarted on the same data.
        f.c.node.restart().await;
        assert!(being_settled(&f));
        let mut height = 3 * EPOCH + 3;
        while being_settled(&f) {
            height += 1;
            assert!(height < 4 * EPOCH, "the run was not settled before the next boundary");
            f.run_to(height).await;
        }
        assert!(height > 3 * EPOCH + 4, "settled in {} blocks", height - 3 * EPOCH - 2);
        let node = &f.c.node;
        let report = node.client().epoch_report(2).await.unwrap();
        assert!(report.summary.leaves > 0);
        let claimable = node.client().claimable(&f.a.address()).await.unwrap();
        assert!(claimable.claims.iter().any(|c| c.epoch == 2), "{claimable:?}");
        let out = node.cli(&["--json", "rewards", "audit", "1", "--to", "2"]).success().json();
        let lines = out.as_array().expect("one line per epoch");
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l["matches"] == true), "{out}");
        let supply = node.client().supply().await.unwrap();
        assert_eq!(supply.total, supply.genesis + supply.emitted + supply.reminted - supply.burned);
    });
}
