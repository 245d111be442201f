//! One of four validators signs conflicting votes (the engine's Byzantine proxy makes it
//! send, next to each of its votes, a vote for a block that does not exist). The honest
//! validators' engines record the equivocation, they hand it in as `ReportEquivocation`
//! transactions, and the state machine slashes the offender's bond by the slashing
//! parameter and tombstones it; at the next epoch boundary it leaves the validator set, and
//! the other three keep committing with the same state.

use crate::cluster::{Cluster, eventually};
use crate::harness::{crn, run};
use cairn_types::Address;
use std::time::Duration;

#[test]
fn a_double_signing_validator_is_slashed() {
    run(Duration::from_secs(150), async {
        let mut c = Cluster::builder(4).blocks_per_epoch(10).start(&[]).await;
        c.edit_config(3, |cfg| {
            cfg["byzantine"] = serde_json::json!({
                "equivocate_votes": { "mode": "height_range", "from": 3, "to": 4 }
            });
        });
        for i in 0..4 {
            c.start(i).await;
        }
        let validators = c.nodes[0].client().validators().await.unwrap();
        assert_eq!(validators.validators.len(), 4);
        // 10,000 CRN bonded each at genesis; the validators' reward pool compounds into the
        // pools at every epoch boundary, so power only grows from there.
        assert!(validators.validators.iter().all(|v| v.power >= 10_000), "{validators:?}");
        let layout: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(c.dir().join("testnet.json")).unwrap())
                .unwrap();
        let offender: Address = layout["nodes"][3]["validator"].as_str().unwrap().parse().unwrap();

        let client = c.nodes[0].client().clone();
        eventually(Duration::from_secs(60), "the offender slashed", || async {
            client.validator(&offender).await.is_ok_and(|v| v.tombstoned)
        })
        .await;
        let v = client.validator(&offender).await.unwrap();
        // Default slashing: 5 % of the 10,000 CRN bonded at genesis.
        assert_eq!(v.slashed, crn(500));
        assert_eq!(v.tokens, crn(9_500));

        // It leaves the set at the next boundary; the other three carry on.
        // (The others' power grows as the validators' reward pool compounds into their
        // pools, so watch the offender's.)
        eventually(Duration::from_secs(60), "the offender out of the set", || async {
            client.validators().await.is_ok_and(|s| {
                s.validators.iter().find(|x| x.address == offender).is_some_and(|x| x.power == 0)
            })
        })
        .await;
        let out = client.validators().await.unwrap();
        assert_eq!(out.validators.iter().find(|x| x.address == offender).unwrap().power, 0);
        let h = c.nodes[0].height().await;
        let top = c.converge(h + 3, Duration::from_secs(60)).await;
        for n in &c.nodes {
            let seen = n.client().validator(&offender).await.unwrap();
            assert!(seen.tombstoned);
            assert_eq!(seen.slashed, crn(500));
            assert!(n.height().await >= top);
        }
    });
}
