use super::*;
use cairn_types::{Certificate, Keypair, Transaction, TxBody};

#[test]
fn base_url_is_normalized() {
    let c = Client::new("http://127.0.0.1:8645/").unwrap();
    assert_eq!(c.base_url(), "http://127.0.0.1:8645");
    let c = Client::new("http://node.example:80///").unwrap();
    assert_eq!(c.base_url(), "http://node.example:80");
    let c = Client::new("  http://localhost:1/prefix/ ").unwrap();
    assert_eq!(c.url("/v1/health"), "http://localhost:1/prefix/v1/health");
}

#[test]
fn bad_urls_are_refused() {
    for bad in ["", "/", "127.0.0.1:8645", "ftp://x", "https://x", "http://", "http://x/?a=1"] {
        match Client::new(bad) {
            Err(ClientError::BadUrl { url, .. }) => assert_eq!(url, bad),
            other => panic!("{bad:?}: expected BadUrl, got {other:?}"),
        }
    }
}

#[test]
fn endpoint_urls_come_from_the_route_table() {
    let c = Client::new("http://h:1").unwrap();
    let h = Hash([0xab; 32]);
    let hex = "ab".repeat(32);
    let a = Keypair::from_label("alice").address();
    let url = |route: &RouteDef, args: &[Arg<'_>], query: &[(&str, Option<String>)]| {
        c.url(&route.url_path(args, query).unwrap())
    };
    assert_eq!(url(&routes::HEALTH, &[], &[]), "http://h:1/v1/health");
    assert_eq!(url(&routes::BLOCK, &[&7], &[]), "http://h:1/v1/blocks/7");
    assert_eq!(url(&routes::BLOCK_BY_HASH, &[&h], &[]), format!("http://h:1/v1/blocks/hash/{hex}"));
    assert_eq!(url(&routes::RAW_BLOCK, &[&7], &[]), "http://h:1/v1/blocks/7/raw");
    assert_eq!(url(&routes::RECEIPT, &[&h], &[]), format!("http://h:1/v1/receipts/{hex}"));
    assert_eq!(
        url(&routes::ACCOUNT, &[&a], &[("prove", Some("true".into()))]),
        format!("http://h:1/v1/accounts/{a}?prove=true")
    );
    assert_eq!(
        url(&routes::DEVICE_REPORTS, &[&h], &[("epoch", Some("2".into())), ("after", None)]),
        format!("http://h:1/v1/devices/{hex}/reports?epoch=2")
    );
    assert_eq!(url(&routes::METRICS, &[], &[]), "http://h:1/metrics");
}

#[tokio::test]
async fn a_request_the_route_does_not_declare_is_refused_before_it_is_sent() {
    let c = Client::new("http://127.0.0.1:1").unwrap();
    let e = c.get(&routes::STATUS, &[&1], &[]).await.unwrap_err();
    assert!(matches!(e, ClientError::Request { .. }), "{e:?}");
    let e = c.get(&routes::STATUS, &[], &[("prove", Some("1".into()))]).await.unwrap_err();
    assert!(matches!(e, ClientError::Request { .. }), "{e:?}");
}

#[test]
fn error_body_is_mapped() {
    let body = br#"{"code":"not_found","message":"no receipt for ab"}"#;
    let e = ClientError::from_response(404, body);
    assert_eq!(
        e,
        ClientError::Api {
            status: 404,
            code: "not_found".into(),
            message: "no receipt for ab".into()
        }
    );
    assert_eq!(e.code(), Some("not_found"));
    assert!(e.is_not_found());
    // Same code under another status is not "keep waiting".
    assert!(!ClientError::from_response(400, body).is_not_found());
}

#[test]
fn non_error_body_is_mapped_to_http_code() {
    let e = ClientError::from_response(502, b"  Bad gateway from proxy\n");
    assert_eq!(
        e,
        ClientError::Api {
            status: 502,
            code: "http_502".into(),
            message: "Bad gateway from proxy".into()
        }
    );
    let e = ClientError::from_response(503, b"");
    assert_eq!(e.code(), Some("http_503"));
    assert!(e.to_string().contains("Service Unavailable"), "{e}");
    // JSON that is not an ErrorBody is kept as text.
    let e = ClientError::from_response(500, br#"{"error":"boom"}"#);
    assert_eq!(e.code(), Some("http_500"));
    assert!(e.to_string().contains("boom"));
    // Non-UTF-8 does not panic.
    assert_eq!(ClientError::from_response(500, &[0xff, 0xfe]).code(), Some("http_500"));
    // Other variants have no code.
    let t = ClientError::Timeout { hash: Hash::ZERO, waited_ms: 5 };
    assert_eq!(t.code(), None);
    assert!(!t.is_not_found());
}

#[test]
fn json_decode_errors_name_the_url() {
    let r: Result<HealthView, _> = decode_json("http://h/v1/health", b"{\"ok\":1}");
    match r {
        Err(ClientError::Decode { url, .. }) => assert_eq!(url, "http://h/v1/health"),
        other => panic!("expected Decode, got {other:?}"),
    }
    let ok: HealthView = decode_json("u", b"{\"ok\":true}").unwrap();
    assert!(ok.ok);
}

fn sample_block(height: Height) -> Block {
    let k = Keypair::from_label("proposer");
    let stx = Transaction {
        chain_id: "test".into(),
        signer: k.address(),
        nonce: 0,
        max_fee: 1000,
        expiry_height: 10,
        body: TxBody::Transfer { to: Keypair::from_label("bob").address(), amount: 5 },
    }
    .sign(&k);
    let header = cairn_types::BlockHeader {
        height,
        parent_hash: Hash::ZERO,
        timestamp_ms: 1,
        proposer: k.address(),
        epoch: 0,
        tx_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        state_root: Hash::ZERO,
    };
    let certificate = Certificate::solo(&k, "test", &header.hash());
    Block { header, txs: vec![stx], certificate }
}

#[test]
fn raw_block_decoding() {
    let block = sample_block(3);
    let view = RawBlockView { height: 3, block: hex::encode(codec::encode(&block)) };
    assert_eq!(decode_raw_block("u", 3, &view).unwrap(), block);
    // Asked for another height.
    assert!(matches!(decode_raw_block("u", 4, &view), Err(ClientError::Decode { .. })));
    // Not hex.
    let bad = RawBlockView { height: 3, block: "zz".into() };
    assert!(matches!(decode_raw_block("u", 3, &bad), Err(ClientError::Decode { .. })));
    // Trailing byte.
    let mut bytes = codec::encode(&block);
    bytes.push(0);
    let bad = RawBlockView { height: 3, block: hex::encode(bytes) };
    assert!(matches!(decode_raw_block("u", 3, &bad), Err(ClientError::Decode { .. })));
}

/// A one-thread HTTP server answering each request with the next canned response
/// (status line + JSON body), then closing the connection. Returns its base URL.
fn canned_server(responses: Vec<(u16, String)>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut responses = responses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            // Skip the request line and headers (GETs only, no body).
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if line == "\r\n" {
                    break;
                }
                line.clear();
            }
            let (status, body) = responses.next().unwrap_or((500, String::new()));
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(resp.as_bytes());
        }
    });
    base
}

fn not_found() -> (u16, String) {
    (404, r#"{"code":"not_found","message":"no such receipt"}"#.to_string())
}

#[tokio::test]
async fn wait_for_receipt_polls_until_found() {
    let receipt = Receipt {
        tx_hash: Hash([1; 32]),
        height: 2,
        index: 0,
        fee_paid: 1000,
        status: cairn_types::TxStatus::Success,
        outcome: cairn_types::TxOutcome::None,
    };
    let found = (200, serde_json::to_string(&receipt).unwrap());
    let base = canned_server(vec![not_found(), not_found(), found]);
    let c = Client::new(&base).unwrap();
    let started = std::time::Instant::now();
    let got = c.wait_for_receipt(&Hash([1; 32]), Duration::from_secs(10)).await.unwrap();
    assert_eq!(got, receipt);
    // Two not-founds mean two pauses between polls.
    assert!(started.elapsed() >= 2 * RECEIPT_POLL_INTERVAL);
}

#[tokio::test]
async fn wait_for_receipt_times_out() {
    let base = canned_server(vec![not_found(); 100]);
    let c = Client::new(&base).unwrap();
    let timeout = Duration::from_millis(350);
    match c.wait_for_receipt(&Hash([2; 32]), timeout).await {
        Err(ClientError::Timeout { hash, waited_ms }) => {
            assert_eq!(hash, Hash([2; 32]));
            assert!((350..5000).contains(&waited_ms), "{waited_ms}");
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn wait_for_receipt_stops_on_other_errors() {
    let base =
        canned_server(vec![(400, r#"{"code":"bad_hash","message":"bad hash"}"#.to_string())]);
    let c = Client::new(&base).unwrap();
    let e = c.wait_for_receipt(&Hash([3; 32]), Duration::from_secs(10)).await.unwrap_err();
    assert_eq!(e.code(), Some("bad_hash"));
    assert_eq!(e.status(), Some(400));
}

#[tokio::test]
async fn non_json_success_is_a_decode_error() {
    let base = canned_server(vec![(200, "not json".to_string())]);
    let c = Client::new(&base).unwrap();
    match c.status().await {
        Err(ClientError::Decode { url, .. }) => assert_eq!(url, format!("{base}/v1/status")),
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn connection_errors_are_http_errors() {
    // Bind and drop a listener to get a port that refuses connections.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::new(&format!("http://127.0.0.1:{port}")).unwrap();
    match c.health().await {
        Err(ClientError::Http { url, reason }) => {
            assert_eq!(url, format!("http://127.0.0.1:{port}/v1/health"));
            assert!(!reason.is_empty());
        }
        other => panic!("expected Http error, got {other:?}"),
    }
    // wait_for_receipt passes connection errors through instead of waiting.
    let r = c.wait_for_receipt(&Hash::ZERO, Duration::from_secs(5)).await;
    assert!(matches!(r, Err(ClientError::Http { .. })), "{r:?}");
}

#[test]
fn relay_body_is_the_borsh_encoding_of_the_byte_strings() {
    let txs: Vec<Vec<u8>> = vec![vec![1, 2, 3], Vec::new(), vec![9; 300]];
    assert_eq!(relay_body(&txs), borsh::to_vec(&txs).unwrap());
    assert_eq!(relay_body::<Vec<u8>>(&[]), borsh::to_vec(&Vec::<Vec<u8>>::new()).unwrap());
}

#[cfg(feature = "json-safety")]
#[test]
fn with_json_safety_a_response_holding_a_number_past_2_pow_53_is_refused() {
    let url = "http://x/v1/status";
    let ok: serde_json::Value =
        decode_json(url, br#"{"a": [9007199254740991, "18446744073709551615"]}"#).unwrap();
    assert_eq!(ok["a"][0], 9_007_199_254_740_991u64);
    match decode_json::<serde_json::Value>(url, br#"{"a": {"b": [1, 9007199254740992]}}"#) {
        Err(ClientError::Decode { reason, .. }) => {
            assert!(reason.contains("9007199254740992") && reason.contains(".a.b[1]"), "{reason}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[cfg(feature = "json-safety")]
#[tokio::test]
async fn with_json_safety_an_answer_off_the_openapi_document_is_refused() {
    let ok = r#"{"ok":true}"#.to_string();
    let base = canned_server(vec![
        (200, ok.clone()),
        (200, r#"{"ok":true,"extra":1}"#.to_string()),
        (201, ok),
        (404, r#"{"code":"gone_fishing","message":"m"}"#.to_string()),
    ]);
    let c = Client::new(&base).unwrap();
    assert!(c.health().await.unwrap().ok);
    for _ in 0..3 {
        match c.health().await {
            Err(ClientError::Decode { reason, .. }) => {
                assert!(reason.contains("OpenAPI") && reason.contains("GET /v1/health"), "{reason}")
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}
