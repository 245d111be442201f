//! A chain that settles each reward run three blocks after its boundary: until then the
//! epoch's rewards are served as pending, naming the settle block; then the node serves the
//! run, and `cairn rewards audit` recomputes it on the state before the boundary and finds
//! it in the settling block.

use crate::fleet_support::{EPOCH, Fleet};
use crate::harness;
use std::time::Duration;

#[test]
fn rewards_settled_after_the_boundary_are_pending_until_then_and_audit_the_same() {
    harness::run(Duration::from_secs(120), async {
        let mut f = Fleet::start_settling("it-settle", 3).await;
        f.run_to(3 * EPOCH).await; // block 30 fixes the run of epoch 2
        let node = &f.c.node;
        let pending = node.cli(&["rewards", "report", "2"]);
        assert!(!pending.status.success(), "epoch 2 was served before its settle block");
        assert!(
            pending.stderr.contains("pending") && pending.stderr.contains("block 33"),
            "{}",
            pending.stderr
        );
        f.run_to(3 * EPOCH + 3).await;
        let node = &f.c.node;
        let report = node.client().epoch_report(2).await.unwrap();
        assert!(report.summary.leaves > 0);
        let out = node.cli(&["--json", "rewards", "audit", "1", "--to", "2"]).success().json();
        let lines = out.as_array().expect("one line per epoch");
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l["matches"] == true), "{out}");
        let supply = node.client().supply().await.unwrap();
        assert_eq!(supply.total, supply.genesis + supply.emitted + supply.reminted - supply.burned);
    });
}
