//! Unknown routes and malformed path parameters are answered with a JSON error
//! `{code, message}` and the right 4xx status, never a panic or an empty body.

use crate::harness::{self, Node, http};
use cairn_types::Keypair;
use reqwest::Method;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

async fn get(node: &Node, path: &str) -> harness::RawResponse {
    http(node, Method::GET, path, None).await
}

#[test]
fn unknown_routes_get_404_not_found() {
    harness::run(LIMIT, async {
        let node = Node::start(&[]).await;
        for path in ["/v1/nope", "/nope", "/v1", "/v2/status", "/v1/blocks/1/raw/extra"] {
            get(&node, path).await.assert_error(404, "not_found");
        }
        // `/` is the explorer's page, not an API route.
        let root = get(&node, "/").await;
        assert_eq!(root.status, 200);
        assert!(root.content_type.starts_with("text/html"), "{root:?}");
        http(&node, Method::POST, "/v1/nope", Some(("application/json", b"{}".to_vec())))
            .await
            .assert_error(404, "not_found");
    });
}

#[test]
fn bad_path_parameters_get_400_with_their_code() {
    harness::run(LIMIT, async {
        let node = Node::start(&[]).await;
        let addr = Keypair::from_label("it-routes").address().to_string();
        let short_hash = "ab".repeat(31);
        let cases: Vec<(String, &str)> = vec![
            ("/v1/blocks/abc".into(), "bad_height"),
            ("/v1/blocks/-1".into(), "bad_height"),
            ("/v1/blocks/1.5".into(), "bad_height"),
            ("/v1/blocks/99999999999999999999".into(), "bad_height"),
            ("/v1/blocks/abc/raw".into(), "bad_height"),
            ("/v1/accounts/notanaddress".into(), "bad_address"),
            (format!("/v1/accounts/{}", addr.replacen("cairn", "other", 1)), "bad_address"),
            (format!("/v1/accounts/{}x", addr), "bad_address"),
            (format!("/v1/accounts/{addr}?prove=maybe"), "bad_query"),
            ("/v1/txs/zz".into(), "bad_hash"),
            (format!("/v1/txs/{short_hash}"), "bad_hash"),
            ("/v1/receipts/zz".into(), "bad_hash"),
            ("/v1/blocks/hash/zz".into(), "bad_hash"),
        ];
        for (path, code) in cases {
            get(&node, &path).await.assert_error(400, code);
        }
        // The good forms of the same paths work.
        assert_eq!(get(&node, &format!("/v1/accounts/{addr}?prove=true")).await.status, 200);
        node.wait_for_height(1, Duration::from_secs(10)).await;
        assert_eq!(get(&node, "/v1/blocks/1").await.status, 200);
        assert_eq!(get(&node, "/v1/blocks/1/raw").await.status, 200);
    });
}

#[test]
fn well_formed_ids_of_absent_things_get_404() {
    harness::run(LIMIT, async {
        let node = Node::start(&[]).await;
        let zeros = "0".repeat(64);
        for path in [
            "/v1/blocks/18446744073709551615".to_string(),
            "/v1/blocks/18446744073709551615/raw".to_string(),
            format!("/v1/txs/{zeros}"),
            format!("/v1/receipts/{zeros}"),
            format!("/v1/blocks/hash/{zeros}"),
        ] {
            get(&node, &path).await.assert_error(404, "not_found");
        }
        let e = node.client().receipt(&cairn_types::Hash::ZERO).await.unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
    });
}

#[test]
fn wrong_method_gets_a_json_error() {
    harness::run(LIMIT, async {
        let node = Node::start(&[]).await;
        get(&node, "/v1/txs").await.assert_json_error(405);
        http(&node, Method::DELETE, "/v1/status", None).await.assert_json_error(405);
    });
}

#[test]
fn undecodable_path_segment_gets_a_json_error() {
    harness::run(LIMIT, async {
        let node = Node::start(&[]).await;
        get(&node, "/v1/blocks/%FF").await.assert_json_error(400);
        get(&node, "/v1/txs/%FF").await.assert_json_error(400);
    });
}

#[test]
fn undecodable_query_string_gets_a_json_error() {
    harness::run(LIMIT, async {
        let node = Node::start(&[]).await;
        let addr = Keypair::from_label("it-routes").address();
        get(&node, &format!("/v1/accounts/{addr}?prove=true&prove=false"))
            .await
            .assert_json_error(400);
    });
}
