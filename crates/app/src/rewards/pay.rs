//! The pay stage of the reward run, a pure function of an epoch's scored work: every
//! device's pool scores and share ([`shares`], beside the detect stage), then the flags'
//! escrow, the reward root and the validators' pool ([`finish`]). The node runs it at the
//! epoch boundary and `cairn rewards audit` runs the same code on a replayed chain.
//!
//! Rounding: every division rounds down — a pool's share of the emission, a device's share
//! of a pool — and whatever rounding leaves, and every pool without work, goes to the
//! treasury, so devices + validators + treasury = emission to the base unit.
//!
//! Paid work earns at most what was paid for it (docs/adr/0012-paid-work-cap.md): a
//! device's share of the usage pool is at most `work.paid_usage`, of the storage or compute
//! pool at most `work.paid_service` — the CRN value of the credits consumers spent on its
//! work in the epoch. What the caps hold back goes to the treasury too.

use super::detect::Flags;
use crate::state_key;
use cairn_state::{StateError, StateRead};
use cairn_types::device::{DensityFactor, SensorQuality};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{
    EpochRewards, PPM, Pool, PoolOutcome, RewardEntry, RewardParams, RewardReport, Work, emission,
    mul_div, split,
};
use cairn_types::{Address, Amount, DeviceClass, merkle};
use rayon::prelude::*;

/// A validator sharing the validators' pool, with its weight: the CRN bonded to its pool
/// (BFT mode), or 1 for the solo validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatorWeight {
    pub address: Address,
    pub weight: Amount,
}

/// Who shares the validators' pool of `epoch`: the epoch's validator set weighted by the
/// CRN bonded to each pool (BFT mode), or the solo validator alone.
pub fn validator_weights(
    state: &impl StateRead,
    epoch: u64,
    solo: Option<Address>,
) -> Result<Vec<ValidatorWeight>, StateError> {
    let set: cairn_types::consensus::ValidatorSet =
        state.get_decoded(&state_key::validator_set(epoch))?.unwrap_or_default();
    if set.is_empty() {
        let solo = solo.map(|address| ValidatorWeight { address, weight: 1 });
        return Ok(solo.into_iter().collect());
    }
    let mut out = Vec::with_capacity(set.len());
    for v in set.validators() {
        let tokens = crate::staking::get_validator(state, &v.address)?.map_or(0, |p| p.tokens);
        out.push(ValidatorWeight { address: v.address, weight: tokens });
    }
    Ok(out)
}

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

impl DeviceInput {
    /// The device's report entry before the run: its work, nothing scored or paid yet.
    pub fn into_entry(self) -> RewardEntry {
        RewardEntry {
            device: self.device,
            owner: self.owner,
            class: self.class,
            work: self.work,
            uptime_ok: false,
            scores: Vec::new(),
            amount: 0,
            not_counted: Vec::new(),
            flags: Vec::new(),
            density: self.density,
            sensor_quality: self.sensor_quality,
            capped: 0,
        }
    }
}

/// Whether a device's heartbeats met the uptime gate: filled × 100 ≥ min × slots.
pub fn uptime_ok(work: &Work, min_uptime_percent: u32) -> bool {
    work.slots > 0
        && u64::from(work.uptime_slots) * 100
            >= u64::from(min_uptime_percent) * u64::from(work.slots)
}

/// A device's raw score in each pool it worked for (at most two: usage and its class's
/// pool), and the count of them. With `up` false only the deferred work that met the gate
/// in the epoch it was done counts (`units_pregated`, `jobs_pregated`).
fn raw_scores(class: DeviceClass, work: &Work, up: bool) -> ([(Pool, u128); 2], usize) {
    let mut raw = [(Pool::Usage, 0u128); 2];
    let mut n = 0;
    let units = if up { work.units } else { work.units_pregated.min(work.units) };
    if units > 0 {
        raw[0] = (Pool::Usage, u128::from(units));
        n = 1;
    }
    let jobs = if up { work.jobs } else { work.jobs_pregated.min(work.jobs) };
    let own = match class {
        DeviceClass::Hotspot if up => {
            let proofs = u128::from(work.beacons) + u128::from(work.witnesses);
            // (beacons + witnesses) × density × location trust, both in millionths.
            (proofs > 0).then(|| {
                (Pool::Coverage, proofs * u128::from(work.density_ppm) * u128::from(work.trust_ppm))
            })
        }
        DeviceClass::Storage if up && work.proven_bytes > 0 => {
            Some((Pool::Storage, u128::from(work.proven_bytes)))
        }
        DeviceClass::Compute if jobs > 0 => Some((Pool::Compute, u128::from(jobs))),
        // readings × quality (thousandths) × location trust (millionths).
        DeviceClass::Sensor if up && work.readings > 0 => Some((
            Pool::Sensor,
            u128::from(work.readings) * u128::from(work.quality) * u128::from(work.trust_ppm),
        )),
        _ => None,
    };
    if let Some(s) = own
        && let Some(slot) = raw.get_mut(n)
    {
        *slot = s;
        n += 1;
    }
    (raw, n)
}

/// What a device did that earned nothing, with why (allocated at its exact length);
/// `gated` says the uptime gate took work away.
fn not_counted(class: DeviceClass, work: &Work, gated: bool) -> Vec<String> {
    let mut notes: [&str; 3] = [""; 3];
    let mut n = 0;
    let mut note = |s: &'static str| {
        if let Some(slot) = notes.get_mut(n) {
            *slot = s;
            n += 1;
        }
    };
    match class {
        DeviceClass::Hotspot
            if (work.beacons > 0 || work.witnesses > 0)
                && (work.trust_ppm == 0 || work.density_ppm == 0) =>
        {
            note("coverage_without_location");
        }
        DeviceClass::Sensor if work.readings > 0 => {
            if work.quality == 0 {
                note("sensor_quality_zero");
            }
            if work.trust_ppm == 0 {
                note("sensor_without_location");
            }
        }
        _ => {}
    }
    if gated {
        note("uptime_below_gate");
    }
    let mut out = Vec::with_capacity(n + work.rejected.len());
    out.extend(notes.iter().take(n).map(|s| s.to_string()));
    out.extend(work.rejected.iter().map(|(code, n)| format!("{n} rejected: {code}")));
    out
}

/// A device's scores as the pay stage finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceScores {
    /// Whether its heartbeats met the uptime gate.
    pub uptime_ok: bool,
    /// Its score in each pool it earns from (as [`RewardEntry::scores`]).
    pub scores: Vec<(Pool, u128)>,
    /// What it did that earned nothing, with why (as [`RewardEntry::not_counted`]).
    pub not_counted: Vec<String>,
}

/// A device's score in each pool, and what it did that earned nothing (with why). Below
/// the uptime gate a device earns only from deferred work that met the gate in the epoch it
/// was done.
pub fn scores(class: DeviceClass, work: &Work, min_uptime_percent: u32) -> DeviceScores {
    let up = uptime_ok(work, min_uptime_percent);
    let (raw, n) = raw_scores(class, work, up);
    // The gate took work away when the scores with the gate met would differ.
    let gated = !up && {
        let (all, m) = raw_scores(class, work, true);
        all.get(..m) != raw.get(..n)
    };
    let raw = raw.get(..n).unwrap_or_default();
    let notes = not_counted(class, work, gated);
    let mut scores = Vec::with_capacity(raw.iter().filter(|(_, s)| *s > 0).count());
    scores.extend(raw.iter().filter(|(_, s)| *s > 0));
    DeviceScores { uptime_ok: up, scores, not_counted: notes }
}

/// A device's volume share of a pool under the pool's cap for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CappedShare {
    /// What it is paid.
    pub pays: Amount,
    /// What the cap holds back (with `pays`, the share).
    pub held: Amount,
}

/// A device's volume share of a pool under the pool's cap for it: what it is paid and what
/// the cap holds back, which sum to `share`.
pub fn capped_share(share: Amount, cap: Option<Amount>) -> CappedShare {
    match cap {
        Some(cap) if share > cap => CappedShare { pays: cap, held: share - cap },
        _ => CappedShare { pays: share, held: 0 },
    }
}

/// Pool sums over a run of entries, added up across cores (every sum is of non-negative
/// integers, so the order of the additions does not change it; `saturating_add` saturates
/// to the same value in any order).
#[derive(Clone, Copy, Default)]
struct Sums {
    totals: [u128; 7],
    earners: [u64; 7],
}

impl Sums {
    fn add(mut self, other: Sums) -> Sums {
        for (a, b) in self.totals.iter_mut().zip(other.totals) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.earners.iter_mut().zip(other.earners) {
            *a += b;
        }
        self
    }
}

/// What the devices were paid, added up across cores.
#[derive(Clone, Copy, Default)]
struct Paid {
    pools: [Amount; 7],
    /// Held back from each pool by the paid-value caps.
    capped: [Amount; 7],
    devices: Amount,
    escrowed: Amount,
}

impl Paid {
    fn add(mut self, other: Paid) -> Paid {
        for (a, b) in self.pools.iter_mut().zip(other.pools) {
            *a += b;
        }
        for (a, b) in self.capped.iter_mut().zip(other.capped) {
            *a += b;
        }
        self.devices += other.devices;
        self.escrowed += other.escrowed;
        self
    }
}

/// The reward report of `epoch` for `devices` (in device-id order); see [`run_entries`].
pub fn run(
    p: &RewardParams,
    min_uptime_percent: u32,
    epoch: u64,
    devices: impl rayon::iter::IntoParallelIterator<Item = DeviceInput>,
    validators: &[ValidatorWeight],
    flags: &Flags,
    reminted: Amount,
) -> RewardReport {
    let entries: Vec<RewardEntry> = devices.into_par_iter().map(DeviceInput::into_entry).collect();
    run_entries(p, min_uptime_percent, epoch, entries, validators, flags, reminted)
}

/// The reward report of `epoch` for `entries` (one a device in device-id order, holding its
/// work, density and sensor quality; nothing scored or paid yet), filled in place: paying
/// the validator pool to `validators` in proportion to their weights (stake; a solo
/// validator has weight 1), rounded down, the rest to the treasury. Flagged devices keep
/// their share of their pools, but it is held in fraud escrow instead of entering the reward
/// root. [`shares`] then [`finish`]: the node runs the first beside the fraud detectors,
/// whose flags only the second needs.
pub fn run_entries(
    p: &RewardParams,
    min_uptime_percent: u32,
    epoch: u64,
    entries: Vec<RewardEntry>,
    validators: &[ValidatorWeight],
    flags: &Flags,
    reminted: Amount,
) -> RewardReport {
    finish(shares(p, min_uptime_percent, epoch, entries, reminted), validators, flags)
}

/// The part of the run that fraud flags do not change: every entry's scores, notes and
/// amount, the pools' totals and payouts, and the leaf hash of every entry with an amount
/// (in entry order; [`finish`] drops the flagged ones).
pub struct Shares {
    epoch: u64,
    emitted: Amount,
    reminted: Amount,
    /// The emission and re-minted CRN together, and each pool's part of it.
    total: Amount,
    parts: [(Pool, Amount); 7],
    sums: Sums,
    paid: Paid,
    entries: Vec<RewardEntry>,
    paid_leaves: Vec<cairn_types::Hash>,
}

/// Scores and pays `entries` (see [`run_entries`]) without looking at fraud flags.
pub fn shares(
    p: &RewardParams,
    min_uptime_percent: u32,
    epoch: u64,
    mut entries: Vec<RewardEntry>,
    reminted: Amount,
) -> Shares {
    let emitted = emission(p, epoch);
    // The pools share the emission and the re-minted CRN alike.
    let total = emitted.saturating_add(reminted);
    let parts = split(&p.shares, total);
    // Scores and notes of every entry, and the pools' totals, on all cores.
    let sums = entries
        .par_iter_mut()
        .fold(Sums::default, |mut sums, e| {
            let DeviceScores { uptime_ok: up, scores, not_counted: notes } =
                scores(e.class, &e.work, min_uptime_percent);
            for (pool, s) in &scores {
                let i = *pool as usize;
                sums.totals[i] = sums.totals[i].saturating_add(*s);
                sums.earners[i] += 1;
            }
            e.uptime_ok = up;
            e.scores = scores;
            e.not_counted = notes;
            sums
        })
        .reduce(Sums::default, Sums::add);
    // Each device's share of its pools, rounded down, at most its paid value in the usage,
    // storage and compute pools.
    let totals = sums.totals;
    let paid = entries
        .par_iter_mut()
        .fold(Paid::default, |mut paid, e| {
            let (mut amount, mut capped): (Amount, Amount) = (0, 0);
            for (pool, s) in &e.scores {
                let i = *pool as usize;
                let share = mul_div(parts[i].1, *s, totals[i]);
                let CappedShare { pays, held } = capped_share(share, e.work.paid_cap(*pool));
                paid.pools[i] += pays;
                paid.capped[i] += held;
                amount += pays;
                capped += held;
            }
            e.amount = amount;
            e.capped = capped;
            paid.devices += amount;
            paid
        })
        .reduce(Paid::default, Paid::add);
    let paid_leaves = entries
        .par_iter()
        .filter(|e| e.amount > 0)
        .map(|e| merkle::leaf_hash(&e.leaf().hash().0))
        .collect();
    Shares { epoch, emitted, reminted, total, parts, sums, paid, entries, paid_leaves }
}

/// The run's end once the fraud flags are known: each entry's flags, the escrowed sum, the
/// reward root over the paid, unflagged entries (the same root as
/// `RewardReport::leaf_root`) and the validators' pool.
pub fn finish(shares: Shares, validators: &[ValidatorWeight], flags: &Flags) -> RewardReport {
    let Shares {
        epoch,
        emitted,
        reminted,
        total,
        parts,
        sums,
        mut paid,
        mut entries,
        paid_leaves: mut leaf_hashes,
    } = shares;
    if !flags.is_empty() {
        entries.par_iter_mut().for_each(|e| {
            e.flags = flags.get(&e.device).cloned().unwrap_or_default();
        });
        paid.escrowed = entries.iter().filter(|e| !e.flags.is_empty()).map(|e| e.amount).sum();
        // The paid entries in order, alongside their hashes: keep the unflagged ones.
        let mut paid_entries = entries.iter().filter(|e| e.amount > 0);
        leaf_hashes.retain(|_| paid_entries.next().is_some_and(|e| e.flags.is_empty()));
    }
    let leaves = leaf_hashes.len() as u64;
    let root = merkle::root_of_leaves(leaf_hashes);
    let Sums { totals, mut earners } = sums;
    let mut paid_pools = paid.pools;
    let pool = parts[Pool::Validators as usize].1;
    let weight: Amount = validators.iter().map(|v| v.weight).fold(0, Amount::saturating_add);
    // In the summary as (validator, amount) pairs.
    let validator_payouts: Vec<(Address, Amount)> = validators
        .iter()
        .map(|v| (v.address, mul_div(pool, v.weight, weight)))
        .filter(|(_, amount)| *amount > 0)
        .collect();
    let to_validators: Amount = validator_payouts.iter().map(|(_, a)| *a).sum();
    paid_pools[Pool::Validators as usize] = to_validators;
    earners[Pool::Validators as usize] = validator_payouts.len() as u64;
    let pools: Vec<PoolOutcome> = parts
        .iter()
        .map(|(pool, amount)| PoolOutcome {
            pool: *pool,
            amount: *amount,
            paid: if *pool == Pool::Treasury { *amount } else { paid_pools[*pool as usize] },
            score_total: totals[*pool as usize],
            earners: earners[*pool as usize],
            capped: paid.capped[*pool as usize],
        })
        .collect();
    let to_treasury = total - paid.devices - to_validators;
    RewardReport {
        summary: EpochRewards {
            epoch,
            emission: emitted,
            reminted,
            pools,
            to_treasury,
            to_validators,
            validator_payouts,
            escrowed: paid.escrowed,
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

#[cfg(test)]
#[path = "pay_tests.rs"]
mod tests;
