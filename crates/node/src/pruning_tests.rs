//! A pruned node across a restart: the same state root, old blocks refused as needing an
//! archive node, too short a history refused at start.

use super::*;
use axum::body::Body;
use axum::http::Request;
use cairn_types::genesis::GenesisAccount;
use tower::ServiceExt;

/// Short epochs and windows: the least history kept is 3 epochs (escrow of 1 epoch + 2;
/// evidence window of 4 blocks = 2 epochs + 1).
pub(crate) fn short_params() -> cairn_types::Params {
    let mut p = cairn_types::Params { blocks_per_epoch: 2, ..Default::default() };
    p.devices.heartbeat_slots = 1;
    p.fraud.escrow_epochs = 1;
    p.staking.max_evidence_age_blocks = 4;
    p.usage.dispute_window_blocks = 2;
    p
}

pub(crate) fn data_dir(params: cairn_types::Params) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let validator = Keypair::from_label("prune-validator");
    let genesis = Genesis {
        chain_id: "prune-test".into(),
        genesis_time_ms: 0,
        validator: validator.address(),
        validators: Vec::new(),
        accounts: vec![GenesisAccount {
            address: Keypair::from_label("prune-a").address(),
            balance: 1_000,
        }],
        params,
    };
    write_validator_key(dir.path(), &validator).unwrap();
    std::fs::write(dir.path().join(GENESIS_FILE), serde_json::to_vec(&genesis).unwrap()).unwrap();
    dir
}

pub(crate) fn config(dir: &Path) -> NodeConfig {
    let mut c = NodeConfig::new(dir.to_path_buf());
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.blocks_on_demand = true;
    c.store_cache_bytes = 4 << 20;
    c.keep_versions = 2;
    c
}

pub(crate) async fn get(shared: &Arc<Shared>, path: &str) -> (u16, serde_json::Value) {
    let req = Request::get(path).body(Body::empty()).unwrap();
    let resp = api::router(shared.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}

#[test]
fn the_least_history_comes_from_the_escrow_and_the_longest_window() {
    let p = short_params();
    assert_eq!(min_keep_epochs(&p), 3);
    let mut longer = p.clone();
    longer.fraud.escrow_epochs = 5;
    assert_eq!(min_keep_epochs(&longer), 7);
    let mut window = p.clone();
    window.usage.dispute_window_blocks = 9;
    assert_eq!(min_keep_epochs(&window), 6);
    // The defaults: the 1,000-block evidence window at 30 blocks an epoch.
    assert_eq!(min_keep_epochs(&cairn_types::Params::default()), 35);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_to_keep_fewer_epochs_than_its_windows_need() {
    let dir = data_dir(short_params());
    let mut c = config(dir.path());
    c.keep_epochs = Some(2);
    let err = start(c.clone()).await.err().unwrap().to_string();
    assert!(err.contains("--keep-epochs 2 is too few") && err.contains("at least 3"), "{err}");
}

#[test]
fn an_archive_keeps_every_epoch_and_the_tree_as_told() {
    let p = short_params();
    let mut c = config(Path::new("unused"));
    assert_eq!(
        c.retention(&p).unwrap(),
        cairn_store::Retention { tree_versions: Some(2), epochs: Some(3) }
    );
    c.archive = true;
    assert_eq!(
        c.retention(&p).unwrap(),
        cairn_store::Retention { tree_versions: Some(2), epochs: None }
    );
    c.keep_versions = 0;
    assert_eq!(c.retention(&p).unwrap(), cairn_store::Retention::ARCHIVE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_node_restarted_serves_the_same_root_and_refuses_pruned_blocks() {
    let dir = data_dir(short_params());
    let node = start(config(dir.path())).await.unwrap();
    for _ in 0..20 {
        producer::produce_block(&node.shared).unwrap();
    }
    let (status, before) = get(&node.shared, "/v1/status").await;
    assert_eq!(status, 200);
    let snap = node.shared.store.snapshot().unwrap();
    // Head 20 is in epoch 10: epochs 8 to 10 (heights 16 to 20) are kept.
    assert_eq!(snap.blocks_kept_from().unwrap(), 16);
    assert_eq!(snap.tree_kept_from().unwrap(), 19);
    drop(snap);
    node.shutdown().await;

    let node = start(config(dir.path())).await.unwrap();
    let (_, after) = get(&node.shared, "/v1/status").await;
    assert_eq!(after["height"], 20);
    assert_eq!(after["state_root"], before["state_root"]);
    let (status, block) = get(&node.shared, "/v1/blocks/16").await;
    assert_eq!(status, 200, "{block}");
    for path in ["/v1/blocks/15", "/v1/blocks/1/raw"] {
        let (status, body) = get(&node.shared, path).await;
        assert_eq!(status, 410, "{path}: {body}");
        assert_eq!(body["code"], api::NEEDS_ARCHIVE, "{path}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("need an archive node"), "{message}");
    }
    let (status, body) = get(&node.shared, "/v1/epochs/7/rewards").await;
    assert_eq!((status, &body["code"]), (410, &serde_json::json!(api::NEEDS_ARCHIVE)), "{body}");
    // A proof at the head still verifies against the root it serves.
    let a = Keypair::from_label("prune-a").address();
    let (status, acct) = get(&node.shared, &format!("/v1/accounts/{a}?prove=true")).await;
    assert_eq!(status, 200, "{acct}");
    let proof = &acct["proof"];
    let root: cairn_types::Hash = serde_json::from_value(proof["state_root"].clone()).unwrap();
    assert_eq!(serde_json::to_value(root).unwrap(), before["state_root"]);
    let key = hex::decode(proof["key"].as_str().unwrap()).unwrap();
    let value = proof["value"].as_str().map(|v| hex::decode(v).unwrap());
    let bytes = hex::decode(proof["proof"].as_str().unwrap()).unwrap();
    tree::verify_proof(root, &key, value.as_deref(), &bytes).unwrap();
    // A proof of a pruned version is refused as such.
    let snap = node.shared.store.snapshot().unwrap();
    let err = tree::prove(&snap, &key, 18).unwrap_err();
    assert_eq!(err, cairn_state::StateError::Pruned { version: 18, oldest: 19 });
    drop(snap);
    node.shutdown().await;
}
