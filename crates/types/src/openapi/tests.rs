use super::check::{Mismatch, check, check_response};
use super::*;
use crate::api::{AccountView, BlockView, StatusView, TxView};
use crate::routes::{self, ALL, In};
use crate::vectors;

/// The schema of a named component, as a `$ref`.
fn component(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn check_as(name: &str, value: &impl serde::Serialize) -> Result<(), Mismatch> {
    let value = serde_json::to_value(value).unwrap();
    check(document(), &component(name), &value)
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_with_no_clashing_names_and_no_dangling_references() {
    let (doc, clashes) = build();
    assert_eq!(clashes, Vec::<String>::new(), "two types claim one component name");
    assert_eq!(doc["openapi"], "3.1.0");
    let parsed: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(parsed.paths.paths.len(), doc["paths"].as_object().unwrap().len());
    for primitive in ["u64", "u32", "u128", "String", "bool"] {
        assert!(doc["components"]["schemas"].get(primitive).is_none(), "{primitive}");
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
        assert!(doc["components"]["schemas"].get(name).is_some(), "dangling {r}");
    }
}

#[test]
fn every_route_is_in_the_document_with_its_parameters_and_responses() {
    let doc = document();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        operations += item.as_object().unwrap().len();
        for method in item.as_object().unwrap().keys() {
            assert!(
                ALL.iter().any(|r| r.path == path && r.method.lowercase() == method),
                "{method} {path} is in the document but no route"
            );
        }
    }
    assert_eq!(operations, ALL.len(), "two routes share a method and path");
    for r in ALL {
        let op = &doc["paths"][r.path][r.method.lowercase()];
        assert_eq!(op["operationId"], r.id, "{r}");
        // Each `{name}` of the template is a path parameter, and each path parameter is in
        // the template.
        let in_path: Vec<&str> = r.path_names().collect();
        let declared: Vec<&str> =
            r.params.iter().filter(|p| p.at == In::Path).map(|p| p.name).collect();
        assert_eq!(in_path, declared, "{r}");
        let params = op["parameters"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(params, r.params.len(), "{r}");
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.contains_key(&r.status.to_string()), "{r}");
        for e in r.errors {
            assert!(responses.contains_key(&e.status.to_string()), "{r} {}", e.status);
        }
    }
    let ids: std::collections::BTreeSet<&str> = ALL.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), ALL.len(), "operation ids are unique");
}

#[test]
fn urls_are_built_from_the_route_and_refuse_what_it_does_not_declare() {
    let h = Hash::sha256(b"x");
    assert_eq!(routes::BLOCK.url_path(&[&7], &[]).unwrap(), "/v1/blocks/7");
    assert_eq!(
        routes::BLOCK.url_path(&[&7], &[("tx_offset", Some("3".into())), ("tx_limit", None)]),
        Ok("/v1/blocks/7?tx_offset=3".into())
    );
    assert_eq!(routes::TX.url_path(&[&h], &[]).unwrap(), format!("/v1/txs/{h}"));
    assert!(matches!(
        routes::BLOCK.url_path(&[], &[]),
        Err(routes::RouteError::PathArguments { expected: 1, given: 0, .. })
    ));
    assert!(matches!(
        routes::STATUS.url_path(&[], &[("prove", Some("true".into()))]),
        Err(routes::RouteError::UnknownQuery { .. })
    ));
}

#[test]
fn a_request_path_finds_its_route_the_most_static_first() {
    use routes::Method::{Get, Post};
    let id = |m, p| routes::find(m, p).map(|r| r.id);
    assert_eq!(id(Get, "/v1/blocks/latest"), Some("latest_block"));
    assert_eq!(id(Get, "/v1/blocks/12?tx_offset=2"), Some("block"));
    assert_eq!(id(Get, "/v1/blocks/hash/ab"), Some("block_by_hash"));
    assert_eq!(id(Get, "/v1/blocks/1/raw"), Some("raw_block"));
    assert_eq!(id(Post, "/v1/txs"), Some("submit_tx"));
    assert_eq!(id(Get, "/v1/txs"), None);
    assert_eq!(id(Get, "/metrics"), Some("metrics"));
    assert_eq!(id(Get, "/devices"), Some("explorer_page"));
    assert_eq!(id(Get, "/v1/blocks/1/raw/extra"), None);
}

#[test]
fn the_api_shapes_of_the_vectors_match_their_schemas() {
    let txs = vectors::transactions().unwrap();
    let receipts = vectors::block_receipts().unwrap();
    for stx in &txs {
        let view = TxView {
            hash: stx.hash(),
            tx: stx.tx.clone(),
            signature: stx.signature,
            state: "committed".into(),
            receipt: receipts.first().cloned(),
        };
        check_as("TxView", &view).unwrap_or_else(|e| panic!("{}: {e}", stx.tx.body.kind()));
    }
    for r in &receipts {
        check_as("Receipt", r).unwrap_or_else(|e| panic!("{r:?}: {e}"));
    }
    let block = vectors::wire_block(&txs[0]);
    let view = BlockView {
        hash: block.header.hash(),
        header: block.header,
        certificate: block.certificate,
        txs: vec![],
        next_tx: Some(3),
    };
    check_as("BlockView", &view).unwrap();
    check_as("Genesis", &vectors::genesis()).unwrap();
    check_as("Params", &crate::Params::default()).unwrap();
    check_as("Params", &vectors::fee_params()).unwrap();
}

fn status_view() -> Value {
    serde_json::to_value(StatusView {
        chain_id: "c".into(),
        height: 3,
        last_block_hash: Hash::ZERO,
        state_root: Hash::ZERO,
        epoch: 0,
        timestamp_ms: 1,
        mempool_size: 0,
    })
    .unwrap()
}

#[test]
fn a_deliberately_wrong_body_fails_its_routes_schema() {
    let ok = status_view();
    let bytes = |v: &Value| serde_json::to_vec(v).unwrap();
    check_response(&routes::STATUS, 200, "application/json", &bytes(&ok)).unwrap();
    // A number where a string belongs, a string where a number belongs, a missing field,
    // an extra field, a malformed nested value: each fails, naming where.
    let mut cases = Vec::new();
    let mut v = ok.clone();
    v["height"] = json!("3");
    cases.push(v);
    let mut v = ok.clone();
    v["state_root"] = json!(7);
    cases.push(v);
    let mut v = ok.clone();
    v.as_object_mut().unwrap().remove("chain_id");
    cases.push(v);
    let mut v = ok.clone();
    v["surprise"] = json!(1);
    cases.push(v);
    for bad in cases {
        let e = check_response(&routes::STATUS, 200, "application/json", &bytes(&bad))
            .expect_err(&bad.to_string());
        assert!(e.at.contains("GET /v1/status"), "{e}");
    }
    // An amount written as a JSON number (it must be a string: docs/wire.md).
    let account = serde_json::to_value(AccountView {
        address: vectors::signer().address(),
        balance: 5,
        nonce: 0,
        next_nonce: 0,
        height: 1,
        proof: None,
    })
    .unwrap();
    check_response(&routes::ACCOUNT, 200, "application/json", &bytes(&account)).unwrap();
    let mut bad = account.clone();
    bad["balance"] = json!(5);
    let e = check_response(&routes::ACCOUNT, 200, "application/json", &bytes(&bad)).unwrap_err();
    assert!(e.at.ends_with(".balance"), "{e}");
    // A status the route does not answer, an error code it does not give, a media type
    // it does not send.
    let err = |code: &str| bytes(&json!({"code": code, "message": "m"}));
    check_response(&routes::STATUS, 404, "application/json", &err("not_found")).unwrap_err();
    check_response(&routes::BLOCK, 400, "application/json", &err("bad_height")).unwrap();
    check_response(&routes::BLOCK, 400, "application/json", &err("bad_address")).unwrap_err();
    check_response(&routes::STATUS, 200, "text/plain", &bytes(&ok)).unwrap_err();
    // A whole transaction of an unknown kind.
    let mut tx = serde_json::to_value(TxView {
        hash: Hash::ZERO,
        tx: vectors::transactions().unwrap()[0].tx.clone(),
        signature: crate::Signature([0; 64]),
        state: "pending".into(),
        receipt: None,
    })
    .unwrap();
    check(document(), &component("TxView"), &tx).unwrap();
    tx["tx"]["body"]["kind"] = json!("print_money");
    check(document(), &component("TxView"), &tx).unwrap_err();
}

#[test]
fn a_keyword_the_check_does_not_know_fails_rather_than_passing_unchecked() {
    let e = check(&json!({}), &json!({"if": {"type": "string"}}), &json!(1)).unwrap_err();
    assert!(e.reason.contains("\"if\""), "{e}");
}
