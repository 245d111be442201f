//! The expiry of device records no rule reads any more (compact state layout, ADR 0036).
//!
//! Under [`StateLayout::Compact`] the state keeps a device's per-epoch records and a
//! hotspot's beacon records only while some rule can still read them:
//!
//! - **Epoch records** — `devep/<id>/<e>` (activity), `devrej/<id>/<e>` (rejections) and
//!   the epoch's rosters (`roster/active/<e>`, `roster/rejected/<e>`) — are read by the
//!   reward run of epoch e (at the first block of e + 1) and by the uptime gate of work done
//!   in e and paid later: a usage channel settled up to `usage.dispute_window_blocks`
//!   after its settlement, a compute job up to its commit and reveal windows after a
//!   reveal. They go at the end of the first block of epoch e + [`epochs_kept`].
//! - **Beacon records** — `beacon/<id>/<h>` — are read by witnesses of that beacon, which
//!   are refused once older than `coverage.witness_lag_blocks`. Each accepted beacon is
//!   queued under the height its window ends (`beaconq/<h + lag>`, the lag when it was
//!   accepted) and its record goes at the end of that block.
//!
//! Claims, appeals and fraud holds read none of these (the reward summary, claim marks and
//! holds stay), and neither does the audit, which replays blocks. Under
//! [`StateLayout::Legacy`] nothing expires.

use crate::component::{BlockEnv, BlockOutput, Component};
use crate::{roster, state_key};
use cairn_state::{Overlay, StateError, StateRead as _};
use cairn_types::genesis::StateLayout;
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
    if params.state_layout != StateLayout::Compact || beaconers.is_empty() {
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

/// Deletes the epoch records and rosters of every epoch whose windows have all passed at
/// the first block of `epoch`, from the first one still kept.
fn expire_epochs(o: &mut Overlay<'_>, params: &Params, epoch: u64) -> Result<(), StateError> {
    let Some(last) = epoch.checked_sub(epochs_kept(params)) else { return Ok(()) };
    let mut next: u64 = o.get_decoded(&state_key::epochs_expired())?.unwrap_or(0);
    if next > last {
        return Ok(());
    }
    while next <= last {
        expire_epoch(o, next)?;
        next = next.saturating_add(1);
    }
    o.put_encoded(state_key::epochs_expired(), &next);
    Ok(())
}

/// Deletes one epoch's device records and rosters.
pub(crate) fn expire_epoch(o: &mut Overlay<'_>, epoch: u64) -> Result<(), StateError> {
    for id in roster::read(o, epoch)? {
        o.delete(state_key::epoch_activity(&id, epoch));
        delete_if_present(o, state_key::rejections(&id, epoch))?;
    }
    for id in roster::read_of(o, roster::REJECTED, epoch)? {
        delete_if_present(o, state_key::rejections(&id, epoch))?;
    }
    roster::delete(o, roster::ACTIVE, epoch)?;
    roster::delete(o, roster::REJECTED, epoch)
}

fn delete_if_present(o: &mut Overlay<'_>, key: Vec<u8>) -> Result<(), StateError> {
    if o.get(&key)?.is_some() {
        o.delete(key);
    }
    Ok(())
}

/// The end-of-block step of the compact layout: beacons whose witness window ends now, and
/// at an epoch's first block the epochs whose windows have passed.
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
        if env.params.state_layout != StateLayout::Compact {
            return Ok(());
        }
        expire_beacons(o, env.height)?;
        if env.params.starts_epoch(env.height) {
            expire_epochs(o, env.params, env.params.epoch_of(env.height))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "expiry_tests.rs"]
mod tests;
