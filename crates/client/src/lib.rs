//! A typed async HTTP client for the Cairn node API (`/v1`), used by the CLI and the simulator.
//!
//! Every method sends its request through one route of [`cairn_types::routes`], the table
//! the node's router registers by, and decodes the answer as that route's response type
//! (see [`cairn_types::api`]).
//! Failures are a [`ClientError`]: the node's own error body when it answered non-2xx, or a
//! transport, decode or timeout error naming the URL or transaction involved.

use cairn_types::api::{
    AccountView, BlockView, ErrorBody, HealthView, RawBlockView, RelayResponse, StatusView,
    SubmitBatchItem, SubmitBatchRequest, SubmitTxRequest, SubmitTxResponse, TxView,
};
use cairn_types::api::{DeviceListView, DeviceReportsView, DeviceView};
use cairn_types::routes::{self, Arg, Method, Route, RouteDef};
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

/// Timeout of every single HTTP request (but asking for a block, [`BLOCK_TIMEOUT`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Client::produce_block`] waits for the node to make a block.
pub const BLOCK_TIMEOUT: Duration = Duration::from_secs(600);
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
    /// The request could not be made from the route's definition (a wrong number of path
    /// arguments, a query parameter the route does not declare, a body that does not
    /// encode).
    #[error("cannot make the request: {reason}")]
    Request { reason: String },
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
        self.get(&routes::HEALTH, &[], &[]).await
    }

    /// `GET /v1/status`
    pub async fn status(&self) -> Result<StatusView, ClientError> {
        self.get(&routes::STATUS, &[], &[]).await
    }

    /// `GET /v1/openapi.json`: the node's OpenAPI 3.1 document.
    pub async fn openapi(&self) -> Result<cairn_types::openapi::Document, ClientError> {
        self.get(&routes::OPENAPI, &[], &[]).await
    }

    /// `GET /v1/blocks/{height}`
    pub async fn block(&self, height: Height) -> Result<BlockView, ClientError> {
        let first = self.get(&routes::BLOCK, &[&height], &[]).await?;
        self.rest_of_block(&routes::BLOCK, &height, first).await
    }

    /// Fetches the pages of a block's transactions after `first` (the node serves at most
    /// a page per request), so that the view holds all of them.
    async fn rest_of_block(
        &self,
        route: &Route<BlockView>,
        arg: Arg<'_>,
        mut view: BlockView,
    ) -> Result<BlockView, ClientError> {
        while let Some(offset) = view.next_tx.take() {
            let query = [("tx_offset", Some(offset.to_string()))];
            let page: BlockView = self.get(route, &[arg], &query).await?;
            if page.hash != view.hash {
                return Err(ClientError::Decode {
                    url: self.url(&route.url_path(&[arg], &[]).unwrap_or_default()),
                    reason: format!(
                        "block changed between pages: {} then {}",
                        view.hash, page.hash
                    ),
                });
            }
            view.txs.extend(page.txs);
            view.next_tx = page.next_tx.filter(|n| *n > offset);
        }
        Ok(view)
    }

    /// `GET /v1/blocks/latest`
    pub async fn latest_block(&self) -> Result<BlockView, ClientError> {
        let first: BlockView = self.get(&routes::LATEST_BLOCK, &[], &[]).await?;
        // Later pages by height: the head may move on meanwhile.
        let height = first.header.height;
        self.rest_of_block(&routes::BLOCK, &height, first).await
    }

    /// `GET /v1/blocks/hash/{hex}`
    pub async fn block_by_hash(&self, hash: &Hash) -> Result<BlockView, ClientError> {
        let first = self.get(&routes::BLOCK_BY_HASH, &[hash], &[]).await?;
        self.rest_of_block(&routes::BLOCK_BY_HASH, hash, first).await
    }

    /// `GET /v1/blocks/{height}/raw`, decoded into the block itself (canonical encoding,
    /// at most [`MAX_RAW_BLOCK_BYTES`]). Refuses a block of another height.
    pub async fn raw_block(&self, height: Height) -> Result<Block, ClientError> {
        let view: RawBlockView = self.get(&routes::RAW_BLOCK, &[&height], &[]).await?;
        let path = routes::RAW_BLOCK.url_path(&[&height], &[]).unwrap_or_default();
        decode_raw_block(&self.url(&path), height, &view)
    }

    /// `GET /v1/blocks?before=&limit=`: the newest blocks first.
    pub async fn blocks(
        &self,
        before: Option<Height>,
        limit: Option<usize>,
    ) -> Result<cairn_types::api::BlockListView, ClientError> {
        let query =
            [("before", before.map(|b| b.to_string())), ("limit", limit.map(|l| l.to_string()))];
        self.get(&routes::BLOCKS, &[], &query).await
    }

    /// `GET /v1/txs/{hex}`
    pub async fn tx(&self, hash: &Hash) -> Result<TxView, ClientError> {
        self.get(&routes::TX, &[hash], &[]).await
    }

    /// `GET /v1/receipts/{hex}`
    pub async fn receipt(&self, hash: &Hash) -> Result<Receipt, ClientError> {
        self.get(&routes::RECEIPT, &[hash], &[]).await
    }

    /// `GET /v1/accounts/{bech32}?prove=true|false`
    pub async fn account(
        &self,
        address: &Address,
        prove: bool,
    ) -> Result<AccountView, ClientError> {
        self.get(&routes::ACCOUNT, &[address], &[("prove", Some(prove.to_string()))]).await
    }

    /// `POST /v1/txs` with the transaction's canonical bytes. Returns the hash the node
    /// assigned, which must be the transaction's own hash.
    pub async fn submit_tx(&self, stx: &SignedTx) -> Result<Hash, ClientError> {
        let got = self.submit_raw(&stx.to_bytes()).await?;
        let expected = stx.hash();
        if got != expected {
            return Err(ClientError::Decode {
                url: self.url(routes::SUBMIT_TX.path),
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
        self.post(&routes::SUBMIT_BATCH, Body::json(req)?, REQUEST_TIMEOUT).await
    }

    /// `POST /v1/txs/relay`: transactions a validator forwards to a peer, as the borsh
    /// encoding of a `Vec<Vec<u8>>` of canonical transaction bytes (see [`relay_body`]).
    pub async fn submit_relay(&self, body: Vec<u8>) -> Result<RelayResponse, ClientError> {
        let body = Body::Bytes { media_type: "application/octet-stream", bytes: body };
        self.post(&routes::RELAY, body, REQUEST_TIMEOUT).await
    }

    /// `GET /v1/devices/{id}`
    pub async fn device(&self, id: &Hash) -> Result<DeviceView, ClientError> {
        self.get(&routes::DEVICE, &[id], &[]).await
    }

    /// `GET /v1/devices?owner=&class=&cell=&after=&limit=`
    pub async fn devices(&self, q: &DeviceQuery) -> Result<DeviceListView, ClientError> {
        let query = [
            ("owner", q.owner.as_ref().map(ToString::to_string)),
            ("class", q.class.as_ref().map(ToString::to_string)),
            ("cell", q.cell.map(cairn_types::api::cell_to_hex)),
            ("after", q.after.clone()),
            ("limit", q.limit.map(|l| l.to_string())),
        ];
        self.get(&routes::DEVICES, &[], &query).await
    }

    /// `GET /v1/devices/{id}/reports?epoch=` (or `/rejections` when `rejected`).
    pub async fn device_reports(
        &self,
        id: &Hash,
        epoch: Option<u64>,
        rejected: bool,
        after: Option<&str>,
    ) -> Result<DeviceReportsView, ClientError> {
        let route = if rejected { &routes::DEVICE_REJECTIONS } else { &routes::DEVICE_REPORTS };
        let query = [("epoch", epoch.map(|e| e.to_string())), ("after", after.map(str::to_string))];
        self.get(route, &[id], &query).await
    }

    /// `GET /v1/devices/{id}/sensor?epoch=`
    pub async fn sensor(
        &self,
        id: &Hash,
        epoch: Option<u64>,
    ) -> Result<cairn_types::api::SensorView, ClientError> {
        self.get(&routes::SENSOR, &[id], &[("epoch", epoch.map(|e| e.to_string()))]).await
    }

    /// `GET /v1/devices/{id}/coverage?epoch=`
    pub async fn coverage(
        &self,
        id: &Hash,
        epoch: Option<u64>,
    ) -> Result<cairn_types::api::CoverageView, ClientError> {
        self.get(&routes::COVERAGE, &[id], &[("epoch", epoch.map(|e| e.to_string()))]).await
    }

    /// `GET /v1/stats/devices`: how many devices there are, by class and by status.
    pub async fn device_stats(&self) -> Result<cairn_types::api::DeviceStatsView, ClientError> {
        self.get(&routes::DEVICE_STATS, &[], &[]).await
    }

    /// `GET /v1/map/devices?after=&limit=`: a page of located devices.
    pub async fn map_devices(
        &self,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<cairn_types::api::MapView, ClientError> {
        let query = [("after", after.map(str::to_string)), ("limit", limit.map(|l| l.to_string()))];
        self.get(&routes::MAP_DEVICES, &[], &query).await
    }

    /// `GET /v1/epochs/{e}/rewards?after=&limit=`: one page of an epoch's reward report.
    pub async fn epoch_rewards(
        &self,
        epoch: u64,
        after: Option<u32>,
    ) -> Result<cairn_types::api::EpochRewardsView, ClientError> {
        let query = [("after", after.map(|a| a.to_string()))];
        self.get(&routes::EPOCH_REWARDS, &[&epoch], &query).await
    }

    /// The whole reward report of an epoch, every page.
    pub async fn epoch_report(
        &self,
        epoch: u64,
    ) -> Result<cairn_types::rewards::RewardReport, ClientError> {
        let mut page = self.epoch_rewards(epoch, None).await?;
        let mut entries = std::mem::take(&mut page.entries);
        while let Some(after) = page.next {
            page = self.epoch_rewards(epoch, Some(after)).await?;
            entries.append(&mut page.entries);
        }
        Ok(cairn_types::rewards::RewardReport { summary: page.summary, entries })
    }

    /// `GET /v1/epochs/{e}/rewards/proof`: the epoch's reward root with its state proof.
    pub async fn reward_root_proof(
        &self,
        epoch: u64,
    ) -> Result<cairn_types::api::RewardRootProofView, ClientError> {
        self.get(&routes::REWARD_ROOT_PROOF, &[&epoch], &[]).await
    }

    /// `GET /v1/devices/{id}/rewards?epoch=`
    pub async fn device_rewards(
        &self,
        id: &Hash,
        epoch: u64,
    ) -> Result<cairn_types::api::DeviceRewardView, ClientError> {
        self.get(&routes::DEVICE_REWARDS, &[id], &[("epoch", Some(epoch.to_string()))]).await
    }

    /// `GET /v1/rewards/{owner}/claimable`
    pub async fn claimable(
        &self,
        owner: &Address,
    ) -> Result<cairn_types::api::ClaimableView, ClientError> {
        self.get(&routes::CLAIMABLE, &[owner], &[]).await
    }

    /// `GET /v1/credits/{addr}`
    pub async fn credits(
        &self,
        addr: &Address,
    ) -> Result<cairn_types::api::CreditsView, ClientError> {
        self.get(&routes::CREDITS, &[addr], &[]).await
    }

    /// `GET /v1/oracles`
    pub async fn oracles(&self) -> Result<cairn_types::api::OraclesView, ClientError> {
        self.get(&routes::ORACLES, &[], &[]).await
    }

    /// `GET /v1/supply`
    pub async fn supply(&self) -> Result<cairn_types::api::SupplyView, ClientError> {
        self.get(&routes::SUPPLY, &[], &[]).await
    }

    /// `POST /v1/dev/blocks`: asks a node started with `--blocks-on-demand` to make one
    /// block now. Waits up to [`BLOCK_TIMEOUT`]: a full block of a large fleet's reports can
    /// take longer to make than an ordinary request may.
    pub async fn produce_block(&self) -> Result<cairn_types::api::ProducedView, ClientError> {
        self.post(&routes::PRODUCE_BLOCK, Body::Empty, BLOCK_TIMEOUT).await
    }

    /// `GET /v1/entropy/{height}`: the chain entropy of a recent block.
    pub async fn entropy(&self, height: Height) -> Result<Hash, ClientError> {
        let v = self.get(&routes::ENTROPY, &[&height], &[]).await?;
        Ok(v.entropy)
    }

    /// `GET /v1/deals/{id}`
    pub async fn deal(&self, id: &Hash) -> Result<cairn_types::storage::Deal, ClientError> {
        self.get(&routes::DEAL, &[id], &[]).await
    }

    /// `GET /v1/jobs/{id}`
    pub async fn job(&self, id: &Hash) -> Result<cairn_types::compute::Job, ClientError> {
        self.get(&routes::JOB, &[id], &[]).await
    }

    /// `GET /v1/channels/{id}`
    pub async fn channel(&self, id: &Hash) -> Result<cairn_types::usage::Channel, ClientError> {
        self.get(&routes::CHANNEL, &[id], &[]).await
    }

    /// `GET /v1/genesis`
    pub async fn genesis(&self) -> Result<Genesis, ClientError> {
        self.get(&routes::GENESIS, &[], &[]).await
    }

    /// `GET /v1/params`: the chain parameters now in force.
    pub async fn params(&self) -> Result<Params, ClientError> {
        self.get(&routes::PARAMS, &[], &[]).await
    }

    /// `GET /v1/validators`: candidates and the set of the next block.
    pub async fn validators(&self) -> Result<cairn_types::api::ValidatorsView, ClientError> {
        self.get(&routes::VALIDATORS, &[], &[]).await
    }

    /// `GET /v1/blocks/{height}/validators`: the set that certifies block `height`, with
    /// its state proof at height `height - 1`.
    pub async fn block_validators(
        &self,
        height: Height,
    ) -> Result<cairn_types::api::BlockValidatorsView, ClientError> {
        self.get(&routes::BLOCK_VALIDATORS, &[&height], &[]).await
    }

    /// `GET /v1/validators/{address}`
    pub async fn validator(
        &self,
        address: &Address,
    ) -> Result<cairn_types::api::ValidatorView, ClientError> {
        self.get(&routes::VALIDATOR, &[address], &[]).await
    }

    /// `GET /v1/gov/proposals`: the newest proposals first, with their tallies so far.
    pub async fn gov_proposals(&self) -> Result<cairn_types::gov::ProposalList, ClientError> {
        self.get(&routes::GOV_PROPOSALS, &[], &[]).await
    }

    /// `GET /v1/gov/proposals/{id}`
    pub async fn gov_proposal(
        &self,
        id: u64,
    ) -> Result<cairn_types::gov::ProposalView, ClientError> {
        self.get(&routes::GOV_PROPOSAL, &[&id], &[]).await
    }

    /// `GET /v1/gov/positions/{address}`
    pub async fn gov_position(
        &self,
        address: &Address,
    ) -> Result<cairn_types::gov::PositionView, ClientError> {
        self.get(&routes::GOV_POSITION, &[address], &[]).await
    }

    /// `POST /v1/txs` with arbitrary bytes (which the node may well refuse).
    pub async fn submit_raw(&self, bytes: &[u8]) -> Result<Hash, ClientError> {
        let req = SubmitTxRequest { tx: hex::encode(bytes) };
        let resp: SubmitTxResponse =
            self.post(&routes::SUBMIT_TX, Body::json(&req)?, REQUEST_TIMEOUT).await?;
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

    /// `GET /metrics`: the metrics text (OpenMetrics).
    pub async fn metrics_text(&self) -> Result<String, ClientError> {
        let (url, body) =
            self.send(&routes::METRICS, &[], &[], Body::Empty, REQUEST_TIMEOUT).await?;
        String::from_utf8(body)
            .map_err(|e| ClientError::Decode { url, reason: format!("metrics are not UTF-8: {e}") })
    }

    /// `GET` of a route, its answer decoded as the route's response type.
    async fn get<R: DeserializeOwned>(
        &self,
        route: &Route<R>,
        args: &[Arg<'_>],
        query: &[(&str, Option<String>)],
    ) -> Result<R, ClientError> {
        let (url, body) = self.send(route, args, query, Body::Empty, REQUEST_TIMEOUT).await?;
        decode_json(&url, &body)
    }

    /// `POST` to a route without path arguments, its answer decoded as the route's
    /// response type.
    async fn post<R: DeserializeOwned>(
        &self,
        route: &Route<R>,
        body: Body,
        timeout: Duration,
    ) -> Result<R, ClientError> {
        let (url, body) = self.send(route, &[], &[], body, timeout).await?;
        decode_json(&url, &body)
    }

    /// Sends a request of `route` (its URL built from the route's definition) and returns
    /// the URL and the body of a 2xx answer, or the matching error. With the `json-safety`
    /// feature every answer, error or not, is checked against the OpenAPI document.
    async fn send(
        &self,
        route: &RouteDef,
        args: &[Arg<'_>],
        query: &[(&str, Option<String>)],
        body: Body,
        timeout: Duration,
    ) -> Result<(String, Vec<u8>), ClientError> {
        let path = route
            .url_path(args, query)
            .map_err(|e| ClientError::Request { reason: e.to_string() })?;
        let url = self.url(&path);
        let req = match route.method {
            Method::Get => self.http.get(&url),
            Method::Post => self.http.post(&url),
        };
        let req = match body {
            Body::Empty => req,
            Body::Bytes { media_type, bytes } => {
                req.header(reqwest::header::CONTENT_TYPE, media_type).body(bytes)
            }
        };
        let http_err =
            |e: reqwest::Error| ClientError::Http { url: url.clone(), reason: error_chain(&e) };
        let resp = req.timeout(timeout).send().await.map_err(http_err)?;
        let status = resp.status();
        #[cfg(feature = "json-safety")]
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = resp.bytes().await.map_err(http_err)?;
        #[cfg(feature = "json-safety")]
        check_answer(&url, route, status.as_u16(), &content_type, &bytes)?;
        if !status.is_success() {
            return Err(ClientError::from_response(status.as_u16(), &bytes));
        }
        Ok((url, bytes.to_vec()))
    }
}

/// A request body.
enum Body {
    Empty,
    Bytes { media_type: &'static str, bytes: Vec<u8> },
}

impl Body {
    fn json(value: &impl serde::Serialize) -> Result<Body, ClientError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| ClientError::Request { reason: format!("encoding the body: {e}") })?;
        Ok(Body::Bytes { media_type: "application/json", bytes })
    }
}

/// With the `json-safety` feature (on in the node's integration tests): refuses an answer
/// that departs from the OpenAPI document (a status the route does not list, another media
/// type, a body off its schema, an error code the status does not list), so the document
/// and the node cannot drift apart unnoticed (ADR 0031).
#[cfg(feature = "json-safety")]
fn check_answer(
    url: &str,
    route: &RouteDef,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Result<(), ClientError> {
    cairn_types::openapi::check::check_response(route, status, content_type, body).map_err(|m| {
        ClientError::Decode {
            url: url.to_string(),
            reason: format!("not as the OpenAPI document says: {m}"),
        }
    })
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

/// The body of `POST /v1/txs/relay`: the borsh encoding of a `Vec<Vec<u8>>` holding each
/// transaction's canonical bytes.
pub fn relay_body<B: AsRef<[u8]>>(txs: &[B]) -> Vec<u8> {
    let slices: Vec<&[u8]> = txs.iter().map(AsRef::as_ref).collect();
    codec::encode(&slices)
}

fn decode_json<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, ClientError> {
    #[cfg(feature = "json-safety")]
    check_json_safety(url, body)?;
    serde_json::from_slice(body)
        .map_err(|e| ClientError::Decode { url: url.to_string(), reason: e.to_string() })
}

/// With the `json-safety` feature (on in the node's integration tests): refuses a response
/// holding a JSON number a client reading numbers as doubles would round, so no route can
/// start sending one unnoticed (docs/wire.md, "JSON forms").
#[cfg(feature = "json-safety")]
fn check_json_safety(url: &str, body: &[u8]) -> Result<(), ClientError> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(()); // not JSON: the typed decode reports it
    };
    match cairn_types::api::first_unsafe_number(&value) {
        None => Ok(()),
        Some((path, number)) => Err(ClientError::Decode {
            url: url.to_string(),
            reason: format!("JSON number {number} at {path} exceeds 2^53 - 1"),
        }),
    }
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
mod tests;
