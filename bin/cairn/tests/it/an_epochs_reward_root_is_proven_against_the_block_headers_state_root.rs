//! An epoch's reward root, stored in state under `rewards/<epoch>`, is served with a
//! state-tree proof; the proof holds against the state root in the header of the block it is
//! proven at (through the API and through `cairn rewards proof`), and a tampered proof or
//! another block's state root does not.

use crate::harness::{self, NodeBuilder};
use cairn_app::rewards::root_proof;
use std::time::Duration;

#[test]
fn an_epochs_reward_root_is_proven_against_the_block_headers_state_root() {
    harness::run(Duration::from_secs(120), async {
        let node = NodeBuilder::new().blocks_per_epoch(10).blocks_on_demand().start().await;
        let client = node.client();
        // Not rewarded yet: a JSON 404.
        let err = client.reward_root_proof(0).await.unwrap_err();
        assert!(err.is_not_found(), "{err}");
        let mut view = None;
        for _ in 0..12 {
            node.make_block().await;
            if let Ok(v) = client.reward_root_proof(0).await {
                view = Some(v);
                break;
            }
        }
        let view = view.expect("epoch 0 is rewarded at the first block of epoch 1 (height 10)");
        let header = client.block(view.proof.height).await.expect("block").header;
        assert_eq!(view.proof.state_root, header.state_root);
        let summary = root_proof::verify(&view, header.state_root).expect("the proof holds");
        let report = client.epoch_rewards(0, None).await.expect("epoch 0 report").summary;
        assert_eq!(summary, report);
        assert_eq!((view.root, view.leaves), (report.root, report.leaves));

        // A tampered proof fails; so does the state root of another block.
        let mut bytes = hex::decode(&view.proof.proof).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let mut tampered = view.clone();
        tampered.proof.proof = hex::encode(bytes);
        assert!(root_proof::verify(&tampered, header.state_root).is_err());
        let parent = client.block(view.proof.height - 1).await.expect("parent").header;
        assert!(root_proof::verify(&view, parent.state_root).is_err());

        // The CLI checks the same proof against the header it fetches.
        let out = node.cli(&["--json", "rewards", "proof", "--epoch", "0"]).success().json();
        assert_eq!(out["root"], report.root.to_string());
        assert_eq!(out["verified_against"]["state_root"], header.state_root.to_string());
        assert_eq!(out["verified_against"]["block_hash"], header.hash().to_string());
        let missing = node.cli(&["rewards", "proof", "--epoch", "99"]);
        assert!(!missing.status.success());
        assert!(missing.stderr.contains("not been rewarded"), "{}", missing.stderr);
    });
}
