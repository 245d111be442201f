//! Reward routes of the HTTP API: an epoch's report, a device's line in it, what an owner
//! can claim (with Merkle paths), and the supply.

use crate::Shared;
use crate::api::{ApiError, ApiResult};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use cairn_app::{accounts, rewards, state_key};
use cairn_state::StateRead;
use cairn_types::api::{ClaimableView, DeviceRewardView, EpochRewardsView, SupplyView};
use cairn_types::rewards::RewardClaim;
use cairn_types::tx::MAX_CLAIMS_PER_TX;
use cairn_types::{Address, Hash, merkle};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest page of report entries.
pub const MAX_ENTRIES: usize = 1_000;

#[derive(Deserialize)]
pub struct EntriesQuery {
    after: Option<u32>,
    limit: Option<usize>,
}

fn no_rewards(epoch: u64) -> ApiError {
    ApiError::not_found(format!(
        "epoch {epoch} has not been rewarded (it is rewarded when the next epoch starts)"
    ))
}

/// `GET /v1/epochs/{e}/rewards?after=&limit=`
pub async fn epoch(
    State(s): State<Arc<Shared>>,
    path: Result<Path<u64>, PathRejection>,
    query: Result<Query<EntriesQuery>, QueryRejection>,
) -> ApiResult<EpochRewardsView> {
    let Path(epoch) = path?;
    let Query(q) = query?;
    let snap = s.snapshot()?;
    let summary = rewards::get_epoch_rewards(&snap, epoch)?.ok_or_else(|| no_rewards(epoch))?;
    let limit = q.limit.unwrap_or(MAX_ENTRIES).clamp(1, MAX_ENTRIES);
    let rows = snap.reward_entries(epoch, q.after, limit + 1)?;
    let next = (rows.len() > limit).then(|| rows[limit - 1].0);
    let entries = rows.into_iter().take(limit).map(|(_, e)| e).collect();
    Ok(Json(EpochRewardsView { summary, entries, next }))
}

#[derive(Deserialize)]
pub struct EpochQuery {
    epoch: u64,
}

/// `GET /v1/devices/{id}/rewards?epoch=`
pub async fn device(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<EpochQuery>, QueryRejection>,
) -> ApiResult<DeviceRewardView> {
    let Path(id) = path?;
    let Query(q) = query?;
    let id = Hash::from_hex(&id)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_device_id", e.to_string()))?;
    let snap = s.snapshot()?;
    rewards::get_epoch_rewards(&snap, q.epoch)?.ok_or_else(|| no_rewards(q.epoch))?;
    let entry = snap.device_reward(&id, q.epoch)?;
    let hold = rewards::fraud::get_hold(&snap, &id, q.epoch)?;
    Ok(Json(DeviceRewardView { device: id, epoch: q.epoch, entry, hold }))
}

/// `GET /v1/rewards/{owner}/claimable`: unclaimed leaves with their paths, oldest first, at
/// most one claim transaction's worth (`more` says whether others wait).
pub async fn claimable(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<ClaimableView> {
    let Path(owner) = path?;
    let owner: Address = owner
        .parse()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_address", format!("{e}")))?;
    let snap = s.snapshot()?;
    let mut claims = Vec::new();
    let mut total = 0;
    let mut more = false;
    let mut leaves_of: BTreeMap<u64, Vec<Hash>> = BTreeMap::new();
    for (epoch, index, entry) in snap.owner_rewards(&owner)? {
        if snap.get(&state_key::claimed(epoch, index))?.is_some() {
            continue;
        }
        if claims.len() >= MAX_CLAIMS_PER_TX {
            more = true;
            break;
        }
        let leaves = match leaves_of.entry(epoch) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => v.insert(snap.reward_leaves(epoch)?),
        };
        let path = merkle::prove(leaves, index)
            .ok_or_else(|| anyhow::anyhow!("reward index of epoch {epoch} is inconsistent"))?;
        total += entry.amount;
        claims.push(RewardClaim { epoch, index, leaf: entry.leaf(), path });
    }
    Ok(Json(ClaimableView { owner, total, claims, more }))
}

/// `GET /v1/supply`
pub async fn supply(State(s): State<Arc<Shared>>) -> ApiResult<SupplyView> {
    let snap = s.snapshot()?;
    let sp = accounts::get_supply(&snap)?;
    let treasury = accounts::get_account(&snap, &cairn_types::rewards::treasury_address())?;
    Ok(Json(SupplyView {
        genesis: sp.genesis,
        emitted: sp.emitted,
        burned: sp.burned,
        bonded: sp.bonded,
        escrowed: sp.escrowed,
        unclaimed: sp.unclaimed,
        held: sp.held,
        reminted: sp.reminted,
        remint_pending: sp.remint_pending,
        total: sp.total(),
        treasury: treasury.balance,
    }))
}

/// `GET /v1/credits/{addr}`
pub async fn credits(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<cairn_types::api::CreditsView> {
    let Path(addr) = path?;
    let address: Address = addr
        .parse()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_address", format!("{e}")))?;
    let snap = s.snapshot()?;
    let credits = cairn_app::credits::balance(&snap, &address)?;
    Ok(Json(cairn_types::api::CreditsView { address, credits }))
}

/// `GET /v1/oracles`
pub async fn oracles(State(s): State<Arc<Shared>>) -> ApiResult<cairn_types::api::OraclesView> {
    let snap = s.snapshot()?;
    let params = cairn_app::App::params(&snap).map_err(anyhow::Error::from)?;
    let next = snap.height()?.unwrap_or(0) + 1;
    Ok(Json(cairn_types::api::OraclesView {
        oracles: cairn_app::credits::get_oracles(&snap)?.into_iter().collect(),
        nano_usd_per_crn: cairn_app::credits::price(&snap, &params, next)?,
        max_age_blocks: params.credits.price_max_age_blocks,
        credits: cairn_app::credits::get_credit_supply(&snap)?,
    }))
}
