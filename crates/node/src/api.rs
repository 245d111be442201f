//! The HTTP API under `/v1`, plus `/metrics`: the router, errors, and chain, block and
//! account reads (devices, rewards, staking and transaction submission have their own
//! modules).
//!
//! Every error is JSON `{code, message}` with a stable code; bad input is a 4xx, never a
//! panic. Request bodies are capped by `NodeConfig::max_request_bytes`.

use crate::{Shared, api_devices, api_rewards, api_staking, api_txs};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_app::{App, accounts, state_key};
use cairn_state::tree;
use cairn_store::Snapshot;
use cairn_types::api::*;
use cairn_types::{Address, Block, Hash, Params};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

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
        anyhow::Error::from(e).into()
    }
}

impl From<cairn_state::StateError> for ApiError {
    fn from(e: cairn_state::StateError) -> Self {
        anyhow::Error::from(e).into()
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

pub fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.config.max_request_bytes;
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/status", get(status))
        .route("/v1/genesis", get(genesis))
        .route("/v1/params", get(params))
        .route("/v1/entropy/{height}", get(entropy))
        .route("/v1/channels/{id}", get(channel))
        .route("/v1/jobs/{id}", get(job))
        .route("/v1/deals/{id}", get(deal))
        .route("/v1/blocks/latest", get(latest_block))
        .route("/v1/blocks/hash/{hash}", get(block_by_hash))
        .route("/v1/blocks/{height}", get(block_by_height))
        .route("/v1/blocks/{height}/raw", get(raw_block))
        .route("/v1/txs", post(api_txs::submit_tx))
        .route("/v1/txs/batch", post(api_txs::submit_batch))
        .route("/v1/txs/relay", post(api_txs::relay_batch))
        .route("/v1/txs/{hash}", get(tx_by_hash))
        .route("/v1/receipts/{hash}", get(receipt))
        .route("/v1/accounts/{addr}", get(account))
        .route("/v1/validators", get(api_staking::list))
        .route("/v1/validators/{addr}", get(api_staking::one))
        .route("/v1/devices", get(api_devices::list))
        .route("/v1/devices/{id}", get(api_devices::device))
        .route("/v1/devices/{id}/reports", get(api_devices::reports))
        .route("/v1/devices/{id}/rejections", get(api_devices::rejections))
        .route("/v1/devices/{id}/sensor", get(api_devices::sensor))
        .route("/v1/devices/{id}/coverage", get(api_devices::coverage))
        .route("/v1/supply", get(api_rewards::supply))
        .route("/v1/credits/{addr}", get(api_rewards::credits))
        .route("/v1/oracles", get(api_rewards::oracles))
        .route("/v1/epochs/{epoch}/rewards", get(api_rewards::epoch))
        .route("/v1/devices/{id}/rewards", get(api_rewards::device))
        .route("/v1/rewards/{owner}/claimable", get(api_rewards::claimable))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        // Added after the timeout, so outside it: a block of a large fleet's reports can take
        // longer to make than a request may, and a timed-out request would still make it.
        .route("/v1/dev/blocks", post(produce_block))
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower::limit::ConcurrencyLimitLayer::new(512))
        .with_state(shared)
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

/// The chain entropy of a recent block (see `cairn_app::ENTROPY_WINDOW`).
async fn entropy(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<EntropyView> {
    let Path(height) = path?;
    let height: u64 = height.parse().map_err(|_| {
        ApiError::bad_request("bad_height", format!("height {height:?} is not a number"))
    })?;
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
    let c = cairn_app::channels::get_channel(&snap, &id)?
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
    let d = cairn_app::deals::get_deal(&snap, &id)?
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
    let j = cairn_app::jobs::get_job(&snap, &id)?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    Ok(Json(j))
}

fn parse_hash(text: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(text).map_err(|e| ApiError::bad_request("bad_hash", e.to_string()))
}

fn block_view(snap: &Snapshot, block: Block) -> Result<BlockView, ApiError> {
    let txs = block
        .txs
        .into_iter()
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
    })
}

async fn latest_block(State(s): State<Arc<Shared>>) -> ApiResult<BlockView> {
    let snap = s.snapshot()?;
    let height = snap.height()?.unwrap_or(0);
    let block = snap
        .block(height)?
        .ok_or_else(|| ApiError::not_found("no block has been committed yet"))?;
    Ok(Json(block_view(&snap, block)?))
}

async fn block_by_height(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<BlockView> {
    let Path(height) = path?;
    let height: u64 = height.parse().map_err(|_| {
        ApiError::bad_request("bad_height", format!("height {height:?} is not a number"))
    })?;
    let snap = s.snapshot()?;
    let block = snap
        .block(height)?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    Ok(Json(block_view(&snap, block)?))
}

async fn raw_block(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<RawBlockView> {
    let Path(height) = path?;
    let height: u64 = height.parse().map_err(|_| {
        ApiError::bad_request("bad_height", format!("height {height:?} is not a number"))
    })?;
    let snap = s.snapshot()?;
    let bytes = snap
        .block_bytes(height)?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    Ok(Json(RawBlockView { height, block: hex::encode(bytes) }))
}

async fn block_by_hash(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<BlockView> {
    let Path(hash) = path?;
    let hash = parse_hash(&hash)?;
    let snap = s.snapshot()?;
    let height =
        snap.height_of(&hash)?.ok_or_else(|| ApiError::not_found(format!("no block {hash}")))?;
    let block =
        snap.block(height)?.ok_or_else(|| ApiError::not_found(format!("no block {hash}")))?;
    Ok(Json(block_view(&snap, block)?))
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
    let snap = s.snapshot()?;
    let (height, index) = snap
        .tx_location(&hash)?
        .ok_or_else(|| ApiError::not_found(format!("no transaction {hash}")))?;
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
    ([("content-type", "text/plain; version=0.0.4; charset=utf-8")], s.metrics.encode())
}
