//! The HTTP API under `/v1`, plus `/metrics`: the router, errors, and chain, block and
//! account reads (devices, rewards, staking and transaction submission have their own
//! modules).
//!
//! Every error is JSON `{code, message}` with a stable code; bad input is a 4xx, never a
//! panic. Request bodies are capped by `NodeConfig::max_request_bytes`.

use crate::{Shared, api_devices, api_explorer, api_gov, api_rewards, api_staking, api_txs};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Json, Router};
use cairn_app::{App, accounts, state_key};
use cairn_state::tree;
use cairn_store::Snapshot;
use cairn_types::api::*;
use cairn_types::routes::{self, Method, RouteDef};
use cairn_types::{Address, Block, Hash, Params};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The error code of a request for what a pruned node no longer keeps (HTTP 410).
pub const NEEDS_ARCHIVE: &str = "needs_archive";

/// An API error: HTTP status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// What this pruned node no longer keeps (410 `needs_archive`): an archive node
    /// (`cairn node --archive`) has it.
    pub fn needs_archive(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::GONE, NEEDS_ARCHIVE, message)
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code.to_string(), message: self.message };
        (self.status, Json(body)).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = %format!("{e:#}"), "internal API error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{e:#}"))
    }
}

impl From<cairn_store::StoreError> for ApiError {
    fn from(e: cairn_store::StoreError) -> Self {
        match e {
            cairn_store::StoreError::Pruned { .. } => ApiError::needs_archive(e.to_string()),
            e => anyhow::Error::from(e).into(),
        }
    }
}

impl From<cairn_state::StateError> for ApiError {
    fn from(e: cairn_state::StateError) -> Self {
        match e {
            cairn_state::StateError::Pruned { .. } => ApiError::needs_archive(e.to_string()),
            e => anyhow::Error::from(e).into(),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_query", r.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let code =
            if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "bad_json" };
        ApiError::new(status, code, r.body_text())
    }
}

pub type ApiResult<T> = Result<Json<T>, ApiError>;

/// `POST /v1/dev/blocks`: makes one block now, on a node started with blocks on demand.
async fn produce_block(State(s): State<Arc<Shared>>) -> ApiResult<cairn_types::api::ProducedView> {
    if !s.config.blocks_on_demand {
        return Err(ApiError::not_found(
            "blocks are made on a timer; start the node with --blocks-on-demand to make them here",
        ));
    }
    let shared = s.clone();
    let hash = tokio::task::spawn_blocking(move || crate::producer::produce_block(&shared))
        .await
        .map_err(anyhow::Error::from)??;
    let snap = s.snapshot()?;
    let block = snap
        .height_of(&hash)?
        .and_then(|h| snap.block(h).transpose())
        .transpose()?
        .ok_or_else(|| anyhow::anyhow!("block {hash} not stored"))?;
    Ok(Json(cairn_types::api::ProducedView {
        height: block.header.height,
        hash,
        txs: block.txs.len() as u32,
    }))
}

/// Whether the request timeout applies to a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timed {
    Yes,
    /// Outside the timeout: a block of a large fleet's reports can take longer to make than
    /// a request may (and a timed-out request would still make it); an event stream stays
    /// open for as long as its client listens.
    No,
}

/// One handler route: its definition in [`cairn_types::routes`] and its handler, bound to
/// the definition's method.
pub(crate) type HandlerRoute = (&'static RouteDef, Timed, MethodRouter<Arc<Shared>>);

fn handle<H, T>(def: &'static RouteDef, timed: Timed, handler: H) -> HandlerRoute
where
    H: axum::handler::Handler<T, Arc<Shared>>,
    T: 'static,
{
    let method = match def.method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
    };
    (def, timed, axum::routing::on(method, handler))
}

/// Every route the router serves with a handler, by its definition: the router registers
/// exactly these (the explorer's files are its fallback), and a test holds them to the
/// route table and the OpenAPI document.
pub(crate) fn handlers() -> Vec<HandlerRoute> {
    use Timed::{No, Yes};
    vec![
        handle(&routes::HEALTH.def, Yes, health),
        handle(&routes::STATUS.def, Yes, status),
        handle(&routes::GENESIS.def, Yes, genesis),
        handle(&routes::PARAMS.def, Yes, params),
        handle(&routes::ENTROPY.def, Yes, entropy),
        handle(&routes::OPENAPI.def, Yes, openapi),
        handle(&routes::CHANNEL.def, Yes, channel),
        handle(&routes::JOB.def, Yes, job),
        handle(&routes::DEAL.def, Yes, deal),
        handle(&routes::LATEST_BLOCK.def, Yes, latest_block),
        handle(&routes::BLOCK_BY_HASH.def, Yes, block_by_hash),
        handle(&routes::BLOCK.def, Yes, block_by_height),
        handle(&routes::RAW_BLOCK.def, Yes, raw_block),
        handle(&routes::BLOCK_VALIDATORS.def, Yes, api_staking::block_set),
        handle(&routes::SUBMIT_TX.def, Yes, api_txs::submit_tx),
        handle(&routes::SUBMIT_BATCH.def, Yes, api_txs::submit_batch),
        handle(&routes::RELAY.def, Yes, api_txs::relay_batch),
        handle(&routes::TX.def, Yes, tx_by_hash),
        handle(&routes::RECEIPT.def, Yes, receipt),
        handle(&routes::ACCOUNT.def, Yes, account),
        handle(&routes::VALIDATORS.def, Yes, api_staking::list),
        handle(&routes::VALIDATOR.def, Yes, api_staking::one),
        handle(&routes::DEVICES.def, Yes, api_devices::list),
        handle(&routes::DEVICE.def, Yes, api_devices::device),
        handle(&routes::DEVICE_REPORTS.def, Yes, api_devices::reports),
        handle(&routes::DEVICE_REJECTIONS.def, Yes, api_devices::rejections),
        handle(&routes::SENSOR.def, Yes, api_devices::sensor),
        handle(&routes::COVERAGE.def, Yes, api_devices::coverage),
        handle(&routes::GOV_PROPOSALS.def, Yes, api_gov::list),
        handle(&routes::GOV_PROPOSAL.def, Yes, api_gov::one),
        handle(&routes::GOV_POSITION.def, Yes, api_gov::position),
        handle(&routes::SUPPLY.def, Yes, api_rewards::supply),
        handle(&routes::CREDITS.def, Yes, api_rewards::credits),
        handle(&routes::ORACLES.def, Yes, api_rewards::oracles),
        handle(&routes::EPOCH_REWARDS.def, Yes, api_rewards::epoch),
        handle(&routes::REWARD_ROOT_PROOF.def, Yes, api_rewards::root_proof),
        handle(&routes::DEVICE_REWARDS.def, Yes, api_rewards::device),
        handle(&routes::CLAIMABLE.def, Yes, api_rewards::claimable),
        handle(&routes::BLOCKS.def, Yes, api_explorer::blocks),
        handle(&routes::DEVICE_STATS.def, Yes, api_explorer::device_stats),
        handle(&routes::MAP_DEVICES.def, Yes, api_explorer::map_devices),
        handle(&routes::METRICS.def, Yes, metrics),
        handle(&routes::PRODUCE_BLOCK.def, No, produce_block),
        handle(&routes::EVENTS.def, No, crate::events::stream),
    ]
}

/// The router: every handler of [`handlers`] at its definition's path, the explorer as
/// the fallback, and the node's layers.
pub fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.config.max_request_bytes;
    let (timed, untimed): (Vec<_>, Vec<_>) =
        handlers().into_iter().partition(|(_, timed, _)| *timed == Timed::Yes);
    let mut router = Router::new();
    for (def, _, handler) in timed {
        router = router.route(def.path, handler);
    }
    let mut router = router
        // The explorer's files, and its page addresses; anything else is a JSON 404.
        .fallback(api_explorer::serve)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(timeout_layer(REQUEST_TIMEOUT));
    // Added after the timeout, so outside it.
    for (def, _, handler) in untimed {
        router = router.route(def.path, handler);
    }
    outer_layers(router, limit).with_state(shared)
}

/// `GET /v1/openapi.json`: the API's OpenAPI 3.1 document, made from the same route table
/// as this router (ADR 0031).
async fn openapi() -> Response {
    static BODY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = BODY.get_or_init(|| cairn_types::openapi::document().to_string());
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body.as_str()).into_response()
}

/// How long a request may take before it is answered 408 `timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

fn timeout_layer(after: Duration) -> tower_http::timeout::TimeoutLayer {
    tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, after)
}

/// The layers around every route: the body limit, the concurrency limit, and, outermost,
/// [`json_errors`], so that what the layers themselves answer is JSON too.
fn outer_layers<S: Clone + Send + Sync + 'static>(router: Router<S>, limit: usize) -> Router<S> {
    router
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower::limit::ConcurrencyLimitLayer::new(512))
        .layer(axum::middleware::map_response(json_errors))
}

/// Most bytes of a non-JSON error body kept as the message.
const MAX_ERROR_TEXT: usize = 1024;

/// Turns every error answer that is not already JSON into `{code, message}`: the body-limit
/// 413 of a raw-bytes route (`body_too_large`), the timeout's empty 408 (`timeout`), and any
/// other plain-text rejection, so that clients parse one error format.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (code, default) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request did not finish in time"),
        StatusCode::NOT_FOUND => ("not_found", "not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "unsupported media type"),
        StatusCode::TOO_MANY_REQUESTS => ("too_many_requests", "too many requests"),
        StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "the service is unavailable"),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("bad_request", "bad request"),
    };
    let text = axum::body::to_bytes(resp.into_body(), MAX_ERROR_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() { default.to_string() } else { text };
    ApiError::new(status, code, message).into_response()
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = router(shared);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "API server stopped");
    }
}

async fn health() -> Json<HealthView> {
    Json(HealthView { ok: true })
}

async fn status(State(s): State<Arc<Shared>>) -> ApiResult<StatusView> {
    let snap = s.snapshot()?;
    let (height, hash, root, epoch, ts) = match snap.head()? {
        Some(h) => (h.height, h.hash(), h.state_root, h.epoch, h.timestamp_ms),
        None => (0, s.genesis.hash(), tree::root_at(&snap, 0)?, 0, s.genesis.genesis_time_ms),
    };
    Ok(Json(StatusView {
        chain_id: s.genesis.chain_id.clone(),
        height,
        last_block_hash: hash,
        state_root: root,
        epoch,
        timestamp_ms: ts,
        mempool_size: s.mempool().len() as u64,
    }))
}

async fn genesis(State(s): State<Arc<Shared>>) -> Json<cairn_types::Genesis> {
    Json(s.genesis.clone())
}

async fn params(State(s): State<Arc<Shared>>) -> ApiResult<Params> {
    Ok(Json(current_params(&s)?))
}

/// A block height from the path: `bad_height` when it is not a number.
pub(crate) fn height_path(path: Result<Path<String>, PathRejection>) -> Result<u64, ApiError> {
    let Path(height) = path?;
    height.parse().map_err(|_| {
        ApiError::bad_request("bad_height", format!("height {height:?} is not a number"))
    })
}

/// The chain entropy of a recent block (see `cairn_app::ENTROPY_WINDOW`).
async fn entropy(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<EntropyView> {
    let height = height_path(path)?;
    let snap = s.snapshot()?;
    let entropy = cairn_app::entropy_at(&snap, height)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no entropy for height {height} (not yet, or older than the window)"
        ))
    })?;
    Ok(Json(EntropyView { height, entropy }))
}

/// A usage channel.
async fn channel(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<cairn_types::usage::Channel> {
    let Path(id) = path?;
    let id = parse_hash(&id)?;
    let snap = s.snapshot()?;
    let c = cairn_app::usage::get_channel(&snap, &id)?
        .ok_or_else(|| ApiError::not_found(format!("no channel {id}")))?;
    Ok(Json(c))
}

/// A storage deal.
async fn deal(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<cairn_types::storage::Deal> {
    let Path(id) = path?;
    let id = parse_hash(&id)?;
    let snap = s.snapshot()?;
    let d = cairn_app::storage::get_deal(&snap, &id)?
        .ok_or_else(|| ApiError::not_found(format!("no deal {id}")))?;
    Ok(Json(d))
}

/// A compute job.
async fn job(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<cairn_types::compute::Job> {
    let Path(id) = path?;
    let id = parse_hash(&id)?;
    let snap = s.snapshot()?;
    let j = cairn_app::compute::get_job(&snap, &id)?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    Ok(Json(j))
}

fn parse_hash(text: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(text).map_err(|e| ApiError::bad_request("bad_hash", e.to_string()))
}

/// Most transactions of a block shown in one block view; the rest are paged with
/// `?tx_offset=` (each one costs a receipt read).
pub const MAX_BLOCK_VIEW_TXS: usize = 1_000;

/// The page of a block's transactions a block view shows.
#[derive(Deserialize, Default)]
struct TxPage {
    tx_offset: Option<u32>,
    tx_limit: Option<usize>,
}

impl TxPage {
    fn bounds(&self) -> Result<(usize, usize), ApiError> {
        let limit = match self.tx_limit {
            None => MAX_BLOCK_VIEW_TXS,
            Some(0) => {
                return Err(ApiError::bad_request("bad_query", "tx_limit must be at least 1"));
            }
            Some(n) if n > MAX_BLOCK_VIEW_TXS => {
                return Err(ApiError::bad_request(
                    "bad_query",
                    format!("tx_limit {n} exceeds {MAX_BLOCK_VIEW_TXS}"),
                ));
            }
            Some(n) => n,
        };
        Ok((self.tx_offset.unwrap_or(0) as usize, limit))
    }
}

fn block_view(snap: &Snapshot, block: Block, page: &TxPage) -> Result<BlockView, ApiError> {
    let (offset, limit) = page.bounds()?;
    let total = block.txs.len();
    let end = offset.saturating_add(limit).min(total);
    let next_tx = (end < total).then(|| u32::try_from(end).unwrap_or(u32::MAX));
    let txs = block
        .txs
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|stx| {
            let hash = stx.hash();
            Ok(TxView {
                hash,
                receipt: snap.receipt(&hash)?,
                tx: stx.tx,
                signature: stx.signature,
                state: "committed".into(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(BlockView {
        hash: block.header.hash(),
        header: block.header,
        certificate: block.certificate,
        txs,
        next_tx,
    })
}

/// Runs store reads off the async workers: a read that decodes a block or scans an index
/// takes a blocking thread, so that it neither stalls other requests nor escapes the
/// request timeout (a timed-out request stops waiting for it).
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::from(anyhow::anyhow!("read task failed: {e}")))?
}

fn tx_page(query: Result<Query<TxPage>, QueryRejection>) -> Result<TxPage, ApiError> {
    let Query(page) = query?;
    page.bounds()?;
    Ok(page)
}

async fn latest_block(
    State(s): State<Arc<Shared>>,
    query: Result<Query<TxPage>, QueryRejection>,
) -> ApiResult<BlockView> {
    let page = tx_page(query)?;
    blocking(move || {
        let snap = s.snapshot()?;
        let height = snap.height()?.unwrap_or(0);
        let block = snap
            .block(height)?
            .ok_or_else(|| ApiError::not_found("no block has been committed yet"))?;
        Ok(Json(block_view(&snap, block, &page)?))
    })
    .await
}

async fn block_by_height(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<TxPage>, QueryRejection>,
) -> ApiResult<BlockView> {
    let height = height_path(path)?;
    let page = tx_page(query)?;
    blocking(move || {
        let snap = s.snapshot()?;
        let block = snap
            .block(height)?
            .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
        Ok(Json(block_view(&snap, block, &page)?))
    })
    .await
}

async fn raw_block(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<RawBlockView> {
    let height = height_path(path)?;
    blocking(move || {
        let snap = s.snapshot()?;
        let bytes = snap
            .block_bytes(height)?
            .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
        Ok(Json(RawBlockView { height, block: hex::encode(bytes) }))
    })
    .await
}

async fn block_by_hash(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<TxPage>, QueryRejection>,
) -> ApiResult<BlockView> {
    let Path(hash) = path?;
    let hash = parse_hash(&hash)?;
    let page = tx_page(query)?;
    blocking(move || {
        let snap = s.snapshot()?;
        let height = snap
            .height_of(&hash)?
            .ok_or_else(|| ApiError::not_found(format!("no block {hash}")))?;
        let block =
            snap.block(height)?.ok_or_else(|| ApiError::not_found(format!("no block {hash}")))?;
        Ok(Json(block_view(&snap, block, &page)?))
    })
    .await
}

/// A transaction hash the node does not know: on a pruned node the message says that it
/// may be in a pruned block.
pub(crate) fn not_found_tx(snap: &cairn_store::Snapshot, hash: &Hash) -> ApiError {
    match snap.blocks_kept_from() {
        Ok(kept_from) if kept_from > 1 => ApiError::not_found(format!(
            "no transaction {hash} in blocks from {kept_from} on (this node prunes older \
             blocks; an archive node has them)"
        )),
        _ => ApiError::not_found(format!("no transaction {hash}")),
    }
}

async fn tx_by_hash(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<TxView> {
    let Path(hash) = path?;
    let hash = parse_hash(&hash)?;
    if let Some(stx) = s.mempool().get(&hash) {
        return Ok(Json(TxView {
            hash,
            tx: stx.tx.clone(),
            signature: stx.signature,
            state: "pending".into(),
            receipt: None,
        }));
    }
    blocking(move || {
        let snap = s.snapshot()?;
        let (height, index) = snap.tx_location(&hash)?.ok_or_else(|| not_found_tx(&snap, &hash))?;
        let block = snap
            .block(height)?
            .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
        let stx = block
            .txs
            .into_iter()
            .nth(index as usize)
            .ok_or_else(|| anyhow::anyhow!("tx index points past block {height}"))?;
        Ok(Json(TxView {
            hash,
            receipt: snap.receipt(&hash)?,
            tx: stx.tx,
            signature: stx.signature,
            state: "committed".into(),
        }))
    })
    .await
}

async fn receipt(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<cairn_types::Receipt> {
    let Path(hash) = path?;
    let hash = parse_hash(&hash)?;
    let snap = s.snapshot()?;
    let r = snap
        .receipt(&hash)?
        .ok_or_else(|| ApiError::not_found(format!("no receipt for {hash}")))?;
    Ok(Json(r))
}

#[derive(Deserialize)]
struct AccountQuery {
    #[serde(default)]
    prove: Option<String>,
}

async fn account(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<AccountQuery>, QueryRejection>,
) -> ApiResult<AccountView> {
    let Path(addr) = path?;
    let Query(q) = query?;
    let address: Address = addr.parse().map_err(|e: cairn_types::AddressError| {
        ApiError::bad_request("bad_address", e.to_string())
    })?;
    let prove = match q.prove.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") | Some("") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("prove={other:?}: expected true or false"),
            ));
        }
    };
    let snap = s.snapshot()?;
    let height = snap.height()?.unwrap_or(0);
    let acct = accounts::get_account(&snap, &address)?;
    let proof = if prove {
        let key = state_key::account(&address);
        let (value, proof) = tree::prove(&snap, &key, height)?;
        Some(StateProofView {
            height,
            state_root: tree::root_at(&snap, height)?,
            key: hex::encode(&key),
            value: value.map(hex::encode),
            proof: hex::encode(proof),
        })
    } else {
        None
    };
    let next_nonce = s.mempool().next_nonce(&address, acct.nonce);
    Ok(Json(AccountView {
        address,
        balance: acct.balance,
        nonce: acct.nonce,
        next_nonce,
        height,
        proof,
    }))
}

/// The parameters in force, read once per request.
pub(crate) fn current_params(s: &Shared) -> Result<Params, ApiError> {
    Ok(App::params(&s.snapshot()?).map_err(anyhow::Error::from)?)
}

async fn metrics(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    ([("content-type", crate::metrics::CONTENT_TYPE)], s.metrics.encode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, Bytes};
    use axum::http::Request;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    /// Routes of each kind behind the node's own layers: a raw-bytes body (whose 413 axum
    /// answers in plain text) and a handler slower than the timeout.
    fn layered(limit: usize, timeout: Duration) -> Router {
        let inner = Router::new()
            .route("/raw", post(|b: Bytes| async move { b.len().to_string() }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .layer(timeout_layer(timeout));
        outer_layers(inner, limit)
    }

    async fn call(router: Router, req: Request<Body>) -> (StatusCode, String, String) {
        let resp = router.oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, ct, String::from_utf8_lossy(&body).into_owned())
    }

    fn error_code(ct: &str, body: &str) -> String {
        assert!(ct.starts_with("application/json"), "not JSON ({ct}): {body}");
        let e: ErrorBody = serde_json::from_str(body).unwrap();
        assert!(!e.message.is_empty());
        e.code
    }

    #[tokio::test]
    async fn a_raw_body_over_the_limit_is_answered_413_in_json() {
        let req = Request::post("/raw").body(Body::from(vec![7u8; 2048])).unwrap();
        let (status, ct, body) = call(layered(1024, Duration::from_secs(5)), req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(error_code(&ct, &body), "body_too_large");
        // Under the limit, the answer is the handler's own.
        let req = Request::post("/raw").body(Body::from(vec![7u8; 100])).unwrap();
        let (status, _, body) = call(layered(1024, Duration::from_secs(5)), req).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "100"));
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_is_answered_408_in_json() {
        let req = Request::get("/slow").body(Body::empty()).unwrap();
        let (status, ct, body) = call(layered(1024, Duration::from_millis(50)), req).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(error_code(&ct, &body), "timeout");
    }

    #[tokio::test]
    async fn a_plain_text_rejection_becomes_json_and_a_json_error_is_left_alone() {
        // A GET to a POST route: axum's own 405.
        let req = Request::get("/raw").body(Body::empty()).unwrap();
        let (status, ct, body) = call(layered(1024, Duration::from_secs(5)), req).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(error_code(&ct, &body), "method_not_allowed");
        let resp = ApiError::bad_request("bad_height", "no").into_response();
        let out = json_errors(resp).await;
        let ct = out.headers()[axum::http::header::CONTENT_TYPE].to_str().unwrap().to_string();
        let body = axum::body::to_bytes(out.into_body(), 1 << 20).await.unwrap();
        assert_eq!(error_code(&ct, &String::from_utf8_lossy(&body)), "bad_height");
    }

    #[test]
    fn a_block_view_page_is_bounded() {
        assert_eq!(TxPage::default().bounds().unwrap(), (0, MAX_BLOCK_VIEW_TXS));
        let over = TxPage { tx_offset: None, tx_limit: Some(MAX_BLOCK_VIEW_TXS + 1) };
        assert_eq!(over.bounds().unwrap_err().code, "bad_query");
        let zero = TxPage { tx_offset: None, tx_limit: Some(0) };
        assert_eq!(zero.bounds().unwrap_err().code, "bad_query");
        let page = TxPage { tx_offset: Some(5), tx_limit: Some(10) };
        assert_eq!(page.bounds().unwrap(), (5, 10));
    }
}
