//! Rewards: the split of one epoch worked by hand, conservation as a property, and the
//! whole path through blocks: the boundary pays, owners claim with Merkle paths.

use super::compute::{DeviceInput, run};
use super::fraud::Flags;
use crate::devices::tests::{Net, START, assert_supply_identity, ed_device, heartbeat, register};
use crate::tests::{CHAIN, genesis};
use crate::{accounts, state_key};
use cairn_state::StateRead;
use cairn_types::device::{Report, ReportPayload, SignedReport};
use cairn_types::rewards::{
    Evidence, Pool, RewardClaim, RewardParams, RewardReport, Work, emission, treasury_address,
};
use cairn_types::{
    Address, Amount, DeviceClass, DeviceSigner, Hash, Keypair, TxBody, TxFailure, merkle,
};
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
    let r = run(&p, 50, 0, devices, &[(Address([9; 32]), 1)], &Flags::new(), 0);
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
        let r = run(&p, 50, epoch, devices.clone(), &validators, &flags, extra);
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
        prop_assert_eq!(run(&p, 50, epoch, devices, &validators, &flags, extra), r);
    }
}

/// A hotspot and a sensor that heartbeat, beacon and read through epoch 0 of a 10-block
/// epoch chain, then the boundary block rewards them.
struct Paid {
    n: Net,
    a: Keypair,
    b: Keypair,
    report: RewardReport,
}

fn reading(dev: &DeviceSigner, seq: u64, ts: u64, value: i64) -> SignedReport {
    let report = Report {
        device: dev.public_key(),
        seq,
        epoch: 0,
        timestamp_ms: ts,
        payload: ReportPayload::Reading { value },
    };
    let signature = dev.sign(&report.signing_message(CHAIN)).unwrap();
    SignedReport { report, signature }
}

fn paid_epoch() -> Paid {
    let (a, b, gw) =
        (Keypair::from_label("ra"), Keypair::from_label("rb"), Keypair::from_label("rg"));
    let mut g = genesis(&[&a, &b, &gw], START);
    g.params.blocks_per_epoch = 20;
    g.params.coverage.beacon_interval_blocks = 1;
    // A lone hotspot pays in its first epoch only without the cold-start probation.
    g.params.fraud.probation_blocks = 0;
    let mut n = Net::new(&g);
    let (h, s) = (ed_device(201), ed_device(202));
    let paris = u64::from(h3o::LatLng::new(48.85, 2.35).unwrap().to_cell(h3o::Resolution::Twelve));
    let t = vec![
        n.tx(&a, register(&h, &a, DeviceClass::Hotspot, 0, None)),
        n.tx(&a, TxBody::AssertLocation { device: h.id(), cell: paris }),
        n.tx(&b, register(&s, &b, DeviceClass::Sensor, 0, None)),
        n.tx(&b, TxBody::AssertLocation { device: s.id(), cell: paris }),
    ];
    n.block(t);
    let mut seq = [0u64; 2];
    // Blocks 2..=17: a heartbeat from each in every block (16 of 20 blocks, 8 of 10
    // slots), a beacon from the hotspot and a reading from the sensor.
    for _ in 2..=17 {
        let ts = n.c.parent.timestamp_ms;
        let mut batch = Vec::new();
        for (i, dev) in [&h, &s].into_iter().enumerate() {
            seq[i] += 1;
            batch.push(heartbeat(dev, seq[i], 0, ts));
        }
        let height = n.height();
        let entropy = crate::entropy_at(&n.c.store, height).unwrap().unwrap();
        seq[0] += 1;
        let payload = ReportPayload::Beacon {
            entropy_height: height,
            data: cairn_types::device::beacon_data(&entropy, &h.id()),
            frequency_khz: 868_100,
            tx_power_dbm: 14,
        };
        let report =
            Report { device: h.public_key(), seq: seq[0], epoch: 0, timestamp_ms: ts, payload };
        let signature = h.sign(&report.signing_message(CHAIN)).unwrap();
        batch.push(SignedReport { report, signature });
        seq[1] += 1;
        batch.push(reading(&s, seq[1], ts, 21_000));
        let r = n.run(&gw, TxBody::SubmitReports { reports: batch });
        let cairn_types::TxOutcome::Reports { rejected, .. } = &r.outcome else { panic!() };
        assert!(rejected.is_empty(), "{rejected:?}");
    }
    n.advance_to(20);
    let p = n.block(vec![]);
    assert_eq!(p.header.height, 20);
    let report = p.executed.rewards.expect("the boundary block rewards epoch 0");
    Paid { n, a, b, report }
}

fn claim_of(report: &RewardReport, owner: &Address) -> RewardClaim {
    let leaves: Vec<Hash> = report.paid().map(|e| e.leaf().hash()).collect();
    let (index, entry) =
        report.paid().enumerate().find(|(_, e)| e.owner == *owner).expect("a paid leaf");
    let index = index as u64;
    RewardClaim {
        epoch: report.summary.epoch,
        index,
        leaf: entry.leaf(),
        path: merkle::prove(&leaves, index).unwrap(),
    }
}

#[test]
fn the_boundary_block_pays_the_epoch_and_owners_claim_with_merkle_paths() {
    let Paid { mut n, a, b, report } = paid_epoch();
    let p = n.params();
    let s = &report.summary;
    assert_eq!(s.emission, p.rewards.emission_per_epoch);
    // The only hotspot takes the whole coverage pool, the only sensor the sensor pool.
    let pools = cairn_types::rewards::split(&p.rewards.shares, s.emission);
    // Entries are in device-id order.
    let mut ids: Vec<_> = report.entries.iter().map(|e| e.device).collect();
    ids.sort_unstable();
    assert_eq!(ids, report.entries.iter().map(|e| e.device).collect::<Vec<_>>());
    let amount_of = |class| report.entries.iter().find(|e| e.class == class).unwrap().amount;
    assert_eq!(report.entries.len(), 2);
    assert_eq!(amount_of(DeviceClass::Hotspot), pools[Pool::Coverage as usize].1);
    assert_eq!(amount_of(DeviceClass::Sensor), pools[Pool::Sensor as usize].1);
    assert!(report.entries.iter().all(|e| e.uptime_ok && e.work.uptime_slots == 8));
    // In state: the summary, the treasury's and validator's credits, the unclaimed total.
    let stored: cairn_types::rewards::EpochRewards =
        n.c.store.get_decoded(&state_key::epoch_rewards(0)).unwrap().unwrap();
    assert_eq!(&stored, s);
    let treasury = accounts::get_account(&n.c.store, &treasury_address()).unwrap().balance;
    assert_eq!(treasury, s.to_treasury);
    let supply = n.supply();
    assert_eq!(supply.emitted, s.emission);
    let total: Amount = report.entries.iter().map(|e| e.amount).sum();
    assert_eq!(supply.unclaimed, total);
    assert_supply_identity(&n.c.store, &[&a, &b]);

    // a claims its leaf; then nobody can claim it again, b cannot claim it, a bad path and
    // an epoch without rewards are refused.
    let claim = claim_of(&report, &a.address());
    let before = n.balance(&a);
    let r = n.run(&a, TxBody::ClaimRewards { claims: vec![claim.clone()] });
    assert!(r.is_success(), "{r:?}");
    assert_eq!(n.balance(&a), before + claim.leaf.amount - r.fee_paid);
    assert_eq!(n.supply().unclaimed, total - claim.leaf.amount);
    assert_supply_identity(&n.c.store, &[&a, &b]);
    let again = n.run(&a, TxBody::ClaimRewards { claims: vec![claim.clone()] });
    assert_eq!(
        crate::devices::tests::failure(&again),
        &TxFailure::AlreadyClaimed { epoch: 0, index: claim.index }
    );
    let theirs = n.run(&b, TxBody::ClaimRewards { claims: vec![claim.clone()] });
    assert_eq!(
        crate::devices::tests::failure(&theirs),
        &TxFailure::NotYourReward { owner: a.address() }
    );
    let mut forged = claim_of(&report, &b.address());
    forged.leaf.amount += 1;
    let index = forged.index;
    let bad = n.run(&b, TxBody::ClaimRewards { claims: vec![forged] });
    assert_eq!(
        crate::devices::tests::failure(&bad),
        &TxFailure::BadRewardProof { epoch: 0, index }
    );
    let mut future = claim_of(&report, &b.address());
    future.epoch = 5;
    let none = n.run(&b, TxBody::ClaimRewards { claims: vec![future] });
    assert_eq!(crate::devices::tests::failure(&none), &TxFailure::NoRewards { epoch: 5 });
    // A failed claim pays nothing: b's leaf is still there to claim.
    let ok = n.run(&b, TxBody::ClaimRewards { claims: vec![claim_of(&report, &b.address())] });
    assert!(ok.is_success(), "{ok:?}");
    assert_eq!(n.supply().unclaimed, 0);
    assert_supply_identity(&n.c.store, &[&a, &b]);
}

#[test]
fn the_audit_recomputes_the_same_report_from_the_state_before_the_boundary() {
    let (a, gw) = (Keypair::from_label("ta"), Keypair::from_label("tg"));
    let mut g = genesis(&[&a, &gw], START);
    g.params.blocks_per_epoch = 10;
    let mut n = Net::new(&g);
    let s = ed_device(210);
    let paris = u64::from(h3o::LatLng::new(48.85, 2.35).unwrap().to_cell(h3o::Resolution::Twelve));
    let t = vec![
        n.tx(&a, register(&s, &a, DeviceClass::Sensor, 0, None)),
        n.tx(&a, TxBody::AssertLocation { device: s.id(), cell: paris }),
    ];
    n.block(t);
    for seq in 1..=8u64 {
        let ts = n.c.parent.timestamp_ms;
        let batch = vec![heartbeat(&s, 2 * seq - 1, 0, ts), reading(&s, 2 * seq, ts, 21_000)];
        assert!(n.run(&gw, TxBody::SubmitReports { reports: batch }).is_success());
    }
    // The sensor's quality is scored by block 10 itself, before the reward run: the audit
    // must run the same block-start steps on the state before block 10.
    assert_eq!(n.height(), 9);
    let validator = Some(n.c.validator.address());
    let before =
        crate::block::boundary_report(&n.c.store, &n.params(), 10, validator).unwrap().unwrap();
    assert!(
        crate::block::boundary_report(&n.c.store, &n.params(), 9, validator).unwrap().is_none()
    );
    let p = n.block(vec![]);
    let report = p.executed.rewards.unwrap();
    assert_eq!(before, report);
    assert!(report.entries[0].work.quality > 0 && report.entries[0].amount > 0);
}

/// One step of a random run.
#[derive(Debug, Clone)]
enum Op {
    Transfer { from: usize, to: usize, amount: Amount },
    Register { owner: usize, class: u8 },
    Heartbeats,
    Deregister { device: usize },
    Blocks(u64),
    ClaimAll { owner: usize },
    Price(u128),
    Mint { from: usize, amount: Amount },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..3, 0usize..3, 0u128..50 * cairn_types::UNITS_PER_CRN)
            .prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
        (0usize..3, 0u8..3).prop_map(|(owner, class)| Op::Register { owner, class }),
        Just(Op::Heartbeats),
        Just(Op::Heartbeats),
        (0usize..8).prop_map(|device| Op::Deregister { device }),
        (1u64..8).prop_map(Op::Blocks),
        (0usize..3).prop_map(|owner| Op::ClaimAll { owner }),
        (1u128..5_000_000_000).prop_map(Op::Price),
        (0usize..3, 0u128..300 * cairn_types::UNITS_PER_CRN)
            .prop_map(|(from, amount)| Op::Mint { from, amount }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// genesis + emitted − burned = balances + bonded + escrowed + unclaimed after every
    /// block of any run of transfers, registrations, heartbeats, deregistrations, epoch
    /// boundaries and claims.
    #[test]
    fn the_supply_identity_holds_after_every_block(ops in prop::collection::vec(arb_op(), 1..30)) {
        let keys = [Keypair::from_label("p0"), Keypair::from_label("p1"), Keypair::from_label("p2")];
        let gw = Keypair::from_label("pg");
        let mut g = genesis(&[&keys[0], &keys[1], &keys[2], &gw], START);
        g.params.blocks_per_epoch = 5;
        g.params.devices.heartbeat_slots = 5;
        g.params.devices.min_uptime_percent = 20;
        g.params.credits.oracles = vec![keys[0].address()];
        g.params.credits.remint_cap_per_epoch = 70 * cairn_types::UNITS_PER_CRN;
        let mut n = Net::new(&g);
        let all: Vec<&Keypair> = keys.iter().chain([&gw]).collect();
        let mut devices: Vec<(DeviceSigner, usize, u64)> = Vec::new(); // (key, owner, seq)
        let mut reports: Vec<RewardReport> = Vec::new();
        let mut seed = 100u8;
        for op in ops {
            let boundary = match op {
                Op::Transfer { from, to, amount } => {
                    let body = TxBody::Transfer { to: keys[to].address(), amount: amount.max(1) };
                    n.run(&keys[from], body);
                    None
                }
                Op::Register { owner, class } => {
                    let class = [DeviceClass::Hotspot, DeviceClass::Sensor, DeviceClass::Storage][class as usize];
                    let dev = ed_device(seed);
                    seed = seed.wrapping_add(1);
                    if n.run(&keys[owner], register(&dev, &keys[owner], class, 0, None)).is_success() {
                        devices.push((dev, owner, 0));
                    }
                    None
                }
                Op::Heartbeats => {
                    let epoch = n.params().epoch_of(n.height() + 1);
                    let ts = n.c.parent.timestamp_ms;
                    let batch: Vec<SignedReport> = devices
                        .iter_mut()
                        .map(|(d, _, seq)| {
                            *seq += 1;
                            heartbeat(d, *seq, epoch, ts)
                        })
                        .collect();
                    if batch.is_empty() {
                        n.block(vec![]).executed.rewards
                    } else {
                        let t = n.tx(&gw, TxBody::SubmitReports { reports: batch });
                        n.block(vec![t]).executed.rewards
                    }
                }
                Op::Deregister { device } => {
                    if let Some((d, owner, _)) = devices.get(device) {
                        n.run(&keys[*owner], TxBody::DeregisterDevice { device: d.id() });
                    }
                    None
                }
                Op::Blocks(k) => {
                    let mut last = None;
                    for _ in 0..k {
                        if let Some(r) = n.block(vec![]).executed.rewards {
                            last = Some(r);
                        }
                    }
                    last
                }
                Op::Price(p) => {
                    n.run(&keys[0], TxBody::ReportPrice { nano_usd_per_crn: p });
                    None
                }
                Op::Mint { from, amount } => {
                    let to = keys[(from + 1) % 3].address();
                    n.run(&keys[from], TxBody::MintCredits { to, amount: amount.max(1) });
                    None
                }
                Op::ClaimAll { owner } => {
                    let owner_addr = keys[owner].address();
                    let claims: Vec<RewardClaim> = reports
                        .iter()
                        .filter(|r| r.paid().any(|e| e.owner == owner_addr))
                        .map(|r| claim_of(r, &owner_addr))
                        .collect();
                    if !claims.is_empty() {
                        n.run(&keys[owner], TxBody::ClaimRewards { claims });
                    }
                    None
                }
            };
            if let Some(r) = boundary {
                let to_devices: Amount = r.entries.iter().map(|e| e.amount).sum();
                prop_assert_eq!(to_devices + r.summary.to_treasury + r.summary.to_validators, r.summary.emission + r.summary.reminted);
                reports.push(r);
            }
            assert_supply_identity(&n.c.store, &all);
        }
    }
}

#[test]
fn the_validators_pool_is_split_by_stake_rounding_down_with_the_rest_to_the_treasury() {
    // 1 000 units: validators 50. Stakes 1 : 2 : 4 → 50/7 = 7.1, 14.3, 28.6 → 7, 14, 28; the
    // 1 left goes to the treasury with its own 50 and the 900 of pools without work.
    let p = RewardParams { emission_per_epoch: 1_000, ..RewardParams::default() };
    let vs = [(Address([1; 32]), 1), (Address([2; 32]), 2), (Address([3; 32]), 4)];
    let r = run(&p, 50, 0, Vec::new(), &vs, &Flags::new(), 0);
    let payouts: Vec<Amount> = r.summary.validator_payouts.iter().map(|(_, a)| *a).collect();
    assert_eq!(payouts, vec![7, 14, 28]);
    assert_eq!(r.summary.to_validators, 49);
    assert_eq!(r.summary.to_treasury, 951);
}

proptest! {
    /// The in-place read of a heard list gives what decoding it with borsh and filtering
    /// gives, and cut or padded bytes are an error, never a panic.
    #[test]
    fn heard_lists_read_in_place_match_borsh(
        pairs in proptest::collection::vec((any::<[u8; 32]>(), 0u64..1_000), 0..40),
        from in 0u64..1_100,
        cut in 1usize..50,
    ) {
        let list: Vec<(cairn_types::DeviceId, u64)> =
            pairs.into_iter().map(|(b, h)| (cairn_types::Hash(b), h)).collect();
        let bytes = borsh::to_vec(&list).unwrap();
        let expected: Vec<_> = list.iter().filter(|(_, h)| *h >= from).map(|(b, _)| *b).collect();
        prop_assert_eq!(super::gather::decode_heard_since(&bytes, from).unwrap().collect::<Vec<_>>(), expected);
        let short = &bytes[..bytes.len().saturating_sub(cut)];
        prop_assert!(super::gather::decode_heard_since(short, from).is_err());
        let mut long = bytes.clone();
        long.extend(std::iter::repeat_n(0u8, cut));
        prop_assert!(super::gather::decode_heard_since(&long, from).is_err());
    }
}

#[test]
fn keys_built_on_the_stack_are_the_state_keys() {
    let mut k = super::gather::KeyBuf::default();
    for i in [0u8, 7, 255] {
        let id = Hash([i; 32]);
        assert_eq!(k.with_id(b"dev/", &id), state_key::device(&id).as_slice());
        assert_eq!(k.with_id(b"heard/", &id), state_key::heard(&id).as_slice());
        for epoch in [0, 5, u64::MAX] {
            assert_eq!(
                k.with_id_epoch(b"devep/", &id, epoch),
                state_key::epoch_activity(&id, epoch).as_slice()
            );
        }
    }
}

#[test]
fn a_roster_device_without_a_record_is_skipped() {
    use cairn_types::device::{Device, DeviceStatus, EpochActivity};
    let base = cairn_state::MemStore::default();
    let mut o = cairn_state::Overlay::new(&base);
    let params = cairn_types::Params::default();
    let keys: Vec<_> =
        (1..=3u8).map(|i| DeviceSigner::from_ed25519_seed([i; 32]).public_key()).collect();
    for (i, key) in keys.iter().enumerate() {
        let id = key.id();
        crate::roster::append(&mut o, 0, &id).unwrap();
        // The second device has no record.
        if i == 1 {
            continue;
        }
        let device = Device {
            id,
            key: *key,
            class: DeviceClass::Relay,
            owner: Address([i as u8; 32]),
            metadata: Vec::new(),
            registered_height: 1,
            bond: 0,
            status: DeviceStatus::Active,
            location: None,
            location_count: 0,
            located_at: 0,
            maker: None,
        };
        o.put_encoded(state_key::device(&id), &device);
        let act = EpochActivity { units: 10 + i as u64, ..EpochActivity::default() };
        o.put_encoded(state_key::epoch_activity(&id, 0), &act);
    }
    let g = super::gather(&o.frozen(), &params, 0).unwrap();
    let mut want: Vec<_> = [&keys[0], &keys[2]].iter().map(|k| k.id()).collect();
    want.sort();
    assert_eq!(g.entries.iter().map(|e| e.device).collect::<Vec<_>>(), want);
    assert_eq!(g.facts.len(), 2);
    for e in &g.entries {
        let i = keys.iter().position(|k| k.id() == e.device).unwrap();
        assert_eq!(e.owner, Address([i as u8; 32]));
        assert_eq!(e.work.units, 10 + i as u64);
    }
}

/// Every failure of a reward claim lands on the receipt as the variant it always had.
#[test]
fn every_rewards_claim_error_maps_onto_its_receipt_failure() {
    use super::RewardsClaimError as E;
    let a = Address([1; 32]);
    crate::handler::assert_failure_table(vec![
        (E::NoRewards { epoch: 5 }, "no_rewards", TxFailure::NoRewards { epoch: 5 }),
        (E::NotYourReward { owner: a }, "not_your_reward", TxFailure::NotYourReward { owner: a }),
        (
            E::AlreadyClaimed { epoch: 1, index: 2 },
            "already_claimed",
            TxFailure::AlreadyClaimed { epoch: 1, index: 2 },
        ),
        (
            E::BadRewardProof { epoch: 3, index: 4 },
            "bad_reward_proof",
            TxFailure::BadRewardProof { epoch: 3, index: 4 },
        ),
    ]);
}
