//! Hex density scaling (docs/adr/0007-hex-density.md). When an epoch ends, every hotspot
//! that earned coverage in it (an accepted beacon or witness) is counted in its hex at each
//! configured resolution. A hex carries at most
//! `limit = min(max, target × max(1, occupied children))` hotspots at full reward, where
//! the occupied children are the hexes one resolution finer holding any earning hotspot. A
//! hex holding more than its limit scales each of its hotspots by `limit / hotspots`; a
//! hotspot's scale is the product over resolutions, in millionths, rounded down after each
//! factor. So a crowded hex shares a fixed reward instead of multiplying it, and a hex whose
//! hotspots are spread over many children is allowed more.

use cairn_types::device::{CoverageDensity, DensityFactor};
use cairn_types::device_key::DeviceId;
use cairn_types::genesis::DensityLevel;

/// The unscaled scale: 1 in millionths.
pub const SCALE_ONE: u32 = 1_000_000;

/// Earning hotspots in one hex and its occupied children.
#[derive(Debug, Clone, Copy)]
struct HexStats {
    hotspots: u32,
    occupied_children: u32,
}

/// Hex statistics of one level from every located hotspot's (hex, child hex), sorted by hex.
fn hex_stats(mut pairs: Vec<(u64, u64)>) -> Vec<(u64, HexStats)> {
    use rayon::slice::ParallelSliceMut;
    pairs.par_sort_unstable();
    let mut out: Vec<(u64, HexStats)> = Vec::new();
    let mut last: Option<(u64, u64)> = None;
    for (cell, child) in pairs {
        let new_child = last != Some((cell, child));
        match out.last_mut() {
            Some((c, s)) if *c == cell => {
                s.hotspots = s.hotspots.saturating_add(1);
                s.occupied_children += u32::from(new_child);
            }
            _ => out.push((cell, HexStats { hotspots: 1, occupied_children: 1 })),
        }
        last = Some((cell, child));
    }
    out
}

/// The factor of level `l` for a hotspot in hex `cell`, from the level's statistics (a hex
/// not found holds the hotspot alone).
fn factor(l: &DensityLevel, cell: u64, stats: &[(u64, HexStats)]) -> DensityFactor {
    let s = stats
        .binary_search_by_key(&cell, |(c, _)| *c)
        .ok()
        .and_then(|at| stats.get(at))
        .map_or(HexStats { hotspots: 1, occupied_children: 1 }, |(_, s)| *s);
    let limit = u64::from(l.target)
        .saturating_mul(u64::from(s.occupied_children.max(1)))
        .min(u64::from(l.max)) as u32;
    DensityFactor {
        resolution: l.resolution,
        cell,
        hotspots: s.hotspots,
        occupied_children: s.occupied_children,
        limit,
    }
}

/// `scale` (millionths) times the factor `f`, rounded down; unchanged where the hex holds
/// no more than its limit.
fn scaled(scale: u64, f: &DensityFactor) -> u64 {
    if f.hotspots > f.limit { scale * u64::from(f.limit) / u64::from(f.hotspots) } else { scale }
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

/// [`scales`] of hotspots given by their locations alone. Sorting keeps it O(n log n) in
/// time and O(n) in memory per level; each hotspot's location is checked once, and its
/// (hex, child hex) at a level taken from it when needed.
pub fn scales_at(levels: &[DensityLevel], locations: &[Option<u64>]) -> Vec<CoverageDensity> {
    use rayon::prelude::*;
    if levels.is_empty() {
        // Nothing to scale by: every located hotspot is unscaled.
        let unscaled = |l: &Option<u64>| CoverageDensity {
            scale_ppm: if l.is_some() { SCALE_ONE } else { 0 },
            factors: Vec::new(),
        };
        return locations.par_iter().map(unscaled).collect();
    }
    let resolutions: Vec<(h3o::Resolution, h3o::Resolution)> = levels
        .iter()
        .map_while(|l| {
            let hex = h3o::Resolution::try_from(l.resolution).ok()?;
            let child = h3o::Resolution::try_from(l.resolution.checked_add(1)?).ok()?;
            Some((hex, child))
        })
        .collect();
    // A location is counted if it is a valid cell with a parent at every level (a level
    // without valid resolutions counts no one).
    let all_valid = resolutions.len() == levels.len();
    let hex = |cell: h3o::CellIndex, level: usize| -> Option<(u64, u64)> {
        let (hex, child) = resolutions.get(level)?;
        Some((u64::from(cell.parent(*hex)?), u64::from(cell.parent(*child)?)))
    };
    let counted: Vec<Option<h3o::CellIndex>> = locations
        .par_iter()
        .map(|loc| {
            let cell = h3o::CellIndex::try_from((*loc)?).ok()?;
            (all_valid && (0..levels.len()).all(|i| hex(cell, i).is_some())).then_some(cell)
        })
        .collect();
    let located = counted.iter().filter(|c| c.is_some()).count();
    let stats: Vec<Vec<(u64, HexStats)>> = (0..levels.len())
        .into_par_iter()
        .map(|i| {
            let mut pairs = Vec::with_capacity(located);
            pairs.extend(counted.iter().filter_map(|c| hex((*c)?, i)));
            hex_stats(pairs)
        })
        .collect();
    let scale = |cell: &Option<h3o::CellIndex>| {
        let Some(cell) = *cell else { return CoverageDensity::default() };
        let mut scale = u64::from(SCALE_ONE);
        let mut factors = Vec::with_capacity(levels.len());
        for (i, (l, level_stats)) in levels.iter().zip(&stats).enumerate() {
            let f = factor(l, hex(cell, i).map_or(0, |(hex, _)| hex), level_stats);
            scale = scaled(scale, &f);
            factors.push(f);
        }
        CoverageDensity { scale_ppm: scale as u32, factors }
    };
    counted.par_iter().map(scale).collect()
}

#[cfg(test)]
#[path = "density_tests.rs"]
mod tests;
