//! The score stage of the reward run, in memory: the hex density of every hotspot that
//! earned coverage (at its location at the boundary, docs/adr/0007-hex-density.md) and the
//! quality of every sensor that read, written into the gathered entries.

use super::gather::Gathered;
use crate::devices;
use cairn_types::device::SensorEpoch;
use cairn_types::rewards::RewardEntry;
use cairn_types::{DeviceClass, Params};

/// The roster with its density and sensor quality scored: what the detect stage and the
/// pay stage take.
#[derive(Debug, Clone, Default)]
pub struct Scored {
    pub devices: Gathered,
}

/// The score stage: [`Gathered`] to [`Scored`].
pub fn score(params: &Params, mut devices: Gathered) -> Scored {
    score_epoch(params, &mut devices);
    Scored { devices }
}

/// The epoch's scoring, in memory: the hex density of every hotspot that earned coverage
/// (at its location at the boundary) and the quality of every sensor that read.
fn score_epoch(params: &Params, g: &mut Gathered) {
    use rayon::prelude::*;
    let Gathered { entries, facts, .. } = g;
    let hotspots: Vec<usize> = entries
        .par_iter()
        .enumerate()
        .filter(|(_, e)| {
            e.class == DeviceClass::Hotspot && (e.work.beacons > 0 || e.work.witnesses > 0)
        })
        .map(|(i, _)| i)
        .collect();
    let located: Vec<Option<u64>> =
        hotspots.par_iter().map(|i| facts.get(*i).and_then(|f| f.location)).collect();
    let scales = devices::density::scales_at(&params.coverage.density, &located);
    apply_at(entries, &hotspots, scales, |e, d| {
        e.work.density_ppm = d.scale_ppm;
        e.density = d.factors;
    });
    let sensors: Vec<usize> =
        facts.par_iter().enumerate().filter(|(_, f)| f.sensor.is_some()).map(|(i, _)| i).collect();
    let refs: Vec<(&SensorEpoch, Option<u64>)> = sensors
        .par_iter()
        .filter_map(|i| facts.get(*i))
        .filter_map(|f| f.sensor.as_deref().map(|s| (&s.epoch, f.location)))
        .collect();
    let qualities = devices::sensors::qualities(params, &refs);
    apply_at(entries, &sensors, qualities, |e, q| {
        if e.class == DeviceClass::Sensor {
            e.work.quality = q.quality;
            e.sensor_quality = Some(q);
        }
    });
}

/// Applies `values[k]` to `entries[at[k]]` with `f`, on all cores: `at` ascending, one
/// value each (values past the end of either are left alone). The entries are cut into runs
/// and each run takes the values whose places fall in it.
fn apply_at<T: Default + Send>(
    entries: &mut [RewardEntry],
    at: &[usize],
    mut values: Vec<T>,
    f: impl Fn(&mut RewardEntry, T) + Sync,
) {
    use rayon::prelude::*;
    let per_run = entries.len().div_ceil(64).max(1);
    let mut runs = Vec::new();
    let (mut rest_at, mut rest_values) = (at, values.as_mut_slice());
    for (r, run) in entries.chunks_mut(per_run).enumerate() {
        let start = r * per_run;
        let k = rest_at.partition_point(|i| *i < start + run.len());
        let (here, later) = rest_at.split_at(k);
        let (mine, others) = rest_values.split_at_mut(k.min(rest_values.len()));
        (rest_at, rest_values) = (later, others);
        runs.push((start, run, here, mine));
    }
    runs.into_par_iter().for_each(|(start, run, here, mine)| {
        for (i, value) in here.iter().zip(mine.iter_mut()) {
            if let Some(e) = i.checked_sub(start).and_then(|j| run.get_mut(j)) {
                f(e, std::mem::take(value));
            }
        }
    });
}

#[cfg(test)]
#[path = "score_tests.rs"]
mod tests;
