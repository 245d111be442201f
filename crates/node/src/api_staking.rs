//! Staking routes: validator candidates, their pools and the set of the next block; the set
//! that certifies a block, with its state proof.

use crate::Shared;
use crate::api::{ApiError, ApiResult, blocking};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use cairn_app::{App, staking, state_key};
use cairn_state::{StateRead, tree};
use cairn_types::api::{BlockValidatorsView, StateProofView, ValidatorView, ValidatorsView};
use cairn_types::consensus::ValidatorSet;
use cairn_types::{Address, codec};
use std::sync::Arc;

fn view(
    state: &impl StateRead,
    set: &ValidatorSet,
    address: Address,
) -> Result<Option<ValidatorView>, ApiError> {
    let Some(pool) = staking::get_validator(state, &address)? else { return Ok(None) };
    let self_bond = staking::stake_of(state, &address, &address)?;
    let unbonding = staking::unbonding(state, &address)?.iter().map(|e| e.amount).sum();
    Ok(Some(ValidatorView {
        address,
        power: set.get(&address).map_or(0, |v| v.power),
        tokens: pool.tokens,
        self_bond,
        unbonding,
        tombstoned: pool.tombstoned,
        slashed: pool.slashed,
    }))
}

/// `GET /v1/validators`
pub async fn list(State(s): State<Arc<Shared>>) -> ApiResult<ValidatorsView> {
    let snap = s.snapshot()?;
    let height = snap.height()?.unwrap_or(0) + 1;
    let set = App::validator_set(&snap, height).map_err(anyhow::Error::from)?;
    let mut validators = Vec::new();
    for address in staking::candidates(&snap)? {
        validators.extend(view(&snap, &set, address)?);
    }
    Ok(Json(ValidatorsView { height, total_power: set.total_power(), validators }))
}

/// `GET /v1/validators/{address}`
pub async fn one(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<ValidatorView> {
    let Path(addr) = path?;
    let address: Address = addr.parse().map_err(|e: cairn_types::AddressError| {
        ApiError::bad_request("bad_address", e.to_string())
    })?;
    let snap = s.snapshot()?;
    let height = snap.height()?.unwrap_or(0) + 1;
    let set = App::validator_set(&snap, height).map_err(anyhow::Error::from)?;
    view(&snap, &set, address)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no validator {address}")))
}

/// `GET /v1/blocks/{height}/validators`: the set that certifies block `height` (stored
/// under `stake/set/<epoch of height - 1>`), proven at height `height - 1`, so that a client
/// checks it against the state root of the header that block `height` names as its parent.
pub async fn block_set(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<BlockValidatorsView> {
    let height = crate::api::height_path(path)?;
    blocking(move || {
        let snap = s.snapshot()?;
        let head = snap.height()?.unwrap_or(0);
        let at = height.checked_sub(1).filter(|at| *at <= head).ok_or_else(|| {
            ApiError::not_found(format!(
                "no set for block {height}: sets certify blocks 1 to {} (the next)",
                head.saturating_add(1)
            ))
        })?;
        // The set's epoch is the one block `at` carries; genesis (version 0) is epoch 0.
        let epoch = if at == 0 {
            0
        } else {
            snap.block(at)?
                .ok_or_else(|| ApiError::not_found(format!("no block at height {at}")))?
                .header
                .epoch
        };
        let key = state_key::validator_set(epoch);
        let (value, proof) = tree::prove(&snap, &key, at)?;
        let set: ValidatorSet = match &value {
            Some(bytes) => codec::decode(bytes, bytes.len(), "validator set")
                .map_err(|e| anyhow::anyhow!("stored validator set of epoch {epoch}: {e}"))?,
            None => ValidatorSet::default(),
        };
        Ok(Json(BlockValidatorsView {
            height,
            epoch,
            total_power: set.total_power(),
            validators: set.validators().to_vec(),
            proof: StateProofView {
                height: at,
                state_root: tree::root_at(&snap, at)?,
                key: hex::encode(&key),
                value: value.map(hex::encode),
                proof: hex::encode(proof),
            },
        }))
    })
    .await
}
