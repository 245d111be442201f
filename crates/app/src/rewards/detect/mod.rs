//! The detect stage of the reward run: fraud detectors for what no single report check can
//! prove, run at the epoch boundary over the scored roster ([`inputs`]), beside the pay
//! stage's shares. Their verdicts ([`Verdicts`]) say which amounts the pay stage holds in
//! escrow (`super::escrow`) instead of putting them in the reward root.
//!
//! - Witness rings and unheard hotspots, on the witness graph of the reciprocity window
//!   ([`witness_graph`], over [`witness_rows`]): every (witness, beaconer) pair accepted within
//!   `coverage.reciprocity_blocks` before the boundary, so a ring whose members beacon less
//!   often than once an epoch still shows all its edges. A ring is a group of `ring_min` to
//!   `ring_max` hotspots, `ring_density_percent` of whose pairs are linked, with few links
//!   leaving it (`ring_leak_percent`). An unheard hotspot witnessed at least
//!   `unheard_min_beaconers` hotspots that themselves witness and could have heard its last
//!   judged beacon, outside the group that hears it, and none of them did
//!   ([`judge_unheard`]).
//! - Implausible movement: a location asserted during the epoch more than `max_move_cells`
//!   cells (at `move_resolution`) from the one before, within `move_window_blocks` of it.
//! - Copied sensors: sensors with the same readings count and value digest in an epoch;
//!   every one but the earliest registered is flagged.
//! - Co-located hotspots: `colocated_min` or more hotspots active in the epoch (any judged
//!   report) located in one resolution-12 cell — a farm claiming one spot's coverage many
//!   times, in turns or at once; all are flagged.
//! - Cold start ([`unproven`], docs/adr/0013-cold-start.md): a hotspot on probation (located
//!   less than `probation_blocks` before the boundary) whose beacons fewer than
//!   `evidence_witnesses` hotspots past their own probation witnessed is held as unproven,
//!   and judged again when its probation ends (`super::escrow::judge_unproven`): released if
//!   it is on the roster and no detector flagged it since, kept as a fraud hold if one did.

pub mod inputs;
pub mod witness_graph;
pub mod witness_rows;

pub use inputs::{DetectInputs, FraudInputs, HotspotCell, Move, SensorStream};
use witness_graph::Graph;
pub use witness_graph::Suspect;
pub use witness_rows::WitnessRows;

use super::escrow::LastFinding;
use crate::state_key;
use cairn_state::{StateError, StateRead};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{Evidence, FraudParams};
use cairn_types::{Hash, Height, Params};
use std::collections::BTreeMap;

/// Flags per device, in device order.
pub type Flags = BTreeMap<DeviceId, Vec<Evidence>>;

/// The hearers of the devices whose unproven holds are judged, by device.
pub type Hearers = BTreeMap<DeviceId, Vec<Hearer>>;

/// What the detect stage hands on: every device's flags (the pay stage escrows their
/// amounts) and the hearers of the devices whose unproven holds are judged at this boundary
/// (the settle stage judges them).
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    pub flags: Flags,
    pub hearers: Hearers,
}

/// The detect stage's judgement at the boundary closing `epoch`, once the detectors ran
/// ([`detect_all`], whose flags and suspects are `found`): the unheard rule's suspects
/// settled against the beacons' heights in state ([`judge_unheard`]), the cold-start rule
/// ([`unproven`]), and the hearers of each device of `judged` (ascending, [`hearers`]).
pub fn judge(
    state: &impl StateRead,
    params: &Params,
    epoch: u64,
    inputs: &DetectInputs,
    found: (Flags, Vec<Suspect>),
    judged: &[DeviceId],
) -> Result<Verdicts, StateError> {
    let (mut flags, suspects) = found;
    let DetectInputs { fraud, located_at, earning } = inputs;
    judge_unheard(state, params, epoch, &suspects, &mut flags)?;
    let boundary = epoch.saturating_add(1).saturating_mul(params.blocks_per_epoch);
    unproven(&params.fraud, boundary, &fraud.witnessed, located_at, earning, &mut flags);
    let hearers = hearers(state, &fraud.witnessed, located_at.len(), &flags, judged)?;
    Ok(Verdicts { flags, hearers })
}

/// Runs the detectors.
pub fn detect(p: &FraudParams, inputs: &FraudInputs) -> Flags {
    detect_all(p, inputs).0
}

/// Runs the detectors: the flags, and the suspects of the unheard rule, which
/// [`judge_unheard`] settles against the beacons' heights in state. The witness rings, the
/// unheard rule and the other detectors run side by side (each only adds flags); a device's
/// evidence is in the order they are listed in: rings, then movement, copied streams and
/// co-location.
pub fn detect_all(p: &FraudParams, inputs: &FraudInputs) -> (Flags, Vec<Suspect>) {
    let graph = Graph::build(&inputs.witnessed);
    let ((mut flags, suspects), others) = rayon::join(
        || {
            let Some(graph) = &graph else { return (Flags::new(), Vec::new()) };
            rayon::join(
                || {
                    let mut rings = Flags::new();
                    graph.rings(p, &mut rings);
                    rings
                },
                || graph.unheard(p.unheard_min_beaconers),
            )
        },
        || {
            let mut flags = Flags::new();
            moved(p, inputs, &mut flags);
            copied(p, inputs, &mut flags);
            colocated(p, inputs, &mut flags);
            flags
        },
    );
    for (d, evidence) in others {
        flags.entry(d).or_default().extend(evidence);
    }
    (flags, suspects)
}

/// Flags a location asserted in the epoch too far from the one before.
fn moved(p: &FraudParams, inputs: &FraudInputs, flags: &mut Flags) {
    for &Move { device, from, to, blocks } in &inputs.moves {
        if blocks > p.move_window_blocks {
            continue;
        }
        let cells = move_cells(from, to, p.move_resolution).unwrap_or(u64::MAX);
        if cells > p.max_move_cells {
            flags.entry(device).or_default().push(Evidence::ImplausibleMove {
                from,
                to,
                cells,
                resolution: p.move_resolution,
                blocks,
            });
        }
    }
}

/// Flags every sensor whose stream (readings count and digest) an earlier registered one
/// sent too.
fn copied(p: &FraudParams, inputs: &FraudInputs, flags: &mut Flags) {
    // Sorted by stream, then by registration (and id): each run of one stream starts with
    // its earliest registered sensor.
    let mut streams: Vec<ByStream> = inputs
        .sensors
        .iter()
        .filter(|s| s.readings >= p.copy_min_readings.max(1))
        .map(|s| ByStream {
            readings: s.readings,
            digest: s.digest,
            registered: s.registered,
            device: s.device,
        })
        .collect();
    {
        use rayon::prelude::*;
        streams.par_sort_unstable();
    }
    for group in streams.chunk_by(|a, b| (a.readings, a.digest) == (b.readings, b.digest)) {
        let Some((original, copies)) = group.split_first() else { continue };
        for copy in copies {
            flags
                .entry(copy.device)
                .or_default()
                .push(Evidence::CopiedSensor { of: original.device, readings: original.readings });
        }
    }
}

/// A sensor's stream as [`copied`] sorts them: by readings count and digest, then by
/// registration height and id (the fields' order).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct ByStream {
    readings: u32,
    digest: Hash,
    registered: Height,
    device: DeviceId,
}

/// Settles the unheard rule's suspects at the boundary closing `epoch`. A suspect's judged
/// beacon is the later of its last two beacons that lie in the reciprocity window and are
/// older than the witness lag (so every witness of it is in); it has none, it is not
/// judged. A beaconer it heard outside its group could have heard that beacon if it had
/// beaconed within the reciprocity window before it (by the heard pair's height, or its own
/// last two beacons): it was reciprocal then, so its witness would have been accepted. At
/// least `unheard_min_beaconers` such beaconers, and the suspect is flagged. Hotspots of a
/// network that is just starting, whose first beacons came before anyone could witness
/// them, are not: the beaconers they heard had not beaconed yet.
pub fn judge_unheard(
    state: &impl StateRead,
    params: &Params,
    epoch: u64,
    suspects: &[Suspect],
    flags: &mut Flags,
) -> Result<(), StateError> {
    let p = &params.fraud;
    if p.unheard_min_beaconers == 0 {
        return Ok(());
    }
    let cp = &params.coverage;
    let boundary = epoch.saturating_add(1).saturating_mul(params.blocks_per_epoch);
    let window_start = boundary.saturating_sub(cp.reciprocity_blocks);
    let beacons = |d: &DeviceId| -> Result<[Option<Height>; 2], StateError> {
        crate::devices::folded::beacons(state, d)
    };
    for s in suspects {
        let judged = beacons(&s.device)?
            .into_iter()
            .flatten()
            .filter(|b| *b >= window_start && b.saturating_add(cp.witness_lag_blocks) < boundary)
            .max();
        let Some(beacon) = judged else { continue };
        let since = beacon.saturating_sub(cp.reciprocity_blocks);
        let could = |h: &Height| *h >= since && *h <= beacon;
        let heard: Vec<(DeviceId, Height)> =
            state.get_decoded(&state_key::heard(&s.device))?.unwrap_or_default();
        let mut able = 0u32;
        for (b, h) in heard {
            if s.beaconers.binary_search(&b).is_err() {
                continue;
            }
            if could(&h) || beacons(&b)?.iter().flatten().any(could) {
                able = able.saturating_add(1);
            }
        }
        if able >= p.unheard_min_beaconers {
            flags.entry(s.device).or_default().push(Evidence::Unheard { beacon, beaconers: able });
        }
    }
    Ok(())
}

/// Whether a hotspot located at `located_at` is past its probation at `boundary`.
pub fn established(p: &FraudParams, located_at: Option<Height>, boundary: Height) -> bool {
    located_at.is_some_and(|at| at.saturating_add(p.probation_blocks) <= boundary)
}

/// Flags as [`Evidence::Unproven`] each hotspot at a roster position in `earning` (those that
/// earned coverage, ascending) that is on probation at `boundary` and was witnessed within
/// the window by fewer than `evidence_witnesses` hotspots that are past their probation and
/// not flagged. `located_at` holds each roster position's location height; the first
/// `located_at.len()` ids of `rows` are the roster. A witness's heard list names each
/// beaconer once, so a count is of distinct witnesses. Runs after the detectors: a flagged
/// witness vouches for no one.
pub fn unproven(
    p: &FraudParams,
    boundary: Height,
    rows: &WitnessRows,
    located_at: &[Option<Height>],
    earning: &[u32],
    flags: &mut Flags,
) {
    if p.probation_blocks == 0 {
        return;
    }
    let on_probation: Vec<u32> = earning
        .iter()
        .copied()
        .filter(|i| !established(p, located_at.get(*i as usize).copied().flatten(), boundary))
        .collect();
    if on_probation.is_empty() {
        return;
    }
    let n = located_at.len();
    let mut vouched = vec![0u32; n];
    for (r, w) in rows.witnesses.iter().enumerate() {
        let w = *w as usize;
        let (Some(at), Some(id)) = (located_at.get(w), rows.ids.get(w)) else { continue };
        if !established(p, *at, boundary) || flags.contains_key(id) {
            continue;
        }
        let (Some(from), Some(to)) = (rows.offsets.get(r), rows.offsets.get(r + 1)) else {
            continue;
        };
        for b in rows.flat.get(*from..*to).unwrap_or_default() {
            if let Some(c) = vouched.get_mut(*b as usize) {
                *c = c.saturating_add(1);
            }
        }
    }
    for i in on_probation {
        let witnesses = vouched.get(i as usize).copied().unwrap_or(0);
        if witnesses >= p.evidence_witnesses {
            continue;
        }
        let (Some(id), Some(Some(at))) = (rows.ids.get(i as usize), located_at.get(i as usize))
        else {
            continue;
        };
        let until = at.saturating_add(p.probation_blocks);
        flags.entry(*id).or_default().push(Evidence::Unproven {
            until,
            witnesses,
            needed: p.evidence_witnesses,
        });
    }
}

/// A hotspot that witnessed a beacon of a hotspot whose unproven hold is judged: how it
/// stands at the boundary ([`hearers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hearer {
    pub device: DeviceId,
    /// A finding at this boundary that its witnesses are false ([`impeaches`]).
    pub impeached: bool,
    /// Any flag at this boundary (a finding of any kind, or its own probation hold).
    pub flagged: bool,
    /// The last epoch before this boundary with a finding against it, if that finding
    /// impeaches its witnesses.
    pub seen: Option<u64>,
    /// Whether the judged hotspot witnessed it too within the window (they hear each other).
    pub heard_back: bool,
}

/// Whether a finding says the device's witnesses are false: it hears a group of its own
/// (`witness_ring`), hears a place that does not hear it (`unheard`), or is not where it
/// said (`implausible_move`). A co-located farm's members, or a copied sensor, really hear
/// what they witness: flagged, they vouch for no one, but do not speak against anyone.
pub fn impeaches(e: &Evidence) -> bool {
    matches!(
        e,
        Evidence::WitnessRing { .. } | Evidence::Unheard { .. } | Evidence::ImplausibleMove { .. }
    )
}

/// The hearers of each device of `judged` (ascending): the roster hotspots that witnessed
/// its beacons within the window of `rows`, in roster order, with their flags of this
/// boundary (`flags`, after [`unproven`]) and their last recorded finding. The first
/// `roster` ids of `rows` are the roster. A device off the roster has no entry.
pub fn hearers(
    state: &impl StateRead,
    rows: &WitnessRows,
    roster: usize,
    flags: &Flags,
    judged: &[DeviceId],
) -> Result<Hearers, StateError> {
    let on_roster = rows.ids.get(..roster).unwrap_or_default();
    let targets: BTreeMap<u32, DeviceId> = judged
        .iter()
        .filter_map(|d| {
            let at = on_roster.binary_search(d).ok()?;
            Some((u32::try_from(at).ok()?, *d))
        })
        .collect();
    let mut heard_by: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    // What each judged hotspot witnessed itself: beaconer positions, ascending.
    let mut own: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    if !targets.is_empty() {
        for (r, w) in rows.witnesses.iter().enumerate() {
            let (Some(from), Some(to)) = (rows.offsets.get(r), rows.offsets.get(r + 1)) else {
                continue;
            };
            let row = rows.flat.get(*from..*to).unwrap_or_default();
            if targets.contains_key(w) {
                let mut heard = row.to_vec();
                heard.sort_unstable();
                own.insert(*w, heard);
            }
            for b in row {
                if targets.contains_key(b) {
                    heard_by.entry(*b).or_default().push(*w);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for (at, device) in targets {
        let heard = own.get(&at).map(Vec::as_slice).unwrap_or_default();
        let mut list = Vec::new();
        for w in heard_by.remove(&at).unwrap_or_default() {
            let Some(id) = rows.ids.get(w as usize) else { continue };
            let mine = flags.get(id);
            let seen = state
                .get_decoded::<LastFinding>(&state_key::fraud_seen(id))?
                .filter(|last| last.evidence.iter().any(impeaches))
                .map(|last| last.epoch);
            list.push(Hearer {
                device: *id,
                impeached: mine.is_some_and(|f| f.iter().any(impeaches)),
                flagged: mine.is_some_and(|f| !f.is_empty()),
                seen,
                heard_back: heard.binary_search(&w).is_ok(),
            });
        }
        list.sort_by_key(|h| h.device);
        out.insert(device, list);
    }
    Ok(out)
}

/// Whether the evidence of an unproven hold of `epoch` came mostly from hotspots caught
/// making up witnesses: its hearers with a finding that impeaches their witnesses
/// ([`impeaches`]) at this boundary or since `epoch` and that it heard too (they really
/// hear each other: it is one of them, or lives among them), against those with no flag at
/// all (past their probation or proven, and clean). An impeached hotspot that claims to hear
/// it unheard by it is no evidence against it — that claim is the one found false — and
/// counts for neither side, as do hearers flagged otherwise or on probation and unproven.
/// Holds with strictly more of the first: `Some` the evidence to record; otherwise None. A
/// hotspot nobody heard, or heard only by hotspots still on probation, has neither and is
/// not held by this.
pub fn heard_by_flagged(hearers: &[Hearer], epoch: u64) -> Option<Evidence> {
    let mut flagged = 0u32;
    let mut unflagged = 0u32;
    for h in hearers {
        let impeached = h.impeached || h.seen.is_some_and(|seen| seen > epoch);
        if impeached && h.heard_back {
            flagged = flagged.saturating_add(1);
        } else if !impeached && !h.flagged {
            unflagged = unflagged.saturating_add(1);
        }
    }
    (flagged > unflagged).then_some(Evidence::HeardByFlagged { flagged, unflagged })
}

/// Flags every hotspot of a cell where `colocated_min` or more were active.
fn colocated(p: &FraudParams, inputs: &FraudInputs, flags: &mut Flags) {
    if p.colocated_min == 0 {
        return;
    }
    // Sorted by cell: each run is one cell's hotspots.
    let mut by_cell: Vec<ByCell> =
        inputs.cells.iter().map(|c| ByCell { cell: c.cell, device: c.device }).collect();
    {
        use rayon::prelude::*;
        by_cell.par_sort_unstable();
    }
    for group in by_cell.chunk_by(|a, b| a.cell == b.cell) {
        let n = u32::try_from(group.len()).unwrap_or(u32::MAX);
        if n >= p.colocated_min {
            for ByCell { cell, device } in group {
                flags
                    .entry(*device)
                    .or_default()
                    .push(Evidence::Colocated { cell: *cell, hotspots: n });
            }
        }
    }
}

/// A located hotspot as [`colocated`] sorts them: by cell, then by id (the fields' order).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct ByCell {
    cell: u64,
    device: DeviceId,
}

/// Grid distance between the parents of two resolution-12 cells at `resolution`; None if
/// not measurable (invalid cells, or too far apart for a grid path).
pub fn move_cells(from: u64, to: u64, resolution: u8) -> Option<u64> {
    let res = h3o::Resolution::try_from(resolution).ok()?;
    let a = h3o::CellIndex::try_from(from).ok()?.parent(res)?;
    let b = h3o::CellIndex::try_from(to).ok()?.parent(res)?;
    a.grid_distance(b).ok().and_then(|d| u64::try_from(d).ok())
}

#[cfg(test)]
#[path = "fraud_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "fraud_farm_tests.rs"]
mod farm_tests;

#[cfg(test)]
#[path = "witness_graph_tests.rs"]
mod graph_tests;

#[cfg(test)]
#[path = "cold_start_tests.rs"]
mod cold_start_tests;
