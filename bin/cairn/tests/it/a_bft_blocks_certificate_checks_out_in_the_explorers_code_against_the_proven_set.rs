//! A block of a four-validator cluster, past an epoch boundary, has a certificate that the
//! explorer's own check (`explorer/src/verify.js`, run by Node through
//! `explorer/tests/check-bft.mjs`) accepts against the validator set that
//! `GET /v1/blocks/{h}/validators` proves under the state root of block h − 1; the same
//! inputs pass `Commit::verify` and the state-tree proof in Rust, and the check refuses the
//! certificate once half its precommits are dropped. The route answers block 1 with the
//! genesis set and 404 for block 0 and past the next block. With `CAIRN_WRITE_BFT_FIXTURE`
//! set to a path, the inputs are written there: `explorer/tests/fixtures/bft-cluster.json`,
//! the explorer's unit tests' certificate from a real run, was made so.

use crate::cluster::Cluster;
use crate::harness::run;
use cairn_state::tree;
use cairn_types::api::BlockView;
use cairn_types::consensus::ValidatorSet;
use cairn_types::{Certificate, codec};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const BLOCKS_PER_EPOCH: u64 = 10;

fn head(b: &BlockView) -> Value {
    json!({ "hash": b.hash, "header": b.header, "certificate": b.certificate })
}

/// Runs the explorer's check on `inputs`; its verdict line and whether it passed.
fn explorer_check(inputs: &Value) -> (bool, String) {
    let explorer = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        )
        .join("../../explorer");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inputs.json");
    std::fs::write(&file, serde_json::to_vec_pretty(inputs).unwrap()).unwrap();
    let out = Command::new("node")
        .arg(explorer.join("tests/check-bft.mjs"))
        .arg(&file)
        .output()
        .expect("node (needed to build the explorer) runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn a_bft_blocks_certificate_checks_out_in_the_explorers_code_against_the_proven_set() {
    run(Duration::from_secs(150), async {
        // Every tree version kept: block 1's set is proven at version 0, long past the 16
        // versions a node keeps by default.
        let c = Cluster::builder(4)
            .blocks_per_epoch(BLOCKS_PER_EPOCH)
            .node_args(&["--keep-versions", "0"])
            .start(&[0, 1, 2, 3])
            .await;
        // Block h's set is epoch 1's (h − 1 in epoch 1), stored at the first block of epoch 1.
        let h = 2 * BLOCKS_PER_EPOCH - 1;
        c.wait_all(h, Duration::from_secs(90)).await;
        let client = c.nodes[0].client();
        let block = client.block(h).await.unwrap();
        let parent = client.block(h - 1).await.unwrap();
        let view = client.block_validators(h).await.unwrap();
        let genesis = client.genesis().await.unwrap();
        assert_eq!((view.height, view.epoch, view.proof.height), (h, 1, h - 1));
        assert_eq!(view.validators.len(), 4);

        // In Rust: the proof holds under block h − 1's state root, block h names that header
        // as its parent, and the commit verifies against the proven set.
        assert_eq!(block.header.parent_hash, parent.header.hash());
        assert_eq!(view.proof.state_root, parent.header.state_root);
        let value =
            hex::decode(view.proof.value.as_ref().expect("a BFT chain stores its set")).unwrap();
        let proof = hex::decode(&view.proof.proof).unwrap();
        let key = hex::decode(&view.proof.key).unwrap();
        tree::verify_proof(parent.header.state_root, &key, Some(&value), &proof).unwrap();
        let set: ValidatorSet = codec::decode(&value, value.len(), "set").unwrap();
        assert_eq!(set.validators(), view.validators.as_slice());
        block.certificate.verify_block(&genesis.chain_id, &block.header, &set).unwrap();

        // In the explorer's code, on the same inputs.
        let inputs = json!({
            "about": format!("block {h} of a four-validator loopback cluster (cairn testnet, \
                {BLOCKS_PER_EPOCH} blocks an epoch), its parent and GET /v1/blocks/{h}/validators"),
            "chain_id": genesis.chain_id,
            "block": head(&block),
            "parent": head(&parent),
            "validators": view,
        });
        let (ok, text) = explorer_check(&inputs);
        assert!(ok, "the explorer's check passes: {text}");
        assert!(text.contains("more than two thirds"), "{text}");

        // Short of a quorum: with precommits of only two of the four equal validators the
        // explorer refuses what Rust refuses.
        let Certificate::Bft(commit) = &block.certificate else { panic!("a BFT certificate") };
        let mut short = commit.clone();
        short.signatures.truncate(2);
        let short = Certificate::Bft(short);
        assert!(short.verify_block(&genesis.chain_id, &block.header, &set).is_err());
        let mut refused = inputs.clone();
        refused["block"]["certificate"] = serde_json::to_value(&short).unwrap();
        let (ok, text) = explorer_check(&refused);
        assert!(!ok && text.contains("more than two thirds is needed"), "{text}");

        // Block 1's set is the genesis set, proven in the genesis state (version 0); there
        // is no set for block 0 nor past the next block.
        let first = client.block_validators(1).await.unwrap();
        assert_eq!((first.epoch, first.proof.height), (0, 0));
        assert_eq!(first.validators.len(), 4);
        for past in [0, 1_000_000] {
            let err = client.block_validators(past).await.unwrap_err();
            assert!(err.is_not_found(), "{past}: {err}");
        }

        if let Ok(path) = std::env::var("CAIRN_WRITE_BFT_FIXTURE") {
            std::fs::write(path, serde_json::to_string_pretty(&inputs).unwrap() + "\n").unwrap();
        }
    });
}
