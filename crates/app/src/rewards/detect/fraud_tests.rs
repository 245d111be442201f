//! Fraud detectors on hand-built inputs, and a witness ring caught through blocks while its
//! honest neighbours are paid; appeals, decisions and the release window.

use super::*;
use crate::devices::tests::{
    Net, START, assert_supply_identity, ed_device, failure, heartbeat, register,
};
use crate::rewards::escrow::get_hold;
use crate::tests::{CHAIN, genesis};
use cairn_types::TxFailure;
use cairn_types::device::{Report, ReportPayload, SignedReport, beacon_data};
use cairn_types::rewards::HoldStatus;
use cairn_types::rewards::RewardReport;
use cairn_types::{Amount, DeviceClass, DeviceSigner, Keypair, TxBody};

fn id(i: u8) -> DeviceId {
    Hash([i; 32])
}

/// Every member witnesses every other.
fn clique(ids: &[u8]) -> Vec<(DeviceId, Vec<DeviceId>)> {
    ids.iter().map(|w| (id(*w), ids.iter().filter(|b| *b != w).map(|b| id(*b)).collect())).collect()
}

/// Each witnesses its neighbours in a line.
fn line(ids: &[u8]) -> Vec<(DeviceId, Vec<DeviceId>)> {
    (0..ids.len())
        .map(|i| {
            let mut n = Vec::new();
            if i > 0 {
                n.push(id(ids[i - 1]));
            }
            if i + 1 < ids.len() {
                n.push(id(ids[i + 1]));
            }
            (id(ids[i]), n)
        })
        .collect()
}

#[test]
fn a_closed_clique_is_a_ring_a_line_of_neighbours_is_not() {
    let p = FraudParams::default();
    let mut witnessed = clique(&[1, 2, 3, 4, 5]);
    witnessed.extend(line(&[10, 11, 12, 13, 14, 15]));
    let flags = detect(&p, &FraudInputs { witnessed: witnessed.into(), ..FraudInputs::default() });
    let flagged: Vec<DeviceId> = flags.keys().copied().collect();
    assert_eq!(flagged, (1..=5).map(id).collect::<Vec<_>>());
    assert_eq!(flags[&id(3)], vec![Evidence::WitnessRing { members: 5, edges: 10, outside: 0 }]);
}

#[test]
fn ring_size_and_density_have_bounds() {
    let p = FraudParams {
        ring_min: 3,
        ring_max: 6,
        ring_density_percent: 80,
        ..FraudParams::default()
    };
    let flagged = |w: Vec<(DeviceId, Vec<DeviceId>)>| {
        !detect(&p, &FraudInputs { witnessed: w.into(), ..FraudInputs::default() }).is_empty()
    };
    assert!(!flagged(clique(&[1, 2])), "two hotspots hearing each other are neighbours");
    assert!(flagged(clique(&[1, 2, 3])));
    assert!(flagged(clique(&[1, 2, 3, 4, 5, 6])));
    assert!(!flagged(clique(&[1, 2, 3, 4, 5, 6, 7])), "above ring_max");
    // 4 members, one way suffices to link a pair: a cycle 1→2→3→4→1 with the diagonal
    // 1→3 links 5 of 6 pairs = 83 % ≥ 80 %: a ring; the cycle alone, 4 of 6 = 67 %: not.
    let cycle = |diagonal: bool| {
        let mut w = vec![(id(1), vec![id(2)]), (id(2), vec![id(3)]), (id(3), vec![id(4)])];
        w.push((id(4), vec![id(1)]));
        if diagonal {
            w[0].1.push(id(3));
        }
        w
    };
    assert!(flagged(cycle(true)));
    assert!(!flagged(cycle(false)));
}

#[test]
fn a_far_jump_inside_the_window_is_implausible() {
    let p = FraudParams::default(); // > 3 cells at resolution 5 within 1 000 blocks
    let paris = u64::from(h3o::LatLng::new(48.85, 2.35).unwrap().to_cell(h3o::Resolution::Twelve));
    let near = u64::from(h3o::LatLng::new(48.86, 2.36).unwrap().to_cell(h3o::Resolution::Twelve));
    let lyon = u64::from(h3o::LatLng::new(45.76, 4.84).unwrap().to_cell(h3o::Resolution::Twelve));
    let moves = [(id(1), paris, lyon, 500), (id(2), paris, near, 500), (id(3), paris, lyon, 1_001)];
    let moves = moves.map(|(device, from, to, blocks)| Move { device, from, to, blocks }).to_vec();
    let flags = detect(&p, &FraudInputs { moves, ..FraudInputs::default() });
    assert_eq!(flags.keys().copied().collect::<Vec<_>>(), vec![id(1)]);
    let Evidence::ImplausibleMove { cells, blocks, .. } = flags[&id(1)][0] else { panic!() };
    assert!(cells > 3 && blocks == 500, "{cells}");
}

#[test]
fn the_later_of_two_identical_sensor_streams_is_the_copy() {
    let p = FraudParams::default();
    let d = Hash::sha256(b"stream");
    let sensors = vec![
        (id(1), 50, 10, d),
        (id(2), 10, 10, d),
        (id(3), 60, 10, Hash::sha256(b"other")),
        (id(4), 70, 4, Hash::sha256(b"short")),
        (id(5), 80, 4, Hash::sha256(b"short")),
    ];
    let sensors = sensors
        .into_iter()
        .map(|(device, registered, readings, digest)| SensorStream {
            device,
            registered,
            readings,
            digest,
        })
        .collect();
    let flags = detect(&p, &FraudInputs { sensors, ..FraudInputs::default() });
    // 2 registered first; 1 copies it. 4 and 5 sent too few readings to judge.
    assert_eq!(flags.keys().copied().collect::<Vec<_>>(), vec![id(1)]);
    assert_eq!(flags[&id(1)], vec![Evidence::CopiedSensor { of: id(2), readings: 10 }]);
}

/// 5 colluding hotspots far from anyone, each of its own owner, beaconing and witnessing
/// only each other, next to 6 honest hotspots in a line, each witnessing its neighbours.
pub(super) struct Ring {
    pub(super) n: Net,
    pub(super) admin: Keypair,
    pub(super) owners: Vec<Keypair>,
    pub(super) hotspots: Vec<DeviceSigner>,
}

pub(super) const RING: usize = 5;
pub(super) const HONEST: usize = 6;
pub(super) const EPOCH: u64 = 20;

fn spot(lat: f64, lng: f64, k: u32) -> u64 {
    let home = h3o::LatLng::new(lat, lng).unwrap().to_cell(h3o::Resolution::Eleven);
    let cell = home
        .grid_disk_distances::<Vec<_>>(k)
        .into_iter()
        .find(|(_, d)| *d == k)
        .map(|(c, _)| c)
        .unwrap();
    u64::from(cell.center_child(h3o::Resolution::Twelve).unwrap())
}

fn ring_epoch() -> (Ring, RewardReport) {
    let all: Vec<usize> = (0..RING).collect();
    let (ring, mut reports) = ring_run(&[all]);
    let r = reports.pop().unwrap();
    (ring, r)
}

/// Epochs 1, 2, …: in each, the ring members listed beacon (the honest line beacons every
/// epoch) and every hotspot that may witness hears the epoch's beacons of its ring or line
/// neighbours. Returns the reward report of each epoch.
fn ring_run(plan: &[Vec<usize>]) -> (Ring, Vec<RewardReport>) {
    // The ring is judged here as in a network that has run (the cold-start probation has
    // tests of its own).
    ring_run_with(plan, 0)
}

/// [`ring_run`] with `fraud.probation_blocks` set to `probation`.
pub(super) fn ring_run_with(plan: &[Vec<usize>], probation: u64) -> (Ring, Vec<RewardReport>) {
    ring_run_edited(plan, |p| p.fraud.probation_blocks = probation)
}

/// [`ring_run`] on parameters `edit` changes last.
fn ring_run_edited(
    plan: &[Vec<usize>],
    edit: impl FnOnce(&mut cairn_types::Params),
) -> (Ring, Vec<RewardReport>) {
    let owners: Vec<Keypair> =
        (0..RING + HONEST).map(|i| Keypair::from_label(&format!("fo{i}"))).collect();
    let (admin, gw) = (Keypair::from_label("fadmin"), Keypair::from_label("fgw"));
    let mut keys: Vec<&Keypair> = owners.iter().collect();
    keys.extend([&admin, &gw]);
    let mut g = genesis(&keys, START);
    g.params.blocks_per_epoch = EPOCH;
    g.params.admin = Some(admin.address());
    g.params.coverage.beacon_interval_blocks = 1;
    g.params.fraud.escrow_epochs = 2;
    // Governance decides appeals within an epoch (the escrow window is two).
    g.params.gov.voting_period_epochs = 1;
    g.params.gov.max_lock_epochs = 10;
    g.params.gov.min_deposit = 10 * cairn_testkit::CRN;
    edit(&mut g.params);
    let mut n = Net::new(&g);
    let mut hotspots = Vec::new();
    for (i, o) in owners.iter().enumerate() {
        let dev = ed_device(150 + i as u8);
        // The ring sits near Lyon, the honest line in Paris; 10 cells between neighbours.
        let cell = if i < RING {
            spot(45.76, 4.84, 10 * i as u32)
        } else {
            spot(48.85, 2.35, 10 * (i - RING) as u32)
        };
        let t = vec![
            n.tx(o, register(&dev, o, DeviceClass::Hotspot, 0, None)),
            n.tx(o, TxBody::AssertLocation { device: dev.id(), cell }),
        ];
        n.block(t);
        hotspots.push(dev);
    }
    n.advance_to(EPOCH); // epoch 1 starts: locations are older than the epoch
    let mut seqs = vec![0u64; hotspots.len()];
    let report = |dev: &DeviceSigner, seq: &mut u64, e: u64, payload: ReportPayload, ts: u64| {
        *seq += 1;
        let r = Report { device: dev.public_key(), seq: *seq, epoch: e, timestamp_ms: ts, payload };
        let signature = dev.sign(&r.signing_message(CHAIN)).unwrap();
        SignedReport { report: r, signature }
    };
    let mut beaconed = vec![false; hotspots.len()];
    let mut reports = Vec::new();
    for (k, members) in plan.iter().enumerate() {
        let e = 1 + k as u64;
        let beacons: Vec<usize> = members.iter().copied().chain(RING..RING + HONEST).collect();
        let mut beacon_height = 0;
        // The boundary block of the epoch before is its first block.
        for b in u64::from(k > 0)..EPOCH {
            let ts = n.c.parent.timestamp_ms;
            let mut batch: Vec<SignedReport> = hotspots
                .iter()
                .zip(seqs.iter_mut())
                .map(|(d, s)| {
                    *s += 1;
                    heartbeat(d, *s, e, ts)
                })
                .collect();
            if b == 1 {
                let h = n.height();
                let entropy = crate::entropy_at(&n.c.store, h).unwrap().unwrap();
                for &i in &beacons {
                    let d = &hotspots[i];
                    let payload = ReportPayload::Beacon {
                        entropy_height: h,
                        data: beacon_data(&entropy, &d.id()),
                        frequency_khz: 868_100,
                        tx_power_dbm: 14,
                    };
                    batch.push(report(d, &mut seqs[i], e, payload, ts));
                    beaconed[i] = true;
                }
                beacon_height = h + 1;
            }
            if b == 2 {
                // Only a hotspot that has beaconed may witness (reciprocity).
                for w in (0..hotspots.len()).filter(|w| beaconed[*w]) {
                    let heard: Vec<usize> = if w < RING {
                        members.iter().copied().filter(|x| *x != w).collect()
                    } else {
                        [w.wrapping_sub(1), w + 1]
                            .into_iter()
                            .filter(|x| *x >= RING && *x < RING + HONEST)
                            .collect()
                    };
                    for bcn in heard {
                        let payload = ReportPayload::Witness {
                            beaconer: hotspots[bcn].id(),
                            beacon_height,
                            rssi_cdbm: -12_000,
                            frequency_khz: 868_100,
                        };
                        batch.push(report(&hotspots[w], &mut seqs[w], e, payload, ts));
                    }
                }
            }
            let r = n.run(&gw, TxBody::SubmitReports { reports: batch });
            let cairn_types::TxOutcome::Reports { rejected, .. } = &r.outcome else { panic!() };
            assert!(rejected.is_empty(), "{rejected:?}");
        }
        let p = n.block(vec![]);
        assert_eq!(p.header.height, (e + 1) * EPOCH);
        reports.push(p.executed.reward_report().unwrap().unwrap());
    }
    (Ring { n, admin, owners, hotspots }, reports)
}

/// A ring whose members beacon in turns — never all in one epoch — is judged on the witness
/// graph of the reciprocity window: the edges of earlier epochs count, so the ring is flagged
/// once its members are linked, though one epoch's graph alone is not a ring. The honest
/// line is never flagged.
#[test]
fn a_ring_beaconing_in_turns_is_flagged_on_the_window_graph() {
    let (ring, reports) = ring_run(&[vec![0, 1, 2], vec![3, 4], vec![0, 1, 2]]);
    let members: Vec<DeviceId> = ring.hotspots[..RING].iter().map(DeviceSigner::id).collect();
    let flagged = |r: &RewardReport| -> Vec<DeviceId> {
        r.entries.iter().filter(|e| !e.flags.is_empty()).map(|e| e.device).collect()
    };
    // Epoch 1: 0, 1 and 2 heard each other (a ring of three so far); 3 and 4 heard nobody.
    let mut first: Vec<DeviceId> = members[..3].to_vec();
    first.sort();
    assert_eq!(flagged(&reports[0]), first);
    // Epoch 2: everyone heard 3 and 4 — 7 of the 10 pairs, not a ring on its own — and the
    // window keeps the 3 pairs of epoch 1: all 10 are linked.
    let mut all = members.clone();
    all.sort();
    for r in &reports[1..] {
        assert_eq!(flagged(r), all);
        for e in r.entries.iter().filter(|e| members.contains(&e.device)) {
            assert_eq!(e.flags, vec![Evidence::WitnessRing { members: 5, edges: 10, outside: 0 }]);
        }
    }
    // The witness graph of one hotspot: the beaconers it heard, with the beacons' heights.
    let heard: Vec<(DeviceId, Height)> =
        ring.n.c.store.get_decoded(&state_key::heard(&members[0])).unwrap().unwrap();
    let mut who: Vec<DeviceId> = heard.iter().map(|(b, _)| *b).collect();
    who.sort();
    let mut others = members[1..].to_vec();
    others.sort();
    assert_eq!(who, others);
}

#[test]
fn a_witness_ring_of_five_is_escrowed_while_honest_neighbours_are_paid() {
    let (mut ring, r) = ring_epoch();
    let keys: Vec<&Keypair> = ring.owners.iter().chain([&ring.admin]).collect();
    for (i, e) in r.entries.iter().enumerate() {
        let colluder = ring.hotspots[..RING].iter().any(|d| d.id() == e.device);
        assert!(e.amount > 0, "entry {i} earned nothing: {e:?}");
        if colluder {
            assert_eq!(
                e.flags,
                vec![Evidence::WitnessRing { members: 5, edges: 10, outside: 0 }],
                "{i}"
            );
        } else {
            assert!(e.flags.is_empty(), "honest hotspot {i} flagged: {:?}", e.flags);
        }
    }
    assert_eq!(r.summary.leaves, HONEST as u64);
    let held: Amount = r.entries.iter().filter(|e| !e.flags.is_empty()).map(|e| e.amount).sum();
    assert_eq!(r.summary.escrowed, held);
    assert_eq!(ring.n.supply().held, held);
    assert_supply_identity(&ring.n.c.store, &keys);

    // The first colluder appeals; the admin burns its hold and releases the second's.
    let (d0, d1) = (ring.hotspots[0].id(), ring.hotspots[1].id());
    let amount =
        |d: &cairn_types::DeviceId| r.entries.iter().find(|e| e.device == *d).unwrap().amount;
    let o0 = ring.owners[0].clone();
    assert!(ring.n.run(&o0, TxBody::Appeal { device: d0, epoch: 1 }).is_success());
    assert!(get_hold(&ring.n.c.store, &d0, 1).unwrap().unwrap().appealed);
    let o1 = ring.owners[1].clone();
    let stranger = ring.n.run(&o1, TxBody::Appeal { device: d0, epoch: 1 });
    assert_eq!(failure(&stranger).code(), "not_owner");
    let not_admin = ring.n.run(&o1, TxBody::ResolveFraud { device: d1, epoch: 1, release: true });
    assert_eq!(failure(&not_admin).code(), "not_admin");
    let admin = ring.admin.clone();
    let burned_before = ring.n.supply().burned;
    let burn = ring.n.run(&admin, TxBody::ResolveFraud { device: d0, epoch: 1, release: false });
    assert!(burn.is_success(), "{burn:?}");
    // The held amount and the decision's own fee are burned.
    assert_eq!(ring.n.supply().burned, burned_before + amount(&d0) + burn.fee_paid);
    let before = ring.n.balance(&o1);
    assert!(
        ring.n
            .run(&admin, TxBody::ResolveFraud { device: d1, epoch: 1, release: true })
            .is_success()
    );
    assert_eq!(ring.n.balance(&o1), before + amount(&d1));
    let twice = ring.n.run(&admin, TxBody::ResolveFraud { device: d1, epoch: 1, release: false });
    assert_eq!(failure(&twice), &TxFailure::HoldSettled { device: d1, epoch: 1 });
    assert_supply_identity(&ring.n.c.store, &keys);

    // The other three are released when the window ends: at the start of epoch 1 + 1 + 2.
    let d2 = ring.hotspots[2].id();
    ring.n.advance_to(4 * EPOCH);
    assert_eq!(get_hold(&ring.n.c.store, &d2, 1).unwrap().unwrap().status, HoldStatus::Held);
    let before = ring.n.balance(&ring.owners[2]);
    ring.n.block(vec![]);
    let h = get_hold(&ring.n.c.store, &d2, 1).unwrap().unwrap();
    assert_eq!(h.status, HoldStatus::Released { height: 4 * EPOCH });
    assert_eq!(ring.n.balance(&ring.owners[2]), before + amount(&d2));
    assert_eq!(ring.n.supply().held, 0);
    assert_supply_identity(&ring.n.c.store, &keys);
}

#[test]
fn holds_appeals_and_claims_work_in_the_last_epoch_of_their_window_after_epoch_records_expired() {
    use crate::devices::expiry::epochs_kept;
    use crate::state_key;
    use cairn_types::genesis::StateLayout;
    // Work paid later waits at most one epoch, so epoch records are kept two epochs: epoch
    // 1's go from the first block of epoch 3 on, the last epoch of epoch 1's hold window (its
    // holds are released at the start of epoch 1 + 1 + 2).
    let (mut ring, mut reports) = ring_run_edited(&[(0..RING).collect()], |p| {
        p.fraud.probation_blocks = 0;
        // The compact layout's activity keys (ADR 0036); the folded one keeps the activity
        // in the device record (ADR 0037).
        p.state_layout = StateLayout::Compact;
        p.usage.dispute_window_blocks = EPOCH;
        p.compute.commit_window_blocks = EPOCH / 2;
        p.compute.reveal_window_blocks = EPOCH / 2;
    });
    let r = reports.pop().unwrap();
    assert_eq!(r.summary.epoch, 1);
    let params = ring.n.params();
    assert_eq!((params.state_layout, epochs_kept(&params)), (StateLayout::Compact, 2));
    let (d0, d1, d2) = (ring.hotspots[0].id(), ring.hotspots[1].id(), ring.hotspots[2].id());
    let kept = |ring: &Ring| {
        let s = &ring.n.c.store;
        (
            s.get(&state_key::epoch_activity(&d0, 1)).unwrap().is_some(),
            s.get(&state_key::roster_len(b"active", 1)).unwrap().is_some(),
        )
    };
    ring.n.advance_to(3 * EPOCH);
    assert_eq!(kept(&ring), (true, true), "kept until the first block of epoch 3");
    // From that block on, a share a block (ADR 0036), all within epoch 3.
    while kept(&ring) != (false, false) {
        assert!(ring.n.height() + 1 < 4 * EPOCH, "epoch 1's records outlive epoch 3");
        ring.n.block(vec![]);
    }
    assert!(ring.n.height() + 3 < 4 * EPOCH, "room left in epoch 3: {}", ring.n.height());

    // In epoch 3: an appeal, a decision on it, and an honest owner's claim of epoch 1.
    let o0 = ring.owners[0].clone();
    assert!(ring.n.run(&o0, TxBody::Appeal { device: d0, epoch: 1 }).is_success());
    let admin = ring.admin.clone();
    let release = TxBody::ResolveFraud { device: d1, epoch: 1, release: true };
    let before = ring.n.balance(&ring.owners[1]);
    assert!(ring.n.run(&admin, release).is_success());
    let amount = |d: &DeviceId| r.entries.iter().find(|e| e.device == *d).unwrap().amount;
    assert_eq!(ring.n.balance(&ring.owners[1]), before + amount(&d1));
    let honest = ring.owners[RING].clone();
    let claim = crate::rewards::tests::claim_of(&r, &honest.address());
    let paid = claim.leaf.amount;
    let before = ring.n.balance(&honest);
    let receipt = ring.n.run(&honest, TxBody::ClaimRewards { claims: vec![claim] });
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(ring.n.balance(&honest), before + paid - receipt.fee_paid);

    // The last block of the window holds; the first of epoch 4 releases the rest.
    ring.n.advance_to(4 * EPOCH);
    assert_eq!(get_hold(&ring.n.c.store, &d2, 1).unwrap().unwrap().status, HoldStatus::Held);
    assert!(get_hold(&ring.n.c.store, &d0, 1).unwrap().unwrap().appealed);
    ring.n.block(vec![]);
    let h = get_hold(&ring.n.c.store, &d2, 1).unwrap().unwrap();
    assert_eq!(h.status, HoldStatus::Released { height: 4 * EPOCH });
    assert_eq!(ring.n.supply().held, 0);
    let keys: Vec<&Keypair> = ring.owners.iter().chain([&ring.admin]).collect();
    assert_supply_identity(&ring.n.c.store, &keys);
}

#[test]
fn a_fraud_appeal_is_released_or_burned_by_proposal() {
    use cairn_testkit::gov::{DEPOSIT, lock, proposal, proposal_id, propose, through_tally, vote};
    use cairn_types::gov::{ProposalAction, ProposalStatus, VoteChoice};
    let (mut ring, r) = ring_epoch();
    let keys: Vec<&Keypair> = ring.owners.iter().chain([&ring.admin]).collect();
    let keys: Vec<Keypair> = keys.into_iter().cloned().collect();
    let keys: Vec<&Keypair> = keys.iter().collect();
    let (d0, d1) = (ring.hotspots[0].id(), ring.hotspots[1].id());
    let amount = |d: &DeviceId| r.entries.iter().find(|e| e.device == *d).unwrap().amount;
    let (voter, o1) = (ring.admin.clone(), ring.owners[1].clone());
    assert!(
        ring.n.run(&ring.owners[0].clone(), TxBody::Appeal { device: d0, epoch: 1 }).is_success()
    );
    ring.n.ok(&voter, lock(100 * cairn_testkit::CRN, 10));
    let appeal = |device, release| ProposalAction::FraudAppeal { device, epoch: 1, release };
    let release = proposal_id(&ring.n.ok(&voter, propose("release d1", appeal(d1, true))));
    let burn = proposal_id(&ring.n.ok(&voter, propose("burn d0", appeal(d0, false))));
    ring.n.ok(&voter, vote(release, VoteChoice::Yes));
    ring.n.ok(&voter, vote(burn, VoteChoice::Yes));
    let (before, burned) = (ring.n.balance(&o1), ring.n.supply().burned);
    assert_supply_identity(&ring.n.c.store, &keys);
    through_tally(&mut ring.n, release);
    // Decided before the escrow window (start of epoch 4) would have released them.
    assert!(ring.n.height() < 4 * EPOCH);
    assert_eq!(proposal(&ring.n, release).status, ProposalStatus::Passed);
    assert_eq!(proposal(&ring.n, burn).status, ProposalStatus::Passed);
    let h1 = get_hold(&ring.n.c.store, &d1, 1).unwrap().unwrap();
    assert_eq!(h1.status, HoldStatus::Released { height: ring.n.height() });
    assert_eq!(ring.n.balance(&o1), before + amount(&d1));
    let h0 = get_hold(&ring.n.c.store, &d0, 1).unwrap().unwrap();
    assert_eq!(h0.status, HoldStatus::Burned { height: ring.n.height() });
    assert_eq!(ring.n.supply().burned, burned + amount(&d0));
    // A decision on a settled hold passes the vote but fails to apply, and says why.
    let again = proposal_id(&ring.n.ok(&voter, propose("again", appeal(d1, false))));
    ring.n.ok(&voter, vote(again, VoteChoice::Yes));
    through_tally(&mut ring.n, again);
    let ProposalStatus::Failed { reason } = proposal(&ring.n, again).status else { panic!() };
    assert!(reason.contains("already settled"), "{reason}");
    assert_eq!(DEPOSIT, ring.n.params().gov.min_deposit);
    assert_supply_identity(&ring.n.c.store, &keys);
}

/// The ring detector by the definition, slowly: the hotspots with at most
/// `low_degree_max` witness edges; components of the graph among them by search over an
/// adjacency map; a component that is not a ring whole, and has at most `SPLIT_MAX`
/// members, cut along its weak links (twice the common neighbours below the larger degree
/// less one). A group's outside links are the pairs of a member and anyone else linked
/// either way.
fn rings_by_definition(p: &FraudParams, witnessed: &[(DeviceId, Vec<DeviceId>)]) -> Flags {
    use crate::rewards::detect::witness_graph::{SPLIT_MAX, low_degree_max};
    use std::collections::{BTreeMap, BTreeSet};
    type Adjacent = BTreeMap<DeviceId, BTreeSet<DeviceId>>;
    // Directed edges, each once.
    let mut edges: BTreeSet<(DeviceId, DeviceId)> = BTreeSet::new();
    for (w, bs) in witnessed {
        edges.extend(bs.iter().filter(|b| *b != w).map(|b| (*w, *b)));
    }
    let mut degree: BTreeMap<DeviceId, u64> = BTreeMap::new();
    for (w, b) in &edges {
        *degree.entry(*w).or_default() += 1;
        *degree.entry(*b).or_default() += 1;
    }
    let low = |d: &DeviceId| degree[d] <= u64::from(low_degree_max(p));
    let mut adjacent: Adjacent = BTreeMap::new();
    for (w, b) in edges.iter().filter(|(w, b)| low(w) && low(b)) {
        adjacent.entry(*w).or_default().insert(*b);
        adjacent.entry(*b).or_default().insert(*w);
    }
    // Groups of `within` connected through `linked` pairs.
    fn groups(
        within: &BTreeSet<DeviceId>,
        linked: &dyn Fn(&DeviceId, &DeviceId) -> bool,
        adjacent: &Adjacent,
    ) -> Vec<BTreeSet<DeviceId>> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for start in within {
            if !seen.insert(*start) {
                continue;
            }
            let (mut members, mut todo) = (BTreeSet::from([*start]), vec![*start]);
            while let Some(d) = todo.pop() {
                for b in &adjacent[&d] {
                    if within.contains(b) && linked(&d, b) && seen.insert(*b) {
                        members.insert(*b);
                        todo.push(*b);
                    }
                }
            }
            out.push(members);
        }
        out
    }
    let ring = |members: &BTreeSet<DeviceId>| -> Option<Evidence> {
        let m = members.len() as u64;
        let e = members.iter().flat_map(|d| &adjacent[d]).filter(|d| members.contains(d)).count()
            as u64
            / 2;
        let pairs: BTreeSet<(DeviceId, DeviceId)> =
            edges.iter().map(|(w, b)| (*w.min(b), *w.max(b))).collect();
        let outside =
            pairs.iter().filter(|(a, b)| members.contains(a) != members.contains(b)).count() as u64;
        (m >= u64::from(p.ring_min).max(2)
            && m <= u64::from(p.ring_max)
            && e * 200 >= u64::from(p.ring_density_percent) * m * (m - 1)
            && outside * 100 <= u64::from(p.ring_leak_percent) * e)
            .then_some(Evidence::WitnessRing {
                members: m as u32,
                edges: e as u32,
                outside: outside as u32,
            })
    };
    let all: BTreeSet<DeviceId> = adjacent.keys().copied().collect();
    let witnesses: BTreeSet<DeviceId> = witnessed.iter().map(|(w, _)| *w).collect();
    let mut flags = Flags::new();
    // A hotspot is flagged by the first ring it is found in.
    fn flag(flags: &mut Flags, members: &BTreeSet<DeviceId>, evidence: Evidence) {
        for d in members {
            let held = flags.entry(*d).or_default();
            if !held.iter().any(|e| matches!(e, Evidence::WitnessRing { .. })) {
                held.push(evidence.clone());
            }
        }
    }
    let strong = |a: &DeviceId, b: &DeviceId| {
        let common = adjacent[a].intersection(&adjacent[b]).count();
        2 * common + 1 >= adjacent[a].len().max(adjacent[b].len())
    };
    for component in groups(&all, &|_, _| true, &adjacent) {
        if let Some(evidence) = ring(&component) {
            flag(&mut flags, &component, evidence);
            continue;
        }
        if component.len() < p.ring_min.max(2) as usize || component.len() > SPLIT_MAX {
            continue;
        }
        let parts = groups(&component, &strong, &adjacent);
        let mut left: BTreeSet<DeviceId> = BTreeSet::new();
        if parts.len() < 2 {
            left = component;
        } else {
            for part in parts {
                match ring(&part) {
                    Some(evidence) => flag(&mut flags, &part, evidence),
                    None => left.extend(part),
                }
            }
        }
        // One clique grown from each hotspot left, in the graph's numbering (witnesses by
        // id, then the others by id): neighbours by shared neighbours, most first.
        let rank = |d: &DeviceId| (!witnesses.contains(d), *d);
        let mut order: Vec<DeviceId> = left.iter().copied().collect();
        order.sort_by_key(rank);
        let mut seen: BTreeSet<BTreeSet<DeviceId>> = BTreeSet::new();
        for v in &order {
            let near: BTreeSet<DeviceId> = adjacent[v].intersection(&left).copied().collect();
            let mut by_shared: Vec<(usize, (bool, DeviceId))> =
                near.iter().map(|u| (adjacent[u].intersection(&near).count(), rank(u))).collect();
            by_shared.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut clique = BTreeSet::from([*v]);
            for (_, (_, u)) in by_shared {
                if clique.iter().all(|c| adjacent[c].contains(&u)) {
                    clique.insert(u);
                }
            }
            if seen.insert(clique.clone())
                && let Some(evidence) = ring(&clique)
            {
                flag(&mut flags, &clique, evidence);
            }
        }
    }
    flags
}

/// The ring flags of `lists` (witness → beaconers heard) as detected and as defined.
fn detected_and_defined(
    p: &FraudParams,
    lists: &std::collections::BTreeMap<u8, Vec<u8>>,
) -> (Flags, Flags) {
    let witnessed: Vec<(DeviceId, Vec<DeviceId>)> =
        lists.iter().map(|(w, bs)| (id(*w), bs.iter().map(|b| id(*b)).collect())).collect();
    let inputs = FraudInputs { witnessed: witnessed.clone().into(), ..FraudInputs::default() };
    (detect(p, &inputs), rings_by_definition(p, &witnessed))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]
    /// On random witness graphs (self-edges, repeated beaconers, beaconers that never
    /// witnessed), the detector flags exactly what the definition says.
    #[test]
    fn the_ring_detector_flags_what_the_definition_says(
        lists in proptest::collection::btree_map(
            0u8..24,
            proptest::collection::vec(0u8..32, 0..6),
            0..20,
        ),
        ring_min in 2u32..5,
        ring_max in 3u32..9,
        density in 30u32..100,
        leak in 0u32..60,
    ) {
        let p = FraudParams {
            ring_min,
            ring_max,
            ring_density_percent: density,
            ring_leak_percent: leak,
            unheard_min_beaconers: 0,
            ..FraudParams::default()
        };
        let (flags, defined) = detected_and_defined(&p, &lists);
        proptest::prop_assert_eq!(flags, defined);
    }

    /// On groups that witness each other (cliques with a few pairs missing) joined by
    /// random links, where rings hide among parts the cut cannot separate.
    #[test]
    fn the_ring_detector_flags_what_the_definition_says_among_cliques(
        sizes in proptest::collection::vec(3u8..8, 1..5),
        missing in proptest::collection::vec((0u8..40, 0u8..40), 0..4),
        extra in proptest::collection::vec((0u8..44, 0u8..44), 0..14),
        ring_max in 5u32..13,
        density in 60u32..101,
        leak in 0u32..150,
    ) {
        let p = FraudParams {
            ring_min: 3,
            ring_max,
            ring_density_percent: density,
            ring_leak_percent: leak,
            unheard_min_beaconers: 0,
            ..FraudParams::default()
        };
        let mut lists: std::collections::BTreeMap<u8, Vec<u8>> = Default::default();
        let mut next = 0u8;
        for size in sizes {
            let members: Vec<u8> = (next..next + size).collect();
            next += size;
            for w in &members {
                let heard = members.iter().filter(|b| *b != w && !missing.contains(&(*w, **b)));
                lists.entry(*w).or_default().extend(heard);
            }
        }
        for (w, b) in extra {
            lists.entry(w).or_default().push(b);
        }
        let (flags, defined) = detected_and_defined(&p, &lists);
        proptest::prop_assert_eq!(flags, defined);
    }
}

/// Every failure of an appeal or a resolution lands on the receipt as the variant it always
/// had.
#[test]
fn every_fraud_error_maps_onto_its_receipt_failure() {
    use crate::rewards::escrow::FraudError as E;
    use cairn_types::{Address, Hash, TxFailure as F};
    let (a, b) = (Address([1; 32]), Address([2; 32]));
    let d = Hash([5; 32]);
    crate::handler::assert_failure_table(vec![
        (E::NoHold { device: d, epoch: 1 }, "no_hold", F::NoHold { device: d, epoch: 1 }),
        (
            E::HoldSettled { device: d, epoch: 2 },
            "hold_settled",
            F::HoldSettled { device: d, epoch: 2 },
        ),
        (
            E::NotOwner { device: d, owner: a, signer: b },
            "not_owner",
            F::NotOwner { device: d, owner: a, signer: b },
        ),
        (E::NotAdmin { signer: b }, "not_admin", F::NotAdmin { signer: b }),
    ]);
}
