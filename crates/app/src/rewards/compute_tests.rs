//! The run in place against the straightforward run it replaced (a vector of scores per
//! device, the pools summed in one pass, each leaf hashed twice through `merkle::root`).

use super::*;
use crate::rewards::fraud::Flags;
use cairn_types::rewards::Evidence;
use proptest::prelude::*;

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
        let fast = run(&p, 50, epoch, devices.clone(), &validators, &flags, reminted);
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
