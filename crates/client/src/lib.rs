//! A typed async HTTP client for the Cairn node API (`/v1`), used by the CLI and the simulator.
//!
//! Every method maps one endpoint to the JSON view it returns (see [`cairn_types::api`]).
//! Failures are a [`ClientError`]: the node's own error body when it answered non-2xx, or a
//! transport, decode or timeout error naming the URL or transaction involved.

use cairn_types::api::{
    AccountView, BlockView, ErrorBody, HealthView, RawBlockView, StatusView, SubmitBatchItem,
    SubmitBatchRequest, SubmitTxRequest, SubmitTxResponse, TxView,
};
use cairn_types::api::{DeviceListView, DeviceReportsView, DeviceView};
use cairn_types::{Address, Block, Hash, Height, Receipt, SignedTx, codec};
use cairn_types::{Genesis, Params};

/// Filters of a device listing.
#[derive(Debug, Clone, Default)]
pub struct DeviceQuery {
    pub owner: Option<Address>,
    pub class: Option<cairn_types::DeviceClass>,
    /// An H3 cell at any resolution up to 12: devices located inside it.
    pub cell: Option<u64>,
    pub after: Option<String>,
    pub limit: Option<usize>,
}
use serde::de::DeserializeOwned;
use std::error::Error as _;
use std::time::Duration;

/// Timeout of every single HTTP request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often [`Client::wait_for_receipt`] asks for the receipt.
pub const RECEIPT_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Largest raw block [`Client::raw_block`] decodes.
pub const MAX_RAW_BLOCK_BYTES: usize = 64 * 1024 * 1024;

/// Why a call to the node failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The base URL given to [`Client::new`] is unusable.
    #[error("invalid node URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The request could not be sent or its response not read (connection refused, reset,
    /// request timeout, ...).
    #[error("request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    /// The node answered with a non-2xx status.
    #[error("node answered HTTP {status} ({code}): {message}")]
    Api { status: u16, code: String, message: String },
    /// The node answered 2xx with a body that is not what the endpoint promises.
    #[error("unexpected response from {url}: {reason}")]
    Decode { url: String, reason: String },
    /// [`Client::wait_for_receipt`] gave up.
    #[error("no receipt for transaction {hash} after waiting {waited_ms} ms")]
    Timeout { hash: Hash, waited_ms: u64 },
}

impl ClientError {
    /// The node's machine-readable error code, for [`ClientError::Api`] errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for [`ClientError::Api`] errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is the node's "not found" answer (404 with code `not_found`).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) && self.code() == Some("not_found")
    }

    /// The error for a non-2xx answer: the node's [`ErrorBody`] if the body is one, else
    /// code `http_<status>` with the body text (or the status's reason if it is empty).
    pub fn from_response(status: u16, body: &[u8]) -> ClientError {
        if let Ok(ErrorBody { code, message }) = serde_json::from_slice::<ErrorBody>(body) {
            return ClientError::Api { status, code, message };
        }
        let text = String::from_utf8_lossy(body).trim().to_string();
        let message = if text.is_empty() {
            reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("empty response body")
                .to_string()
        } else {
            text
        };
        ClientError::Api { status, code: format!("http_{status}"), message }
    }
}

/// A client for one node. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the node at `base_url` (e.g. `http://127.0.0.1:8645`). Trailing `/` are
    /// dropped; a path prefix is kept. Only `http` is supported (this build has no TLS).
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        let base = normalize_base(base_url)?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ClientError::Http { url: base.clone(), reason: error_chain(&e) })?;
        Ok(Client { base, http })
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The full URL of an API path (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET /v1/health`
    pub async fn health(&self) -> Result<HealthView, ClientError> {
        self.get_json(&paths::health()).await
    }

    /// `GET /v1/status`
    pub async fn status(&self) -> Result<StatusView, ClientError> {
        self.get_json(&paths::status()).await
    }

    /// `GET /v1/blocks/{height}`
    pub async fn block(&self, height: Height) -> Result<BlockView, ClientError> {
        self.get_json(&paths::block(height)).await
    }

    /// `GET /v1/blocks/latest`
    pub async fn latest_block(&self) -> Result<BlockView, ClientError> {
        self.get_json(&paths::latest_block()).await
    }

    /// `GET /v1/blocks/hash/{hex}`
    pub async fn block_by_hash(&self, hash: &Hash) -> Result<BlockView, ClientError> {
        self.get_json(&paths::block_by_hash(hash)).await
    }

    /// `GET /v1/blocks/{height}/raw`, decoded into the block itself (canonical encoding,
    /// at most [`MAX_RAW_BLOCK_BYTES`]). Refuses a block of another height.
    pub async fn raw_block(&self, height: Height) -> Result<Block, ClientError> {
        let path = paths::raw_block(height);
        let view: RawBlockView = self.get_json(&path).await?;
        decode_raw_block(&self.url(&path), height, &view)
    }

    /// `GET /v1/txs/{hex}`
    pub async fn tx(&self, hash: &Hash) -> Result<TxView, ClientError> {
        self.get_json(&paths::tx(hash)).await
    }

    /// `GET /v1/receipts/{hex}`
    pub async fn receipt(&self, hash: &Hash) -> Result<Receipt, ClientError> {
        self.get_json(&paths::receipt(hash)).await
    }

    /// `GET /v1/accounts/{bech32}?prove=true|false`
    pub async fn account(
        &self,
        address: &Address,
        prove: bool,
    ) -> Result<AccountView, ClientError> {
        self.get_json(&paths::account(address, prove)).await
    }

    /// `POST /v1/txs` with the transaction's canonical bytes. Returns the hash the node
    /// assigned, which must be the transaction's own hash.
    pub async fn submit_tx(&self, stx: &SignedTx) -> Result<Hash, ClientError> {
        let got = self.submit_raw(&stx.to_bytes()).await?;
        let expected = stx.hash();
        if got != expected {
            return Err(ClientError::Decode {
                url: self.url(&paths::submit_tx()),
                reason: format!("node returned hash {got} for transaction {expected}"),
            });
        }
        Ok(got)
    }

    /// `POST /v1/txs/batch`: many transactions in one request; each is admitted or refused
    /// on its own, in order.
    pub async fn submit_batch(
        &self,
        txs: &[SignedTx],
    ) -> Result<Vec<SubmitBatchItem>, ClientError> {
        let req =
            SubmitBatchRequest { txs: txs.iter().map(|t| hex::encode(t.to_bytes())).collect() };
        self.submit_batch_request(&req).await
    }

    /// `POST /v1/txs/batch` with transactions already hex-encoded (load generators prepare
    /// them ahead of time so the encoding is not measured).
    pub async fn submit_batch_request(
        &self,
        req: &SubmitBatchRequest,
    ) -> Result<Vec<SubmitBatchItem>, ClientError> {
        let url = self.url("/v1/txs/batch");
        let resp = self.http.post(&url).json(req).send().await;
        let body = read_ok_body(&url, resp).await?;
        decode_json(&url, &body)
    }

    /// `GET /v1/devices/{id}`
    pub async fn device(&self, id: &Hash) -> Result<DeviceView, ClientError> {
        self.get_json(&format!("/v1/devices/{}", id.to_hex())).await
    }

    /// `GET /v1/devices?owner=&class=&cell=&after=&limit=`
    pub async fn devices(&self, q: &DeviceQuery) -> Result<DeviceListView, ClientError> {
        let mut params = Vec::new();
        if let Some(o) = &q.owner {
            params.push(format!("owner={o}"));
        }
        if let Some(c) = &q.class {
            params.push(format!("class={c}"));
        }
        if let Some(c) = q.cell {
            params.push(format!("cell={c}"));
        }
        if let Some(a) = &q.after {
            params.push(format!("after={a}"));
        }
        if let Some(l) = q.limit {
            params.push(format!("limit={l}"));
        }
        let query =
            if params.is_empty() { String::new() } else { format!("?{}", params.join("&")) };
        self.get_json(&format!("/v1/devices{query}")).await
    }

    /// `GET /v1/devices/{id}/reports?epoch=` (or `/rejections` when `rejected`).
    pub async fn device_reports(
        &self,
        id: &Hash,
        epoch: Option<u64>,
        rejected: bool,
        after: Option<&str>,
    ) -> Result<DeviceReportsView, ClientError> {
        let which = if rejected { "rejections" } else { "reports" };
        let mut params = Vec::new();
        if let Some(e) = epoch {
            params.push(format!("epoch={e}"));
        }
        if let Some(a) = after {
            params.push(format!("after={a}"));
        }
        let query =
            if params.is_empty() { String::new() } else { format!("?{}", params.join("&")) };
        self.get_json(&format!("/v1/devices/{}/{which}{query}", id.to_hex())).await
    }

    /// `GET /v1/devices/{id}/sensor?epoch=`
    pub async fn sensor(
        &self,
        id: &Hash,
        epoch: Option<u64>,
    ) -> Result<cairn_types::api::SensorView, ClientError> {
        let q = epoch.map(|e| format!("?epoch={e}")).unwrap_or_default();
        self.get_json(&format!("/v1/devices/{}/sensor{q}", id.to_hex())).await
    }

    /// `GET /v1/entropy/{height}`: the chain entropy of a recent block.
    pub async fn entropy(&self, height: Height) -> Result<Hash, ClientError> {
        let v: cairn_types::api::EntropyView =
            self.get_json(&format!("/v1/entropy/{height}")).await?;
        Ok(v.entropy)
    }

    /// `GET /v1/deals/{id}`
    pub async fn deal(&self, id: &Hash) -> Result<cairn_types::storage::Deal, ClientError> {
        self.get_json(&format!("/v1/deals/{}", id.to_hex())).await
    }

    /// `GET /v1/jobs/{id}`
    pub async fn job(&self, id: &Hash) -> Result<cairn_types::compute::Job, ClientError> {
        self.get_json(&format!("/v1/jobs/{}", id.to_hex())).await
    }

    /// `GET /v1/channels/{id}`
    pub async fn channel(&self, id: &Hash) -> Result<cairn_types::usage::Channel, ClientError> {
        self.get_json(&format!("/v1/channels/{}", id.to_hex())).await
    }

    /// `GET /v1/genesis`
    pub async fn genesis(&self) -> Result<Genesis, ClientError> {
        self.get_json("/v1/genesis").await
    }

    /// `GET /v1/params`: the chain parameters now in force.
    pub async fn params(&self) -> Result<Params, ClientError> {
        self.get_json("/v1/params").await
    }

    /// `POST /v1/txs` with arbitrary bytes (which the node may well refuse).
    pub async fn submit_raw(&self, bytes: &[u8]) -> Result<Hash, ClientError> {
        let url = self.url(&paths::submit_tx());
        let req = SubmitTxRequest { tx: hex::encode(bytes) };
        let resp = self.http.post(&url).json(&req).send().await;
        let body = read_ok_body(&url, resp).await?;
        let resp: SubmitTxResponse = decode_json(&url, &body)?;
        Ok(resp.hash)
    }

    /// Polls the receipt of `hash` every [`RECEIPT_POLL_INTERVAL`] until it exists, any
    /// error other than "not found" occurs, or `timeout` has passed.
    pub async fn wait_for_receipt(
        &self,
        hash: &Hash,
        timeout: Duration,
    ) -> Result<Receipt, ClientError> {
        let start = tokio::time::Instant::now();
        let deadline = start + timeout;
        loop {
            // A slow answer must not stretch the wait past the deadline.
            match tokio::time::timeout_at(deadline, self.receipt(hash)).await {
                Ok(Ok(receipt)) => return Ok(receipt),
                Ok(Err(e)) if e.is_not_found() => {}
                Ok(Err(e)) => return Err(e),
                Err(_elapsed) => break,
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep_until((now + RECEIPT_POLL_INTERVAL).min(deadline)).await;
            if tokio::time::Instant::now() >= deadline {
                break;
            }
        }
        let waited_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Err(ClientError::Timeout { hash: *hash, waited_ms })
    }

    /// `GET /metrics`: the Prometheus text exposition.
    pub async fn metrics_text(&self) -> Result<String, ClientError> {
        let url = self.url(&paths::metrics());
        let resp = self.http.get(&url).send().await;
        let body = read_ok_body(&url, resp).await?;
        String::from_utf8(body)
            .map_err(|e| ClientError::Decode { url, reason: format!("metrics are not UTF-8: {e}") })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        let resp = self.http.get(&url).send().await;
        let body = read_ok_body(&url, resp).await?;
        decode_json(&url, &body)
    }
}

/// API paths, relative to the base URL.
mod paths {
    use cairn_types::{Address, Hash, Height};

    pub fn health() -> String {
        "/v1/health".into()
    }
    pub fn status() -> String {
        "/v1/status".into()
    }
    pub fn block(height: Height) -> String {
        format!("/v1/blocks/{height}")
    }
    pub fn latest_block() -> String {
        "/v1/blocks/latest".into()
    }
    pub fn block_by_hash(hash: &Hash) -> String {
        format!("/v1/blocks/hash/{}", hash.to_hex())
    }
    pub fn raw_block(height: Height) -> String {
        format!("/v1/blocks/{height}/raw")
    }
    pub fn tx(hash: &Hash) -> String {
        format!("/v1/txs/{}", hash.to_hex())
    }
    pub fn receipt(hash: &Hash) -> String {
        format!("/v1/receipts/{}", hash.to_hex())
    }
    pub fn account(address: &Address, prove: bool) -> String {
        format!("/v1/accounts/{}?prove={prove}", address.to_bech32())
    }
    pub fn submit_tx() -> String {
        "/v1/txs".into()
    }
    pub fn metrics() -> String {
        "/metrics".into()
    }
}

/// Checks and normalizes a base URL: `http` scheme, a host, no query or fragment, no
/// trailing `/`.
fn normalize_base(base_url: &str) -> Result<String, ClientError> {
    let bad =
        |reason: &str| ClientError::BadUrl { url: base_url.to_string(), reason: reason.into() };
    let trimmed = base_url.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(bad("empty URL"));
    }
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "http" => {}
        "https" => return Err(bad("https is not supported by this build (no TLS); use http://")),
        other => return Err(bad(&format!("scheme {other:?} is not http"))),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("a base URL cannot have a query or fragment"));
    }
    Ok(trimmed.to_string())
}

/// The body of a 2xx response, or the matching error.
async fn read_ok_body(
    url: &str,
    resp: Result<reqwest::Response, reqwest::Error>,
) -> Result<Vec<u8>, ClientError> {
    let http_err =
        |e: reqwest::Error| ClientError::Http { url: url.to_string(), reason: error_chain(&e) };
    let resp = resp.map_err(http_err)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(http_err)?;
    if !status.is_success() {
        return Err(ClientError::from_response(status.as_u16(), &body));
    }
    Ok(body.to_vec())
}

fn decode_json<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body)
        .map_err(|e| ClientError::Decode { url: url.to_string(), reason: e.to_string() })
}

fn decode_raw_block(url: &str, height: Height, view: &RawBlockView) -> Result<Block, ClientError> {
    let decode_err = |reason: String| ClientError::Decode { url: url.to_string(), reason };
    let bytes =
        hex::decode(&view.block).map_err(|e| decode_err(format!("block is not hex: {e}")))?;
    let block: Block = codec::decode(&bytes, MAX_RAW_BLOCK_BYTES, "block")
        .map_err(|e| decode_err(e.to_string()))?;
    if view.height != height || block.header.height != height {
        return Err(decode_err(format!(
            "asked for block {height}, got view height {} and header height {}",
            view.height, block.header.height
        )));
    }
    Ok(block)
}

/// An error and its sources, `outer: inner: ...`, since reqwest's own message hides the
/// cause (connection refused, timed out, ...).
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
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
    fn endpoint_urls() {
        let c = Client::new("http://h:1").unwrap();
        let h = Hash([0xab; 32]);
        let hex = "ab".repeat(32);
        let a = Keypair::from_label("alice").address();
        assert_eq!(c.url(&paths::health()), "http://h:1/v1/health");
        assert_eq!(c.url(&paths::status()), "http://h:1/v1/status");
        assert_eq!(c.url(&paths::block(7)), "http://h:1/v1/blocks/7");
        assert_eq!(c.url(&paths::latest_block()), "http://h:1/v1/blocks/latest");
        assert_eq!(c.url(&paths::block_by_hash(&h)), format!("http://h:1/v1/blocks/hash/{hex}"));
        assert_eq!(c.url(&paths::raw_block(7)), "http://h:1/v1/blocks/7/raw");
        assert_eq!(c.url(&paths::tx(&h)), format!("http://h:1/v1/txs/{hex}"));
        assert_eq!(c.url(&paths::receipt(&h)), format!("http://h:1/v1/receipts/{hex}"));
        assert_eq!(
            c.url(&paths::account(&a, true)),
            format!("http://h:1/v1/accounts/{a}?prove=true")
        );
        assert_eq!(
            c.url(&paths::account(&a, false)),
            format!("http://h:1/v1/accounts/{a}?prove=false")
        );
        assert_eq!(c.url(&paths::submit_tx()), "http://h:1/v1/txs");
        assert_eq!(c.url(&paths::metrics()), "http://h:1/metrics");
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
        let base = canned_server(vec![(
            400,
            r#"{"code":"bad_request","message":"bad hash"}"#.to_string(),
        )]);
        let c = Client::new(&base).unwrap();
        let e = c.wait_for_receipt(&Hash([3; 32]), Duration::from_secs(10)).await.unwrap_err();
        assert_eq!(e.code(), Some("bad_request"));
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
}
