//! Holds the chain's verdicts against what each device claimed. Everything paid, held and
//! rejected comes from the node's reward report of the epoch (`/v1/epochs/{e}/rewards`),
//! transaction receipts and job records; only the claims come from the simulator.
//!
//! The per-unit rate of a pool in an epoch is what honest devices paid in full (up for the
//! epoch, no fraud flag) earned from it, plus what the pool paid for made-up units, per unit
//! of work the chain counted for those honest devices: the rate honest work would have
//! earned had the made-up units been counted as nothing (a cheat that takes nearly all of a
//! pool would otherwise drive the rate it is measured at to nothing). A device's fraudulent
//! *paid* reward is the part of what the chain paid it from that pool that its made-up units
//! account for, counting its honest units first. A behaviour's *attempted* reward in a pool
//! is its made-up units times that rate, and never more than the pool. For an honest device
//! the same rate times the units it claimed is its fair share: rejected reports, failed
//! jobs, a missed uptime gate, fraud holds and what the pool paid for made-up units all
//! show as fair share not paid. The rate is of the devices' volume shares; paid work earns
//! at most what was paid for it (ADR 0012), so an honest device's fair share in the usage,
//! storage and compute pools is at most its paid value there, as its pay is.
//!
//! Coverage held while a new hotspot is on probation (a hold with no detector's finding,
//! docs/adr/0013-cold-start.md) is neither paid nor held when its epoch is reported: it is
//! [`Pending`] until the simulator has run past the boundary that judges it and read
//! whether it was released ([`Tally::resolve`]).
//!
//! A self-dealer pays for its own work: it burns CRN for credits and spends them on its own
//! devices, and paid work earns at most what was paid for it (ADR 0012). What it gets back
//! up to what it burned is its own money returning, not fraud: its fraud *paid* is its net
//! gain, per device and epoch the fraudulent part of its pay less the CRN it burned for the
//! credits that work consumed, never below zero. The burn is the node's: the amount of its
//! operator's `MintCredits` that succeeded and the credits that bought ([`Tally::cost_basis`],
//! read at onboarding), so each credit costs burned ÷ credits; its made-up units count the
//! credits they consumed at the prices its own transactions set.
//!
//! A roster griefer aims at honest hotspots (its devices' `source`): their fair share is
//! part of its attempted reward, and what the co-location rule held of it is the harm it
//! did (`honest_held`), reported beside what it was paid.

use super::book::{Claims, POOLS};
use super::fleet::{Behaviour, Fleet};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{Evidence, RewardEntry, RewardReport, mul_div};
use cairn_types::{Amount, DeviceClass};
use std::collections::BTreeMap;

/// Figures of one behaviour (or of the honest fleet), summed over the evaluated epochs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub devices: usize,
    pub reports: u64,
    pub rejected_reports: u64,
    /// Made-up units at the honest rate (honest devices: their fair share).
    pub attempted: Amount,
    /// Paid through the reward root for made-up units (honest: everything paid).
    pub paid: Amount,
    /// Held in fraud escrow for made-up units (honest: everything held).
    pub held: Amount,
    /// Honest devices: fair share and paid per pool (in `POOLS` order).
    pub pool_attempted: [Amount; 5],
    pub pool_paid: [Amount; 5],
    /// A self-dealer's pay for its made-up work before the cost of the credits it consumed
    /// is taken off (`paid` is the net gain), and that cost: the CRN burned for them.
    pub gross_paid: Amount,
    pub burned: Amount,
    /// Transactions of the behaviour's own work that failed (storage answers, jobs, ...).
    pub failed_txs: u64,
    /// Honest devices it aimed at (a roster griefer's targets): their reward held in fraud
    /// escrow as co-located, and the device-epochs held.
    pub honest_held: Amount,
    pub honest_held_epochs: u64,
    /// What the chain did about it, by check: rejection codes, fraud detectors, failed
    /// transactions, slashes, scaling.
    pub caught_by: BTreeMap<String, u64>,
}

impl Figures {
    pub fn caught(&mut self, by: &str, n: u64) {
        if n > 0 {
            *self.caught_by.entry(by.to_string()).or_insert(0) += n;
        }
    }
}

/// One epoch as the node reported it, for a line of live output.
#[derive(Debug, Clone, Default)]
pub struct EpochLine {
    pub epoch: u64,
    pub devices: usize,
    pub reports: u64,
    pub rejected: u64,
    pub paid: Amount,
    pub paid_devices: usize,
    pub held: Amount,
    pub flagged: usize,
}

#[derive(Debug, Default)]
pub struct Tally {
    /// None: honest.
    pub per: BTreeMap<Option<Behaviour>, Figures>,
    pub epochs: Vec<EpochLine>,
    /// Probation holds of the measured epochs, not yet resolved.
    pub pending: Vec<Pending>,
    /// Operators that buy credits for their own devices' work (self-dealers): the CRN their
    /// `MintCredits` burned and the credits it bought, as the node recorded them.
    pub cost_basis: BTreeMap<usize, (Amount, u128)>,
}

/// Credits a self-dealer's made-up unit consumes, per pool (in `POOLS` order): one per usage
/// unit (its channels' price) and [`SELF_JOB_PRICE`](super::work::SELF_JOB_PRICE) per job.
fn self_dealt_credits_per_unit(i: usize) -> u128 {
    match super::book::POOLS.get(i) {
        Some(cairn_types::rewards::Pool::Usage) => 1,
        Some(cairn_types::rewards::Pool::Compute) => super::work::SELF_JOB_PRICE,
        _ => 0,
    }
}

/// One device-epoch's coverage held on probation: what it holds per pool (for a cheater,
/// the part its made-up units account for), and the end of the probation.
#[derive(Debug, Clone)]
pub struct Pending {
    pub device: usize,
    pub epoch: u64,
    pub until: u64,
    pub amounts: [Amount; 5],
}

/// What the chain did with one device in one epoch.
#[derive(Debug, Clone, Default)]
struct Outcome {
    /// Its volume share of each pool, before the paid-value caps.
    volume: [Amount; 5],
    /// The paid-value cap of each pool, where there is one.
    cap: [Option<Amount>; 5],
    paid: [Amount; 5],
    held: [Amount; 5],
    /// Held on probation (no detector's finding): judged later.
    pending: [Amount; 5],
    /// The probation's end, for a device held on probation alone.
    until: Option<u64>,
    counted: [u128; 5],
    rejected: u64,
    flagged: bool,
    /// Flagged by the co-location rule.
    colocated: bool,
    uptime_ok: bool,
}

/// Units per pool the reward run counted for an entry.
fn counted(e: &RewardEntry) -> [u128; 5] {
    let w = &e.work;
    let mut c = [0u128; 5];
    c[0] = u128::from(w.units);
    if e.class == DeviceClass::Hotspot {
        c[1] = u128::from(w.beacons) + u128::from(w.witnesses);
    }
    c[2] = u128::from(w.proven_bytes);
    c[3] = u128::from(w.jobs);
    c[4] = u128::from(w.readings);
    c
}

fn outcome(report: &RewardReport, e: &RewardEntry) -> Outcome {
    let until = e.flags.iter().find_map(Evidence::probation_end);
    let finding = e.flags.iter().any(Evidence::is_finding);
    let mut o = Outcome {
        counted: counted(e),
        rejected: e.work.rejected.iter().map(|(_, n)| u64::from(*n)).sum(),
        flagged: !e.flags.is_empty(),
        until: until.filter(|_| !finding),
        colocated: e.flags.iter().any(|f| f.detector() == "colocated"),
        uptime_ok: e.uptime_ok,
        ..Outcome::default()
    };
    for (pool, score) in &e.scores {
        let Some(i) = super::book::pool_index(*pool) else { continue };
        let Some(p) = report.summary.pools.iter().find(|p| p.pool == *pool) else { continue };
        let volume = mul_div(p.amount, *score, p.score_total);
        o.volume[i] += volume;
        o.cap[i] = e.work.paid_cap(*pool);
        let share = o.cap[i].map_or(volume, |c| volume.min(c));
        match (o.flagged, o.until) {
            (false, _) => o.paid[i] += share,
            (true, Some(_)) => o.pending[i] += share,
            (true, None) => o.held[i] += share,
        }
    }
    o
}

/// The part of `amount` that `fraud` of `claimed_honest + fraud` claimed units account for,
/// when the chain counted `counted` units and honest ones count first.
fn fraud_part(amount: Amount, counted: u128, honest: u128, fraud: u128) -> Amount {
    mul_div(amount, made_up(counted, honest, fraud), counted)
}

/// Made-up units among `counted`, honest ones counting first.
fn made_up(counted: u128, honest: u128, fraud: u128) -> u128 {
    fraud.min(counted.saturating_sub(honest))
}

/// A self-dealer's net gain: `gross` paid for made-up work that consumed `credits`, less
/// what those credits cost at `basis` (CRN burned, credits bought; rounded down, so the
/// gain is never understated), never below zero. Returns (gain, cost).
fn net_gain(gross: Amount, credits: u128, basis: (Amount, u128)) -> (Amount, Amount) {
    let cost = if basis.1 == 0 { 0 } else { mul_div(basis.0, credits, basis.1) };
    (gross.saturating_sub(cost), cost)
}

impl Tally {
    pub fn figures(&mut self, b: Option<Behaviour>) -> &mut Figures {
        self.per.entry(b).or_default()
    }

    /// Counts the fleet's devices per behaviour.
    pub fn start(&mut self, fleet: &Fleet) {
        for d in &fleet.devices {
            self.figures(d.behaviour).devices += 1;
        }
    }

    /// Adds epoch `report`'s verdicts on the fleet, against `claims`.
    pub fn add_epoch(
        &mut self,
        fleet: &Fleet,
        index: &BTreeMap<DeviceId, usize>,
        report: &RewardReport,
        claims: &BTreeMap<usize, Claims>,
    ) -> EpochLine {
        let mut outcomes: BTreeMap<usize, Outcome> = BTreeMap::new();
        let mut line = EpochLine { epoch: report.summary.epoch, ..EpochLine::default() };
        for e in &report.entries {
            let Some(&d) = index.get(&e.device) else { continue };
            let o = outcome(report, e);
            line.devices += 1;
            line.rejected += o.rejected;
            line.paid += o.paid.iter().sum::<Amount>();
            line.paid_devices += usize::from(e.is_leaf());
            line.held += o.held.iter().chain(&o.pending).sum::<Amount>();
            line.flagged += usize::from(o.flagged);
            let f = self.figures(fleet.devices[d].behaviour);
            for (code, n) in &e.work.rejected {
                f.caught(code, u64::from(*n));
            }
            for flag in &e.flags {
                f.caught(flag.detector(), 1);
            }
            if o.counted[1] > 0 && e.work.density_ppm < cairn_types::rewards::PPM {
                f.caught("density_scale", 1);
            }
            if e.not_counted.iter().any(|n| n == "uptime_below_gate") {
                f.caught("uptime_below_gate", 1);
            }
            outcomes.insert(d, o);
        }
        line.reports = claims.values().map(|c| c.reports).sum();
        // Per-unit rates: what honest devices paid in full (up, not flagged) earned by volume
        // (before the paid-value caps) per unit the chain counted, per pool; with no such
        // unit, the pool over every claim in it.
        let mut rate = [(0u128, 0u128); 5];
        // Held on probation counts as paid in full here: it is the device's computed share.
        for (d, o) in &outcomes {
            if !fleet.devices[*d].honest() || (o.flagged && o.until.is_none()) || !o.uptime_ok {
                continue;
            }
            for (i, r) in rate.iter_mut().enumerate() {
                r.0 += o.volume[i];
                r.1 += o.counted[i];
            }
        }
        // What each pool paid for made-up units goes back into the honest rate.
        let mut fraud_paid = [0u128; 5];
        for (d, c) in claims {
            let Some(o) = outcomes.get(d).filter(|_| !fleet.devices[*d].honest()) else {
                continue;
            };
            for (i, paid) in fraud_paid.iter_mut().enumerate() {
                *paid += fraud_part(o.paid[i], o.counted[i], c.legit[i], c.fraud[i]);
            }
        }
        for (i, r) in rate.iter_mut().enumerate() {
            if r.1 > 0 {
                r.0 += fraud_paid[i];
            } else {
                let pool = report.summary.pools.iter().find(|p| p.pool == POOLS[i]);
                r.0 = pool.map_or(0, |p| p.amount);
                r.1 = claims.values().map(|c| c.legit[i] + c.fraud[i]).sum();
            }
        }
        let at_rate = |units: u128, i: usize| mul_div(units, rate[i].0, rate[i].1);
        let pool_amount = |i: usize| {
            report.summary.pools.iter().find(|p| p.pool == POOLS[i]).map_or(0, |p| p.amount)
        };
        // Each behaviour's attempt per pool, capped at the pool once summed.
        let mut attempts: BTreeMap<(Behaviour, usize), Amount> = BTreeMap::new();
        let none = Outcome::default();
        for (d, c) in claims {
            let o = outcomes.get(d).unwrap_or(&none);
            let honest = fleet.devices[*d].honest();
            let basis = self.cost_basis.get(&fleet.devices[*d].owner).copied();
            let f = self.figures(fleet.devices[*d].behaviour);
            f.reports += c.reports;
            f.rejected_reports += o.rejected;
            let mut pending = [0; POOLS.len()];
            let (mut gross, mut credits) = (0, 0u128);
            for (i, pend) in pending.iter_mut().enumerate() {
                if honest {
                    let fair = at_rate(c.legit[i], i);
                    let fair = o.cap[i].map_or(fair, |cap| fair.min(cap));
                    f.attempted += fair;
                    f.paid += o.paid[i];
                    f.pool_attempted[i] += fair;
                    f.pool_paid[i] += o.paid[i];
                    f.held += o.held[i];
                    *pend = o.pending[i];
                } else if c.fraud[i] > 0 {
                    if let Some(b) = fleet.devices[*d].behaviour {
                        *attempts.entry((b, i)).or_default() += at_rate(c.fraud[i], i);
                    }
                    gross += fraud_part(o.paid[i], o.counted[i], c.legit[i], c.fraud[i]);
                    let units = made_up(o.counted[i], c.legit[i], c.fraud[i]);
                    credits += units.saturating_mul(self_dealt_credits_per_unit(i));
                    f.held += fraud_part(o.held[i], o.counted[i], c.legit[i], c.fraud[i]);
                    *pend = fraud_part(o.pending[i], o.counted[i], c.legit[i], c.fraud[i]);
                }
            }
            match basis {
                Some(basis) if !honest => {
                    let (gain, cost) = net_gain(gross, credits, basis);
                    f.paid += gain;
                    f.gross_paid += gross;
                    f.burned += cost;
                }
                _ => f.paid += gross,
            }
            if let Some(until) = o.until
                && pending.iter().any(|a| *a > 0)
            {
                let epoch = report.summary.epoch;
                self.pending.push(Pending { device: *d, epoch, until, amounts: pending });
            }
        }
        for ((b, i), attempted) in attempts {
            self.figures(Some(b)).attempted += attempted.min(pool_amount(i));
        }
        // A roster griefer's targets: their fair share is what it tried to take from them,
        // and what was held of it as co-located is what it managed.
        let targets: std::collections::BTreeSet<(Behaviour, usize)> = fleet
            .devices
            .iter()
            .filter(|d| d.behaviour == Some(Behaviour::RosterGriefer))
            .filter_map(|d| d.source.map(|t| (Behaviour::RosterGriefer, t)))
            .filter(|(_, t)| fleet.devices.get(*t).is_some_and(|d| d.honest()))
            .collect();
        for (b, t) in targets {
            let fair: Amount = claims
                .get(&t)
                .map_or(0, |c| (0..POOLS.len()).map(|i| at_rate(c.legit[i], i)).sum());
            let o = outcomes.get(&t).unwrap_or(&none);
            let f = self.figures(Some(b));
            f.attempted += fair;
            if o.colocated {
                f.honest_held += o.held.iter().sum::<Amount>();
                f.honest_held_epochs += 1;
            }
        }
        // Rejections of devices that claimed nothing this epoch still count.
        for (d, o) in &outcomes {
            if !claims.contains_key(d) {
                self.figures(fleet.devices[*d].behaviour).rejected_reports += o.rejected;
            }
        }
        self.epochs.push(line.clone());
        line
    }

    /// Settles the probation holds: each one `released` says was paid counts as paid (for
    /// a cheater, fraud paid), any other as held.
    pub fn resolve(&mut self, fleet: &Fleet, released: impl Fn(&Pending) -> bool) {
        for p in std::mem::take(&mut self.pending) {
            let paid = released(&p);
            let honest = fleet.devices[p.device].honest();
            let f = self.figures(fleet.devices[p.device].behaviour);
            for (i, a) in p.amounts.iter().enumerate() {
                if paid {
                    f.paid += a;
                    if honest {
                        f.pool_paid[i] += a;
                    }
                } else {
                    f.held += a;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_units_count_first_when_splitting_a_payment() {
        // 10 units counted, 6 honest and 8 made up claimed: 4 made-up units got through.
        assert_eq!(fraud_part(1_000, 10, 6, 8), 400);
        // Everything made up was rejected: nothing of the payment is fraud.
        assert_eq!(fraud_part(1_000, 6, 6, 8), 0);
        // Nothing counted: nothing paid.
        assert_eq!(fraud_part(0, 0, 0, 5), 0);
        // Only made-up units, all counted.
        assert_eq!(fraud_part(900, 9, 0, 9), 900);
    }

    /// A self-dealer burned 3 CRN for 3,000,000 credits: work that consumed 1,000,000 of
    /// them cost 1 CRN. Paid back 1 CRN for it, it gained nothing; paid 1.5 CRN, it gained
    /// 0.5; paid less than it burned, it lost, and the loss is no negative gain.
    #[test]
    fn a_self_dealer_gains_only_what_it_was_paid_above_what_it_burned_for_the_work() {
        let crn = cairn_types::UNITS_PER_CRN;
        let basis = (3 * crn, 3_000_000);
        assert_eq!(net_gain(crn, 1_000_000, basis), (0, crn));
        assert_eq!(net_gain(3 * crn / 2, 1_000_000, basis), (crn / 2, crn));
        assert_eq!(net_gain(crn / 4, 1_000_000, basis), (0, crn));
        // The cost rounds down, so a gain is never understated.
        assert_eq!(net_gain(2, 1, (5, 3)), (1, 1));
        // Nothing bought, nothing to take off.
        assert_eq!(net_gain(7, 10, (0, 0)), (7, 0));
    }

    /// Two honest storage providers prove 4 KiB each; an inflater's own deal declares 2^60
    /// bytes over one real chunk, and the pool pays it nearly everything. Measured at the
    /// rate honest bytes earned under the attack (next to nothing) it would seem to have
    /// attempted nothing; measured at the rate they would have earned without it, capped at
    /// the pool, it attempted the pool and was paid nearly all of it, and the honest
    /// providers' fair share shows as withheld.
    #[test]
    fn a_cheat_that_takes_a_whole_pool_is_measured_against_the_pool_it_took() {
        use crate::fleet::FleetSpec;
        use cairn_types::rewards::{EpochRewards, Pool, PoolOutcome, Work};
        let spec = FleetSpec {
            devices: 40,
            adversarial: 1.0 / 40.0,
            behaviours: vec![Behaviour::StorageInflater],
            seed: 7,
            salt: 0,
        };
        let (fleet, _) = Fleet::generate(spec, &cairn_types::Params::default()).unwrap();
        let storage: Vec<usize> = (0..fleet.devices.len())
            .filter(|&d| fleet.devices[d].class == DeviceClass::Storage)
            .collect();
        let cheat = *storage.iter().find(|&&d| !fleet.devices[d].honest()).unwrap();
        let honest: Vec<usize> =
            storage.iter().copied().filter(|&d| fleet.devices[d].honest()).take(2).collect();
        let index = fleet.devices.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
        let (pool, big) = (1_000_000_000u128, 1u64 << 60);
        let bytes = |d: usize| if d == cheat { big } else { 4096 };
        let devices: Vec<usize> = honest.iter().copied().chain([cheat]).collect();
        let total: u128 = devices.iter().map(|&d| u128::from(bytes(d))).sum();
        let entry = |d: usize| RewardEntry {
            device: fleet.devices[d].id,
            owner: fleet.operators[fleet.devices[d].owner].address(),
            class: DeviceClass::Storage,
            // Paid enough that the paid-value cap does not bind: the measure is under test.
            work: Work {
                proven_bytes: bytes(d),
                slots: 10,
                uptime_slots: 10,
                paid_service: pool,
                ..Work::default()
            },
            uptime_ok: true,
            scores: vec![(Pool::Storage, u128::from(bytes(d)))],
            amount: mul_div(pool, u128::from(bytes(d)), total),
            capped: 0,
            not_counted: Vec::new(),
            flags: Vec::new(),
            density: Vec::new(),
            sensor_quality: None,
        };
        let report = RewardReport {
            summary: EpochRewards {
                epoch: 3,
                emission: pool,
                reminted: 0,
                pools: vec![PoolOutcome {
                    pool: Pool::Storage,
                    amount: pool,
                    paid: pool,
                    score_total: total,
                    earners: 3,
                    capped: 0,
                }],
                to_treasury: 0,
                to_validators: 0,
                validator_payouts: Vec::new(),
                escrowed: 0,
                root: cairn_types::Hash::ZERO,
                leaves: 3,
            },
            entries: devices.iter().map(|&d| entry(d)).collect(),
        };
        let st = super::super::book::pool_index(Pool::Storage).unwrap();
        let mut claims = BTreeMap::new();
        for &d in &devices {
            let mut c = Claims::default();
            if d == cheat {
                (c.legit[st], c.fraud[st]) = (1024, u128::from(big) - 1024);
            } else {
                c.legit[st] = 4096;
            }
            claims.insert(d, c);
        }
        let mut t = Tally::default();
        t.add_epoch(&fleet, &index, &report, &claims);
        let f = &t.per[&Some(Behaviour::StorageInflater)];
        assert_eq!(f.attempted, pool, "capped at the pool");
        assert!(f.paid * 1_000 > pool * 999, "paid {} of {pool}", f.paid);
        let h = &t.per[&None];
        assert!(h.paid * 1_000 < h.attempted, "honest paid {} of {}", h.paid, h.attempted);
    }
}
