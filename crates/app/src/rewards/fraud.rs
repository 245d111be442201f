//! Fraud detectors for what no single report check can prove, run with the reward run at
//! the epoch boundary, and the escrow of flagged rewards (held, appealed, released or
//! burned; released by itself when the window ends).
//!
//! - Witness rings: a connected component of the witness graph with `ring_min` to
//!   `ring_max` hotspots of which at least `ring_density_percent` of the member pairs are
//!   linked (one heard the other, either way) — hotspots that heard only each other, and
//!   nearly all of each other. The graph holds every (witness, beaconer) pair accepted
//!   within the reciprocity window before the boundary (`coverage.reciprocity_blocks`), so
//!   a ring whose members beacon less often than once an epoch still shows all its edges.
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
    /// Each hotspot that witnessed within the reciprocity window before the boundary, with
    /// the beaconers it witnessed.
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

/// Positions in a sorted list of ids, found through an index of the first two bytes (ids
/// are hashes, so each slot holds a handful) and a binary search on the first eight bytes
/// within the slot: one or two memory reads a lookup instead of a search over the whole
/// list. Ids ground to share a prefix only lengthen the binary search.
struct SortedIds<'a> {
    ids: &'a [DeviceId],
    keys: Vec<u64>,
    /// `starts[p]`: the first position whose two-byte prefix is at least `p`.
    starts: Vec<usize>,
}

impl<'a> SortedIds<'a> {
    fn new(ids: &'a [DeviceId]) -> SortedIds<'a> {
        let keys: Vec<u64> = ids.iter().map(key).collect();
        let starts = (0..=1usize << 16).map(|p| keys.partition_point(|k| slot(*k) < p)).collect();
        SortedIds { ids, keys, starts }
    }

    fn position(&self, d: &DeviceId) -> Option<usize> {
        let k = key(d);
        let (from, to) = (*self.starts.get(slot(k))?, *self.starts.get(slot(k) + 1)?);
        let bucket = self.keys.get(from..to)?;
        let first = from + bucket.partition_point(|x| *x < k);
        let last = from + bucket.partition_point(|x| *x <= k);
        (first..last).find(|i| self.ids.get(*i) == Some(d))
    }
}

/// The first eight bytes of an id, big-endian: ordered like the id.
fn key(d: &DeviceId) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.0[..8]);
    u64::from_be_bytes(b)
}

fn slot(key: u64) -> usize {
    (key >> 48) as usize
}

/// Witness rings: components of the undirected witness graph with `ring_min` to
/// `ring_max` members of which at least `ring_density_percent` of the pairs are linked.
/// Hotspots are numbered by their place in the sorted witnesses, then in the sorted
/// beaconers that did not witness. Each witness's list becomes a row of numbers in one flat
/// array, filled on all cores; the components come from union-find over the rows.
fn witness_rings(p: &FraudParams, witnessed: &[(DeviceId, Vec<DeviceId>)], flags: &mut Flags) {
    use rayon::prelude::*;
    /// A beaconer that is the witness itself (no edge).
    const SELF: u32 = u32::MAX;
    /// A beaconer that did not witness: numbered in a second step.
    const OTHER: u32 = u32::MAX - 1;
    let mut order: Vec<&(DeviceId, Vec<DeviceId>)> = witnessed.iter().collect();
    if !order.is_sorted_by_key(|(w, _)| w) {
        order.par_sort_unstable_by_key(|(w, _)| *w);
    }
    order.dedup_by_key(|(w, _)| *w);
    let witnesses: Vec<DeviceId> = order.iter().map(|(w, _)| *w).collect();
    let n = witnesses.len();
    // Numbers must stay below the two markers.
    if n.saturating_add(order.iter().map(|(_, bs)| bs.len()).sum::<usize>()) >= OTHER as usize {
        return;
    }
    let found = SortedIds::new(&witnesses);
    // One row per witness, in one allocation.
    let mut flat = vec![SELF; order.iter().map(|(_, bs)| bs.len()).sum()];
    let mut rows: Vec<&mut [u32]> = Vec::with_capacity(n);
    let mut rest = flat.as_mut_slice();
    for (_, bs) in &order {
        let (row, tail) = rest.split_at_mut(bs.len());
        rows.push(row);
        rest = tail;
    }
    let number = |row: &mut [u32], w: &DeviceId, bs: &[DeviceId]| {
        for (slot, b) in row.iter_mut().zip(bs) {
            *slot = if b == w { SELF } else { found.position(b).map_or(OTHER, |i| i as u32) };
        }
    };
    rows.par_iter_mut().zip(order.par_iter()).for_each(|(row, (w, bs))| number(row, w, bs));
    let mut others: Vec<DeviceId> = rows
        .par_iter()
        .zip(order.par_iter())
        .flat_map_iter(|(row, (_, bs))| {
            row.iter().zip(bs).filter(|(slot, _)| **slot == OTHER).map(|(_, b)| *b)
        })
        .collect();
    others.par_sort_unstable();
    others.dedup();
    if !others.is_empty() {
        let other = SortedIds::new(&others);
        rows.par_iter_mut().zip(order.par_iter()).for_each(|(row, (_, bs))| {
            for (slot, b) in row.iter_mut().zip(bs) {
                if *slot == OTHER {
                    *slot = other.position(b).map_or(SELF, |i| (n + i) as u32);
                }
            }
        });
    }
    let ids: Vec<&DeviceId> = witnesses.iter().chain(&others).collect();
    let mut parent: Vec<usize> = (0..ids.len()).collect();
    for (wi, row) in rows.iter().enumerate() {
        for bi in row.iter().filter(|b| **b != SELF) {
            let (rx, ry) = (find(&mut parent, wi), find(&mut parent, *bi as usize));
            if rx != ry {
                parent[rx.max(ry)] = rx.min(ry);
            }
        }
    }
    let mut size = vec![0u64; ids.len()];
    for i in 0..ids.len() {
        let root = find(&mut parent, i);
        size[root] += 1;
    }
    let sized = |root: usize| {
        size[root] >= u64::from(p.ring_min).max(2) && size[root] <= u64::from(p.ring_max)
    };
    // Linked member pairs of the components of a ring's size: each witness edge as an
    // unordered pair (either hotspot heard the other), counted once.
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for (wi, row) in rows.iter().enumerate() {
        if !sized(find(&mut parent, wi)) {
            continue;
        }
        let w = wi as u32;
        pairs.extend(row.iter().filter(|b| **b != SELF).map(|b| (w.min(*b), w.max(*b))));
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut linked = vec![0u64; ids.len()];
    for (a, _) in &pairs {
        linked[find(&mut parent, *a as usize)] += 1;
    }
    let ring = |root: usize| {
        let (m, l) = (size[root], linked[root]);
        // l / (m (m − 1) / 2) ≥ percent / 100, in integers.
        sized(root) && l * 200 >= u64::from(p.ring_density_percent) * m * (m - 1)
    };
    for (i, d) in ids.iter().enumerate() {
        let root = find(&mut parent, i);
        if ring(root) {
            flags.entry(**d).or_default().push(Evidence::WitnessRing {
                members: size[root] as u32,
                edges: linked[root].min(u64::from(u32::MAX)) as u32,
            });
        }
    }
}

/// Runs the detectors.
pub fn detect(p: &FraudParams, inputs: &FraudInputs) -> Flags {
    let mut flags: Flags = BTreeMap::new();
    witness_rings(p, &inputs.witnessed, &mut flags);
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
    // Sorted by stream, then by registration (and id): each run of one stream starts with
    // its earliest registered sensor.
    let mut streams: Vec<(u32, Hash, Height, DeviceId)> = inputs
        .sensors
        .iter()
        .filter(|(_, _, readings, _)| *readings >= p.copy_min_readings.max(1))
        .map(|(d, registered, readings, digest)| (*readings, *digest, *registered, *d))
        .collect();
    {
        use rayon::prelude::*;
        streams.par_sort_unstable();
    }
    for group in streams.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let Some(((readings, _, _, original), copies)) = group.split_first() else { continue };
        for (_, _, _, d) in copies {
            flags
                .entry(*d)
                .or_default()
                .push(Evidence::CopiedSensor { of: *original, readings: *readings });
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
    // Sorted by cell: each run is one cell's hotspots.
    let mut by_cell: Vec<(u64, DeviceId)> = inputs.cells.iter().map(|(d, c)| (*c, *d)).collect();
    {
        use rayon::prelude::*;
        by_cell.par_sort_unstable();
    }
    for group in by_cell.chunk_by(|a, b| a.0 == b.0) {
        let n = u32::try_from(group.len()).unwrap_or(u32::MAX);
        if n >= p.colocated_min {
            for (cell, d) in group {
                flags.entry(*d).or_default().push(Evidence::Colocated { cell: *cell, hotspots: n });
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
