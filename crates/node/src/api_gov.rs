//! Governance routes: proposals with their tally so far, and positions.

use crate::Shared;
use crate::api::{ApiError, ApiResult};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use cairn_app::governance::{self, tally};
use cairn_state::StateRead;
use cairn_types::Address;
use cairn_types::gov::{PositionView, Proposal, ProposalList, ProposalView, voting_power};
use std::sync::Arc;

/// Most proposals `GET /v1/gov/proposals` lists (the newest).
pub const LIST_MAX: u64 = 100;

fn view(state: &impl StateRead, p: Proposal) -> Result<ProposalView, ApiError> {
    let params = governance::current_params(state, &cairn_types::Params::default())?;
    let eligible = p.eligible();
    let verdict_now = tally::verdict(&p.tally, eligible, &params).code().to_string();
    Ok(ProposalView { proposal: p, eligible, verdict_now })
}

/// `GET /v1/gov/proposals`
pub async fn list(State(s): State<Arc<Shared>>) -> ApiResult<ProposalList> {
    let snap = s.snapshot()?;
    let last = governance::gov_state(&snap)?.last_id;
    let mut proposals = Vec::new();
    for id in (last.saturating_sub(LIST_MAX - 1).max(1)..=last).rev() {
        if let Some(p) = governance::get_proposal(&snap, id)? {
            proposals.push(view(&snap, p)?);
        }
    }
    Ok(Json(ProposalList { proposals }))
}

/// `GET /v1/gov/proposals/{id}`
pub async fn one(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<ProposalView> {
    let Path(id) = path?;
    let id: u64 = id.parse().map_err(|_| {
        ApiError::bad_request("bad_proposal_id", format!("{id:?} is not a proposal id"))
    })?;
    let snap = s.snapshot()?;
    let p = governance::get_proposal(&snap, id)?
        .ok_or_else(|| ApiError::not_found(format!("no proposal {id}")))?;
    Ok(Json(view(&snap, p)?))
}

/// `GET /v1/gov/positions/{addr}`
pub async fn position(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<PositionView> {
    let Path(addr) = path?;
    let owner: Address = addr.parse().map_err(|e: cairn_types::AddressError| {
        ApiError::bad_request("bad_address", e.to_string())
    })?;
    let snap = s.snapshot()?;
    let params = governance::current_params(&snap, &cairn_types::Params::default())?;
    let epoch = params.epoch_of(snap.height()?.unwrap_or(0) + 1);
    let position = governance::position(&snap, &owner)?;
    let power = position.map_or(0, |p| voting_power(&p, epoch, &params.gov));
    Ok(Json(PositionView { owner, position, power, epoch }))
}
