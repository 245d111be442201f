//! One of four validators has a clock 3 s ahead of the others (a test-only clock offset).
//! Its blocks carry timestamps 3 s in the others' future, beyond the 2 s they accept at
//! once; they wait for their clocks (at most the propose timeout) instead of refusing the
//! block for good, so commits continue on all four and the fast validator's blocks are in
//! the chain with everyone else's.

use crate::cluster::Cluster;
use crate::harness::run;
use std::collections::BTreeSet;
use std::time::Duration;

#[test]
fn a_validator_whose_clock_runs_three_seconds_ahead_keeps_commits_going_with_its_blocks_in() {
    run(Duration::from_secs(180), async {
        let mut c = Cluster::builder(4).start(&[]).await;
        c.inject_faults(3, serde_json::json!({ "clock_offset_ms": 3_000 }));
        // Long enough a propose timeout that waiting ~1 s for the clock fits in the round.
        for i in 0..4 {
            c.edit_config(i, |cfg| cfg["timeouts"]["propose_ms"] = serde_json::json!(3_000));
        }
        for i in 0..4 {
            c.start(i).await;
        }
        let fast = c.validator(3);
        let started = std::time::Instant::now();
        let top = c.converge(16, Duration::from_secs(90)).await;
        let mut proposers = BTreeSet::new();
        let mut fast_blocks = 0;
        for h in 1..=top {
            let b = c.nodes[0].client().block(h).await.unwrap();
            proposers.insert(b.header.proposer);
            if b.header.proposer == fast {
                fast_blocks += 1;
            }
        }
        assert!(fast_blocks > 0, "none of blocks 1..={top} is the fast validator's: {proposers:?}");
        assert_eq!(proposers.len(), 4);
        // And commits go on.
        let more = c.converge(top + 4, Duration::from_secs(60)).await;
        eprintln!(
            "figure: {fast_blocks} of {top} blocks built by the fast validator; \
             {more} heights on all 4 in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    });
}
