//! The expiry of device records no rule reads any more (compact state layout, ADR 0036).
//!
//! Under `StateLayout::Compact` the state keeps a device's per-epoch records and a
//! hotspot's beacon records only while some rule can still read them:
//!
//! - **Epoch records** — `devep/<id>/<e>` (activity), `devrej/<id>/<e>` (rejections) and
//!   the epoch's rosters (`roster/active/<e>`, `roster/rejected/<e>`) — are read by the
//!   reward run of epoch e (at the first block of e + 1) and by the uptime gate of work done
//!   in e and paid later: a usage channel settled up to `usage.dispute_window_blocks`
//!   after its settlement, a compute job up to its commit and reveal windows after a
//!   reveal. They go from the end of the first block of epoch e + [`epochs_kept`] on, at
//!   most [`block_share`] a block (a share of epoch e's rosters sized so that the blocks of
//!   that epoch finish them), resuming from `meta/expiry_cursor`; unless an earlier epoch was
//!   still pending (a shorter K after a parameter change), all are gone by the end of that
//!   epoch's last block, before epoch e + 1 comes due.
//! - **Beacon records** — `beacon/<id>/<h>` — are read by witnesses of that beacon, which
//!   are refused once older than `coverage.witness_lag_blocks`. Each accepted beacon is
//!   queued under the height its window ends (`beaconq/<h + lag>`, the lag when it was
//!   accepted) and its record goes at the end of that block.
//!
//! Claims, appeals and fraud holds read none of these (the reward summary, claim marks and
//! holds stay), and neither does the audit, which replays blocks. Under
//! `StateLayout::Legacy` nothing expires. Under `StateLayout::Folded` (ADR 0037) all of
//! this runs too, but an epoch's activity is a field of the device record, not a key: a
//! record drops the activity of the epochs expired by the epoch it is written in.

use crate::component::{BlockEnv, BlockOutput, Component};
use crate::{roster, state_key};
use cairn_state::{Overlay, StateError, StateRead as _};
use cairn_types::{DeviceId, Height, Params};

/// How many epochs a device's epoch records outlive their epoch: the records of epoch e go
/// at the first block of epoch e + this. The last reader of epoch e's records is at the
/// latest at height (e + 1) · bpe − 1 + W, where W is the longest wait from work done to its
/// payment (`usage.dispute_window_blocks`, `compute.commit_window_blocks +
/// compute.reveal_window_blocks`, each at least 1, as their rules count them); that is before
/// the first block of epoch e + 1 + ⌈W / bpe⌉. At least 2, so the reward run of epoch e has
/// all of epoch e + 1 to read them. Rounding: up (a partial epoch of window keeps a whole
/// epoch).
pub fn epochs_kept(params: &Params) -> u64 {
    let bpe = params.blocks_per_epoch.max(1);
    let usage = params.usage.dispute_window_blocks.max(1);
    let compute = params
        .compute
        .commit_window_blocks
        .max(1)
        .saturating_add(params.compute.reveal_window_blocks.max(1));
    usage.max(compute).div_ceil(bpe).saturating_add(1).max(2)
}

/// Queues the beacons accepted at `height` for expiry when their witness window ends.
pub fn queue_beacons(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    beaconers: &[DeviceId],
) -> Result<(), StateError> {
    if !params.state_layout.expires() || beaconers.is_empty() {
        return Ok(());
    }
    let key = state_key::beacon_expiry(height.saturating_add(params.coverage.witness_lag_blocks));
    let mut due: Vec<(DeviceId, Height)> = o.get_decoded(&key)?.unwrap_or_default();
    due.extend(beaconers.iter().map(|id| (*id, height)));
    o.put_encoded(key, &due);
    Ok(())
}

/// Deletes the beacon records whose witness window ends at `height`, and their queue.
fn expire_beacons(o: &mut Overlay<'_>, height: Height) -> Result<(), StateError> {
    let key = state_key::beacon_expiry(height);
    let Some(due) = o.get_decoded::<Vec<(DeviceId, Height)>>(&key)? else { return Ok(()) };
    for (id, at) in due {
        delete_if_present(o, state_key::beacon(&id, at))?;
    }
    o.delete(key);
    Ok(())
}

/// The most units of expiry work a block spends: `work` units are those of the first epoch
/// not yet expired (one per entry of its active and rejected rosters, one for the rosters
/// themselves), spread over the `bpe` blocks of the epoch it comes due in. Rounding: up, so
/// those blocks finish it before the next epoch comes due. Doubled while a later epoch is
/// due as well (`behind`: a shorter [`epochs_kept`] after a parameter change), so a backlog
/// shrinks by about an epoch every epoch. At least 1.
pub fn block_share(work: u64, bpe: u64, behind: bool) -> u64 {
    let share = work.div_ceil(bpe.max(1)).max(1);
    if behind { share.saturating_mul(2) } else { share }
}

/// The lengths of an epoch's active and rejected rosters.
fn roster_lens(o: &Overlay<'_>, epoch: u64) -> Result<(u64, u64), StateError> {
    Ok((
        u64::from(roster::len_of(o, roster::ACTIVE, epoch)?),
        u64::from(roster::len_of(o, roster::REJECTED, epoch)?),
    ))
}

/// The expiry step of block `height`: from the first epoch not yet expired
/// (`meta/epochs_expired`) and the entries of it already done (`meta/expiry_cursor`), deletes
/// at most [`block_share`] units of the epochs due — those whose windows have all passed
/// (e + [`epochs_kept`] ≤ the epoch of `height`) — in epoch order and roster order (active,
/// then rejected), never an epoch not yet due. An epoch's rosters go with its last entry,
/// and the watermark moves past it then. Returns the units spent.
pub(crate) fn expire_epochs(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
) -> Result<u64, StateError> {
    let Some(last) = params.epoch_of(height).checked_sub(epochs_kept(params)) else {
        return Ok(0);
    };
    let first: u64 = o.get_decoded(&state_key::epochs_expired())?.unwrap_or(0);
    if first > last {
        return Ok(0);
    }
    let cursor: u64 = o.get_decoded(&state_key::expiry_cursor())?.unwrap_or(0);
    let (a, r) = roster_lens(o, first)?;
    let share =
        block_share(a.saturating_add(r).saturating_add(1), params.blocks_per_epoch, last > first);
    let (mut next, mut done, mut budget) = (first, cursor, share);
    while next <= last && budget > 0 {
        let (a, r) = roster_lens(o, next)?;
        let total = a.saturating_add(r);
        if done < total {
            let take = budget.min(total - done);
            expire_entries(o, params.state_layout.folded(), next, a, done, take)?;
            done = done.saturating_add(take);
            budget -= take;
        } else {
            roster::delete(o, roster::ACTIVE, next)?;
            roster::delete(o, roster::REJECTED, next)?;
            next = next.saturating_add(1);
            done = 0;
            budget -= 1;
        }
    }
    if next != first {
        o.put_encoded(state_key::epochs_expired(), &next);
    }
    if done != cursor {
        if done == 0 {
            o.delete(state_key::expiry_cursor());
        } else {
            o.put_encoded(state_key::expiry_cursor(), &done);
        }
    }
    Ok(share - budget)
}

/// Deletes the records of the `take` roster entries of `epoch` from position `from` on,
/// counting the active roster (of length `active`) first, then the rejected one. Under the
/// folded layout (`folded`) the activity records are fields of the device records, which
/// drop them when next written (ADR 0037), so only the rejection records go here.
fn expire_entries(
    o: &mut Overlay<'_>,
    folded: bool,
    epoch: u64,
    active: u64,
    from: u64,
    take: u64,
) -> Result<(), StateError> {
    let to = from.saturating_add(take);
    let pos = |p: u64| u32::try_from(p).unwrap_or(u32::MAX);
    if from < active {
        let end = to.min(active);
        for id in roster::read_range(o, roster::ACTIVE, epoch, pos(from), pos(end - from))? {
            if !folded {
                o.delete(state_key::epoch_activity(&id, epoch));
            }
            delete_if_present(o, state_key::rejections(&id, epoch))?;
        }
    }
    if to > active {
        let lo = from.max(active) - active;
        let count = to - active - lo;
        for id in roster::read_range(o, roster::REJECTED, epoch, pos(lo), pos(count))? {
            delete_if_present(o, state_key::rejections(&id, epoch))?;
        }
    }
    Ok(())
}

fn delete_if_present(o: &mut Overlay<'_>, key: Vec<u8>) -> Result<(), StateError> {
    if o.get(&key)?.is_some() {
        o.delete(key);
    }
    Ok(())
}

/// The end-of-block step of the compact layout: beacons whose witness window ends now, and
/// a bounded share of the records of the epochs whose windows have passed.
pub struct Expiry;

impl Component for Expiry {
    fn name(&self) -> &'static str {
        "expiry"
    }

    fn end_block(
        &self,
        o: &mut Overlay<'_>,
        env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        if !env.params.state_layout.expires() {
            return Ok(());
        }
        expire_beacons(o, env.height)?;
        expire_epochs(o, env.params, env.height)?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "expiry_tests.rs"]
mod tests;
