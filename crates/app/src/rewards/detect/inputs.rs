//! What the detectors look at, taken from the scored roster on all cores: the heard lists
//! as numbered rows ([`WitnessRows`]), the moves, the sensors' streams and the located
//! hotspots, and what the cold-start rule reads of each roster device.

use super::WitnessRows;
use crate::rewards::gather::{Facts, Gathered, OUTSIDE};
use cairn_types::device_key::DeviceId;
use cairn_types::{DeviceClass, Hash, Height};

/// A location asserted in the epoch: the previous cell, the new one and the blocks between
/// the two assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub device: DeviceId,
    pub from: u64,
    pub to: u64,
    pub blocks: u64,
}

/// A sensor that read in the epoch: its stream (readings count and value digest) and its
/// registration height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensorStream {
    pub device: DeviceId,
    pub registered: Height,
    pub readings: u32,
    pub digest: Hash,
}

/// A hotspot active in the epoch and its asserted cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotspotCell {
    pub device: DeviceId,
    pub cell: u64,
}

/// What the detectors look at, gathered from state.
#[derive(Debug, Clone, Default)]
pub struct FraudInputs {
    /// Each hotspot that witnessed within the reciprocity window before the boundary, with
    /// the beaconers it witnessed (a list of pairs converts with `into()`).
    pub witnessed: WitnessRows,
    /// Locations asserted in the epoch.
    pub moves: Vec<Move>,
    /// Sensors that read.
    pub sensors: Vec<SensorStream>,
    /// Hotspots active in the epoch, located.
    pub cells: Vec<HotspotCell>,
}

/// The detect stage's inputs: the detectors' and the cold-start rule's.
#[derive(Debug, Clone, Default)]
pub struct DetectInputs {
    pub fraud: FraudInputs,
    /// Where each roster device was located from, by roster position.
    pub located_at: Vec<Option<Height>>,
    /// The roster positions of the hotspots that earned coverage, ascending.
    pub earning: Vec<u32>,
}

/// The detect stage's inputs from the scored roster, whose id list they take (the rows'
/// ids start with it).
pub fn of(g: &mut Gathered) -> DetectInputs {
    use rayon::prelude::*;
    let fraud = fraud_inputs(g);
    // The cold-start rule's inputs: where each roster device was located from, and the
    // positions of the hotspots that earned coverage.
    let located_at: Vec<Option<Height>> = g.facts.par_iter().map(|x| x.located_at).collect();
    let earning: Vec<u32> = g
        .entries
        .par_iter()
        .enumerate()
        .filter(|(_, e)| {
            e.class == DeviceClass::Hotspot && (e.work.beacons > 0 || e.work.witnesses > 0)
        })
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect();
    DetectInputs { fraud, located_at, earning }
}

/// What the detectors look at, taken from the gathered devices (the roster moves).
pub(super) fn fraud_inputs(g: &mut Gathered) -> FraudInputs {
    use rayon::prelude::*;
    let pairs = || g.entries.par_iter().zip(g.facts.par_iter());
    // Each list in device order, collected on all cores.
    let moves = pairs()
        .filter_map(|(e, x)| {
            x.moved.as_deref().map(|m| Move {
                device: e.device,
                from: m.from,
                to: m.to,
                blocks: m.blocks,
            })
        })
        .collect();
    let sensors = pairs()
        .filter(|(e, _)| e.class == DeviceClass::Sensor)
        .filter_map(|(e, x)| x.sensor.as_deref().map(|s| (e.device, s)))
        .filter(|(_, s)| s.epoch.readings > 0)
        .map(|(device, s)| SensorStream {
            device,
            registered: s.registered,
            readings: s.epoch.readings,
            digest: s.epoch.digest,
        })
        .collect();
    let cells = pairs()
        .filter(|(e, _)| e.class == DeviceClass::Hotspot)
        .filter_map(|(e, x)| x.location.map(|cell| HotspotCell { device: e.device, cell }))
        .collect();
    let witnessed = heard_rows(std::mem::take(&mut g.roster), &g.facts);
    FraudInputs { witnessed, moves, sensors, cells }
}

/// The heard lists as rows: hotspots numbered by their place on the roster, beaconers
/// outside it after the roster, sorted.
pub(in crate::rewards) fn heard_rows(roster: Vec<DeviceId>, facts: &[Facts]) -> WitnessRows {
    use rayon::prelude::*;
    let mut outsiders: Vec<DeviceId> =
        facts.iter().filter_map(|x| x.outside.as_deref()).flatten().copied().collect();
    outsiders.sort_unstable();
    outsiders.dedup();
    let n = roster.len();
    let witnesses: Vec<u32> = facts
        .par_iter()
        .enumerate()
        .filter(|(_, x)| !x.heard.is_empty())
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect();
    let row = |w: &u32| facts.get(*w as usize).map_or(&[][..], |x| &x.heard[..]);
    // One more offset than rows, starting at 0; none without rows (as `push_row` builds them).
    let mut offsets = Vec::with_capacity(witnesses.len() + 1);
    if !witnesses.is_empty() {
        offsets.push(0);
    }
    let mut heard = 0;
    for w in &witnesses {
        heard += row(w).len();
        offsets.push(heard);
    }
    // The rows are numbered on all cores, each core filling its own runs of rows.
    let mut flat = vec![0u32; heard];
    let per_piece = witnesses.len().div_ceil(64).max(1);
    let mut pieces = Vec::new();
    let mut rest = flat.as_mut_slice();
    for (c, ws) in witnesses.chunks(per_piece).enumerate() {
        let first = c * per_piece;
        let len = match (offsets.get(first), offsets.get(first + ws.len())) {
            (Some(from), Some(to)) => to - from,
            _ => 0,
        };
        let (piece, tail) = rest.split_at_mut(len.min(rest.len()));
        rest = tail;
        pieces.push((ws, piece));
    }
    let known = outsiders.as_slice();
    pieces.into_par_iter().for_each(|(ws, piece)| {
        let numbered = ws.iter().flat_map(|w| {
            let x = facts.get(*w as usize);
            let mut outside = x.and_then(|x| x.outside.as_deref()).into_iter().flatten();
            row(w).iter().map(move |b| {
                if *b != OUTSIDE {
                    return *b;
                }
                let at = outside.next().and_then(|d| known.binary_search(d).ok());
                at.and_then(|k| u32::try_from(n + k).ok()).unwrap_or(u32::MAX)
            })
        });
        for (slot, b) in piece.iter_mut().zip(numbered) {
            *slot = b;
        }
    });
    let mut ids = roster;
    ids.extend(outsiders);
    WitnessRows { ids, witnesses, offsets, flat }
}

#[cfg(test)]
#[path = "inputs_tests.rs"]
pub(crate) mod tests;
