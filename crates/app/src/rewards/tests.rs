//! Rewards: the whole path through blocks: the boundary pays, owners claim with Merkle
//! paths, the audit recomputes the report, and the supply identity holds.

use crate::devices::tests::{Net, START, assert_supply_identity, ed_device, heartbeat, register};
use crate::tests::{CHAIN, genesis};
use crate::{accounts, state_key};
use cairn_state::StateRead;
use cairn_types::device::{Report, ReportPayload, SignedReport};
use cairn_types::rewards::{Pool, RewardClaim, RewardReport, treasury_address};
use cairn_types::{
    Address, Amount, DeviceClass, DeviceSigner, Hash, Keypair, TxBody, TxFailure, merkle,
};
use proptest::prelude::*;

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
    let (mut n, a, b) = epoch_zero_traffic(|_| {});
    let p = n.block(vec![]);
    assert_eq!(p.header.height, 20);
    let report = p.executed.reward_report().unwrap().expect("the boundary block rewards epoch 0");
    Paid { n, a, b, report }
}

/// The traffic of [`paid_epoch`] on a genesis `edit` changes: a chain at block 19, the last
/// block of epoch 0 (20 blocks an epoch), and the owners of the hotspot and the sensor.
pub(super) fn epoch_zero_traffic(
    edit: impl FnOnce(&mut cairn_types::Params),
) -> (Net, Keypair, Keypair) {
    let (a, b, gw) =
        (Keypair::from_label("ra"), Keypair::from_label("rb"), Keypair::from_label("rg"));
    let mut g = genesis(&[&a, &b, &gw], START);
    g.params.blocks_per_epoch = 20;
    g.params.coverage.beacon_interval_blocks = 1;
    // A lone hotspot pays in its first epoch only without the cold-start probation.
    g.params.fraud.probation_blocks = 0;
    edit(&mut g.params);
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
    (n, a, b)
}

pub(crate) fn claim_of(report: &RewardReport, owner: &Address) -> RewardClaim {
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
    let report = p.executed.reward_report().unwrap().unwrap();
    assert_eq!(before, report);
    assert!(report.entries[0].work.quality > 0 && report.entries[0].amount > 0);
}

/// One step of a random run.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Transfer { from: usize, to: usize, amount: Amount },
    Register { owner: usize, class: u8 },
    Heartbeats,
    Deregister { device: usize },
    Blocks(u64),
    ClaimAll { owner: usize },
    Price(u128),
    Mint { from: usize, amount: Amount },
}

pub(super) fn arb_op() -> impl Strategy<Value = Op> {
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
                        n.block(vec![]).executed.reward_report().unwrap()
                    } else {
                        let t = n.tx(&gw, TxBody::SubmitReports { reports: batch });
                        n.block(vec![t]).executed.reward_report().unwrap()
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
                        if let Some(r) = n.block(vec![]).executed.reward_report().unwrap() {
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

/// Every failure of a reward claim lands on the receipt as the variant it always had.
#[test]
fn every_rewards_claim_error_maps_onto_its_receipt_failure() {
    use super::claim::RewardsClaimError as E;
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
