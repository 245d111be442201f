//! One validator's own copy of every honest proposal for six heights is spoiled after
//! reassembly (one bit of the builder's seal flipped), so its verdict on blocks the other
//! three accept is wrong. It must not stop: the others decide the blocks, it fetches each
//! decided block with its certificate, verifies it again and commits it, and it is still
//! running and on the same chain at the end. (The host answers the same situation inside
//! `decided()` in `host::tests` of the consensus crate.)

use crate::cluster::Cluster;
use crate::harness::{metric, run};
use std::time::Duration;

const SPOILED: [u64; 6] = [3, 4, 5, 6, 7, 8];

#[test]
fn a_decided_block_a_validator_could_not_verify_is_fetched_and_verified_again_never_a_reason_to_exit()
 {
    run(Duration::from_secs(240), async {
        let mut c = Cluster::builder(4).start(&[]).await;
        let victim = 3;
        c.inject_faults(victim, serde_json::json!({ "spoil_received_seals_at": SPOILED }));
        for i in 0..4 {
            c.start(i).await;
        }
        // The four agree on every block and state root up to a height past the spoiled ones.
        let top = c.converge(SPOILED[SPOILED.len() - 1] + 6, Duration::from_secs(120)).await;
        assert!(c.nodes[victim].is_running(), "the victim exited");

        // Blocks of the spoiled heights the victim did not build itself: it refused its
        // copy of each, yet holds the block the others decided.
        let me = c.validator(victim);
        let mut others_built = 0;
        for h in SPOILED {
            let b = c.nodes[victim].client().block(h).await.unwrap();
            if b.header.proposer != me {
                others_built += 1;
            }
        }
        assert!(others_built > 0, "the victim built every spoiled height");
        let log = std::fs::read_to_string(c.nodes[victim].log_path(1)).unwrap();
        let spoiled = log.lines().filter(|l| l.contains("spoiling the received copy")).count();
        let refused = log
            .lines()
            .filter(|l| l.contains("rejecting proposal") && l.contains("does not verify"))
            .count();
        assert!(
            spoiled > 0 && refused > 0,
            "no wrong verdict: {spoiled} spoiled, {refused} refused"
        );
        let text = c.nodes[victim].client().metrics_text().await.unwrap();
        let unverified =
            metric(&text, "cairn_consensus_decided_unverified_total").unwrap_or_default();
        eprintln!(
            "figure: victim spoiled {spoiled} received copies and refused {refused} at heights \
             {SPOILED:?} ({others_built} of them built by others); decided-unverified counter \
             {unverified}; still running, same blocks and state roots on all 4 at 1..={top}"
        );
    });
}
