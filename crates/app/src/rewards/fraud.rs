//! Fraud detectors for what no single report check can prove, run with the reward run at
//! the epoch boundary, and the escrow of flagged rewards (held, appealed, released or
//! burned; released by itself when the window ends).
//!
//! - Witness rings: a connected component of the epoch's witness graph with `ring_min` to
//!   `ring_max` hotspots whose witness edges fill at least `ring_density_percent` of the
//!   ordered member pairs — hotspots that heard only each other, and nearly all of each
//!   other.
//! - Implausible movement: a location asserted during the epoch more than `max_move_cells`
//!   cells (at `move_resolution`) from the one before, within `move_window_blocks` of it.
//! - Copied sensors: sensors with the same readings count and value digest in an epoch;
//!   every one but the earliest registered is flagged.
//! - Co-located hotspots: `colocated_min` or more hotspots active in the epoch (any judged
//!   report) located in one resolution-12 cell — a farm claiming one spot's coverage many
//!   times, in turns or at once; all are flagged.

use crate::accounts::{self, get_supply};
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{Evidence, FraudHold, FraudParams, HoldStatus};
use cairn_types::{Address, Hash, Height, Params, TxFailure};
use std::collections::BTreeMap;

/// What the detectors look at, gathered from state.
#[derive(Debug, Clone, Default)]
pub struct FraudInputs {
    /// Each hotspot that witnessed in the epoch, with the beaconers it witnessed.
    pub witnessed: Vec<(DeviceId, Vec<DeviceId>)>,
    /// Locations asserted in the epoch: (device, previous cell, new cell, blocks between).
    pub moves: Vec<(DeviceId, u64, u64, u64)>,
    /// Sensors: (device, registered height, readings, digest).
    pub sensors: Vec<(DeviceId, Height, u32, Hash)>,
    /// Hotspots active in the epoch, located: (device, asserted cell).
    pub cells: Vec<(DeviceId, u64)>,
}

/// Flags per device, in device order.
pub type Flags = BTreeMap<DeviceId, Vec<Evidence>>;

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Runs the detectors.
pub fn detect(p: &FraudParams, inputs: &FraudInputs) -> Flags {
    let mut flags: Flags = BTreeMap::new();
    // Witness rings: components of the undirected witness graph.
    let mut index: BTreeMap<DeviceId, usize> = BTreeMap::new();
    for (w, bs) in &inputs.witnessed {
        for d in std::iter::once(w).chain(bs) {
            let n = index.len();
            index.entry(*d).or_insert(n);
        }
    }
    let mut parent: Vec<usize> = (0..index.len()).collect();
    // Every id was just indexed; `get` keeps a logic slip from ever panicking in consensus.
    for (w, bs) in &inputs.witnessed {
        let Some(&wi) = index.get(w) else { continue };
        for b in bs {
            let Some(&bi) = index.get(b) else { continue };
            let (rx, ry) = (find(&mut parent, wi), find(&mut parent, bi));
            if rx != ry {
                parent[rx.max(ry)] = rx.min(ry);
            }
        }
    }
    let mut members: BTreeMap<usize, Vec<DeviceId>> = BTreeMap::new();
    for (d, i) in &index {
        let root = find(&mut parent, *i);
        members.entry(root).or_default().push(*d);
    }
    let mut component_edges: BTreeMap<usize, u64> = BTreeMap::new();
    for (w, bs) in &inputs.witnessed {
        let Some(&wi) = index.get(w) else { continue };
        let root = find(&mut parent, wi);
        *component_edges.entry(root).or_insert(0) += bs.iter().filter(|b| *b != w).count() as u64;
    }
    for (root, ms) in &members {
        let m = ms.len() as u64;
        if m < u64::from(p.ring_min) || m > u64::from(p.ring_max) || m < 2 {
            continue;
        }
        let e = component_edges.get(root).copied().unwrap_or(0);
        // e / (m (m − 1)) ≥ percent / 100, in integers.
        if e * 100 >= u64::from(p.ring_density_percent) * m * (m - 1) {
            for d in ms {
                flags.entry(*d).or_default().push(Evidence::WitnessRing {
                    members: m as u32,
                    edges: e.min(u64::from(u32::MAX)) as u32,
                });
            }
        }
    }
    // Implausible movement.
    for (d, from, to, blocks) in &inputs.moves {
        if *blocks > p.move_window_blocks {
            continue;
        }
        let cells = move_cells(*from, *to, p.move_resolution).unwrap_or(u64::MAX);
        if cells > p.max_move_cells {
            flags.entry(*d).or_default().push(Evidence::ImplausibleMove {
                from: *from,
                to: *to,
                cells,
                resolution: p.move_resolution,
                blocks: *blocks,
            });
        }
    }
    // Copied sensor streams.
    let mut streams: BTreeMap<(u32, Hash), Vec<(Height, DeviceId)>> = BTreeMap::new();
    for (d, registered, readings, digest) in &inputs.sensors {
        if *readings >= p.copy_min_readings.max(1) {
            streams.entry((*readings, *digest)).or_default().push((*registered, *d));
        }
    }
    for ((readings, _), mut group) in streams {
        if group.len() < 2 {
            continue;
        }
        group.sort_unstable();
        let original = group[0].1;
        for (_, d) in &group[1..] {
            flags.entry(*d).or_default().push(Evidence::CopiedSensor { of: original, readings });
        }
    }
    colocated(p, inputs, &mut flags);
    flags
}

/// Flags every hotspot of a cell where `colocated_min` or more were active.
fn colocated(p: &FraudParams, inputs: &FraudInputs, flags: &mut Flags) {
    if p.colocated_min == 0 {
        return;
    }
    let mut by_cell: BTreeMap<u64, Vec<DeviceId>> = BTreeMap::new();
    for (d, cell) in &inputs.cells {
        by_cell.entry(*cell).or_default().push(*d);
    }
    for (cell, hotspots) in by_cell {
        let n = u32::try_from(hotspots.len()).unwrap_or(u32::MAX);
        if n >= p.colocated_min {
            for d in hotspots {
                flags.entry(d).or_default().push(Evidence::Colocated { cell, hotspots: n });
            }
        }
    }
}

/// Grid distance between the parents of two resolution-12 cells at `resolution`; None if
/// not measurable (invalid cells, or too far apart for a grid path).
pub fn move_cells(from: u64, to: u64, resolution: u8) -> Option<u64> {
    let res = h3o::Resolution::try_from(resolution).ok()?;
    let a = h3o::CellIndex::try_from(from).ok()?.parent(res)?;
    let b = h3o::CellIndex::try_from(to).ok()?.parent(res)?;
    a.grid_distance(b).ok().and_then(|d| u64::try_from(d).ok())
}

/// Holds a flagged device's amount in escrow until `release_epoch`.
pub fn hold(o: &mut Overlay<'_>, h: &FraudHold) -> Result<(), StateError> {
    o.put_encoded(state_key::fraud_hold(&h.device, h.epoch), h);
    let qkey = state_key::fraud_due(h.release_epoch);
    let mut due: Vec<(DeviceId, u64)> = o.get_decoded(&qkey)?.unwrap_or_default();
    due.push((h.device, h.epoch));
    o.put_encoded(qkey, &due);
    Ok(())
}

pub fn get_hold(
    state: &impl StateRead,
    device: &DeviceId,
    epoch: u64,
) -> Result<Option<FraudHold>, StateError> {
    state.get_decoded(&state_key::fraud_hold(device, epoch))
}

/// Pays or burns a held amount.
fn settle(
    o: &mut Overlay<'_>,
    mut h: FraudHold,
    release: bool,
    height: Height,
) -> Result<(), StateError> {
    let mut s = get_supply(o)?;
    s.held = s.held.saturating_sub(h.amount);
    if release {
        o.put_encoded(state_key::supply(), &s);
        accounts::credit(o, &h.owner, h.amount)?;
        h.status = HoldStatus::Released { height };
    } else {
        s.burned = s.burned.saturating_add(h.amount);
        o.put_encoded(state_key::supply(), &s);
        h.status = HoldStatus::Burned { height };
    }
    o.put_encoded(state_key::fraud_hold(&h.device, h.epoch), &h);
    Ok(())
}

/// At the start of `epoch`: releases every hold whose window ends now and is still held.
pub fn release_due(o: &mut Overlay<'_>, epoch: u64, height: Height) -> Result<(), StateError> {
    let qkey = state_key::fraud_due(epoch);
    let Some(due) = o.get_decoded::<Vec<(DeviceId, u64)>>(&qkey)? else { return Ok(()) };
    for (device, e) in due {
        if let Some(h) = get_hold(o, &device, e)?
            && h.status == HoldStatus::Held
        {
            settle(o, h, true, height)?;
        }
    }
    o.delete(qkey);
    Ok(())
}

use crate::TxResult;

/// The owner of a held reward appeals (recorded for the decision).
pub fn appeal(o: &mut Overlay<'_>, signer: &Address, device: &DeviceId, epoch: u64) -> TxResult {
    let Some(mut h) = get_hold(o, device, epoch)? else {
        return Ok(Err(TxFailure::NoHold { device: *device, epoch }));
    };
    if h.owner != *signer {
        return Ok(Err(TxFailure::NotOwner { device: *device, owner: h.owner, signer: *signer }));
    }
    if h.status != HoldStatus::Held {
        return Ok(Err(TxFailure::HoldSettled { device: *device, epoch }));
    }
    h.appealed = true;
    o.put_encoded(state_key::fraud_hold(device, epoch), &h);
    Ok(Ok(()))
}

/// The admin key releases a held reward to its owner or burns it.
pub fn resolve(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    device: &DeviceId,
    epoch: u64,
    release: bool,
    height: Height,
) -> TxResult {
    if params.admin != Some(*signer) {
        return Ok(Err(TxFailure::NotAdmin { signer: *signer }));
    }
    let Some(h) = get_hold(o, device, epoch)? else {
        return Ok(Err(TxFailure::NoHold { device: *device, epoch }));
    };
    if h.status != HoldStatus::Held {
        return Ok(Err(TxFailure::HoldSettled { device: *device, epoch }));
    }
    settle(o, h, release, height)?;
    Ok(Ok(()))
}

#[cfg(test)]
#[path = "fraud_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "fraud_farm_tests.rs"]
mod farm_tests;
