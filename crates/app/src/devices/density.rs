//! Hex density scaling: HIP-17 with the HIP-104 parameters (docs/adr/0007-hex-density.md).
//!
//! When an epoch ends, every hotspot that earned coverage in it (an accepted beacon or
//! witness) is counted in its hex at the finest configured level. Going from the finest
//! level to the coarsest, each hex with an unclipped count `u` is clipped to
//! `min(u, limit)`, where `limit = min(max, target × max(1, k − N + 1))` and `k` is the
//! number of hexes of its disk (the hex and its neighbours, at the same resolution) whose
//! unclipped count reaches the level's target; the level's own N, target and max apply. A
//! coarser hex's unclipped count is the sum of the clipped counts of the finer hexes inside
//! it. A hotspot's scale is the product over levels of `clipped / unclipped` of its hex, in
//! millionths, rounded down after each factor. So a crowded hex shares a fixed reward
//! instead of multiplying it, and a hex whose neighbours are also full is allowed more.

use cairn_types::device::{CoverageDensity, DensityFactor};
use cairn_types::device_key::DeviceId;
use cairn_types::genesis::DensityLevel;
use h3o::{CellIndex, Resolution};

/// The unscaled scale: 1 in millionths.
pub const SCALE_ONE: u32 = 1_000_000;

/// A hex's limit at level `l` when `occupied` hexes of its disk reach the level's target:
/// `min(max, target × max(1, occupied − N + 1))`.
pub fn limit(l: &DensityLevel, occupied: u32) -> u32 {
    let steps = occupied.saturating_sub(l.neighbours).saturating_add(1);
    u64::from(l.target).saturating_mul(u64::from(steps)).min(u64::from(l.max)) as u32
}

/// `scale` (millionths) times `clipped / unclipped`, rounded down; unchanged where nothing
/// was clipped.
fn scaled(scale: u64, f: &DensityFactor) -> u64 {
    if f.clipped < f.unclipped {
        scale * u64::from(f.clipped) / u64::from(f.unclipped)
    } else {
        scale
    }
}

/// The hexes of `cell`'s disk of radius 1 (itself and its 6 neighbours, 5 next to a
/// pentagon), without allocating where no pentagon is near.
fn for_disk(cell: CellIndex, mut f: impl FnMut(u64)) {
    let mut near = [0u64; 7];
    let mut n = 0;
    for c in cell.grid_disk_fast(1) {
        match (c, near.get_mut(n)) {
            (Some(c), Some(slot)) => {
                *slot = u64::from(c);
                n += 1;
            }
            _ => {
                // A pentagon distorts the grid here: the slow, exact walk.
                cell.grid_disk_safe(1).for_each(|c| f(u64::from(c)));
                return;
            }
        }
    }
    near.iter().take(n).for_each(|c| f(*c));
}

/// The unclipped count of `cell` in `counts` (sorted by cell), 0 where it holds nothing.
fn count_of(counts: &[(u64, u32)], cell: u64) -> u32 {
    counts
        .binary_search_by_key(&cell, |(c, _)| *c)
        .ok()
        .and_then(|at| counts.get(at))
        .map_or(0, |(_, n)| *n)
}

/// Clips one level: every hex of `counts` (cell, unclipped count; sorted by cell, each
/// cell once) with its disk's occupied count, its limit and its clipped count.
fn clip(l: &DensityLevel, counts: &[(u64, u32)]) -> Vec<DensityFactor> {
    use rayon::prelude::*;
    counts
        .par_iter()
        .map(|&(cell, unclipped)| {
            let mut occupied = 0u32;
            if let Ok(c) = CellIndex::try_from(cell) {
                for_disk(c, |near| occupied += u32::from(count_of(counts, near) >= l.target));
            }
            let limit = limit(l, occupied);
            DensityFactor {
                resolution: l.resolution,
                cell,
                unclipped,
                clipped: unclipped.min(limit),
                occupied,
                limit,
            }
        })
        .collect()
}

/// (cell, weight) pairs summed per cell, sorted by cell.
fn sum_by_cell(mut pairs: Vec<(u64, u32)>) -> Vec<(u64, u32)> {
    use rayon::slice::ParallelSliceMut;
    pairs.par_sort_unstable();
    let mut out: Vec<(u64, u32)> = Vec::new();
    for (cell, n) in pairs {
        match out.last_mut() {
            Some((c, sum)) if *c == cell => *sum = sum.saturating_add(n),
            _ => out.push((cell, n)),
        }
    }
    out
}

/// The place in `table` (sorted by cell) of each cell of `cells`. H3 indexes sort a
/// parent's children together and in their parents' order, so the parents of a sorted
/// level come in order and one walk finds them; a cell out of order is searched for, and
/// one not in `table` gets `u32::MAX`.
fn places(cells: &[u64], table: &[DensityFactor]) -> Vec<u32> {
    let mut at = 0usize;
    cells
        .iter()
        .map(|cell| {
            while table.get(at).is_some_and(|f| f.cell < *cell) {
                at += 1;
            }
            if table.get(at).is_some_and(|f| f.cell == *cell) {
                return at as u32;
            }
            match table.binary_search_by_key(cell, |f| f.cell) {
                Ok(found) => {
                    at = found;
                    found as u32
                }
                // Not there (cannot happen for a parent): no place, no coarser factor.
                Err(_) => u32::MAX,
            }
        })
        .collect()
}

/// Every level clipped, finest first, each with the place of each of its hexes' parent in
/// the next coarser level (empty for the coarsest): hotspots counted at the finest level,
/// each coarser level from the clipped counts of the one finer.
fn clip_all(
    levels: &[DensityLevel],
    resolutions: &[Resolution],
    counted: &[Option<CellIndex>],
) -> Vec<(Vec<DensityFactor>, Vec<u32>)> {
    use rayon::prelude::*;
    let (Some(finest), Some(finest_res)) = (levels.last(), resolutions.last()) else {
        return Vec::new();
    };
    let hotspots: Vec<(u64, u32)> = counted
        .par_iter()
        .filter_map(|c| Some((u64::from((*c)?.parent(*finest_res)?), 1)))
        .collect();
    let mut finer = clip(finest, &sum_by_cell(hotspots));
    let mut out = Vec::with_capacity(levels.len());
    for (l, res) in levels.iter().zip(resolutions).rev().skip(1) {
        let pairs: Vec<(u64, u32)> = finer
            .par_iter()
            .map(|f| {
                let parent = CellIndex::try_from(f.cell).ok().and_then(|c| c.parent(*res));
                (parent.map_or(0, u64::from), f.clipped)
            })
            .collect();
        let coarser =
            clip(l, &sum_by_cell(pairs.iter().copied().filter(|(p, _)| *p != 0).collect()));
        let parents: Vec<u64> = pairs.iter().map(|(p, _)| *p).collect();
        let up = places(&parents, &coarser);
        out.push((std::mem::replace(&mut finer, coarser), up));
    }
    out.push((finer, Vec::new()));
    out
}

/// The density of every hotspot in `hotspots` (id, resolution-12 location if any), in the
/// order given. Pure: the epoch boundary and any auditor compute the same thing.
pub fn scales(
    levels: &[DensityLevel],
    hotspots: &[(DeviceId, Option<u64>)],
) -> Vec<(DeviceId, CoverageDensity)> {
    let locations: Vec<Option<u64>> = hotspots.iter().map(|(_, l)| *l).collect();
    hotspots.iter().map(|(id, _)| *id).zip(scales_at(levels, &locations)).collect()
}

/// [`scales`] of hotspots given by their locations alone. Each level is a vector of hexes
/// sorted by cell, built by sorting: O(n log n) in time and O(n) in memory per level; the
/// disks and the hotspots' factors are looked up by binary search, on all cores.
pub fn scales_at(levels: &[DensityLevel], locations: &[Option<u64>]) -> Vec<CoverageDensity> {
    use rayon::prelude::*;
    if levels.is_empty() {
        // Nothing to scale by: every hotspot at a valid cell is unscaled.
        let unscaled = |l: &Option<u64>| CoverageDensity {
            scale_ppm: if l.is_some_and(|c| CellIndex::try_from(c).is_ok()) {
                SCALE_ONE
            } else {
                0
            },
            factors: Vec::new(),
        };
        return locations.par_iter().map(unscaled).collect();
    }
    let resolutions: Vec<Resolution> =
        levels.iter().map_while(|l| Resolution::try_from(l.resolution).ok()).collect();
    // A location is counted if it is a valid cell with a parent at every level (a level
    // without a valid resolution counts no one).
    let all_valid = resolutions.len() == levels.len();
    let counted: Vec<Option<CellIndex>> = locations
        .par_iter()
        .map(|loc| {
            let cell = CellIndex::try_from((*loc)?).ok()?;
            (all_valid && resolutions.iter().all(|r| cell.parent(*r).is_some())).then_some(cell)
        })
        .collect();
    let clipped = clip_all(levels, &resolutions, &counted);
    let finest = clipped.first().map_or(&[][..], |(t, _)| &t[..]);
    let finest_res = resolutions.last().copied();
    let scale = |cell: &Option<CellIndex>| {
        let Some(cell) = *cell else { return CoverageDensity::default() };
        // The hotspot's hex at the finest level, then each coarser one by its parent's
        // place. Every counted hotspot's hex is in every level; were one missing, it would
        // leave the scale alone rather than fail.
        let mut factors = Vec::with_capacity(levels.len());
        let mut at = finest_res
            .and_then(|r| cell.parent(r))
            .and_then(|p| finest.binary_search_by_key(&u64::from(p), |f| f.cell).ok());
        for (table, up) in &clipped {
            let Some(f) = at.and_then(|i| table.get(i)) else { break };
            factors.push(*f);
            at = at.and_then(|i| up.get(i)).map(|i| *i as usize);
        }
        // Coarsest first, as the levels are listed.
        factors.reverse();
        let scale = factors.iter().fold(u64::from(SCALE_ONE), scaled);
        CoverageDensity { scale_ppm: scale as u32, factors }
    };
    counted.par_iter().map(scale).collect()
}

#[cfg(test)]
#[path = "density_tests.rs"]
mod tests;
