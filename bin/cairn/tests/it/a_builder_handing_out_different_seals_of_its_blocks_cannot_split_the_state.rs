//! A Byzantine builder makes a second, equally valid signature of each block it built
//! (ed25519: the same message, another nonce) and hands it to a validator that fetches the
//! block from it, while the others keep the seal they got with the proposal. Every
//! validator still computes the same chain entropy and so the same state root for the next
//! height: the entropy comes from the header hash the validators voted on, not from a seal.

use crate::cluster::Cluster;
use crate::harness::run;
use cairn_types::Certificate;
use std::time::Duration;

#[test]
fn a_builder_handing_out_different_seals_of_its_blocks_cannot_split_the_state() {
    run(Duration::from_secs(180), async {
        let mut c = Cluster::builder(4).start(&[]).await;
        let byzantine = c.validator(0);
        c.inject_faults(0, serde_json::json!({ "reseal_served_blocks": true }));
        // The late validator knows only the Byzantine one, so it syncs every block from it.
        let only_node0 = {
            let text =
                std::fs::read_to_string(c.nodes[3].data_dir().join("consensus.json")).unwrap();
            let cfg: serde_json::Value = serde_json::from_str(&text).unwrap();
            let node0 =
                std::fs::read_to_string(c.nodes[0].data_dir().join("consensus.json")).unwrap();
            let node0: serde_json::Value = serde_json::from_str(&node0).unwrap();
            let listen = node0["listen"].as_str().unwrap().to_string();
            cfg["peers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p.as_str().unwrap().starts_with(&format!("{listen}/")))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(only_node0.len(), 1);
        c.edit_config(3, |cfg| cfg["peers"] = serde_json::Value::Array(only_node0));
        for i in 0..3 {
            c.start(i).await;
        }
        // Three of four commit on their own; wait until the Byzantine builder has blocks in.
        let h0 = c.converge(10, Duration::from_secs(60)).await;
        let mut built = Vec::new();
        for h in 1..=h0 {
            let b = c.nodes[1].client().block(h).await.unwrap();
            if b.header.proposer == byzantine {
                built.push(h);
            }
        }
        assert!(!built.is_empty(), "validator 0 built none of blocks 1..={h0}");

        c.start(3).await;
        c.nodes[3].wait_for_height(h0 + 3, Duration::from_secs(60)).await;
        // The late validator holds other seals of validator 0's blocks than the rest...
        let seal = |cert: &Certificate| match cert {
            Certificate::Bft(commit) => commit.proposer_signature,
            other => panic!("not a BFT certificate: {other:?}"),
        };
        let mut differ = 0;
        for &h in &built {
            let late = c.nodes[3].client().block(h).await.unwrap();
            let honest = c.nodes[1].client().block(h).await.unwrap();
            if seal(&late.certificate) != seal(&honest.certificate) {
                differ += 1;
            }
        }
        assert!(differ > 0, "the fault handed out no other seal");
        // ...yet every node commits the same blocks, state roots and entropy at every height.
        let top = c.converge(h0 + 3, Duration::from_secs(30)).await;
        c.assert_same_entropy(2..=top).await;
        eprintln!(
            "figure: {differ} of validator 0's {} blocks synced with another seal; \
             same blocks, roots and entropy on all 4 at heights 1..={top}",
            built.len()
        );
    });
}
