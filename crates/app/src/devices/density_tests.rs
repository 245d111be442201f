//! Density scales against figures worked by hand, and the fast implementation held to a
//! plain one.

use super::*;
use cairn_types::genesis::default_density;
use h3o::LatLng;
use std::collections::BTreeMap;

fn id(i: u32) -> DeviceId {
    DeviceId::sha256(&i.to_be_bytes())
}

fn res(r: u8) -> Resolution {
    Resolution::try_from(r).unwrap()
}

fn level(resolution: u8, neighbours: u32, target: u32, max: u32) -> DensityLevel {
    DensityLevel { resolution, target, max, neighbours }
}

/// A resolution-`r` hex in central Paris.
fn paris(r: u8) -> CellIndex {
    LatLng::new(48.8566, 2.3522).unwrap().to_cell(res(r))
}

/// `n` distinct resolution-12 spots inside `hex`.
fn spots(hex: CellIndex, n: usize) -> Vec<u64> {
    hex.children(Resolution::Twelve).take(n).map(u64::from).collect()
}

/// One resolution-12 spot in each of the first `n` children of `hex` one resolution finer.
fn one_per_child(hex: CellIndex, n: usize) -> Vec<u64> {
    let finer = res(u8::from(hex.resolution()) + 1);
    hex.children(finer).take(n).flat_map(|c| spots(c, 1)).collect()
}

/// The neighbours of `hex` (its disk of radius 1 without it).
fn neighbours(hex: CellIndex) -> Vec<CellIndex> {
    hex.grid_disk::<Vec<_>>(1).into_iter().filter(|c| *c != hex).collect()
}

fn scale_of(levels: &[DensityLevel], locs: &[u64]) -> Vec<u32> {
    let hs: Vec<_> = locs.iter().enumerate().map(|(i, l)| (id(i as u32), Some(*l))).collect();
    scales(levels, &hs).into_iter().map(|(_, d)| d.scale_ppm).collect()
}

#[test]
fn a_lone_hotspot_is_unscaled() {
    let d = scales(&default_density(), &[(id(0), Some(spots(paris(10), 1)[0]))]);
    assert_eq!(d[0].1.scale_ppm, SCALE_ONE);
    let f = &d[0].1.factors;
    assert_eq!(f.iter().map(|f| f.resolution).collect::<Vec<_>>(), vec![4, 5, 6, 7, 8, 9, 10]);
    assert!(f.iter().all(|f| (f.unclipped, f.clipped) == (1, 1)));
    // One hotspot reaches the target 1 of resolutions 8 to 10 (k = 1) but not 5, 25, 100
    // or 500 (k = 0); either way k ≤ N and the limit is the target.
    assert_eq!(f.iter().map(|f| f.occupied).collect::<Vec<_>>(), vec![0, 0, 0, 0, 1, 1, 1]);
    assert_eq!(f.iter().map(|f| f.limit).collect::<Vec<_>>(), vec![500, 100, 25, 5, 1, 1, 1]);
}

#[test]
fn three_hotspots_in_one_resolution_10_hex_share_one_reward() {
    // Resolution 10: count 3, k = 1 (itself), limit min(1, 1 × max(1, 1 − 2 + 1)) = 1,
    // 1 000 000 × 1 / 3 = 333 333. Above it the hex counts 1: no further clip.
    let d = scales(
        &default_density(),
        &spots(paris(10), 3)
            .iter()
            .enumerate()
            .map(|(i, l)| (id(i as u32), Some(*l)))
            .collect::<Vec<_>>(),
    );
    for (_, c) in &d {
        assert_eq!(c.scale_ppm, 333_333);
        let f10 = c.factors.last().unwrap();
        assert_eq!(
            (f10.resolution, f10.unclipped, f10.clipped, f10.occupied, f10.limit),
            (10, 3, 1, 1, 1)
        );
        assert!(c.factors[..6].iter().all(|f| (f.unclipped, f.clipped) == (1, 1)));
    }
}

#[test]
fn crowding_at_two_resolutions_multiplies_rounding_down_after_each() {
    // One resolution-7 hex, a hotspot at the centre of each of its seven resolution-8
    // children, and two more beside the first in its resolution-10 hex.
    // Resolution 10: that hex counts 3, k = 1 → limit 1 → factor 1 / 3; the others 1.
    // Resolutions 9 and 8: every hex counts 1 (its clipped child): no clip.
    // Resolution 7: the hex counts 7 (≥ target 5, so k = 1, no neighbour busy) → limit
    //   min(10, 5 × max(1, 1 − 4 + 1)) = 5 → factor 5 / 7.
    // Resolutions 6 to 4: counts 5, under every target: no clip.
    // The three: 333 333 × 5 / 7 = 238 095; the other six: 1 000 000 × 5 / 7 = 714 285.
    let hex7 = paris(7);
    let first10 = hex7.center_child(res(10)).unwrap();
    let mut locs = one_per_child(hex7, 7);
    let beside: Vec<u64> = spots(first10, 3).into_iter().filter(|l| !locs.contains(l)).collect();
    locs.extend(beside);
    assert_eq!(locs.len(), 9);
    let scale = scale_of(&default_density(), &locs);
    let expect: Vec<u32> = locs
        .iter()
        .map(|l| {
            let in_first = CellIndex::try_from(*l).unwrap().parent(res(10)) == Some(first10);
            if in_first { 238_095 } else { 714_285 }
        })
        .collect();
    assert_eq!(scale, expect);
    assert_eq!(expect.iter().filter(|s| **s == 238_095).count(), 3);
}

#[test]
fn seven_hotspots_spread_over_one_resolution_7_hex_share_five_rewards_when_no_neighbour_is_busy() {
    // Spreading inside a hex no longer buys headroom (under the old rule the seven
    // occupied children gave min(10, 5 × 7) = 10 and nobody was scaled): resolution 7
    // counts 7 with k = 1 < N = 4, so the limit is the target 5 → 5 / 7 each.
    let locs = one_per_child(paris(7), 7);
    assert_eq!(scale_of(&default_density(), &locs), vec![714_285; 7]);
}

#[test]
fn hip_17_examples_one_to_four_raise_the_limit_with_busy_neighbours() {
    // HIP-17's worked examples: N = 2, target 1, max 4 at one resolution. A hex holds 5
    // hotspots and m of its neighbours one each; k = 1 + m, limit = min(4, max(1, k − 1)).
    let levels = [level(10, 2, 1, 4)];
    let hex = paris(10);
    let around = neighbours(hex);
    assert_eq!(around.len(), 6);
    for (m, limit) in [(0, 1), (1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (6, 4)] {
        let mut locs = spots(hex, 5);
        locs.extend(around.iter().take(m).flat_map(|c| spots(*c, 1)));
        let expect: Vec<u32> =
            (0..5).map(|_| limit * SCALE_ONE / 5).chain((0..m).map(|_| SCALE_ONE)).collect();
        assert_eq!(scale_of(&levels, &locs), expect, "{m} busy neighbours");
    }
}

#[test]
fn a_resolution_7_limit_rises_once_n_hexes_of_its_disk_reach_the_target() {
    // Resolution 7 (N 4, target 5, max 10) over resolution 8 (N 2, target 2, max 2). The
    // hex holds two hotspots in each of its seven children: each child counts 2 ≤ 2, the
    // hex 14. A busy neighbour holds one hotspot in each of five children: 5 ≥ 5.
    //   3 busy: k = 4, limit min(10, 5 × 1) = 5  → 1 000 000 × 5 / 14 = 357 142
    //   4 busy: k = 5, limit min(10, 5 × 2) = 10 → 1 000 000 × 10 / 14 = 714 285
    //   5 busy: k = 6, limit min(10, 5 × 3) = 10 → 714 285
    // A neighbour with four hotspots is not busy: 3 busy and one of 4 stays at 357 142.
    let levels = [level(7, 4, 5, 10), level(8, 2, 2, 2)];
    let hex = paris(7);
    let mine: Vec<u64> = hex.children(res(8)).flat_map(|c| spots(c, 2)).collect();
    assert_eq!(mine.len(), 14);
    let around = neighbours(hex);
    let run = |busy: usize, quiet: usize| {
        let mut locs = mine.clone();
        for c in around.iter().take(busy) {
            locs.extend(one_per_child(*c, 5));
        }
        for c in around.iter().skip(busy).take(quiet) {
            locs.extend(one_per_child(*c, 4));
        }
        scale_of(&levels, &locs)[..14].to_vec()
    };
    assert_eq!(run(3, 0), vec![357_142; 14]);
    assert_eq!(run(3, 1), vec![357_142; 14]);
    assert_eq!(run(4, 0), vec![714_285; 14]);
    assert_eq!(run(5, 0), vec![714_285; 14]);
}

#[test]
fn a_dense_resolution_4_hex_is_held_to_its_target_until_two_neighbours_fill() {
    // Resolution 4 (N 2, target 500, max 1 000), 1 200 hotspots in the hex.
    //   alone or one busy neighbour (k ≤ 2): limit 500 → 1 000 000 × 500 / 1 200 = 416 666
    //   two busy neighbours (k = 3): limit min(1 000, 500 × 2) = 1 000 → 833 333
    // A neighbour of 499 is not busy; the neighbours themselves (500) are never clipped.
    let levels = [level(4, 2, 500, 1000)];
    let hex = paris(4);
    let around = neighbours(hex);
    let mine = spots(hex, 1200);
    let with = |counts: &[usize]| {
        let mut locs = mine.clone();
        for (c, n) in around.iter().zip(counts) {
            locs.extend(spots(*c, *n));
        }
        scale_of(&levels, &locs)
    };
    assert_eq!(with(&[])[..], vec![416_666; 1200][..]);
    assert_eq!(with(&[500])[..1200], vec![416_666; 1200][..]);
    assert_eq!(with(&[500, 499])[..1200], vec![416_666; 1200][..]);
    let full = with(&[500, 500]);
    assert_eq!(full[..1200], vec![833_333; 1200][..]);
    assert_eq!(full[1200..], vec![SCALE_ONE; 1000][..]);
}

#[test]
fn hotspots_in_hexes_apart_do_not_count() {
    let levels = [level(8, 2, 1, 1)];
    let here = paris(8);
    let there = here.grid_disk::<Vec<_>>(2).into_iter().find(|c| *c != here).unwrap();
    let mut locs = spots(here, 2);
    locs.extend(spots(there, 1));
    assert_eq!(scale_of(&levels, &locs), vec![500_000, 500_000, SCALE_ONE]);
}

#[test]
fn an_unlocated_hotspot_scales_to_zero_and_is_not_counted() {
    let levels = default_density();
    let loc = spots(paris(10), 1)[0];
    let d = scales(&levels, &[(id(0), None), (id(1), Some(loc)), (id(2), Some(7))]);
    assert_eq!(d[0].1, CoverageDensity::default());
    assert_eq!(d[1].1.scale_ppm, SCALE_ONE);
    // An invalid cell counts as no location.
    assert_eq!(d[2].1, CoverageDensity::default());
}

#[test]
fn no_levels_means_no_scaling() {
    let locs = spots(paris(10), 3);
    assert_eq!(scale_of(&[], &locs), vec![SCALE_ONE; 3]);
}

#[test]
fn the_limit_is_the_target_until_k_passes_n_then_rises_by_the_target_up_to_the_max() {
    let l = level(7, 4, 5, 12);
    let limits: Vec<u32> = (0..9).map(|k| limit(&l, k)).collect();
    assert_eq!(limits, vec![5, 5, 5, 5, 5, 10, 12, 12, 12]);
    // No overflow at the extremes.
    assert_eq!(limit(&level(7, 1, u32::MAX, u32::MAX), u32::MAX), u32::MAX);
}

/// HIP-17 written plainly: ordered maps per level, finest to coarsest, every hex's disk
/// from `grid_disk`, `max(1, k − N + 1)` in signed arithmetic.
fn plain_scales(
    levels: &[DensityLevel],
    hotspots: &[(DeviceId, Option<u64>)],
) -> Vec<(DeviceId, CoverageDensity)> {
    let parent = |cell: CellIndex, r: u8| -> Option<u64> {
        Some(u64::from(cell.parent(Resolution::try_from(r).ok()?)?))
    };
    let cells: Vec<Option<CellIndex>> = hotspots
        .iter()
        .map(|(_, loc)| {
            let cell = CellIndex::try_from((*loc)?).ok()?;
            levels.iter().all(|l| parent(cell, l.resolution).is_some()).then_some(cell)
        })
        .collect();
    let mut tables: Vec<BTreeMap<u64, DensityFactor>> = vec![BTreeMap::new(); levels.len()];
    for i in (0..levels.len()).rev() {
        let l = &levels[i];
        let mut unclipped: BTreeMap<u64, u32> = BTreeMap::new();
        if i + 1 == levels.len() {
            for cell in cells.iter().flatten() {
                *unclipped.entry(parent(*cell, l.resolution).unwrap()).or_default() += 1;
            }
        } else {
            for (cell, f) in &tables[i + 1] {
                let p = parent(CellIndex::try_from(*cell).unwrap(), l.resolution).unwrap();
                *unclipped.entry(p).or_default() += f.clipped;
            }
        }
        for (cell, u) in &unclipped {
            let disk: Vec<CellIndex> = CellIndex::try_from(*cell).unwrap().grid_disk(1);
            let k = disk
                .iter()
                .filter(|c| unclipped.get(&u64::from(**c)).copied().unwrap_or(0) >= l.target)
                .count() as i64;
            let steps = (k - i64::from(l.neighbours) + 1).max(1);
            let limit = (i64::from(l.target) * steps).min(i64::from(l.max)) as u32;
            let f = DensityFactor {
                resolution: l.resolution,
                cell: *cell,
                unclipped: *u,
                clipped: (*u).min(limit),
                occupied: k as u32,
                limit,
            };
            tables[i].insert(*cell, f);
        }
    }
    hotspots
        .iter()
        .zip(cells)
        .map(|((id, _), cell)| {
            let Some(cell) = cell else { return (*id, CoverageDensity::default()) };
            let mut scale = u64::from(SCALE_ONE);
            let mut factors = Vec::new();
            for (l, table) in levels.iter().zip(&tables) {
                let f = table[&parent(cell, l.resolution).unwrap()];
                scale = scale * u64::from(f.clipped) / u64::from(f.unclipped);
                factors.push(f);
            }
            (*id, CoverageDensity { scale_ppm: scale as u32, factors })
        })
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Hotspots crowded into a few hexes of Paris (some unlocated, some at an invalid
    /// cell), under the HIP-104 levels, random levels with small targets (so every level
    /// bites), or none: the sorted vectors give what the plain maps give.
    #[test]
    fn sorted_vectors_match_plain_maps(
        picks in proptest::collection::vec((0usize..19, 0u64..2_401, 0u8..12), 0..400),
        coarse in proptest::bool::ANY,
        random in proptest::collection::vec((proptest::bool::ANY, 1u32..4, 1u32..4, 0u32..4), 9),
        which in 0usize..3,
    ) {
        // Around a resolution-8 hex, 4 digits down to 12; or around a resolution-9 hex,
        // 3 digits down, for crowding.
        let (base, depth) = if coarse { (paris(8), 4) } else { (paris(9), 3) };
        let hexes: Vec<CellIndex> = base.grid_disk(2);
        let levels = match which {
            0 => default_density(),
            1 => (4u8..=12)
                .zip(&random)
                .filter(|(_, (keep, ..))| *keep)
                .map(|(r, (_, n, t, extra))| level(r, *n, *t, t + extra))
                .collect(),
            _ => Vec::new(),
        };
        let hotspots: Vec<(DeviceId, Option<u64>)> = picks
            .iter()
            .enumerate()
            .map(|(i, (hex, n, kind))| {
                let loc = match kind {
                    0 => None,
                    1 => Some(7),
                    _ => {
                        let hex = hexes[*hex % hexes.len()];
                        hex.child_at(n % 7u64.pow(depth), Resolution::Twelve).map(u64::from)
                    }
                };
                (id(i as u32), loc)
            })
            .collect();
        proptest::prop_assert_eq!(scales(&levels, &hotspots), plain_scales(&levels, &hotspots));
    }
}

/// `n` hotspots around Paris: one at the centre of each resolution-9 cell of a disk, every
/// seventh cell holding a second one beside it.
fn city(n: usize) -> Vec<(DeviceId, Option<u64>)> {
    let k = ((n as f64 / 3.0).sqrt().ceil()) as u32;
    let cells: Vec<CellIndex> = paris(9).grid_disk(k);
    cells
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let both = if i % 7 == 0 { 2 } else { 1 };
            c.children(Resolution::Twelve).take(both).map(u64::from).collect::<Vec<_>>()
        })
        .take(n)
        .enumerate()
        .map(|(i, l)| (id(i as u32), Some(l)))
        .collect()
}

#[test]
fn the_scales_do_not_depend_on_the_order_hotspots_come_in() {
    let hotspots = city(5_000);
    let levels = default_density();
    let mut reversed = hotspots.clone();
    reversed.reverse();
    let mut back = scales(&levels, &reversed);
    back.reverse();
    let forward = scales(&levels, &hotspots);
    assert_eq!(forward, back);
    // The city is dense enough that every level from 8 down clips someone.
    for r in [10u8, 8, 5] {
        assert!(
            forward.iter().any(|(_, d)| d
                .factors
                .iter()
                .any(|f| f.resolution == r && f.clipped < f.unclipped)),
            "{r}"
        );
    }
}

/// The run at the size of the epoch reward run (`cargo test --release -p cairn-app
/// a_million -- --ignored --nocapture`): the time, and the same scales in reverse order.
#[test]
#[ignore]
fn a_million_hotspots_scale_the_same_in_any_order() {
    let hotspots = city(1_000_000);
    let levels = default_density();
    let locations: Vec<Option<u64>> = hotspots.iter().map(|(_, l)| *l).collect();
    let start = std::time::Instant::now();
    let forward = scales_at(&levels, &locations);
    let took = start.elapsed();
    let counted: Vec<Option<CellIndex>> =
        locations.iter().map(|l| CellIndex::try_from((*l)?).ok()).collect();
    let resolutions: Vec<Resolution> = levels.iter().map(|l| res(l.resolution)).collect();
    let start = std::time::Instant::now();
    let tables = clip_all(&levels, &resolutions, &counted);
    eprintln!("clipping every level: {:.3} s", start.elapsed().as_secs_f64());
    let hexes: Vec<usize> = tables.iter().map(|(t, _)| t.len()).collect();
    eprintln!("hexes per level, finest first: {hexes:?}");
    let mut reversed = locations.clone();
    reversed.reverse();
    let mut back = scales_at(&levels, &reversed);
    back.reverse();
    assert_eq!(forward, back);
    eprintln!("{} hotspots scaled in {:.3} s", locations.len(), took.as_secs_f64());
}
