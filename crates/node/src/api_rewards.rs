//! Reward routes of the HTTP API: an epoch's report, a device's line in it, what an owner
//! can claim (with Merkle paths), the proof of an epoch's reward root against a state root,
//! and the supply.

use crate::Shared;
use crate::api::{ApiError, ApiResult, blocking};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use cairn_app::{accounts, rewards, state_key};
use cairn_state::StateRead;
use cairn_state::tree;
use cairn_store::Snapshot;
use cairn_types::api::{
    ClaimableView, DeviceRewardView, EpochRewardsView, RewardRootProofView, SupplyView,
};
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

/// 404 for an epoch without rewards in `snap`: pending (fixed at its boundary and settled
/// by a later block, docs/adr/0034-deferred-reward-run.md, possibly over several blocks,
/// docs/adr/0041-reward-settle-spread.md), or not closed yet. An epoch being settled has
/// some of its entries indexed already; none is served, and none is claimable, until the
/// block that writes its summary.
fn no_rewards(snap: &Snapshot, epoch: u64) -> ApiError {
    match rewards::deferred::pending(snap) {
        Ok(Some(run)) if run.epoch == epoch => match rewards::deferred::settled_entries(snap) {
            Ok(Some(done)) => ApiError::not_found(format!(
                "the rewards of epoch {epoch} are being settled: {done} entries settled \
                     since block {}; the epoch is served and claimable once all are",
                run.due
            )),
            _ => ApiError::not_found(format!(
                "the rewards of epoch {epoch} are pending: computed from the state at \
                     height {} and settled from block {}",
                run.snapshot(),
                run.due
            )),
        },
        _ => ApiError::not_found(format!(
            "epoch {epoch} has not been rewarded (it is rewarded when the next epoch starts, \
             or as many blocks later as reward_settle_delay_blocks says)"
        )),
    }
}

/// `GET /v1/epochs/{e}/rewards?after=&limit=`
pub async fn epoch(
    State(s): State<Arc<Shared>>,
    path: Result<Path<u64>, PathRejection>,
    query: Result<Query<EntriesQuery>, QueryRejection>,
) -> ApiResult<EpochRewardsView> {
    let Path(epoch) = path?;
    let Query(q) = query?;
    blocking(move || {
        let snap = s.snapshot()?;
        snap.check_epoch(epoch)?;
        let summary =
            rewards::get_epoch_rewards(&snap, epoch)?.ok_or_else(|| no_rewards(&snap, epoch))?;
        let limit = q.limit.unwrap_or(MAX_ENTRIES).clamp(1, MAX_ENTRIES);
        let rows = snap.reward_entries(epoch, q.after, limit + 1)?;
        let next = (rows.len() > limit).then(|| rows[limit - 1].0);
        let entries = rows.into_iter().take(limit).map(|(_, e)| e).collect();
        Ok(Json(EpochRewardsView { summary, entries, next }))
    })
    .await
}

/// `GET /v1/epochs/{e}/rewards/proof`: the epoch's reward summary (root and leaf count) as
/// stored under `rewards/<epoch>`, with its state-tree proof against the state root of the
/// latest block (`proof.height`; height 0 is the genesis state).
pub async fn root_proof(
    State(s): State<Arc<Shared>>,
    path: Result<Path<u64>, PathRejection>,
) -> ApiResult<RewardRootProofView> {
    let Path(epoch) = path?;
    blocking(move || {
        let snap = s.snapshot()?;
        let height = snap.height()?.unwrap_or(0);
        let (value, proof) = tree::prove(&snap, &state_key::epoch_rewards(epoch), height)?;
        let root = tree::root_at(&snap, height)?;
        let view = rewards::root_proof::view(epoch, height, root, value, proof)
            .map_err(|e| anyhow::anyhow!("stored rewards of epoch {epoch}: {e}"))?
            .ok_or_else(|| no_rewards(&snap, epoch))?;
        Ok(Json(view))
    })
    .await
}

#[derive(Deserialize)]
pub struct EpochQuery {
    epoch: u64,
}

/// `GET /v1/devices/{id}/rewards?epoch=`: the device's line, and, when it is paid through
/// the root, its leaf's Merkle path (so a client checks it against the epoch's root).
pub async fn device(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<EpochQuery>, QueryRejection>,
) -> ApiResult<DeviceRewardView> {
    let Path(id) = path?;
    let Query(q) = query?;
    let id = Hash::from_hex(&id)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_device_id", e.to_string()))?;
    blocking(move || device_reward(&s, id, q.epoch).map(Json)).await
}

fn device_reward(s: &Shared, id: Hash, epoch: u64) -> Result<DeviceRewardView, ApiError> {
    let snap = s.snapshot()?;
    let summary =
        rewards::get_epoch_rewards(&snap, epoch)?.ok_or_else(|| no_rewards(&snap, epoch))?;
    let found = snap.device_reward_leaf(&id, epoch)?;
    let claim = match &found {
        Some((entry, Some(index))) => {
            let tree = s.reward_trees.get_or_build(epoch, || Ok(snap.reward_leaves(epoch)?))?;
            let path = tree.prove(*index).ok_or_else(|| {
                anyhow::anyhow!("reward index {index} of epoch {epoch} is outside its tree")
            })?;
            Some(RewardClaim { epoch, index: *index, leaf: entry.leaf(), path })
        }
        _ => None,
    };
    let hold = rewards::escrow::get_hold(&snap, &id, epoch)?;
    Ok(DeviceRewardView {
        device: id,
        epoch,
        entry: found.map(|(e, _)| e),
        hold,
        root: Some((summary.root, summary.leaves)),
        claim,
    })
}

/// Reward trees kept for claim paths, by epoch, least recently used dropped first.
pub const TREE_CACHE_EPOCHS: usize = 8;
/// Most hashes the cached trees hold together (32 bytes each: 128 MiB). A tree larger than
/// this on its own is built for its request and not kept.
pub const TREE_CACHE_NODES: usize = 4 << 20;

/// The Merkle trees of recently claimed-from epochs. An epoch's leaves are written once,
/// when it is rewarded, and never change, so a tree built for one request serves the next;
/// without it each claim path hashed the whole epoch again.
pub struct TreeCache {
    /// Most recently used last.
    trees: std::sync::Mutex<Vec<(u64, Arc<merkle::Tree>)>>,
    max_epochs: usize,
    max_nodes: usize,
}

impl Default for TreeCache {
    fn default() -> Self {
        TreeCache::with_bounds(TREE_CACHE_EPOCHS, TREE_CACHE_NODES)
    }
}

impl TreeCache {
    /// A cache of at most `max_epochs` trees holding at most `max_nodes` hashes together.
    pub fn with_bounds(max_epochs: usize, max_nodes: usize) -> TreeCache {
        TreeCache { trees: Default::default(), max_epochs, max_nodes }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<merkle::Tree>)>> {
        self.trees.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tree of `epoch`, built from `leaves` if it is not cached.
    pub fn get_or_build(
        &self,
        epoch: u64,
        leaves: impl FnOnce() -> Result<Vec<Hash>, ApiError>,
    ) -> Result<Arc<merkle::Tree>, ApiError> {
        {
            let mut trees = self.lock();
            if let Some(at) = trees.iter().position(|(e, _)| *e == epoch) {
                let hit = trees.remove(at);
                let tree = hit.1.clone();
                trees.push(hit);
                return Ok(tree);
            }
        }
        // Built without the lock: other epochs' claims need not wait.
        let tree = Arc::new(merkle::Tree::new(&leaves()?));
        if tree.nodes() <= self.max_nodes {
            let mut trees = self.lock();
            trees.retain(|(e, _)| *e != epoch);
            trees.push((epoch, tree.clone()));
            while trees.len() > self.max_epochs
                || trees.iter().map(|(_, t)| t.nodes()).sum::<usize>() > self.max_nodes
            {
                trees.remove(0);
            }
        }
        Ok(tree)
    }

    /// The epochs cached, least recently used first.
    pub fn epochs(&self) -> Vec<u64> {
        self.lock().iter().map(|(e, _)| *e).collect()
    }
}

/// `GET /v1/rewards/{owner}/claimable`: unclaimed leaves of settled epochs with their paths,
/// oldest first, at most one claim transaction's worth (`more` says whether others wait). Read on a blocking
/// thread; each epoch's tree is built once and cached ([`TreeCache`]).
pub async fn claimable(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<ClaimableView> {
    let Path(owner) = path?;
    let owner: Address = owner
        .parse()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_address", format!("{e}")))?;
    blocking(move || claimable_of(&s, owner).map(Json)).await
}

fn claimable_of(s: &Shared, owner: Address) -> Result<ClaimableView, ApiError> {
    let snap = s.snapshot()?;
    let mut claims = Vec::new();
    let mut total = 0;
    let mut more = false;
    let mut trees: BTreeMap<u64, Arc<merkle::Tree>> = BTreeMap::new();
    // An epoch whose settlement is spread over blocks has part of its leaves indexed before
    // its summary is in state (ADR 0041): it is claimable, and listed, from that block on.
    let mut settled: BTreeMap<u64, bool> = BTreeMap::new();
    for (epoch, index, entry) in snap.owner_rewards(&owner)? {
        let is_settled = match settled.get(&epoch) {
            Some(known) => *known,
            None => {
                let known = rewards::get_epoch_rewards(&snap, epoch)?.is_some();
                settled.insert(epoch, known);
                known
            }
        };
        if !is_settled || snap.get(&state_key::claimed(epoch, index))?.is_some() {
            continue;
        }
        if claims.len() >= MAX_CLAIMS_PER_TX {
            more = true;
            break;
        }
        let tree = match trees.entry(epoch) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(s.reward_trees.get_or_build(epoch, || Ok(snap.reward_leaves(epoch)?))?)
            }
        };
        let path = tree
            .prove(index)
            .ok_or_else(|| anyhow::anyhow!("reward index of epoch {epoch} is inconsistent"))?;
        total += entry.amount;
        claims.push(RewardClaim { epoch, index, leaf: entry.leaf(), path });
    }
    Ok(ClaimableView { owner, total, claims, more })
}

/// `GET /v1/supply`
pub async fn supply(State(s): State<Arc<Shared>>) -> ApiResult<SupplyView> {
    let snap = s.snapshot()?;
    let sp = accounts::get_supply(&snap)?;
    let treasury = accounts::get_account(&snap, &cairn_types::rewards::treasury_address())?;
    let gov = cairn_app::governance::gov_state(&snap)?;
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
        gov_locked: gov.locked,
        gov_deposits: gov.deposits,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| Hash::sha256(&i.to_le_bytes())).collect()
    }

    #[test]
    fn an_epochs_tree_is_built_once_for_many_claims() {
        let cache = TreeCache::default();
        let builds = AtomicUsize::new(0);
        let items = leaves(1_000);
        for index in 0..256u64 {
            let tree = cache
                .get_or_build(7, || {
                    builds.fetch_add(1, Ordering::SeqCst);
                    Ok(items.clone())
                })
                .unwrap();
            assert_eq!(tree.prove(index), merkle::prove(&items, index));
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_cache_keeps_the_most_recently_used_epochs_within_its_bounds() {
        // Trees of 4 leaves hold 7 hashes.
        let cache = TreeCache::with_bounds(3, 30);
        for epoch in 0..5 {
            cache.get_or_build(epoch, || Ok(leaves(4))).unwrap();
        }
        assert_eq!(cache.epochs(), vec![2, 3, 4]);
        // Using epoch 2 again makes it the most recent; the next insert drops epoch 3.
        cache.get_or_build(2, || panic!("epoch 2 is cached")).unwrap();
        cache.get_or_build(9, || Ok(leaves(4))).unwrap();
        assert_eq!(cache.epochs(), vec![4, 2, 9]);
        // A tree of 9 leaves (20 hashes) pushes out older ones to stay within 30 hashes.
        cache.get_or_build(10, || Ok(leaves(9))).unwrap();
        assert_eq!(cache.epochs(), vec![9, 10]);
        // A tree over the whole budget is served but not kept.
        let big = cache.get_or_build(11, || Ok(leaves(20))).unwrap();
        assert!(big.nodes() > 30);
        assert_eq!(cache.epochs(), vec![9, 10]);
        assert_eq!(TreeCache::default().max_nodes, TREE_CACHE_NODES);
    }
}
