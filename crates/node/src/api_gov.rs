//! Governance routes: proposals with their tally so far, and positions.

use crate::Shared;
use crate::api::{ApiError, ApiResult};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use cairn_app::governance::{self, tally};
use cairn_state::StateRead;
use cairn_types::Address;
use cairn_types::gov::{
    PositionView, Proposal, ProposalList, ProposalView, VoteView, voting_power,
};
use serde::Deserialize;
use std::sync::Arc;

/// Most proposals one page of `GET /v1/gov/proposals` lists (and its default page).
pub const LIST_MAX: u64 = 100;

/// `?before=<id>&limit=N` of `GET /v1/gov/proposals`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    before: Option<u64>,
    limit: Option<u64>,
}

fn view(state: &impl StateRead, p: Proposal) -> Result<ProposalView, ApiError> {
    let params = governance::current_params(state, &cairn_types::Params::default())?;
    let eligible = p.eligible();
    let verdict_now = tally::verdict(&p.tally, eligible, &params).code().to_string();
    Ok(ProposalView { proposal: p, eligible, verdict_now })
}

/// `GET /v1/gov/proposals[?before=<id>][&limit=N]`
pub async fn list(
    State(s): State<Arc<Shared>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<ProposalList> {
    let Query(q) = query?;
    let snap = s.snapshot()?;
    Ok(Json(list_page(&snap, q)?))
}

/// The proposals with ids below `before` (all when absent), newest first, at most `limit`
/// of them, and the id to go on from when older ones remain.
fn list_page(state: &impl StateRead, q: ListQuery) -> Result<ProposalList, ApiError> {
    let limit = match q.limit {
        None => LIST_MAX,
        Some(n) if (1..=LIST_MAX).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                format!("limit {n} is not between 1 and {LIST_MAX}"),
            ));
        }
    };
    let last = governance::gov_state(state)?.last_id;
    // Ids start at 1: the page's newest is the one below `before`, or the last given.
    let top = q.before.map_or(last, |b| b.saturating_sub(1).min(last));
    let bottom = top.saturating_sub(limit - 1).max(1);
    let mut proposals = Vec::new();
    if top >= 1 {
        for id in (bottom..=top).rev() {
            if let Some(p) = governance::get_proposal(state, id)? {
                proposals.push(view(state, p)?);
            }
        }
    }
    let next = (top >= 1 && bottom > 1).then_some(bottom);
    Ok(ProposalList { proposals, next })
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
    let votes = votes_of(&snap, &owner)?;
    Ok(Json(PositionView { owner, position, power, epoch, votes }))
}

/// The owner's votes on the newest `LIST_MAX` proposals, newest first: one point read per
/// proposal, no scan.
fn votes_of(state: &impl StateRead, owner: &Address) -> Result<Vec<VoteView>, ApiError> {
    let last = governance::gov_state(state)?.last_id;
    let mut votes = Vec::new();
    for id in (last.saturating_sub(LIST_MAX - 1).max(1)..=last).rev() {
        if let Some(v) = governance::get_vote(state, id, owner)? {
            votes.push(VoteView { proposal: id, choice: v.choice, power: v.power });
        }
    }
    Ok(votes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_app::governance::GovState;
    use cairn_app::state_key;
    use cairn_state::MemStore;
    use cairn_types::gov::{ProposalAction, ProposalStatus, Tally, Vote, VoteChoice};

    /// `n` proposals with ids 1..=n, and `voter`'s vote on each id in `voted`.
    fn proposals(n: u64, voter: Address, voted: &[(u64, VoteChoice)]) -> MemStore {
        let mut store = MemStore::default();
        let gs = GovState { last_id: n, ..GovState::default() };
        store.set_latest(state_key::gov_state(), borsh::to_vec(&gs).unwrap());
        for id in 1..=n {
            let p = Proposal {
                id,
                proposer: Address([1; 32]),
                title: format!("p{id}"),
                action: ProposalAction::ParamChange { changes: Vec::new() },
                deposit: 0,
                start_height: id,
                start_epoch: 0,
                end_epoch: 1,
                max_lock_epochs: 10,
                max_multiplier: 4,
                locked_at_start: 0,
                stake: Vec::new(),
                tally: Tally::default(),
                status: ProposalStatus::Voting,
                decided_height: None,
            };
            store.set_latest(state_key::gov_proposal(id), borsh::to_vec(&p).unwrap());
        }
        for &(id, choice) in voted {
            let v = Vote { choice, power: u128::from(id) * 7, amount: 1 };
            store.set_latest(state_key::gov_vote(id, &voter), borsh::to_vec(&v).unwrap());
        }
        store
    }

    fn ids(page: &ProposalList) -> Vec<u64> {
        page.proposals.iter().map(|v| v.proposal.id).collect()
    }

    #[test]
    fn following_next_lists_every_proposal_once_newest_first() {
        let store = proposals(250, Address([2; 32]), &[]);
        // The default page is the newest 100, as before, now with a cursor.
        let first = list_page(&store, ListQuery::default()).unwrap();
        assert_eq!(ids(&first), (151..=250).rev().collect::<Vec<_>>());
        assert_eq!(first.next, Some(151));
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = list_page(&store, ListQuery { before, limit: Some(40) }).unwrap();
            assert!(page.proposals.len() <= 40);
            seen.extend(ids(&page));
            match page.next {
                Some(n) => before = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, (1..=250).rev().collect::<Vec<_>>());
        // A cursor past the end starts at the newest; below the first id is empty.
        let past = list_page(&store, ListQuery { before: Some(1000), limit: Some(3) }).unwrap();
        assert_eq!((ids(&past), past.next), (vec![250, 249, 248], Some(248)));
        let none = list_page(&store, ListQuery { before: Some(1), limit: None }).unwrap();
        assert_eq!((ids(&none), none.next), (vec![], None));
        let empty = list_page(&MemStore::default(), ListQuery::default()).unwrap();
        assert_eq!((ids(&empty), empty.next), (vec![], None));
    }

    #[test]
    fn a_page_limit_outside_one_to_a_hundred_is_a_bad_query() {
        let store = proposals(3, Address([2; 32]), &[]);
        for limit in [0, LIST_MAX + 1, u64::MAX] {
            let e = list_page(&store, ListQuery { before: None, limit: Some(limit) }).unwrap_err();
            assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "bad_query"), "{limit}");
        }
        let max = list_page(&store, ListQuery { before: None, limit: Some(LIST_MAX) }).unwrap();
        assert_eq!(ids(&max), vec![3, 2, 1]);
    }

    #[test]
    fn an_account_sees_its_votes_on_the_newest_proposals_only() {
        let voter = Address([2; 32]);
        let store = proposals(
            120,
            voter,
            &[(3, VoteChoice::Yes), (30, VoteChoice::Veto), (120, VoteChoice::No)],
        );
        let votes = votes_of(&store, &voter).unwrap();
        // Proposal 3 is older than the newest 100 (21..=120): not read.
        assert_eq!(
            votes,
            vec![
                VoteView { proposal: 120, choice: VoteChoice::No, power: 840 },
                VoteView { proposal: 30, choice: VoteChoice::Veto, power: 210 },
            ]
        );
        assert_eq!(votes_of(&store, &Address([9; 32])).unwrap(), vec![]);
    }
}
