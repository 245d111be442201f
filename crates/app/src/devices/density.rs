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

/// The parent of a resolution-12 cell at `resolution` (None for an invalid cell).
fn parent(location: u64, resolution: u8) -> Option<u64> {
    let cell = h3o::CellIndex::try_from(location).ok()?;
    let res = h3o::Resolution::try_from(resolution).ok()?;
    cell.parent(res).map(u64::from)
}

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
/// time and O(n) in memory per level; each hotspot's (hex, child hex) of every level sits
/// in one flat array, a row per hotspot.
pub fn scales_at(levels: &[DensityLevel], locations: &[Option<u64>]) -> Vec<CoverageDensity> {
    use rayon::prelude::*;
    let width = levels.len();
    // Each hotspot's (hex, child hex) at every level, and whether it has them all (it is
    // located, in a valid cell).
    let mut cells = vec![(0u64, 0u64); locations.len().saturating_mul(width)];
    let fill = |(row, loc): (&mut [(u64, u64)], &Option<u64>)| {
        let Some(loc) = *loc else { return false };
        for (slot, l) in row.iter_mut().zip(levels) {
            match (parent(loc, l.resolution), parent(loc, l.resolution + 1)) {
                (Some(hex), Some(child)) => *slot = (hex, child),
                _ => return false,
            }
        }
        true
    };
    let counted: Vec<bool> = if width == 0 {
        locations.par_iter().map(Option::is_some).collect()
    } else {
        cells.par_chunks_mut(width).zip(locations.par_iter()).map(fill).collect()
    };
    let located = counted.iter().filter(|ok| **ok).count();
    let stats: Vec<Vec<(u64, HexStats)>> = (0..width)
        .into_par_iter()
        .map(|i| {
            let mine = |(row, ok): (&[(u64, u64)], &bool)| row.get(i).filter(|_| *ok).copied();
            let mut pairs = Vec::with_capacity(located);
            pairs.extend(cells.chunks(width.max(1)).zip(&counted).filter_map(mine));
            hex_stats(pairs)
        })
        .collect();
    let scale = |(row, ok): (&[(u64, u64)], &bool)| {
        if !*ok {
            return CoverageDensity::default();
        }
        let mut scale = u64::from(SCALE_ONE);
        let mut factors = Vec::with_capacity(width);
        for ((l, (cell, _)), level_stats) in levels.iter().zip(row).zip(&stats) {
            let s = level_stats
                .binary_search_by_key(cell, |(c, _)| *c)
                .ok()
                .and_then(|at| level_stats.get(at))
                .map_or(HexStats { hotspots: 1, occupied_children: 1 }, |(_, s)| *s);
            let limit = u64::from(l.target)
                .saturating_mul(u64::from(s.occupied_children.max(1)))
                .min(u64::from(l.max)) as u32;
            if s.hotspots > limit {
                // Rounded down.
                scale = scale * u64::from(limit) / u64::from(s.hotspots);
            }
            factors.push(DensityFactor {
                resolution: l.resolution,
                cell: *cell,
                hotspots: s.hotspots,
                occupied_children: s.occupied_children,
                limit,
            });
        }
        CoverageDensity { scale_ppm: scale as u32, factors }
    };
    if width == 0 {
        counted.par_iter().map(|ok| scale((&[], ok))).collect()
    } else {
        cells.par_chunks(width).zip(counted.par_iter()).map(scale).collect()
    }
}

#[cfg(test)]
#[path = "density_tests.rs"]
mod tests;
