//! The deferred reward run: settled at its due block as the boundary would have computed it
//! on the state before it, whatever happens in between, whoever computed it and when.

use super::*;
use crate::devices::tests::{Net, assert_supply_identity, ed_device, failure, heartbeat, register};
use crate::rewards::tests::{Op, arb_op, claim_of, epoch_zero_traffic};
use crate::tests::{CHAIN, genesis};
use cairn_types::rewards::{
    EpochRewards, Evidence, FraudHold, HoldStatus, RewardClaim, treasury_address,
};
use cairn_types::{Amount, DeviceClass, DeviceSigner, Keypair, TxBody, TxFailure};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

const DELAY: u64 = 5;

fn delayed(p: &mut Params) {
    p.reward_settle_delay_blocks = DELAY;
}

#[test]
fn a_deferred_run_settles_at_its_due_block_what_the_boundary_would_have_computed() {
    let (mut n, a, b) = epoch_zero_traffic(delayed);
    let validator = Some(n.c.validator.address());
    let on_snapshot =
        crate::block::boundary_report(&n.c.store, &n.params(), 20, validator).unwrap().unwrap();
    // The legacy chain (no delay) pays the same at its boundary block.
    let (mut legacy, _, _) = epoch_zero_traffic(|_| {});
    let inline = legacy.block(vec![]).executed.reward_report().unwrap().unwrap();
    assert_eq!(inline, on_snapshot);
    assert!(on_snapshot.entries.iter().all(|e| e.amount > 0));

    // The boundary block fixes the run and pays nothing.
    let p = n.block(vec![]);
    assert_eq!(p.executed.rewards, None);
    let run = PendingRun { epoch: 0, boundary: 20, due: 20 + DELAY };
    assert_eq!(pending(&n.c.store).unwrap(), Some(run));
    assert_eq!(run.snapshot(), 19);
    assert_eq!(crate::rewards::get_epoch_rewards(&n.c.store, 0).unwrap(), None);
    let emitted = n.supply().emitted;
    // A claim before the settle block finds no rewards.
    let claim = claim_of(&on_snapshot, &a.address());
    let early = n.run(&a, TxBody::ClaimRewards { claims: vec![claim.clone()] });
    assert_eq!(failure(&early), &TxFailure::NoRewards { epoch: 0 });
    while n.height() + 1 < run.due {
        assert_eq!(n.block(vec![]).executed.rewards, None);
        assert_eq!(n.supply().emitted, emitted);
    }
    // The settle block commits the run computed on the snapshot.
    let p = n.block(vec![]);
    assert_eq!(p.executed.reward_report().unwrap().as_ref(), Some(&on_snapshot));
    assert_eq!(pending(&n.c.store).unwrap(), None);
    let stored: EpochRewards = crate::rewards::get_epoch_rewards(&n.c.store, 0).unwrap().unwrap();
    assert_eq!(stored, on_snapshot.summary);
    let treasury = crate::accounts::get_account(&n.c.store, &treasury_address()).unwrap();
    assert_eq!(treasury.balance, on_snapshot.summary.to_treasury);
    assert_supply_identity(&n.c.store, &[&a, &b]);
    assert!(n.run(&a, TxBody::ClaimRewards { claims: vec![claim] }).is_success());
    assert_supply_identity(&n.c.store, &[&a, &b]);
}

#[test]
fn a_node_that_lost_or_computed_ahead_its_runs_settles_the_same_roots() {
    // Ahead: the run is computed once block 19 is committed, as the node's background work
    // does, from the state at that version.
    let (mut ahead, _, _) = epoch_zero_traffic(delayed);
    let run = cairn_testkit::cairn_app::rewards::deferred::PendingRun {
        epoch: 0,
        boundary: 20,
        due: 20 + DELAY,
    };
    let store = ahead.c.store.clone();
    ahead
        .c
        .app
        .runs()
        .get_or_compute(&run, || cairn_testkit::cairn_app::rewards::deferred::compute(&store, 20))
        .unwrap();
    // Restarted: the node is killed after the boundary block, and its computed runs are
    // gone; the settle block computes the run from the snapshot version.
    let (mut restarted, _, _) = epoch_zero_traffic(delayed);
    ahead.block(vec![]);
    restarted.block(vec![]);
    restarted.c.app = cairn_testkit::cairn_app::App::new(CHAIN);
    // Plain: nobody computed it ahead.
    let (mut plain, _, _) = epoch_zero_traffic(delayed);
    plain.block(vec![]);
    for _ in 0..DELAY + 1 {
        ahead.block(vec![]);
        restarted.block(vec![]);
        plain.block(vec![]);
    }
    assert!(ahead.c.app.runs().is_done(&run));
    assert!(ahead.c.reports.contains_key(&0));
    assert_eq!(ahead.c.roots, restarted.c.roots);
    assert_eq!(ahead.c.roots, plain.c.roots);
    assert_eq!(ahead.c.reports, restarted.c.reports);
    assert_eq!(ahead.c.reports, plain.c.reports);
}

#[test]
fn registrations_deregistrations_and_transfers_after_the_boundary_do_not_change_the_run() {
    let (mut n, a, b) = epoch_zero_traffic(delayed);
    let validator = Some(n.c.validator.address());
    let on_snapshot =
        crate::block::boundary_report(&n.c.store, &n.params(), 20, validator).unwrap().unwrap();
    n.block(vec![]);
    // The sensor (b's) is deregistered, a new hotspot of a's registered, a transfer made.
    let sensor = ed_device(202);
    n.ok(&b, TxBody::DeregisterDevice { device: sensor.id() });
    let fresh = ed_device(203);
    n.ok(&a, register(&fresh, &a, DeviceClass::Hotspot, 0, None));
    n.ok(&a, TxBody::Transfer { to: b.address(), amount: 7 });
    n.advance_to(20 + DELAY);
    let p = n.block(vec![]);
    let report = p.executed.reward_report().unwrap().unwrap();
    assert_eq!(report, on_snapshot);
    assert!(report.entries.iter().any(|e| e.device == sensor.id() && e.amount > 0));
    assert!(report.entries.iter().all(|e| e.device != fresh.id()));
    // The deregistered sensor's owner claims its leaf.
    let r = n.run(&b, TxBody::ClaimRewards { claims: vec![claim_of(&report, &b.address())] });
    assert!(r.is_success(), "{r:?}");
    assert_supply_identity(&n.c.store, &[&a, &b]);
}

/// A finding's hold of epoch 0, due at the start of epoch 1, decided (released) by the admin
/// between the boundary of epoch 1 and the settle block: the settle block releases only what
/// is still held, so the amount is paid once.
#[test]
fn a_hold_decided_between_the_boundary_and_the_settle_block_is_paid_once() {
    let owner = Keypair::from_label("hold-owner");
    let base = cairn_state::MemStore::default();
    let mut o = cairn_state::Overlay::new(&base);
    let params = Params { blocks_per_epoch: 20, ..Params::default() };
    let amount: Amount = 1_000;
    let supply = crate::accounts::Supply { genesis: amount, held: amount, ..Default::default() };
    o.put_encoded(state_key::supply(), &supply);
    let device = ed_device(9).id();
    let held = FraudHold {
        device,
        owner: owner.address(),
        epoch: 0,
        amount,
        evidence: vec![Evidence::WitnessRing { members: 3, edges: 3, outside: 0 }],
        release_epoch: 1,
        appealed: true,
        status: HoldStatus::Held,
    };
    escrow::hold(&mut o, &held).unwrap();
    let run = PendingRun { epoch: 0, boundary: 20, due: 25 };
    // Decided at block 22.
    escrow::decide(&mut o, &device, 0, true, 22).unwrap().unwrap();
    let empty = cairn_types::rewards::RewardReport {
        summary: EpochRewards {
            epoch: 0,
            emission: 0,
            reminted: 0,
            pools: Vec::new(),
            to_treasury: 0,
            to_validators: 0,
            validator_payouts: Vec::new(),
            escrowed: 0,
            root: cairn_types::merkle::root(&[]),
            leaves: 0,
        },
        entries: Vec::new(),
    };
    let computed = Computed::new(params, Payout { report: empty, hearers: Default::default() });
    settle_due(&mut o, &run, &computed, 25).unwrap();
    let after = escrow::get_hold(&o, &device, 0).unwrap().unwrap();
    assert_eq!(after.status, HoldStatus::Released { height: 22 });
    assert_eq!(crate::accounts::get_account(&o, &owner.address()).unwrap().balance, amount);
    assert_eq!(crate::accounts::get_supply(&o).unwrap().held, 0);
    assert_eq!(pending(&o).unwrap(), None);
}

fn computed(epoch: u64) -> Computed {
    let mut summary = EpochRewards {
        epoch,
        emission: 0,
        reminted: 0,
        pools: Vec::new(),
        to_treasury: 0,
        to_validators: 0,
        validator_payouts: Vec::new(),
        escrowed: 0,
        root: cairn_types::merkle::root(&[]),
        leaves: 0,
    };
    summary.emission = u128::from(epoch);
    let report = cairn_types::rewards::RewardReport { summary, entries: Vec::new() };
    Computed::new(Params::default(), Payout { report, hearers: Default::default() })
}

#[test]
fn a_run_under_way_elsewhere_is_waited_for_not_computed_twice() {
    let runs = std::sync::Arc::new(Runs::default());
    let run = PendingRun { epoch: 4, boundary: 100, due: 105 };
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let background = {
        let (runs, calls) = (runs.clone(), calls.clone());
        std::thread::spawn(move || {
            runs.get_or_compute(&run, || {
                started_tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(100));
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(computed(4))
            })
        })
    };
    started_rx.recv().unwrap();
    assert!(runs.has(&run));
    let here = runs
        .get_or_compute(&run, || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(computed(99))
        })
        .unwrap();
    let there = background.join().unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(std::sync::Arc::ptr_eq(&here, &there));
    assert_eq!(here.report.summary.emission, 4);
    assert!(runs.is_done(&run));
}

/// Two background computations of one run sent to a pool of one worker: while the first is
/// under way its worker runs other queued jobs (as a worker waiting in a parallel join
/// does), and picks up the second. A second that waited for the first would hold the worker the first needs
/// back (the deadlock a node hit when two commits started two threads for one run); one that
/// does not wait returns at once and the first completes.
#[test]
fn a_second_background_computation_of_a_run_returns_at_once_instead_of_waiting() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let runs = std::sync::Arc::new(Runs::default());
    let run = PendingRun { epoch: 4, boundary: 100, due: 105 };
    let second_returned = std::sync::Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    {
        let (runs, second_returned) = (runs.clone(), second_returned.clone());
        pool.spawn(move || {
            let first = runs.compute_unless_under_way(&run, || {
                // While this computation is under way, a second one is queued on the pool;
                // the worker runs it from inside this join.
                let (runs2, second_returned2) = (runs.clone(), second_returned.clone());
                rayon::spawn(move || {
                    let second = runs2.compute_unless_under_way(&run, || Ok(computed(99)));
                    assert!(second.is_none());
                    second_returned2.fetch_add(1, Ordering::SeqCst);
                });
                while second_returned.load(Ordering::SeqCst) == 0 {
                    rayon::yield_now();
                }
                Ok(computed(4))
            });
            done_tx.send(first.map(|r| r.map(|c| c.report.summary.emission))).unwrap();
        });
    }
    let first = done_rx.recv_timeout(std::time::Duration::from_secs(20));
    assert_eq!(first.expect("the first computation finished").unwrap().unwrap(), 4);
    assert_eq!(second_returned.load(Ordering::SeqCst), 1);
    assert!(runs.is_done(&run));
    assert!(runs.compute_unless_under_way(&run, || Ok(computed(5))).is_none());
}

#[test]
fn a_failed_computation_leaves_the_run_to_the_next_asker_and_two_runs_are_kept() {
    let runs = Runs::default();
    let run = |epoch| PendingRun { epoch, boundary: 10 * (epoch + 1), due: 10 * (epoch + 1) + 2 };
    let failed = runs.get_or_compute(&run(1), || Err(StateError::Storage("gone".into())));
    assert!(failed.is_err());
    assert!(!runs.has(&run(1)));
    let ok = runs.get_or_compute(&run(1), || Ok(computed(1))).unwrap();
    assert_eq!(ok.report.summary.emission, 1);
    runs.get_or_compute(&run(2), || Ok(computed(2))).unwrap();
    runs.get_or_compute(&run(3), || Ok(computed(3))).unwrap();
    assert!(!runs.has(&run(1)) && runs.has(&run(2)) && runs.has(&run(3)));
    runs.keep_only(Some(&run(3)));
    assert!(!runs.has(&run(2)) && runs.has(&run(3)));
    runs.keep_only(None);
    assert!(!runs.has(&run(3)));
}

#[test]
fn a_settle_delay_must_be_below_the_epoch_length() {
    let mut p = Params { blocks_per_epoch: 10, ..Params::default() };
    p.reward_settle_delay_blocks = 9;
    assert!(p.validate().is_ok());
    p.reward_settle_delay_blocks = 10;
    assert!(p.validate().is_err());
    p.blocks_per_epoch = 100_000;
    p.reward_settle_delay_blocks = cairn_types::genesis::MAX_REWARD_SETTLE_DELAY_BLOCKS + 1;
    assert!(p.validate().is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// With any settle delay, after any run of transfers, registrations, heartbeats,
    /// deregistrations, boundaries and claims: every run settled is the report its boundary
    /// would have computed on the state before it, settled at its due block, and the supply
    /// identity holds after every block.
    #[test]
    fn settled_runs_are_the_inline_runs_on_their_snapshots(
        delay in 1u64..5,
        ops in prop::collection::vec(arb_op(), 1..30),
    ) {
        let keys = [Keypair::from_label("q0"), Keypair::from_label("q1"), Keypair::from_label("q2")];
        let gw = Keypair::from_label("qg");
        let mut g = genesis(&[&keys[0], &keys[1], &keys[2], &gw], crate::devices::tests::START);
        g.params.blocks_per_epoch = 5;
        g.params.reward_settle_delay_blocks = delay;
        g.params.devices.heartbeat_slots = 5;
        g.params.devices.min_uptime_percent = 20;
        g.params.credits.oracles = vec![keys[0].address()];
        let mut n = Net::new(&g);
        let all: Vec<&Keypair> = keys.iter().chain([&gw]).collect();
        let mut devices: Vec<(DeviceSigner, usize, u64)> = Vec::new();
        let mut seed = 140u8;
        for op in ops {
            match op {
                Op::Transfer { from, to, amount } => {
                    n.run(&keys[from], TxBody::Transfer { to: keys[to].address(), amount: amount.max(1) });
                }
                Op::Register { owner, class } => {
                    let class = [DeviceClass::Hotspot, DeviceClass::Sensor, DeviceClass::Storage][class as usize];
                    let dev = ed_device(seed);
                    seed = seed.wrapping_add(1);
                    if n.run(&keys[owner], register(&dev, &keys[owner], class, 0, None)).is_success() {
                        devices.push((dev, owner, 0));
                    }
                }
                Op::Heartbeats => {
                    let epoch = n.params().epoch_of(n.height() + 1);
                    let ts = n.c.parent.timestamp_ms;
                    let batch: Vec<_> = devices
                        .iter_mut()
                        .map(|(d, _, seq)| {
                            *seq += 1;
                            heartbeat(d, *seq, epoch, ts)
                        })
                        .collect();
                    let txs = if batch.is_empty() {
                        Vec::new()
                    } else {
                        vec![n.tx(&gw, TxBody::SubmitReports { reports: batch })]
                    };
                    n.block(txs);
                }
                Op::Deregister { device } => {
                    if let Some((d, owner, _)) = devices.get(device) {
                        n.run(&keys[*owner], TxBody::DeregisterDevice { device: d.id() });
                    }
                }
                Op::Blocks(k) => n.empty_blocks(k),
                Op::ClaimAll { owner } => {
                    let addr = keys[owner].address();
                    let claims: Vec<RewardClaim> = n
                        .c
                        .reports
                        .values()
                        .filter(|r| r.paid().any(|e| e.owner == addr))
                        .map(|r| claim_of(r, &addr))
                        .collect();
                    if !claims.is_empty() {
                        n.run(&keys[owner], TxBody::ClaimRewards { claims });
                    }
                }
                Op::Price(p) => {
                    n.run(&keys[0], TxBody::ReportPrice { nano_usd_per_crn: p });
                }
                Op::Mint { from, amount } => {
                    let to = keys[(from + 1) % 3].address();
                    n.run(&keys[from], TxBody::MintCredits { to, amount: amount.max(1) });
                }
            }
            assert_supply_identity(&n.c.store, &all);
        }
        // Every boundary passed fixed a run; every run due by now is settled as computed on
        // its snapshot.
        let params = n.params();
        let height = n.height();
        for (epoch, inline) in &n.c.inline_reports {
            let boundary = (epoch + 1) * params.blocks_per_epoch;
            if boundary + delay <= height {
                prop_assert_eq!(n.c.reports.get(epoch), Some(inline));
            } else {
                prop_assert!(!n.c.reports.contains_key(epoch));
                let run = pending(&n.c.store).unwrap();
                prop_assert_eq!(run, Some(PendingRun { epoch: *epoch, boundary, due: boundary + delay }));
            }
        }
        prop_assert_eq!(n.c.inline_reports.len() as u64, height / params.blocks_per_epoch);
    }
}
