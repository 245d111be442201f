//! The router against the route table and the OpenAPI document (ADR 0031): every route the
//! router serves is in the document, every documented route is served, and what each
//! answers on a small chain matches the document's schema for that route and status.

use super::*;
use crate::api::handlers;
use axum::body::Body;
use axum::http::Request;
use cairn_types::openapi::check::check_response;
use cairn_types::routes::{ALL, In, RouteDef, ServedBy};
use std::collections::BTreeSet;
use tower::ServiceExt;

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let validator = Keypair::from_label("routes-validator");
    let mut params = cairn_types::Params { blocks_per_epoch: 2, ..Default::default() };
    params.devices.heartbeat_slots = 1;
    let genesis = Genesis {
        chain_id: "routes-test".into(),
        genesis_time_ms: 0,
        validator: validator.address(),
        validators: Vec::new(),
        accounts: vec![cairn_types::genesis::GenesisAccount {
            address: Keypair::from_label("routes-a").address(),
            balance: 1_000,
        }],
        params,
    };
    write_validator_key(dir.path(), &validator).unwrap();
    std::fs::write(dir.path().join(GENESIS_FILE), serde_json::to_vec(&genesis).unwrap()).unwrap();
    dir
}

fn config(dir: &Path) -> NodeConfig {
    let mut c = NodeConfig::new(dir.to_path_buf());
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.blocks_on_demand = true;
    c.store_cache_bytes = 4 << 20;
    c
}

/// A request of `route` with a well-formed value for each path parameter, and a body of
/// the right media type for those that take one.
fn sample_request(route: &RouteDef) -> Request<Body> {
    let address = Keypair::from_label("routes-a").address().to_string();
    let hash = cairn_types::Hash::sha256(b"routes").to_hex();
    let args: Vec<String> = route
        .params
        .iter()
        .filter(|p| p.at == In::Path)
        .map(|p| match p.name {
            "height" | "epoch" | "id" if route.path.starts_with("/v1/gov") => "1".to_string(),
            "height" | "epoch" => "1".to_string(),
            "addr" | "owner" => address.clone(),
            "page" => "devices".to_string(),
            "file" => "missing.js".to_string(),
            _ => hash.clone(),
        })
        .collect();
    let args: Vec<cairn_types::routes::Arg<'_>> = args.iter().map(|a| a as _).collect();
    let query: Vec<(&str, Option<String>)> = route
        .params
        .iter()
        .filter(|p| p.at == In::Query && p.required)
        .map(|p| (p.name, Some("1".to_string())))
        .collect();
    let path = route.url_path(&args, &query).unwrap();
    let (content_type, body) = match route.id {
        "submit_tx" => ("application/json", br#"{"tx":"00"}"#.to_vec()),
        "submit_batch" => ("application/json", br#"{"txs":["00"]}"#.to_vec()),
        "relay" => ("application/octet-stream", cairn_client::relay_body::<Vec<u8>>(&[])),
        _ => ("application/json", Vec::new()),
    };
    Request::builder()
        .method(route.method.as_str())
        .uri(path)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

#[test]
fn every_handler_the_router_registers_is_a_documented_route_and_the_other_way_round() {
    let registered: Vec<&str> = handlers().iter().map(|(def, _, _)| def.id).collect();
    let unique: BTreeSet<&str> = registered.iter().copied().collect();
    assert_eq!(unique.len(), registered.len(), "a route registered twice: {registered:?}");
    let documented: BTreeSet<&str> = cairn_types::openapi::document()["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .filter(|id| ALL.iter().any(|r| r.id == *id && r.served_by == ServedBy::Handler))
        .collect();
    assert_eq!(unique, documented);
    // The router answers every path of the table the explorer does not serve.
    for (def, _, _) in handlers() {
        assert_eq!(def.served_by, ServedBy::Handler, "{def}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_and_answers_as_its_schema_says() {
    let dir = data_dir();
    let node = start(config(dir.path())).await.unwrap();
    for _ in 0..3 {
        producer::produce_block(&node.shared).unwrap();
    }
    let mut answered = BTreeSet::new();
    for route in ALL {
        let resp = api::router(node.shared.clone()).oneshot(sample_request(route)).await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        // An event stream stays open: its headers are its answer.
        let body = if content_type.starts_with("text/event-stream") {
            Vec::new()
        } else {
            axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap().to_vec()
        };
        let text = String::from_utf8_lossy(&body);
        // The fallback's 404 and the 405 mean the router has no such route.
        if route.served_by == ServedBy::Handler {
            assert!(!text.contains("no such route") && status != 405, "{route}: {status} {text}");
        }
        check_response(route, status, &content_type, &body)
            .unwrap_or_else(|e| panic!("{route}: {e}\n{text:.2000}"));
        answered.insert((route.id, status));
    }
    // The small chain answers the reads with success, not only errors.
    for id in [
        "status",
        "block",
        "latest_block",
        "params",
        "genesis",
        "account",
        "openapi",
        "device_rewards",
    ] {
        assert!(answered.contains(&(id, 200)), "{id}: {answered:?}");
    }
    let (status, served) = get_json(&node.shared, "/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(&served, cairn_types::openapi::document());
    node.shutdown().await;
}

async fn get_json(shared: &Arc<Shared>, path: &str) -> (u16, serde_json::Value) {
    let req = Request::get(path).body(Body::empty()).unwrap();
    let resp = api::router(shared.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}
