//! The reward run as a pure function of an epoch's work: the node runs it at the epoch
//! boundary and `cairn rewards audit` runs the same code on a replayed chain.
//!
//! Rounding: every division rounds down — a pool's share of the emission, a device's share
//! of a pool — and whatever rounding leaves, and every pool without work, goes to the
//! treasury, so devices + validators + treasury = emission to the base unit.

use cairn_types::device::{DensityFactor, SensorQuality};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{
    EpochRewards, PPM, Pool, PoolOutcome, RewardEntry, RewardParams, RewardReport, Work, emission,
    mul_div, split,
};
use cairn_types::{Address, Amount, DeviceClass};

/// One device as the reward run sees it.
#[derive(Debug, Clone)]
pub struct DeviceInput {
    pub device: DeviceId,
    pub owner: Address,
    pub class: DeviceClass,
    pub work: Work,
    /// Density factors behind `work.density_ppm` (hotspots that earned coverage).
    pub density: Vec<DensityFactor>,
    /// Quality behind `work.quality` (sensors that read).
    pub sensor_quality: Option<SensorQuality>,
}

/// Whether a device's heartbeats met the uptime gate: filled × 100 ≥ min × slots.
pub fn uptime_ok(work: &Work, min_uptime_percent: u32) -> bool {
    work.slots > 0
        && u64::from(work.uptime_slots) * 100
            >= u64::from(min_uptime_percent) * u64::from(work.slots)
}

/// A device's score in each pool, and what it did that earned nothing (with why).
pub fn scores(
    class: DeviceClass,
    work: &Work,
    min_uptime_percent: u32,
) -> (bool, Vec<(Pool, u128)>, Vec<String>) {
    let mut not_counted = Vec::new();
    let up = uptime_ok(work, min_uptime_percent);
    let mut raw: Vec<(Pool, u128)> = Vec::new();
    if work.units > 0 {
        raw.push((Pool::Usage, u128::from(work.units)));
    }
    match class {
        DeviceClass::Hotspot => {
            let proofs = u128::from(work.beacons) + u128::from(work.witnesses);
            if proofs > 0 {
                if work.trust_ppm == 0 || work.density_ppm == 0 {
                    not_counted.push("coverage_without_location".to_string());
                }
                // (beacons + witnesses) × density × location trust, both in millionths.
                let s = proofs * u128::from(work.density_ppm) * u128::from(work.trust_ppm);
                raw.push((Pool::Coverage, s));
            }
        }
        DeviceClass::Storage if work.proven_bytes > 0 => {
            raw.push((Pool::Storage, u128::from(work.proven_bytes)));
        }
        DeviceClass::Compute if work.jobs > 0 => {
            raw.push((Pool::Compute, u128::from(work.jobs)));
        }
        DeviceClass::Sensor if work.readings > 0 => {
            if work.quality == 0 {
                not_counted.push("sensor_quality_zero".to_string());
            }
            if work.trust_ppm == 0 {
                not_counted.push("sensor_without_location".to_string());
            }
            // readings × quality (thousandths) × location trust (millionths).
            let s =
                u128::from(work.readings) * u128::from(work.quality) * u128::from(work.trust_ppm);
            raw.push((Pool::Sensor, s));
        }
        _ => {}
    }
    if !up && !raw.is_empty() {
        not_counted.push("uptime_below_gate".to_string());
    }
    for (code, n) in &work.rejected {
        not_counted.push(format!("{n} rejected: {code}"));
    }
    let scores = if up { raw.into_iter().filter(|(_, s)| *s > 0).collect() } else { Vec::new() };
    (up, scores, not_counted)
}

/// The reward report of `epoch` for `devices` (in device-id order), paying the validator
/// pool to `validators` in proportion to their weights (stake; a solo validator has weight
/// 1), rounded down, the rest to the treasury. Flagged devices keep their share of their pools, but it is held in
/// fraud escrow instead of entering the reward root.
pub fn run(
    p: &RewardParams,
    min_uptime_percent: u32,
    epoch: u64,
    devices: impl rayon::iter::IntoParallelIterator<Item = DeviceInput>,
    validators: &[(Address, Amount)],
    flags: &super::fraud::Flags,
    reminted: Amount,
) -> RewardReport {
    let emitted = emission(p, epoch);
    // The pools share the emission and the re-minted CRN alike.
    let total = emitted.saturating_add(reminted);
    let parts = split(&p.shares, total);
    use rayon::prelude::*;
    let mut entries: Vec<RewardEntry> = devices
        .into_par_iter()
        .map(|d| {
            let (uptime_ok, scores, not_counted) = scores(d.class, &d.work, min_uptime_percent);
            RewardEntry {
                device: d.device,
                owner: d.owner,
                class: d.class,
                work: d.work,
                uptime_ok,
                scores,
                amount: 0,
                not_counted,
                flags: flags.get(&d.device).cloned().unwrap_or_default(),
                density: d.density,
                sensor_quality: d.sensor_quality,
            }
        })
        .collect();
    let mut totals = [0u128; 7];
    let mut earners = [0u64; 7];
    for e in &entries {
        for (pool, s) in &e.scores {
            totals[*pool as usize] = totals[*pool as usize].saturating_add(*s);
            earners[*pool as usize] += 1;
        }
    }
    let mut paid = [0 as Amount; 7];
    for e in entries.iter_mut() {
        let mut amount: Amount = 0;
        for (pool, s) in &e.scores {
            let i = *pool as usize;
            let share = mul_div(parts[i].1, *s, totals[i]);
            paid[i] += share;
            amount += share;
        }
        e.amount = amount;
    }
    let pool = parts[Pool::Validators as usize].1;
    let weight: Amount = validators.iter().map(|(_, w)| *w).fold(0, Amount::saturating_add);
    let validator_payouts: Vec<(Address, Amount)> = validators
        .iter()
        .map(|(a, w)| (*a, mul_div(pool, *w, weight)))
        .filter(|(_, amount)| *amount > 0)
        .collect();
    let to_validators: Amount = validator_payouts.iter().map(|(_, a)| *a).sum();
    paid[Pool::Validators as usize] = to_validators;
    earners[Pool::Validators as usize] = validator_payouts.len() as u64;
    let pools: Vec<PoolOutcome> = parts
        .iter()
        .map(|(pool, amount)| PoolOutcome {
            pool: *pool,
            amount: *amount,
            paid: if *pool == Pool::Treasury { *amount } else { paid[*pool as usize] },
            score_total: totals[*pool as usize],
            earners: earners[*pool as usize],
        })
        .collect();
    let to_devices: Amount = entries.iter().map(|e| e.amount).sum();
    let escrowed: Amount = entries.iter().filter(|e| !e.flags.is_empty()).map(|e| e.amount).sum();
    let to_treasury = total - to_devices - to_validators;
    // The same root as `RewardReport::leaf_root`, with the leaves hashed on all cores.
    let leaf_hashes: Vec<cairn_types::Hash> =
        { entries.par_iter().filter(|e| e.is_leaf()).map(|e| e.leaf().hash()).collect() };
    let (root, leaves) = (cairn_types::merkle::root(&leaf_hashes), leaf_hashes.len() as u64);
    RewardReport {
        summary: EpochRewards {
            epoch,
            emission: emitted,
            reminted,
            pools,
            to_treasury,
            to_validators,
            validator_payouts,
            escrowed,
            root,
            leaves,
        },
        entries,
    }
}

/// Trust in a device's location for an epoch, millionths: none without one, half for a
/// location asserted during the epoch (the device just moved), full otherwise.
pub fn location_trust(location: Option<u64>, asserted_at: Option<u64>, epoch_start: u64) -> u32 {
    match (location, asserted_at) {
        (None, _) => 0,
        (Some(_), Some(h)) if h >= epoch_start => PPM / 2,
        (Some(_), _) => PPM,
    }
}
