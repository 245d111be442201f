//! Density scales against figures worked by hand.

use super::*;
use cairn_types::genesis::default_density;
use h3o::{CellIndex, LatLng, Resolution};

fn id(i: u32) -> DeviceId {
    DeviceId::sha256(&i.to_be_bytes())
}

/// The centre child at resolution 12 of `cell`.
fn spot(cell: CellIndex) -> u64 {
    u64::from(cell.center_child(Resolution::Twelve).unwrap())
}

fn res(r: u8) -> Resolution {
    Resolution::try_from(r).unwrap()
}

/// A resolution-`r` hex in central Paris.
fn paris(r: u8) -> CellIndex {
    LatLng::new(48.8566, 2.3522).unwrap().to_cell(res(r))
}

/// `n` distinct resolution-12 spots inside the resolution-`r + 1` child `child` of `hex`.
fn spots_in_child(hex: CellIndex, r: u8, child: usize, n: usize) -> Vec<u64> {
    let c = hex.children(res(r + 1)).nth(child).unwrap();
    c.children(Resolution::Twelve).take(n).map(u64::from).collect()
}

fn scale_of(levels: &[DensityLevel], locs: &[u64]) -> Vec<u32> {
    let hs: Vec<_> = locs.iter().enumerate().map(|(i, l)| (id(i as u32), Some(*l))).collect();
    scales(levels, &hs).into_iter().map(|(_, d)| d.scale_ppm).collect()
}

#[test]
fn a_lone_hotspot_is_unscaled() {
    let levels = default_density();
    let d = scales(&levels, &[(id(0), Some(spot(paris(8))))]);
    assert_eq!(d[0].1.scale_ppm, SCALE_ONE);
    assert_eq!(d[0].1.factors.len(), 5);
    for f in &d[0].1.factors {
        assert_eq!((f.hotspots, f.occupied_children), (1, 1));
    }
    // Limits with one occupied child: min(max, target × 1).
    let limits: Vec<u32> = d[0].1.factors.iter().map(|f| f.limit).collect();
    assert_eq!(limits, vec![500, 100, 25, 5, 1]);
}

#[test]
fn three_hotspots_in_one_resolution_8_hex_share_it_a_third_each() {
    // Resolution 8: target 1, max 1 → limit 1; 3 hotspots → 1 000 000 × 1 / 3 = 333 333.
    let locs = spots_in_child(paris(8), 8, 0, 3);
    assert_eq!(scale_of(&default_density(), &locs), vec![333_333; 3]);
}

#[test]
fn crowding_at_two_resolutions_multiplies_rounding_down_after_each() {
    // Twelve hotspots in one resolution-7 hex, six in each of two resolution-8 children.
    // Resolution 8: each hex holds 6, limit 1 → 1 000 000 / 6 = 166 666.
    // Resolution 7: 12 hotspots, 2 occupied children → limit min(10, 5 × 2) = 10
    //   → 166 666 × 10 / 12 = 138 888 (138 888.3 rounded down).
    let hex7 = paris(7);
    let mut locs = spots_in_child(hex7, 7, 0, 6);
    locs.extend(spots_in_child(hex7, 7, 1, 6));
    assert_eq!(scale_of(&default_density(), &locs), vec![138_888; 12]);
}

#[test]
fn spreading_over_more_children_raises_the_limit_up_to_the_max() {
    let levels = [DensityLevel { resolution: 7, target: 5, max: 10 }];
    let hex7 = paris(7);
    // 12 hotspots in one child: limit min(10, 5 × 1) = 5 → 1 000 000 × 5 / 12 = 416 666.
    assert_eq!(scale_of(&levels, &spots_in_child(hex7, 7, 0, 12)), vec![416_666; 12]);
    // 12 hotspots over three children (4 each): limit min(10, 5 × 3) = 10 → 833 333.
    let mut locs = Vec::new();
    for child in 0..3 {
        locs.extend(spots_in_child(hex7, 7, child, 4));
    }
    assert_eq!(scale_of(&levels, &locs), vec![833_333; 12]);
    // Exactly at the limit (10 over three children) is unscaled; one more is not.
    assert_eq!(scale_of(&levels, &locs[..10]), vec![SCALE_ONE; 10]);
    assert_eq!(scale_of(&levels, &locs[..11]), vec![909_090; 11]); // 10 / 11
}

#[test]
fn hotspots_in_other_hexes_do_not_count() {
    let levels = [DensityLevel { resolution: 8, target: 1, max: 1 }];
    let here = paris(8);
    let there = here.grid_disk::<Vec<_>>(2).into_iter().find(|c| *c != here).unwrap();
    let mut locs = spots_in_child(here, 8, 0, 2);
    locs.push(spot(there));
    assert_eq!(scale_of(&levels, &locs), vec![500_000, 500_000, SCALE_ONE]);
}

#[test]
fn an_unlocated_hotspot_scales_to_zero_and_is_not_counted() {
    let levels = default_density();
    let loc = spot(paris(8));
    let d = scales(&levels, &[(id(0), None), (id(1), Some(loc)), (id(2), Some(7))]);
    assert_eq!(d[0].1, CoverageDensity::default());
    assert_eq!(d[1].1.scale_ppm, SCALE_ONE);
    // An invalid cell counts as no location.
    assert_eq!(d[2].1, CoverageDensity::default());
}

#[test]
fn no_levels_means_no_scaling() {
    let locs = spots_in_child(paris(8), 8, 0, 3);
    assert_eq!(scale_of(&[], &locs), vec![SCALE_ONE; 3]);
}

/// The parent of a resolution-12 cell at `resolution` (None for an invalid cell).
fn parent(location: u64, resolution: u8) -> Option<u64> {
    let cell = h3o::CellIndex::try_from(location).ok()?;
    let res = h3o::Resolution::try_from(resolution).ok()?;
    cell.parent(res).map(u64::from)
}

/// The implementation `scales_at` replaced: a vector of (hex, child hex) per hotspot.
fn reference_scales(
    levels: &[DensityLevel],
    hotspots: &[(DeviceId, Option<u64>)],
) -> Vec<(DeviceId, CoverageDensity)> {
    let cells: Vec<Option<Vec<(u64, u64)>>> = hotspots
        .iter()
        .map(|(_, loc)| {
            let loc = (*loc)?;
            levels
                .iter()
                .map(|l| Some((parent(loc, l.resolution)?, parent(loc, l.resolution + 1)?)))
                .collect()
        })
        .collect();
    let stats: Vec<Vec<(u64, HexStats)>> = (0..levels.len())
        .map(|i| hex_stats(cells.iter().flatten().map(|mine| mine[i]).collect()))
        .collect();
    hotspots
        .iter()
        .zip(cells)
        .map(|((id, _), mine)| {
            let Some(mine) = mine else {
                return (*id, CoverageDensity::default());
            };
            let mut scale = u64::from(SCALE_ONE);
            let mut factors = Vec::new();
            for ((l, (cell, _)), level_stats) in levels.iter().zip(mine).zip(&stats) {
                let f = factor(l, cell, level_stats);
                scale = scaled(scale, &f);
                factors.push(f);
            }
            (*id, CoverageDensity { scale_ppm: scale as u32, factors })
        })
        .collect()
}

proptest::proptest! {
    /// Hotspots crowded into a few resolution-7 hexes of Paris (some unlocated, some at an
    /// invalid cell), under the reference levels, one level, or none: the flat rows give
    /// what a vector per hotspot gave.
    #[test]
    fn flat_rows_match_a_vector_per_hotspot(
        picks in proptest::collection::vec((0usize..3, 0u64..4_000, 0u8..12), 0..300),
        which in 0usize..3,
    ) {
        let hexes: Vec<CellIndex> = paris(6).children(res(7)).take(3).collect();
        let levels = match which {
            0 => default_density(),
            1 => vec![DensityLevel { resolution: 8, target: 1, max: 2 }],
            _ => Vec::new(),
        };
        let hotspots: Vec<(DeviceId, Option<u64>)> = picks
            .iter()
            .enumerate()
            .map(|(i, (hex, n, kind))| {
                let loc = match kind {
                    0 => None,
                    1 => Some(7),
                    _ => hexes[*hex].children(Resolution::Twelve).nth(*n as usize).map(u64::from),
                };
                (id(i as u32), loc)
            })
            .collect();
        proptest::prop_assert_eq!(scales(&levels, &hotspots), reference_scales(&levels, &hotspots));
    }
}
