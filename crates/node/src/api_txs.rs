//! Transaction submission routes: `POST /v1/txs`, `POST /v1/txs/batch` and, between
//! validators, `POST /v1/txs/relay`. Hex (or, for the relay, borsh) is decoded and
//! size-checked, signatures are verified in parallel batches, then each transaction goes
//! through mempool admission on its own.

use crate::Shared;
use crate::api::{ApiError, ApiResult, current_params};
use crate::mempool::MempoolError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use cairn_app::check::{self, SizedTx};
use cairn_types::api::*;
use cairn_types::{Hash, Params, SignedTx, codec};
use rayon::prelude::*;
use std::sync::Arc;

fn too_large(bytes: usize, max_bytes: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "tx_too_large",
        format!("transaction of {bytes} bytes exceeds the limit of {max_bytes}"),
    )
}

/// Decodes hex wire bytes into a transaction.
fn decode_tx(hex_tx: &str, max_bytes: usize) -> Result<SizedTx, ApiError> {
    if hex_tx.len() > max_bytes.saturating_mul(2) {
        return Err(too_large(hex_tx.len() / 2, max_bytes));
    }
    let bytes = hex::decode(hex_tx)
        .map_err(|e| ApiError::bad_request("malformed_tx", format!("tx is not hex: {e}")))?;
    decode_bytes(&bytes, max_bytes)
}

/// Decodes a transaction's canonical bytes.
fn decode_bytes(bytes: &[u8], max_bytes: usize) -> Result<SizedTx, ApiError> {
    if bytes.len() > max_bytes {
        return Err(too_large(bytes.len(), max_bytes));
    }
    let stx = SignedTx::from_bytes(bytes, max_bytes).map_err(|e| {
        let message = e.to_string();
        ApiError::bad_request(cairn_types::tx::StatelessError::from(e).code(), message)
    })?;
    Ok(SizedTx::from_parts(stx, bytes))
}

fn batch_too_large(count: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
        format!("{count} transactions exceed the batch limit of {MAX_BATCH}"),
    )
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

pub async fn submit_tx(
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

/// Most transactions accepted in one batch request.
pub const MAX_BATCH: usize = 10_000;

/// Submits many transactions at once; their signatures are verified as batches in
/// parallel. Each transaction succeeds or fails on its own.
pub async fn submit_batch(
    State(s): State<Arc<Shared>>,
    body: Result<Json<SubmitBatchRequest>, JsonRejection>,
) -> ApiResult<Vec<SubmitBatchItem>> {
    let Json(req) = body?;
    if req.txs.len() > MAX_BATCH {
        return Err(batch_too_large(req.txs.len()));
    }
    let params = current_params(&s)?;
    let max = params.max_tx_bytes as usize;
    let s2 = s.clone();
    let results = tokio::task::spawn_blocking(move || -> Result<Vec<SubmitBatchItem>, ApiError> {
        let decoded: Vec<Result<SizedTx, ApiError>> =
            req.txs.par_iter().map(|t| decode_tx(t, max)).collect();
        Ok(admit_decoded(&s2, &params, decoded, true)?
            .into_iter()
            .map(|r| match r {
                Ok(hash) => SubmitBatchItem { hash: Some(hash), error: None },
                Err(e) => SubmitBatchItem {
                    hash: None,
                    error: Some(ErrorBody { code: e.code.to_string(), message: e.message }),
                },
            })
            .collect())
    })
    .await
    .map_err(|e| anyhow::anyhow!("admission task failed: {e}"))??;
    Ok(Json(results))
}

/// Admits what decoded, in order; one result per input.
fn admit_decoded(
    s: &Shared,
    params: &Params,
    decoded: Vec<Result<SizedTx, ApiError>>,
    forward: bool,
) -> Result<Vec<Result<Hash, ApiError>>, ApiError> {
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
                s.metrics.rejected(e.code);
                results[i] = Some(Err(e));
            }
        }
    }
    for (i, r) in positions.into_iter().zip(admit_all(s, params, good, forward)?) {
        results[i] = Some(r);
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("missing admission result").into())))
        .collect())
}

/// `POST /v1/txs/relay`: transactions another validator admitted and forwards, as the borsh
/// encoding of a `Vec<Vec<u8>>` of canonical transaction bytes (no hex, no JSON). They are
/// checked and admitted like any others (signatures included: the sender is not trusted),
/// but not forwarded again. The answer counts the outcomes.
pub async fn relay_batch(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<RelayResponse> {
    let params = current_params(&s)?;
    let max = params.max_tx_bytes as usize;
    let limit = MAX_BATCH.saturating_mul(max.saturating_add(4)).saturating_add(4);
    let txs: Vec<Vec<u8>> = codec::decode(&body, limit, "relayed transactions")
        .map_err(|e| ApiError::bad_request("malformed_batch", e.to_string()))?;
    if txs.len() > MAX_BATCH {
        return Err(batch_too_large(txs.len()));
    }
    let s2 = s.clone();
    let results = tokio::task::spawn_blocking(move || {
        let decoded: Vec<Result<SizedTx, ApiError>> =
            txs.par_iter().map(|t| decode_bytes(t, max)).collect();
        admit_decoded(&s2, &params, decoded, false)
    })
    .await
    .map_err(|e| anyhow::anyhow!("admission task failed: {e}"))??;
    let mut out = RelayResponse::default();
    for r in &results {
        match r {
            Ok(_) => out.admitted += 1,
            Err(e) if e.code == "already_known" => out.already_known += 1,
            Err(_) => out.refused += 1,
        }
    }
    Ok(Json(out))
}
