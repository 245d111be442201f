//! Staking routes: validator candidates, their pools and the set of the next block.

use crate::Shared;
use crate::api::{ApiError, ApiResult};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use cairn_app::{App, staking};
use cairn_state::StateRead;
use cairn_types::Address;
use cairn_types::api::{ValidatorView, ValidatorsView};
use cairn_types::consensus::ValidatorSet;
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
