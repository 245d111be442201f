//! Sensor readings: per-epoch aggregates while the epoch runs, and at its end a quality
//! score per sensor = timeliness × in-range × agreement with the median of its neighbours
//! (sensors in the same coarse H3 cell), all in integer thousandths, rounded down.

use cairn_types::Params;
use cairn_types::device::{EpochActivity, SensorEpoch, SensorQuality};

/// Records one judged reading in the device's epoch activity: `Ok(value)` accepted,
/// `Err(value)` out of range.
pub fn record(act: &mut EpochActivity, reading: Result<i64, i64>) {
    let a = act.sensor.get_or_insert_with(SensorEpoch::default);
    match reading {
        Ok(v) => {
            a.readings = a.readings.saturating_add(1);
            a.sum = a.sum.saturating_add(i128::from(v));
            a.digest = cairn_types::Hash::sha256_parts(&[&a.digest.0, &v.to_be_bytes()]);
        }
        Err(_) => a.out_of_range = a.out_of_range.saturating_add(1),
    }
}

/// Lower median of a non-empty sorted slice.
fn lower_median(sorted: &[i64]) -> Option<i64> {
    sorted.get((sorted.len().saturating_sub(1)) / 2).copied()
}

/// The lower median of sorted `values` with one occurrence of `v` (which is in it) left out.
fn median_without(values: &[i64], v: i64) -> Option<i64> {
    let n = values.len().checked_sub(1).filter(|n| *n > 0)?;
    let at = values.partition_point(|x| *x < v);
    let j = (n - 1) / 2;
    values.get(if j < at { j } else { j + 1 }).copied()
}

/// Agreement in thousandths: 1000 within `tol` of the median, falling linearly to 0 at
/// twice `tol`, rounded down.
pub fn agreement(mean: i64, median: i64, tol: i64) -> u32 {
    let d = i128::from(mean).abs_diff(i128::from(median));
    let tol = tol.max(1) as u128;
    if d <= tol {
        1000
    } else if d >= 2 * tol {
        0
    } else {
        ((2 * tol - d) * 1000 / tol) as u32
    }
}

/// The score of one sensor's epoch given its neighbours' median (if any) and whether it
/// has a location. Without a location it cannot be compared: agreement 0. Without
/// neighbours there is nothing to disagree with: agreement 1000.
pub fn score(
    params: &Params,
    agg: &SensorEpoch,
    located: bool,
    neighbour_median: Option<i64>,
) -> SensorQuality {
    let sp = &params.sensor;
    let expected = sp.expected_readings.max(1);
    let timeliness = agg.readings.min(expected) * 1000 / expected;
    let judged = agg.readings.saturating_add(agg.out_of_range);
    let in_range =
        if judged == 0 { 0 } else { (u64::from(agg.readings) * 1000 / u64::from(judged)) as u32 };
    let agreement = match (located, agg.mean(), neighbour_median) {
        (false, _, _) | (_, None, _) => 0,
        (true, Some(_), None) => 1000,
        (true, Some(m), Some(median)) => agreement(m, median, sp.tolerance),
    };
    let quality =
        (u64::from(timeliness) * u64::from(in_range) * u64::from(agreement) / 1_000_000) as u32;
    SensorQuality { timeliness, in_range, agreement, quality, neighbour_median }
}

/// The coarse cell of a resolution-12 location.
fn coarse_cell(location: u64, resolution: u8) -> Option<u64> {
    let cell = h3o::CellIndex::try_from(location).ok()?;
    let res = h3o::Resolution::try_from(resolution).ok()?;
    cell.parent(res).map(u64::from)
}

/// The quality of every sensor in `sensors` (its epoch aggregate and its resolution-12
/// location, if any), in the order given. Pure: the epoch boundary and any auditor compute
/// the same thing. Each coarse cell's means are sorted once; a sensor's neighbours are its
/// cell without itself.
pub fn qualities(params: &Params, sensors: &[(&SensorEpoch, Option<u64>)]) -> Vec<SensorQuality> {
    use rayon::prelude::*;
    let cells: Vec<Option<u64>> = sensors
        .par_iter()
        .map(|(_, loc)| loc.and_then(|l| coarse_cell(l, params.sensor.coarse_resolution)))
        .collect();
    // Every located mean by (cell, mean): each cell's means are one sorted run.
    let mut by_cell: Vec<(u64, i64)> = sensors
        .par_iter()
        .zip(cells.par_iter())
        .filter_map(|((agg, _), cell)| Some(((*cell)?, agg.mean()?)))
        .collect();
    by_cell.par_sort_unstable();
    let means: Vec<i64> = by_cell.iter().map(|(_, m)| *m).collect();
    // Each cell with the range of its means.
    let mut runs: Vec<(u64, usize, usize)> = Vec::new();
    for (i, (c, _)) in by_cell.iter().enumerate() {
        match runs.last_mut() {
            Some((last, _, end)) if last == c => *end = i + 1,
            _ => runs.push((*c, i, i + 1)),
        }
    }
    drop(by_cell);
    let of_cell = |c: u64| {
        let at = runs.binary_search_by_key(&c, |(cell, _, _)| *cell).ok()?;
        let (_, from, to) = runs.get(at)?;
        means.get(*from..*to)
    };
    sensors
        .par_iter()
        .zip(cells)
        .map(|((agg, _), cell)| {
            let median = cell.and_then(|c| {
                let means = of_cell(c)?;
                match agg.mean() {
                    Some(m) => median_without(means, m),
                    None => lower_median(means),
                }
            });
            score(params, agg, cell.is_some(), median)
        })
        .collect()
}

#[cfg(test)]
mod unit {
    use super::*;
    use proptest::prelude::*;

    /// The qualities with each cell's means in a map of sorted lists.
    fn qualities_by_map(
        params: &Params,
        sensors: &[(&SensorEpoch, Option<u64>)],
    ) -> Vec<SensorQuality> {
        let cell =
            |loc: &Option<u64>| loc.and_then(|l| coarse_cell(l, params.sensor.coarse_resolution));
        let mut by_cell: std::collections::BTreeMap<u64, Vec<i64>> = Default::default();
        for (agg, loc) in sensors {
            if let (Some(c), Some(m)) = (cell(loc), agg.mean()) {
                by_cell.entry(c).or_default().push(m);
            }
        }
        by_cell.values_mut().for_each(|m| m.sort_unstable());
        sensors
            .iter()
            .map(|(agg, loc)| {
                let c = cell(loc);
                let median = c.and_then(|c| {
                    let means = by_cell.get(&c)?;
                    agg.mean().map_or_else(|| lower_median(means), |m| median_without(means, m))
                });
                score(params, agg, c.is_some(), median)
            })
            .collect()
    }

    proptest! {
        /// Sensors in a few cells (some unlocated, some without readings, equal means):
        /// the sorted runs give what the map gave.
        #[test]
        fn qualities_match_the_map_of_means(
            raw in proptest::collection::vec((0u32..6, 0u32..3, -50i128..50, 0usize..5), 0..60),
        ) {
            let p = Params::default();
            let centre = h3o::LatLng::new(48.85, 2.35).unwrap().to_cell(h3o::Resolution::Twelve);
            let far = h3o::LatLng::new(40.0, -3.7).unwrap().to_cell(h3o::Resolution::Twelve);
            let spots = [Some(u64::from(centre)), Some(u64::from(far)), None, Some(7), Some(u64::from(centre))];
            let aggs: Vec<(SensorEpoch, Option<u64>)> = raw
                .iter()
                .map(|(readings, out, mean, spot)| {
                    let agg = SensorEpoch {
                        readings: *readings,
                        out_of_range: *out,
                        sum: i128::from(*readings) * (20_000 + mean * 100),
                        ..SensorEpoch::default()
                    };
                    (agg, spots[*spot])
                })
                .collect();
            let refs: Vec<(&SensorEpoch, Option<u64>)> = aggs.iter().map(|(a, l)| (a, *l)).collect();
            prop_assert_eq!(qualities(&p, &refs), qualities_by_map(&p, &refs));
        }
    }

    #[test]
    fn the_median_without_one_value_matches_removing_it_and_sorting() {
        let cases: [&[i64]; 6] =
            [&[5], &[1, 2], &[3, 3, 3], &[1, 4, 9, 9, 12], &[-7, 0, 0, 2], &[1, 2, 3, 4, 5, 6]];
        for values in cases {
            for (i, v) in values.iter().enumerate() {
                let mut others = values.to_vec();
                others.remove(i);
                assert_eq!(
                    median_without(values, *v),
                    lower_median(&others),
                    "{values:?} without {v}"
                );
            }
        }
    }

    #[test]
    fn agreement_falls_linearly_between_one_and_two_tolerances() {
        assert_eq!(agreement(20_000, 20_000, 2_000), 1000);
        assert_eq!(agreement(22_000, 20_000, 2_000), 1000); // just inside
        assert_eq!(agreement(22_001, 20_000, 2_000), 999); // just outside: (4000 − 2001)·1000/2000
        assert_eq!(agreement(23_000, 20_000, 2_000), 500);
        assert_eq!(agreement(17_000, 20_000, 2_000), 500);
        assert_eq!(agreement(24_000, 20_000, 2_000), 0);
        assert_eq!(agreement(i64::MIN, i64::MAX, 2_000), 0);
    }

    #[test]
    fn score_multiplies_the_three_factors_rounding_down() {
        let p = Params::default(); // expected 10 readings, tolerance 2.000
        let agg =
            SensorEpoch { readings: 5, out_of_range: 1, sum: 5 * 23_000, ..SensorEpoch::default() };
        let q = score(&p, &agg, true, Some(20_000));
        assert_eq!((q.timeliness, q.in_range, q.agreement), (500, 833, 500));
        assert_eq!(q.quality, 500 * 833 * 500 / 1_000_000); // 208
        assert_eq!(score(&p, &agg, false, Some(20_000)).quality, 0);
        assert_eq!(score(&p, &agg, true, None).agreement, 1000);
        let none = SensorEpoch { readings: 0, out_of_range: 3, ..SensorEpoch::default() };
        assert_eq!(score(&p, &none, true, Some(1)).quality, 0);
    }

    #[test]
    fn lower_median_of_even_and_odd_lists() {
        assert_eq!(lower_median(&[]), None);
        assert_eq!(lower_median(&[5]), Some(5));
        assert_eq!(lower_median(&[1, 2, 3, 4]), Some(2));
        assert_eq!(lower_median(&[1, 2, 3]), Some(2));
    }
}
