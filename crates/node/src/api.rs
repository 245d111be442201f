//! The HTTP API under `/v1`, plus `/metrics`.
//!
//! Every error is JSON `{code, message}` with a stable code; bad input is a 4xx, never a
//! panic. Request bodies are capped by `NodeConfig::max_request_bytes`.

use crate::mempool::MempoolError;
use crate::{Shared, api_devices, api_rewards, api_staking};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_app::check::{self, SizedTx};
use cairn_app::{App, accounts, state_key};
use cairn_state::tree;
use cairn_store::Snapshot;
use cairn_types::api::*;
use cairn_types::{Address, Block, Hash, Params, SignedTx};
use rayon::prelude::*;
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
        .route("/v1/txs", post(submit_tx))
        .route("/v1/txs/batch", post(submit_batch))
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
        .route("/v1/dev/blocks", post(produce_block))
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
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
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

/// Decodes hex wire bytes into a transaction.
fn decode_tx(hex_tx: &str, max_bytes: usize) -> Result<SizedTx, ApiError> {
    if hex_tx.len() > max_bytes.saturating_mul(2) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "tx_too_large",
            format!("transaction of {} bytes exceeds the limit of {max_bytes}", hex_tx.len() / 2),
        ));
    }
    let bytes = hex::decode(hex_tx)
        .map_err(|e| ApiError::bad_request("malformed_tx", format!("tx is not hex: {e}")))?;
    let stx = SignedTx::from_bytes(&bytes, max_bytes).map_err(|e| {
        let message = e.to_string();
        ApiError::bad_request(cairn_types::tx::StatelessError::from(e).code(), message)
    })?;
    Ok(SizedTx::from_parts(stx, &bytes))
}

fn admission_error(e: MempoolError) -> ApiError {
    let status = match &e {
        MempoolError::AlreadyKnown(_) | MempoolError::ReplacementUnderpriced { .. } => {
            StatusCode::CONFLICT
        }
        MempoolError::Full { .. } | MempoolError::SenderLimit { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        MempoolError::Refused(cairn_app::StatefulError::State(_)) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        MempoolError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.code(), e.to_string())
}

/// Runs stateless checks (batched signatures) then admission on each transaction.
///
/// The mempool is locked before the state snapshot is taken, so the snapshot is never older
/// than the mempool's view: a block committed in between would otherwise have its
/// transactions pruned from the pool while the snapshot still shows the old nonces.
fn admit_all(
    s: &Shared,
    params: &Params,
    mut txs: Vec<SizedTx>,
    forward: bool,
) -> Result<Vec<Result<Hash, ApiError>>, ApiError> {
    let verdicts = check::check_stateless_batch(s.app.chain_id(), params, &mut txs);
    let forward = forward && !s.relay.is_empty();
    let mut admitted = Vec::new();
    let mut pool = s.mempool();
    let snap = s.snapshot()?;
    let next_height = snap.height()?.unwrap_or(0) + 1;
    let out = txs
        .into_iter()
        .zip(verdicts)
        .map(|(tx, verdict)| {
            let copy = forward.then(|| tx.tx.clone());
            let res = match verdict {
                Err(e) => Err(ApiError::bad_request(e.code(), e.to_string())),
                Ok(()) => pool.admit(tx, &snap, params, next_height).map_err(admission_error),
            };
            match &res {
                Ok(_) => {
                    s.metrics.api.txs_accepted.inc();
                    admitted.extend(copy);
                }
                Err(e) => s.metrics.rejected(e.code),
            }
            res
        })
        .collect();
    s.metrics.mempool.size.set(pool.len() as i64);
    s.metrics.mempool.bytes.set(pool.bytes() as i64);
    drop(pool);
    let dropped = s.relay.forward(&admitted);
    if dropped > 0 {
        tracing::warn!(dropped, "relay queues are full; some transactions were not forwarded");
    }
    Ok(out)
}

async fn submit_tx(
    State(s): State<Arc<Shared>>,
    body: Result<Json<SubmitTxRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<SubmitTxResponse>), ApiError> {
    let Json(req) = body?;
    let params = current_params(&s)?;
    let tx = match decode_tx(&req.tx, params.max_tx_bytes as usize) {
        Ok(tx) => tx,
        Err(e) => {
            s.metrics.rejected(e.code);
            return Err(e);
        }
    };
    let s2 = s.clone();
    let mut results = tokio::task::spawn_blocking(move || admit_all(&s2, &params, vec![tx], true))
        .await
        .map_err(|e| anyhow::anyhow!("admission task failed: {e}"))??;
    let hash = results.pop().ok_or_else(|| anyhow::anyhow!("no admission result"))??;
    Ok((StatusCode::ACCEPTED, Json(SubmitTxResponse { hash })))
}

/// The parameters in force, read once per request.
fn current_params(s: &Shared) -> Result<Params, ApiError> {
    Ok(App::params(&s.snapshot()?).map_err(anyhow::Error::from)?)
}

/// Most transactions accepted in one batch request.
pub const MAX_BATCH: usize = 10_000;

/// Submits many transactions at once; their signatures are verified as batches in
/// parallel. Each transaction succeeds or fails on its own.
async fn submit_batch(
    State(s): State<Arc<Shared>>,
    body: Result<Json<SubmitBatchRequest>, JsonRejection>,
) -> ApiResult<Vec<SubmitBatchItem>> {
    let Json(req) = body?;
    if req.txs.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("{} transactions exceed the batch limit of {MAX_BATCH}", req.txs.len()),
        ));
    }
    let params = current_params(&s)?;
    let max = params.max_tx_bytes as usize;
    let relayed = req.relayed;
    let s2 = s.clone();
    let results = tokio::task::spawn_blocking(move || -> Result<Vec<SubmitBatchItem>, ApiError> {
        let decoded: Vec<Result<SizedTx, ApiError>> =
            req.txs.par_iter().map(|t| decode_tx(t, max)).collect();
        let mut results: Vec<Option<Result<Hash, ApiError>>> =
            (0..decoded.len()).map(|_| None).collect();
        let (mut good, mut positions) = (Vec::new(), Vec::new());
        for (i, d) in decoded.into_iter().enumerate() {
            match d {
                Ok(tx) => {
                    positions.push(i);
                    good.push(tx);
                }
                Err(e) => {
                    s2.metrics.rejected(e.code);
                    results[i] = Some(Err(e));
                }
            }
        }
        for (i, r) in positions.into_iter().zip(admit_all(&s2, &params, good, !relayed)?) {
            results[i] = Some(r);
        }
        Ok(results
            .into_iter()
            .map(|r| {
                match r.unwrap_or_else(|| Err(anyhow::anyhow!("missing admission result").into())) {
                    Ok(hash) => SubmitBatchItem { hash: Some(hash), error: None },
                    Err(e) => SubmitBatchItem {
                        hash: None,
                        error: Some(ErrorBody { code: e.code.to_string(), message: e.message }),
                    },
                }
            })
            .collect())
    })
    .await
    .map_err(|e| anyhow::anyhow!("admission task failed: {e}"))??;
    Ok(Json(results))
}

async fn metrics(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    ([("content-type", "text/plain; version=0.0.4; charset=utf-8")], s.metrics.encode())
}
