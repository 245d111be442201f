//! The deferred reward run (docs/adr/0034-deferred-reward-run.md): with
//! `Params::reward_settle_delay_blocks` d > 0, the first block b of epoch e + 1 does not run
//! the reward run of epoch e. It fixes it ([`fix`]): a [`PendingRun`] in state names the
//! epoch, the boundary and the block b + d that settles it. The run reads only the
//! *snapshot*, the state committed at version b − 1, exactly as the inline run at b would
//! have read it ([`compute`]: the block-start steps before the run, the release of the holds
//! due, gather, score, detect, pay). Every node computes it from that version while the
//! chain goes on (the node starts it in the background once b − 1 commits); block b + d
//! applies the result ([`settle_due`]) through [`Past::reward_run`], which hands over a run
//! computed ahead or computes it then and there, so nothing depends on a node's timing.
//!
//! What the run reads is fixed at b − 1; what it writes is applied at b + d, to the state as
//! it is then: holds of earlier epochs that are due at epoch e + 1 are released (those
//! resolved or decided meanwhile are left alone, as they would be at any boundary), the
//! treasury and validators are credited, the flagged amounts held, the supply and the
//! epoch's summary written. The parameters are those of the snapshot, the ones epoch e ran
//! with, even when a proposal changed them at b. With d = 0 (the legacy value) the boundary
//! block runs it inline, as before.
//!
//! With `Params::reward_settle_entries_per_block` P > 0 (in the run's parameters) the
//! settlement itself is spread (docs/adr/0041-reward-settle-spread.md, [`settle_step`]):
//! block b + d and the blocks after it each settle the next [`block_share`] entries of the
//! report, resuming from `meta/reward_settle_cursor`; the first also credits the pools and
//! counts the run in the supply, the last releases the holds due, judges the unproven ones
//! and writes the summary (from then on the epoch is claimable) and clears the pending run.
//! The shares are sized so that the last one comes before the next boundary.

use super::{Hearers, Payout, escrow, report_judging, settle};
use crate::state_key;
use borsh::{BorshDeserialize, BorshSerialize};
use cairn_state::{AtVersion, Overlay, StateError, StateRead, ValueAt};
use cairn_types::rewards::{PackedReport, RewardEntry, RewardIndexChunk};
use cairn_types::{DeviceId, Height, Params};
use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// A reward run fixed at a boundary and not settled yet (`meta/reward_run`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct PendingRun {
    /// The epoch it rewards.
    pub epoch: u64,
    /// The first block of the epoch after: the run reads the state before it.
    pub boundary: Height,
    /// The block that settles it: `boundary` + the delay in force at the boundary.
    pub due: Height,
}

impl PendingRun {
    /// The state version the run reads: the last block of the epoch it rewards.
    pub fn snapshot(&self) -> u64 {
        self.boundary.saturating_sub(1)
    }

    fn key(&self) -> RunKey {
        RunKey { epoch: self.epoch, snapshot: self.snapshot() }
    }
}

/// The run fixed and not yet settled, if any.
pub fn pending(state: &impl StateRead) -> Result<Option<PendingRun>, StateError> {
    state.get_decoded(&state_key::reward_run())
}

/// At the first block of an epoch, with a settle delay: fixes the run of the epoch before,
/// to be settled `reward_settle_delay_blocks` later.
pub fn fix(o: &mut Overlay<'_>, params: &Params, height: Height) -> PendingRun {
    let run = PendingRun {
        epoch: params.epoch_of(height).saturating_sub(1),
        boundary: height,
        due: height.saturating_add(params.reward_settle_delay_blocks),
    };
    o.put_encoded(state_key::reward_run(), &run);
    run
}

/// What a deferred run computed on its snapshot: the parameters it ran with (the
/// snapshot's), the report (packed: held until the last block of its settlement,
/// docs/adr/0046-packed-reward-report.md) and the hearers of the devices whose unproven
/// holds it judges.
#[derive(Debug, Clone)]
pub struct Computed {
    pub params: Params,
    pub report: Arc<PackedReport>,
    pub hearers: Hearers,
    /// The leaves among the report's first `LEAF_MARK_STRIDE × i` entries, for every i up to
    /// the report's length ([`Computed::leaves_before`]).
    leaf_marks: Vec<u64>,
}

/// Entries of a report between two of [`Computed`]'s leaf marks: a packed block's, so the
/// entries after a mark are decoded from one block.
const LEAF_MARK_STRIDE: usize = cairn_types::rewards::PACK_BLOCK;

impl Computed {
    /// The run's result as the pay stage handed it over, its report packed.
    pub fn new(params: Params, payout: Payout) -> Computed {
        let Payout { report, hearers } = payout;
        let leaf_marks = leaf_marks(&report.entries);
        Computed { params, report: Arc::new(PackedReport::pack(report)), hearers, leaf_marks }
    }

    /// How many of the report's first `position` entries are leaves (the leaf number of the
    /// entry at `position`, if it is one): the mark at or below `position` and the entries
    /// after it, at most [`LEAF_MARK_STRIDE`] − 1, so a settle share costs the same wherever
    /// it starts in the report. Past the end: every leaf.
    pub fn leaves_before(&self, position: usize) -> Result<u64, StateError> {
        let position = position.min(self.report.len());
        let mark = position / LEAF_MARK_STRIDE;
        let counted = self.leaf_marks.get(mark).copied().unwrap_or_default();
        let rest = self.report.entries(mark * LEAF_MARK_STRIDE..position).map_err(unpacked)?;
        Ok(counted + rest.iter().filter(|e| e.is_leaf()).count() as u64)
    }
}

/// A packed report that does not decode: the node's own memory, never input.
fn unpacked(e: cairn_types::codec::DecodeError) -> StateError {
    StateError::Storage(format!("a reward run's packed report: {e}"))
}

/// The leaves among the first `LEAF_MARK_STRIDE × i` of `entries`, for i from 0 while that
/// is at most their number.
fn leaf_marks(entries: &[RewardEntry]) -> Vec<u64> {
    let mut marks = Vec::with_capacity(entries.len() / LEAF_MARK_STRIDE + 1);
    let mut leaves = 0u64;
    marks.push(0);
    for stride in entries.chunks_exact(LEAF_MARK_STRIDE) {
        leaves += stride.iter().filter(|e| e.is_leaf()).count() as u64;
        marks.push(leaves);
    }
    marks
}

/// The run that block `boundary` fixes, computed on `snapshot`, the state committed at
/// `boundary - 1`: the block-start steps before the reward run, the holds due released for
/// judgement, then gather, score, detect and pay, all on that state and its parameters:
/// what the boundary block computes inline when the delay is 0.
pub fn compute(
    snapshot: &(dyn StateRead + Sync),
    boundary: Height,
) -> Result<Computed, StateError> {
    let params: Params = (&snapshot).get_decoded(&state_key::params())?.ok_or_else(|| {
        StateError::Storage(format!("no parameters in the state before block {boundary}"))
    })?;
    let validator =
        (&snapshot).get_decoded::<crate::ChainInfo>(&state_key::chain())?.map(|c| c.validator);
    let mut o = Overlay::new(snapshot);
    crate::block::before_rewards(&mut o, &params, boundary)?;
    let unproven_due = escrow::release_due(&mut o, params.epoch_of(boundary), boundary)?;
    let epoch = params.epoch_of(boundary).saturating_sub(1);
    let payout = report_judging(&o.frozen(), &params, epoch, validator, &judged(&unproven_due))?;
    Ok(Computed::new(params, payout))
}

/// The devices of the unproven holds due, ascending, once each.
pub(super) fn judged(due: &[cairn_types::rewards::FraudHold]) -> Vec<DeviceId> {
    let mut judged: Vec<DeviceId> = due.iter().map(|h| h.device).collect();
    judged.sort();
    judged.dedup();
    judged
}

/// The entries of `report` of the devices of the unproven holds `due`, in device order:
/// all [`escrow::judge_unproven`] reads of a report.
fn judged_entries(
    report: &PackedReport,
    due: &[cairn_types::rewards::FraudHold],
) -> Result<Vec<RewardEntry>, StateError> {
    let mut found = Vec::new();
    for device in judged(due) {
        found.extend(report.find(&device).map_err(unpacked)?);
    }
    Ok(found)
}

/// At block `height`, the settle block of `run`: releases the holds due at the run's
/// boundary epoch that are still held, then settles `computed` as the inline run settles
/// (with the snapshot's parameters), and clears the pending run.
pub fn settle_due(
    o: &mut Overlay<'_>,
    run: &PendingRun,
    computed: &Computed,
    height: Height,
) -> Result<(), StateError> {
    let Computed { params, report, hearers, .. } = computed;
    let unproven_due = escrow::release_due(o, params.epoch_of(run.boundary), height)?;
    let report = report.unpack().map_err(unpacked)?;
    settle::settle(o, params, height, run.epoch, &report, hearers, unproven_due)?;
    o.delete(state_key::reward_run());
    Ok(())
}

/// What one block settled of a run: the report once the run is settled whole, and the
/// entries it settled, for the node's reward index.
#[derive(Debug, Clone)]
pub struct Step {
    pub report: Option<Arc<PackedReport>>,
    pub index: RewardIndexChunk,
}

/// The fewest entries of a run's report of `entries` entries each block of its spread
/// settlement settles: the run's `reward_settle_entries_per_block`, or more if that would
/// not finish it in the blocks from its due block to the last block of the epoch it is due
/// in (`blocks_per_epoch − delay` blocks; rounding: up, so the last share comes before the
/// next boundary). At least 1.
pub fn block_share(params: &Params, run: &PendingRun, entries: u64) -> u64 {
    let delay = run.due.saturating_sub(run.boundary);
    let blocks = params.blocks_per_epoch.saturating_sub(delay).max(1);
    params.reward_settle_entries_per_block.max(entries.div_ceil(blocks)).max(1)
}

/// How many entries of the pending run's report are settled, if its spread settlement has
/// begun (`meta/reward_settle_cursor`).
pub fn settled_entries(state: &impl StateRead) -> Result<Option<u64>, StateError> {
    state.get_decoded(&state_key::reward_settle_cursor())
}

/// Block `height`'s part of the settlement of `run`, due at or before it. With the run's
/// `reward_settle_entries_per_block` at 0, the whole run ([`settle_due`]). Otherwise the
/// next [`block_share`] entries from the cursor (all that are left when `finish`), as
/// [`settle::entries`]; the first block before them releases the holds with a finding due
/// at the run's boundary epoch ([`escrow::release_found`]) and [`settle::open`]s the run;
/// the block that reaches the end takes the unproven holds of that queue still held
/// ([`escrow::release_due`]), [`settle::close`]s the run and clears the pending run and the
/// cursor. Releases and burns are recorded at the run's due block, where the settlement
/// begins. The state after the last block is the state [`settle_due`] leaves at the due
/// block, for any shares (no transaction between).
pub fn settle_step(
    o: &mut Overlay<'_>,
    run: &PendingRun,
    computed: &Computed,
    height: Height,
    finish: bool,
) -> Result<Step, StateError> {
    let Computed { params, report, hearers, .. } = computed;
    if params.reward_settle_entries_per_block == 0 {
        settle_due(o, run, computed, height)?;
        return Ok(Step {
            report: Some(report.clone()),
            index: RewardIndexChunk::whole(report.clone()),
        });
    }
    let n = report.len() as u64;
    // The height every record of the settlement carries (a hold's release or burn): its
    // first block's, as when it is settled whole.
    let at = run.due;
    let released_epoch = params.epoch_of(run.boundary);
    let cursor = settled_entries(o)?;
    let (from, to) = share_bounds(params, run, n, cursor, finish);
    if cursor.is_none() {
        escrow::release_found(o, released_epoch, at)?;
        settle::open(o, &report.summary)?;
    }
    let (lo, hi) = (from as usize, to as usize);
    settle::entries(o, params, run.epoch, &report.entries(lo..hi).map_err(unpacked)?)?;
    // The leaf number of the share's first entry, without counting the report from its
    // start every block.
    let first_leaf = computed.leaves_before(lo)?;
    let position = |p: u64| {
        u32::try_from(p).map_err(|_| {
            StateError::Storage(format!("the report of epoch {} has over 2^32 entries", run.epoch))
        })
    };
    let index = RewardIndexChunk {
        report: report.clone(),
        from: position(from)?,
        to: position(to)?,
        first_leaf,
    };
    if to < n {
        o.put_encoded(state_key::reward_settle_cursor(), &to);
        return Ok(Step { report: None, index });
    }
    let unproven_due = escrow::release_due(o, released_epoch, at)?;
    let judged = judged_entries(report, &unproven_due)?;
    settle::close(o, params, at, &report.summary, &judged, hearers, unproven_due)?;
    if cursor.is_some() {
        o.delete(state_key::reward_settle_cursor());
    }
    o.delete(state_key::reward_run());
    Ok(Step { report: Some(report.clone()), index })
}

/// The positions `from..to` of the entries of a run's `n`-entry report a block of its
/// spread settlement settles, the cursor in state being `cursor` ([`settle_step`]).
fn share_bounds(
    params: &Params,
    run: &PendingRun,
    n: u64,
    cursor: Option<u64>,
    finish: bool,
) -> (u64, u64) {
    let from = cursor.map_or(0, |done| done.min(n));
    let share = if finish { n } else { block_share(params, run, n) };
    (from, from.saturating_add(share).min(n))
}

/// How many entries of `run` (computed as `computed`, due at or before the block) the next
/// block on `state` settles ([`settle_step`] with the same `finish`): what a proposer can
/// know of a settle block before it executes it. Reads the cursor only.
pub fn next_share(
    state: &impl StateRead,
    run: &PendingRun,
    computed: &Computed,
    finish: bool,
) -> Result<u64, StateError> {
    let n = computed.report.len() as u64;
    if computed.params.reward_settle_entries_per_block == 0 {
        return Ok(n);
    }
    let (from, to) = share_bounds(&computed.params, run, n, settled_entries(state)?, finish);
    Ok(to.saturating_sub(from))
}

/// Where a block gets the result of a deferred run: computed ahead from the snapshot, or
/// computed now. Either way it is [`compute`] on the snapshot; only the time differs.
pub trait Past: Sync {
    fn reward_run(&self, run: &PendingRun) -> Result<Arc<Computed>, StateError>;
}

/// The committed state a block runs on, which keeps the snapshot's version, with the runs
/// computed ahead: a run not there (or still being computed elsewhere: then it waits) is
/// computed from the snapshot read through [`AtVersion`].
pub struct StatePast<'a, S: ?Sized> {
    pub state: &'a S,
    pub runs: &'a Runs,
}

impl<S: StateRead + ValueAt + Sync + ?Sized> Past for StatePast<'_, S> {
    fn reward_run(&self, run: &PendingRun) -> Result<Arc<Computed>, StateError> {
        self.runs.get_or_compute(run, || {
            let at = AtVersion::new(self.state, run.snapshot())?;
            compute(&at, run.boundary)
        })
    }
}

/// No past: for replays of the block-start steps that come before the reward run, which
/// never settle a run.
pub struct NoPast;

impl Past for NoPast {
    fn reward_run(&self, run: &PendingRun) -> Result<Arc<Computed>, StateError> {
        Err(StateError::Storage(format!(
            "the reward run of epoch {} is settled by a block, not by a replay",
            run.epoch
        )))
    }
}

/// A run computed ahead, by its epoch and snapshot version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RunKey {
    epoch: u64,
    snapshot: u64,
}

enum Slot {
    Running,
    Done(Arc<Computed>),
}

/// Runs fixed at a boundary and computed ahead, shared by the node's background work and
/// the blocks that settle them. A run is computed once: whoever asks first computes it
/// while later askers wait for the result. The two newest runs are kept. Nothing here is
/// consensus: a result is [`compute`] on a committed version, whoever computed it.
#[derive(Default)]
pub struct Runs {
    slots: Mutex<BTreeMap<RunKey, Slot>>,
    done: Condvar,
}

impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<RunKey> = self.lock().keys().copied().collect();
        f.debug_struct("Runs").field("runs", &keys).finish()
    }
}

/// Runs kept computed: the pending one and the one before.
const KEPT: usize = 2;

impl Runs {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<RunKey, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run `run` names: as computed already, or after the computation under way
    /// elsewhere, or computed here by `compute`. A failed computation is not kept (the next
    /// asker computes again).
    pub fn get_or_compute(
        &self,
        run: &PendingRun,
        compute: impl FnOnce() -> Result<Computed, StateError>,
    ) -> Result<Arc<Computed>, StateError> {
        let key = run.key();
        {
            let mut slots = self.lock();
            loop {
                match slots.get(&key) {
                    Some(Slot::Done(computed)) => return Ok(computed.clone()),
                    Some(Slot::Running) => {
                        slots = self.done.wait(slots).unwrap_or_else(|e| e.into_inner());
                    }
                    None => {
                        slots.insert(key, Slot::Running);
                        break;
                    }
                }
            }
        }
        self.compute_claimed(key, compute)
    }

    /// Computes `run` here unless it is computed or under way already, in which case it
    /// returns `None` at once. It never waits: a background computation on a thread pool
    /// must not block a worker on another computation of the same run, which may be
    /// suspended on that very worker's stack (a worker waiting in a parallel join runs
    /// other queued jobs, such as a second computation sent to the pool meanwhile).
    pub fn compute_unless_under_way(
        &self,
        run: &PendingRun,
        compute: impl FnOnce() -> Result<Computed, StateError>,
    ) -> Option<Result<Arc<Computed>, StateError>> {
        let key = run.key();
        {
            let mut slots = self.lock();
            if slots.contains_key(&key) {
                return None;
            }
            slots.insert(key, Slot::Running);
        }
        Some(self.compute_claimed(key, compute))
    }

    /// Computes the run of `key`, whose slot the caller has marked running, and fills it.
    fn compute_claimed(
        &self,
        key: RunKey,
        compute: impl FnOnce() -> Result<Computed, StateError>,
    ) -> Result<Arc<Computed>, StateError> {
        // Clears the slot if the computation fails or unwinds, so waiters compute again.
        let mut guard = Clear { runs: self, key, armed: true };
        let computed = Arc::new(compute()?);
        guard.armed = false;
        let mut slots = self.lock();
        slots.insert(key, Slot::Done(computed.clone()));
        while slots.len() > KEPT {
            slots.pop_first();
        }
        drop(slots);
        self.done.notify_all();
        Ok(computed)
    }

    /// Whether `run` is computed or being computed.
    pub fn has(&self, run: &PendingRun) -> bool {
        self.lock().contains_key(&run.key())
    }

    /// Drops every computed run but `run` (runs under way stay): a settled run's report
    /// went out with its block.
    pub fn keep_only(&self, run: Option<&PendingRun>) {
        let keep = run.map(PendingRun::key);
        self.lock().retain(|k, s| matches!(s, Slot::Running) || Some(*k) == keep);
    }

    /// The result of `run` if it is computed (never waits).
    pub fn done(&self, run: &PendingRun) -> Option<Arc<Computed>> {
        match self.lock().get(&run.key()) {
            Some(Slot::Done(computed)) => Some(computed.clone()),
            _ => None,
        }
    }

    /// Whether `run` is computed.
    pub fn is_done(&self, run: &PendingRun) -> bool {
        matches!(self.lock().get(&run.key()), Some(Slot::Done(_)))
    }
}

struct Clear<'a> {
    runs: &'a Runs,
    key: RunKey,
    armed: bool,
}

impl Drop for Clear<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.runs.lock().remove(&self.key);
            self.runs.done.notify_all();
        }
    }
}

#[cfg(test)]
#[path = "deferred_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "spread_tests.rs"]
mod spread_tests;
