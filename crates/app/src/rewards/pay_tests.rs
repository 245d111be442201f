//! The split of one epoch worked by hand, conservation as a property, and the run in place
//! against the straightforward run it replaced (a vector of scores per device, the pools
//! summed in one pass, each leaf hashed twice through `merkle::root`).

use super::*;
use crate::rewards::detect::Flags;
use cairn_types::Hash;
use cairn_types::rewards::{Evidence, Pool, RewardParams, RewardReport, Work, emission};
use proptest::prelude::*;

fn input(i: u8, class: DeviceClass, work: Work) -> DeviceInput {
    DeviceInput {
        device: Hash([i; 32]),
        owner: Address([i; 32]),
        class,
        work,
        density: Vec::new(),
        sensor_quality: None,
    }
}

/// The validators' pool's sharers from (validator, weight) pairs.
fn weights(list: &[(Address, Amount)]) -> Vec<ValidatorWeight> {
    list.iter()
        .map(|(address, weight)| ValidatorWeight { address: *address, weight: *weight })
        .collect()
}

fn up() -> Work {
    Work { uptime_slots: 10, slots: 10, trust_ppm: 1_000_000, ..Work::default() }
}

#[test]
fn one_epoch_split_worked_by_hand() {
    // 1 000 units: usage 400, coverage 150, storage 150, compute 150, sensor 50,
    // validators 50, treasury 50.
    let p = RewardParams { emission_per_epoch: 1_000, ..RewardParams::default() };
    let a = Work { beacons: 1, witnesses: 2, density_ppm: 1_000_000, ..up() }; // 3 × 10^12
    let b = Work { witnesses: 1, density_ppm: 500_000, ..up() }; // 0.5 × 10^12
    let down = Work { uptime_slots: 4, beacons: 5, density_ppm: 1_000_000, ..up() };
    // Paid for in full: the storage and usage shares are below what consumers paid.
    let store = Work { proven_bytes: 4_096, paid_service: 1_000, ..up() };
    let relay = Work { units: 7, paid_usage: 1_000, ..up() };
    let devices = vec![
        input(1, DeviceClass::Hotspot, a),
        input(2, DeviceClass::Hotspot, b),
        input(3, DeviceClass::Hotspot, down),
        input(4, DeviceClass::Storage, store),
        input(5, DeviceClass::Relay, relay),
    ];
    let r = run(&p, 50, 0, devices, &weights(&[(Address([9; 32]), 1)]), &Flags::new(), 0);
    let amounts: Vec<Amount> = r.entries.iter().map(|e| e.amount).collect();
    // Coverage 150: a = 150 × 3 / 3.5 = 128.57 → 128, b = 150 × 0.5 / 3.5 = 21.43 → 21;
    // the hotspot below the uptime gate (4 of 10 slots < 50 %) gets nothing.
    // Storage 150 and usage 400 each have one earner.
    assert_eq!(amounts, vec![128, 21, 0, 150, 400]);
    assert_eq!(r.entries[2].not_counted, vec!["uptime_below_gate".to_string()]);
    assert!(!r.entries[2].uptime_ok);
    // Treasury: its 50, compute 150 and sensor 50 without work, and coverage's 1 of dust.
    assert_eq!(r.summary.to_treasury, 50 + 150 + 50 + 1);
    assert_eq!(r.summary.to_validators, 50);
    assert_eq!(amounts.iter().sum::<Amount>() + 251 + 50, 1_000);
    let coverage = &r.summary.pools[Pool::Coverage as usize];
    assert_eq!((coverage.amount, coverage.paid, coverage.earners), (150, 149, 2));
    // Four leaves: the entries with an amount.
    assert_eq!(r.summary.leaves, 4);
}

#[test]
fn below_the_gate_only_deferred_work_that_met_it_earlier_counts() {
    // 1 000 units: usage 400, compute 150. Every device here is below the gate (2 of 10).
    let p = RewardParams { emission_per_epoch: 1_000, ..RewardParams::default() };
    let down = Work { uptime_slots: 2, paid_usage: 1_000, paid_service: 1_000, ..up() };
    // All 30 units of a channel settled while up in an earlier epoch: counted, no note.
    let all = Work { units: 30, units_pregated: 30, ..down.clone() };
    // 10 of 40 units: 10 count, the rest is lost to the gate.
    let part = Work { units: 40, units_pregated: 10, ..down.clone() };
    // 3 jobs, 2 revealed in an earlier epoch the device was up: 2 count.
    let jobs = Work { jobs: 3, jobs_pregated: 2, ..down.clone() };
    // A pregated count above the total (never written by the chain) counts the total.
    let over = Work { units: 5, units_pregated: 9, ..down.clone() };
    let devices = vec![
        input(1, DeviceClass::Relay, all),
        input(2, DeviceClass::Relay, part),
        input(3, DeviceClass::Compute, jobs),
        input(4, DeviceClass::Energy, over),
    ];
    let r = run(&p, 50, 0, devices, &[], &Flags::new(), 0);
    assert!(r.entries.iter().all(|e| !e.uptime_ok));
    let scores: Vec<Vec<(Pool, u128)>> = r.entries.iter().map(|e| e.scores.clone()).collect();
    assert_eq!(
        scores,
        vec![
            vec![(Pool::Usage, 30)],
            vec![(Pool::Usage, 10)],
            vec![(Pool::Compute, 2)],
            vec![(Pool::Usage, 5)]
        ]
    );
    // Usage 400 over 45 units: 30 → 266.67 → 266, 10 → 88.89 → 88, 5 → 44.44 → 44;
    // compute 150 to its one earner.
    let amounts: Vec<Amount> = r.entries.iter().map(|e| e.amount).collect();
    assert_eq!(amounts, vec![266, 88, 150, 44]);
    let gated = "uptime_below_gate".to_string();
    assert!(r.entries[0].not_counted.is_empty());
    assert_eq!(r.entries[1].not_counted, vec![gated.clone()]);
    assert_eq!(r.entries[2].not_counted, vec![gated]);
    assert!(r.entries[3].not_counted.is_empty());
}

#[test]
fn a_share_above_the_paid_value_is_cut_to_it_and_the_rest_goes_to_the_treasury() {
    // 1 000 units: usage 400, storage 150, compute 150. Two relays share usage 3 : 1 (300
    // and 100) but consumers paid 120 for the first one's units and 500 for the second's;
    // a storage device paid 0 earns nothing of storage 150; a compute device paid 40 for
    // its jobs gets 40 of compute 150 and its paid-for usage share (7 units: 400 × 7 / 47).
    let p = RewardParams { emission_per_epoch: 1_000, ..RewardParams::default() };
    let devices = vec![
        input(1, DeviceClass::Relay, Work { units: 30, paid_usage: 120, ..up() }),
        input(2, DeviceClass::Relay, Work { units: 10, paid_usage: 500, ..up() }),
        input(3, DeviceClass::Storage, Work { proven_bytes: 4_096, ..up() }),
        input(
            4,
            DeviceClass::Compute,
            Work { units: 7, jobs: 2, paid_usage: 1_000, paid_service: 40, ..up() },
        ),
    ];
    let r = run(&p, 50, 0, devices, &[], &Flags::new(), 0);
    // Usage over 47 units: 255.3 → 255 cut to 120; 85.1 → 85; 59.6 → 59.
    let got: Vec<(Amount, Amount)> = r.entries.iter().map(|e| (e.amount, e.capped)).collect();
    assert_eq!(got, vec![(120, 135), (85, 0), (0, 150), (59 + 40, 110)]);
    let usage = &r.summary.pools[Pool::Usage as usize];
    assert_eq!((usage.paid, usage.capped), (120 + 85 + 59, 135));
    let storage = &r.summary.pools[Pool::Storage as usize];
    assert_eq!((storage.paid, storage.capped), (0, 150));
    let compute = &r.summary.pools[Pool::Compute as usize];
    assert_eq!((compute.paid, compute.capped), (40, 110));
    // Treasury: its 50, the validators' 50 without validators, sensor and coverage 200
    // without work, usage's 1 of dust and the 395 the caps held back.
    assert_eq!(r.summary.to_treasury, 50 + 50 + 200 + 1 + 135 + 150 + 110);
    let paid: Amount = r.entries.iter().map(|e| e.amount).sum();
    assert_eq!(paid + r.summary.to_treasury, 1_000);
}

#[test]
fn halving_and_dust_reach_the_treasury() {
    let p = RewardParams { emission_per_epoch: 7, halving_epochs: 10, ..RewardParams::default() };
    let hs = vec![input(1, DeviceClass::Hotspot, Work { beacons: 1, density_ppm: 1, ..up() })];
    // Epoch 10: 3 units. Coverage 3 × 15 % = 0.45 → 0; everything goes to the treasury
    // but the validators' 0.15 → 0.
    let r = run(&p, 50, 10, hs, &[], &Flags::new(), 0);
    assert_eq!(r.summary.emission, 3);
    assert_eq!(r.entries[0].amount, 0);
    assert_eq!(r.summary.to_treasury, 3);
    assert_eq!(r.summary.leaves, 0);
}

fn arb_work() -> impl Strategy<Value = (u8, Work)> {
    (
        0u8..6,
        (0u32..=10, 0u32..50, 0u32..50, 0u32..=1_000_000, 0u32..=1_000_000),
        (0u32..20, 0u32..=1_000, 0u64..1_000_000, 0u64..1 << 40, 0u32..10),
    )
        .prop_map(
            |(
                c,
                (slots, beacons, witnesses, density, trust),
                (readings, q, units, bytes, jobs),
            )| {
                let work = Work {
                    uptime_slots: slots,
                    slots: 10,
                    beacons,
                    witnesses,
                    density_ppm: density,
                    trust_ppm: trust,
                    readings,
                    quality: q,
                    units,
                    proven_bytes: bytes,
                    jobs,
                    // Some deferred work met the gate in the epoch it was done.
                    units_pregated: units / 3,
                    jobs_pregated: jobs / 2,
                    rejected: Vec::new(),
                    // Nothing, some or plenty paid (the caps cut some shares, not others).
                    paid_usage: u128::from(units % 3) * 10u128.pow(22),
                    paid_service: u128::from(bytes % 3) * 10u128.pow(22),
                };
                (c, work)
            },
        )
}

/// The class with index `c` of six.
fn class_of(c: u8) -> DeviceClass {
    const CLASSES: [DeviceClass; 6] = [
        DeviceClass::Hotspot,
        DeviceClass::Storage,
        DeviceClass::Compute,
        DeviceClass::Sensor,
        DeviceClass::Energy,
        DeviceClass::Relay,
    ];
    CLASSES[c as usize % CLASSES.len()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Devices + validators + treasury = emission, to the base unit; no pool pays more than
    /// it holds; the run is deterministic.
    #[test]
    fn payouts_plus_remainder_equal_the_emission(
        base in 0u128..1u128 << 100,
        epoch in 0u64..100,
        with_validator in any::<bool>(),
        works in prop::collection::vec(arb_work(), 0..40),
        flag_every in 1usize..6,
        extra in 0u128..1u128 << 90,
    ) {
        let p = RewardParams { emission_per_epoch: base, halving_epochs: 30, ..RewardParams::default() };
        let devices: Vec<DeviceInput> = works
            .iter()
            .enumerate()
            .map(|(i, (c, w))| input(i as u8, class_of(*c), w.clone()))
            .collect();
        // None, or three validators with stakes 1 : 2 : 4.
        let validators: Vec<(Address, Amount)> = if with_validator {
            (1..=3u8).map(|i| (Address([i; 32]), 1 << i)).collect()
        } else {
            Vec::new()
        };
        // Some devices flagged: their amounts are held, not lost.
        let flags: Flags = devices
            .iter()
            .enumerate()
            .filter(|(i, _)| i % flag_every == 0 && flag_every < 5)
            .map(|(_, d)| (d.device, vec![Evidence::WitnessRing { members: 3, edges: 6, outside: 0 }]))
            .collect();
        let r = run(&p, 50, epoch, devices.clone(), &weights(&validators), &flags, extra);
        let to_devices: Amount = r.entries.iter().map(|e| e.amount).sum();
        prop_assert_eq!(to_devices + r.summary.to_validators + r.summary.to_treasury, emission(&p, epoch) + extra);
        let leaves: Amount = r.paid().map(|e| e.amount).sum();
        prop_assert_eq!(leaves + r.summary.escrowed, to_devices);
        prop_assert_eq!(RewardReport::leaf_root(&r.entries), (r.summary.root, r.summary.leaves));
        for pool in &r.summary.pools {
            prop_assert!(pool.paid <= pool.amount, "{:?}", pool);
        }
        let paid_validators: Amount = r.summary.validator_payouts.iter().map(|(_, a)| *a).sum();
        prop_assert_eq!(paid_validators, r.summary.to_validators);
        prop_assert_eq!(run(&p, 50, epoch, devices, &weights(&validators), &flags, extra), r);
    }
}

#[test]
fn the_validators_pool_is_split_by_stake_rounding_down_with_the_rest_to_the_treasury() {
    // 1 000 units: validators 50. Stakes 1 : 2 : 4 → 50/7 = 7.1, 14.3, 28.6 → 7, 14, 28; the
    // 1 left goes to the treasury with its own 50 and the 900 of pools without work.
    let p = RewardParams { emission_per_epoch: 1_000, ..RewardParams::default() };
    let vs = [(Address([1; 32]), 1), (Address([2; 32]), 2), (Address([3; 32]), 4)];
    let r = run(&p, 50, 0, Vec::new(), &weights(&vs), &Flags::new(), 0);
    let payouts: Vec<Amount> = r.summary.validator_payouts.iter().map(|(_, a)| *a).collect();
    assert_eq!(payouts, vec![7, 14, 28]);
    assert_eq!(r.summary.to_validators, 49);
    assert_eq!(r.summary.to_treasury, 951);
}

fn reference_scores(
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
            let s =
                u128::from(work.readings) * u128::from(work.quality) * u128::from(work.trust_ppm);
            raw.push((Pool::Sensor, s));
        }
        _ => {}
    }
    // Below the gate: only the deferred work that met it in the epoch it was done.
    let mut gated_raw = Vec::new();
    if !up {
        let units = work.units_pregated.min(work.units);
        if units > 0 {
            gated_raw.push((Pool::Usage, u128::from(units)));
        }
        let jobs = work.jobs_pregated.min(work.jobs);
        if class == DeviceClass::Compute && jobs > 0 {
            gated_raw.push((Pool::Compute, u128::from(jobs)));
        }
        if gated_raw != raw {
            not_counted.push("uptime_below_gate".to_string());
        }
    }
    for (code, n) in &work.rejected {
        not_counted.push(format!("{n} rejected: {code}"));
    }
    let kept = if up { raw } else { gated_raw };
    let scores = kept.into_iter().filter(|(_, s)| *s > 0).collect();
    (up, scores, not_counted)
}

fn reference_run(
    p: &RewardParams,
    min_uptime_percent: u32,
    epoch: u64,
    devices: Vec<DeviceInput>,
    validators: &[(Address, Amount)],
    flags: &Flags,
    reminted: Amount,
) -> RewardReport {
    let emitted = emission(p, epoch);
    let total = emitted.saturating_add(reminted);
    let parts = split(&p.shares, total);
    let mut entries: Vec<RewardEntry> = devices
        .into_iter()
        .map(|d| {
            let (uptime_ok, scores, not_counted) =
                reference_scores(d.class, &d.work, min_uptime_percent);
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
                capped: 0,
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
    let mut held = [0 as Amount; 7];
    for e in entries.iter_mut() {
        let mut amount: Amount = 0;
        for (pool, s) in &e.scores {
            let i = *pool as usize;
            let share = mul_div(parts[i].1, *s, totals[i]);
            // Usage at most what was paid for the units; storage and compute at most what was
            // paid for the deals or jobs.
            let cap = match pool {
                Pool::Usage => e.work.paid_usage,
                Pool::Storage | Pool::Compute => e.work.paid_service,
                _ => Amount::MAX,
            };
            let pays = if share > cap { cap } else { share };
            paid[i] += pays;
            held[i] += share - pays;
            e.capped += share - pays;
            amount += pays;
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
            capped: held[*pool as usize],
        })
        .collect();
    let to_devices: Amount = entries.iter().map(|e| e.amount).sum();
    let escrowed: Amount = entries.iter().filter(|e| !e.flags.is_empty()).map(|e| e.amount).sum();
    let to_treasury = total - to_devices - to_validators;
    let (root, leaves) = RewardReport::leaf_root(&entries);
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

fn arb_device() -> impl Strategy<Value = DeviceInput> {
    let counts = (0u32..4, 0u32..4, 0u32..3, 0u32..3);
    let scales = (
        prop_oneof![Just(0u32), Just(PPM / 2), Just(PPM), 0..PPM],
        prop_oneof![Just(0u32), Just(PPM / 2), Just(PPM), 0..PPM],
        prop_oneof![Just(0u32), Just(1000u32), 0..1000u32],
        prop_oneof![Just(0u64), 1..1u64 << 40, Just(u64::MAX)],
        prop_oneof![Just(0u64), 1..1u64 << 40],
    );
    let rejected = prop::collection::vec(("[a-z_]{1,8}", 1u32..5), 0..3);
    // Of the units and jobs, none, half or all met the gate in an earlier epoch.
    let pre = 0u8..3;
    // What consumers paid: nothing, a little, a lot, or anything.
    let paid = || prop_oneof![Just(0u128), 1u128..1_000, 1u128..1u128 << 100, Just(u128::MAX)];
    let paid = (paid(), paid());
    (any::<[u8; 32]>(), 0u8..6, 0u32..25, counts, scales, (rejected, paid), pre).prop_map(
        |(
            id,
            class,
            uptime,
            (beacons, witnesses, readings, jobs),
            scales,
            (rejected, paid),
            pre,
        )| {
            let (density_ppm, trust_ppm, quality, units, proven_bytes) = scales;
            let class = match class {
                0 => DeviceClass::Hotspot,
                1 => DeviceClass::Sensor,
                2 => DeviceClass::Storage,
                3 => DeviceClass::Compute,
                4 => DeviceClass::Relay,
                _ => DeviceClass::Energy,
            };
            DeviceInput {
                device: cairn_types::Hash(id),
                owner: Address([id[0]; 32]),
                class,
                work: Work {
                    uptime_slots: uptime,
                    slots: 24,
                    beacons,
                    witnesses,
                    density_ppm,
                    trust_ppm,
                    readings,
                    quality,
                    units,
                    proven_bytes,
                    jobs,
                    units_pregated: [0, units / 2, units][usize::from(pre)],
                    jobs_pregated: [0, jobs / 2, jobs][usize::from(pre)],
                    rejected,
                    paid_usage: paid.0,
                    paid_service: paid.1,
                },
                density: Vec::new(),
                sensor_quality: None,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_run_in_place_matches_the_straightforward_run(
        devices in prop::collection::vec(arb_device(), 0..60),
        base in prop_oneof![0u128..1_000_000, 0u128..1u128 << 100],
        epoch in 0u64..100,
        validators in prop::collection::vec((any::<[u8; 32]>(), 0u128..1_000), 0..4),
        flag_every in 1usize..8,
        reminted in 0u128..1u128 << 90,
    ) {
        let mut devices = devices;
        devices.sort_by_key(|d| d.device);
        devices.dedup_by_key(|d| d.device);
        let p = RewardParams { emission_per_epoch: base, halving_epochs: 30, ..RewardParams::default() };
        let validators: Vec<(Address, Amount)> =
            validators.into_iter().map(|(a, w)| (Address(a), w)).collect();
        let flags: Flags = devices
            .iter()
            .enumerate()
            .filter(|(i, _)| i % flag_every == 0 && flag_every < 6)
            .map(|(_, d)| (d.device, vec![Evidence::WitnessRing { members: 3, edges: 3, outside: 0 }]))
            .collect();
        let weights: Vec<ValidatorWeight> = validators
            .iter()
            .map(|(address, weight)| ValidatorWeight { address: *address, weight: *weight })
            .collect();
        let fast = run(&p, 50, epoch, devices.clone(), &weights, &flags, reminted);
        let slow = reference_run(&p, 50, epoch, devices, &validators, &flags, reminted);
        prop_assert_eq!(fast, slow);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Paid work earns at most what was paid for it, and the caps lose and create nothing:
    /// each pool pays its devices, holds back what their caps cut and leaves less than one
    /// base unit a device to rounding (all of it without work), and the epoch's total is
    /// devices + validators + treasury.
    #[test]
    fn no_device_earns_more_than_its_paid_value_and_the_pools_still_add_up(
        devices in prop::collection::vec(arb_device(), 0..60),
        base in prop_oneof![0u128..1_000_000, 0u128..1u128 << 100],
        reminted in 0u128..1u128 << 90,
    ) {
        let mut devices = devices;
        devices.sort_by_key(|d| d.device);
        devices.dedup_by_key(|d| d.device);
        let p = RewardParams { emission_per_epoch: base, ..RewardParams::default() };
        let r = run(&p, 50, 3, devices, &[], &Flags::new(), reminted);
        for e in &r.entries {
            let capped_pools = e.scores.iter().all(|(pool, _)| e.work.paid_cap(*pool).is_some());
            if capped_pools {
                let usage = e.scores.iter().any(|(pool, _)| *pool == Pool::Usage);
                let service = e.scores.iter().any(|(pool, _)| *pool != Pool::Usage);
                let cap = (if usage { e.work.paid_usage } else { 0 })
                    .saturating_add(if service { e.work.paid_service } else { 0 });
                prop_assert!(e.amount <= cap, "{} earned above its paid value {}", e.amount, cap);
            }
            if e.scores.is_empty() {
                prop_assert_eq!(e.amount + e.capped, 0);
            }
        }
        for o in &r.summary.pools {
            if o.pool == Pool::Treasury || o.pool == Pool::Validators {
                continue;
            }
            let paid: Amount = r
                .entries
                .iter()
                .flat_map(|e| e.scores.iter().map(move |(pool, s)| (e, *pool, *s)))
                .filter(|(_, pool, _)| *pool == o.pool)
                .map(|(e, pool, s)| {
                    let share = mul_div(o.amount, s, o.score_total);
                    e.work.paid_cap(pool).map_or(share, |c| share.min(c))
                })
                .sum();
            prop_assert_eq!(paid, o.paid);
            prop_assert!(o.paid + o.capped <= o.amount);
            let rounding = o.amount - o.paid - o.capped;
            if o.earners == 0 {
                prop_assert_eq!(rounding, o.amount);
            } else {
                prop_assert!(rounding < u128::from(o.earners), "{rounding} lost to rounding");
            }
        }
        let to_devices: Amount = r.entries.iter().map(|e| e.amount).sum();
        let capped: Amount = r.entries.iter().map(|e| e.capped).sum();
        let pools_capped: Amount = r.summary.pools.iter().map(|o| o.capped).sum();
        prop_assert_eq!(capped, pools_capped);
        prop_assert_eq!(
            to_devices + r.summary.to_validators + r.summary.to_treasury,
            r.summary.emission + r.summary.reminted
        );
        prop_assert!(r.summary.to_treasury >= capped);
    }
}
