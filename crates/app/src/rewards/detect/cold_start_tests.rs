//! The cold-start probation (docs/adr/0013-cold-start.md): on hand-built witness graphs, and
//! through blocks in a network whose every hotspot is new.

use super::tests::{EPOCH, HONEST, RING, ring_run_with};
use super::*;
use crate::accounts::get_supply;
use crate::devices::tests::assert_supply_identity;
use crate::rewards::escrow::{get_hold, hold, judge_unproven, release_due};
use cairn_state::Overlay;
use cairn_types::Address;
use cairn_types::rewards::RewardReport;
use cairn_types::rewards::{FraudHold, HoldStatus};
use cairn_types::{Amount, Keypair};

fn id(i: u8) -> DeviceId {
    Hash([i; 32])
}

/// Probation of 100 blocks, three witnesses past it needed, judged at a boundary at 1 000.
fn params() -> FraudParams {
    FraudParams { probation_blocks: 100, evidence_witnesses: 3, ..FraudParams::default() }
}
const BOUNDARY: Height = 1_000;
const OLD: Option<Height> = Some(10);
const NEW: Option<Height> = Some(950);

/// Rows of `heard` (witness position, beaconer positions) over the ids 0..n.
fn rows(n: u8, heard: &[(u32, &[u32])]) -> WitnessRows {
    let mut r = WitnessRows { ids: (0..n).map(id).collect(), ..WitnessRows::default() };
    for (w, row) in heard {
        r.push_row(*w, row.iter().copied());
    }
    r
}

#[test]
fn a_new_hotspot_nobody_has_heard_is_held_as_unproven_and_not_called_a_fraud() {
    let located = [NEW, OLD, OLD];
    let r = rows(3, &[(0, &[1, 2])]); // it heard two old hotspots; nobody heard it
    let mut flags = Flags::new();
    unproven(&params(), BOUNDARY, &r, &located, &[0, 1, 2], &mut flags);
    assert_eq!(flags.keys().copied().collect::<Vec<_>>(), vec![id(0)]);
    let f = &flags[&id(0)];
    assert_eq!(f, &vec![Evidence::Unproven { until: 1_050, witnesses: 0, needed: 3 }]);
    assert!(!f[0].is_finding());
    assert_eq!(f[0].detector(), "unproven");
}

#[test]
fn a_new_hotspot_heard_by_enough_established_ones_is_paid_at_once() {
    let located = [NEW, OLD, OLD, OLD, NEW];
    // Three old hotspots heard 0; only new ones heard 4 (new witnesses vouch for no one).
    let r = rows(5, &[(1, &[0]), (2, &[0]), (3, &[0, 4]), (0, &[4])]);
    let mut flags = Flags::new();
    unproven(&params(), BOUNDARY, &r, &located, &[0, 4], &mut flags);
    assert_eq!(flags.keys().copied().collect::<Vec<_>>(), vec![id(4)]);
    assert_eq!(flags[&id(4)], vec![Evidence::Unproven { until: 1_050, witnesses: 1, needed: 3 }]);
}

#[test]
fn a_flagged_witness_vouches_for_no_one() {
    let located = [NEW, OLD, OLD, OLD];
    let r = rows(4, &[(1, &[0]), (2, &[0]), (3, &[0])]);
    let mut flags = Flags::new();
    flags.insert(id(3), vec![Evidence::Colocated { cell: 1, hotspots: 3 }]);
    unproven(&params(), BOUNDARY, &r, &located, &[0], &mut flags);
    assert_eq!(flags[&id(0)], vec![Evidence::Unproven { until: 1_050, witnesses: 2, needed: 3 }]);
}

#[test]
fn established_hotspots_and_a_rule_switched_off_hold_nothing() {
    let located = [OLD, Some(900), NEW];
    let r = rows(3, &[]);
    let mut flags = Flags::new();
    // 900 + 100 = 1 000: past the probation at the boundary itself.
    unproven(&params(), BOUNDARY, &r, &located, &[0, 1], &mut flags);
    assert!(flags.is_empty());
    let off = FraudParams { probation_blocks: 0, ..params() };
    unproven(&off, BOUNDARY, &r, &located, &[0, 1, 2], &mut flags);
    assert!(flags.is_empty());
}

#[test]
fn a_new_ring_vouching_for_its_own_members_stays_unproven() {
    // Five new hotspots that all hear each other: their own links are no evidence.
    let located = [NEW; 5];
    let all: Vec<u32> = (0..5).collect();
    let heard: Vec<(u32, Vec<u32>)> =
        all.iter().map(|w| (*w, all.iter().copied().filter(|b| b != w).collect())).collect();
    let heard: Vec<(u32, &[u32])> = heard.iter().map(|(w, r)| (*w, r.as_slice())).collect();
    let r = rows(5, &heard);
    let mut flags = Flags::new();
    unproven(&params(), BOUNDARY, &r, &located, &all, &mut flags);
    assert_eq!(flags.len(), 5);
    assert!(flags.values().all(|f| matches!(f[..], [Evidence::Unproven { witnesses: 0, .. }])));
}

fn flagged(r: &RewardReport) -> Vec<(DeviceId, Vec<&'static str>)> {
    r.entries
        .iter()
        .filter(|e| !e.flags.is_empty())
        .map(|e| (e.device, e.flags.iter().map(Evidence::detector).collect()))
        .collect()
}

/// A new network: a ring of five near Lyon and six honest hotspots in a line in Paris, all
/// located in the first blocks, with a probation of three epochs. In epochs 1 and 2 only
/// two ring members beacon and hear each other — two hotspots are no ring, so without the
/// probation they are paid — and in epoch 3 all five do and the ring detector sees them.
/// With the probation nobody is paid in epochs 1 and 2; when the probation ends the honest
/// line's held coverage is paid in full and the two members' holds become fraud holds with
/// the ring as evidence.
#[test]
fn a_ring_in_a_new_network_is_not_paid_before_the_detectors_see_it() {
    let plan = [vec![0, 1], vec![0, 1], (0..RING).collect()];
    let (old, old_reports) = ring_run_with(&plan, 0);
    let (ring, reports) = ring_run_with(&plan, 3 * EPOCH);
    let members: Vec<DeviceId> = ring.hotspots[..RING].iter().map(|d| d.id()).collect();
    let early = [members[0], members[1]];
    // Without the probation the two members are paid in epochs 1 and 2.
    for r in &old_reports[..2] {
        assert!(flagged(r).is_empty(), "{:?}", flagged(r));
        for e in r.entries.iter().filter(|e| early.contains(&e.device)) {
            assert!(e.amount > 0 && e.is_leaf());
        }
    }
    // With it, every hotspot that earned coverage in epochs 1 and 2 is held as unproven,
    // and nobody is paid through the root.
    for (k, r) in reports[..2].iter().enumerate() {
        assert_eq!(r.summary.leaves, 0, "epoch {}", k + 1);
        assert!(r.entries.iter().filter(|e| e.amount > 0).all(|e| !e.is_leaf()));
        assert!(flagged(r).iter().all(|(_, d)| d == &vec!["unproven"]), "{:?}", flagged(r));
        let held: Amount = r.entries.iter().filter(|e| !e.flags.is_empty()).map(|e| e.amount).sum();
        assert_eq!(r.summary.escrowed, held);
        // The flags change who is paid when, not what each device's share is.
        for (a, b) in r.entries.iter().zip(&old_reports[k].entries) {
            assert_eq!((a.device, a.amount), (b.device, b.amount));
        }
    }
    // Epoch 3: the probation has ended; the ring is seen, the honest line is paid.
    let mut ring_ids = members.clone();
    ring_ids.sort();
    let third: Vec<DeviceId> = flagged(&reports[2]).into_iter().map(|(d, _)| d).collect();
    assert_eq!(third, ring_ids);
    assert!(flagged(&reports[2]).iter().all(|(_, d)| d == &vec!["witness_ring"]));
    // The boundary that closed epoch 3 (height 80) judged the holds of epochs 1 and 2.
    let at = 4 * EPOCH;
    for (i, d) in ring.hotspots.iter().enumerate() {
        for e in 1..=2u64 {
            let entry = reports[e as usize - 1].entries.iter().find(|x| x.device == d.id());
            let Some(entry) = entry.filter(|x| x.amount > 0) else { continue };
            let h = get_hold(&ring.n.c.store, &d.id(), e).unwrap().unwrap();
            assert_eq!(h.amount, entry.amount);
            if i < RING {
                assert_eq!(h.status, HoldStatus::Held, "member {i}, epoch {e}");
                assert!(h.evidence.iter().any(|f| f.detector() == "witness_ring"), "{h:?}");
                assert_eq!(h.release_epoch, 4 + 2);
            } else {
                assert_eq!(h.status, HoldStatus::Released { height: at }, "honest {i}, epoch {e}");
            }
        }
    }
    // Paid late, not less: each honest owner holds, on top of what it holds without the
    // probation (where its epoch 1 and 2 leaves wait unclaimed), exactly those leaves.
    for i in RING..RING + HONEST {
        let d = ring.hotspots[i].id();
        let earned: Amount = old_reports[..2]
            .iter()
            .flat_map(|r| r.entries.iter().filter(|e| e.device == d))
            .map(|e| e.amount)
            .sum();
        assert!(earned > 0);
        let (now, without) = (ring.n.balance(&ring.owners[i]), old.n.balance(&old.owners[i]));
        assert_eq!(now, without + earned, "honest {i}");
    }
    let keys: Vec<&Keypair> = ring.owners.iter().chain([&ring.admin]).collect();
    assert_supply_identity(&ring.n.c.store, &keys);
}

/// The seven spoofers of the simulator's cold start at 1,000 devices (seed 11), as the
/// window at the boundary that judged their probation holds saw them: they live in one city
/// and claim places in the next, hear each other for real and report it there. 0 is the
/// spoofer whose holds were released: 1..=5 heard it and were flagged `unheard` at that
/// boundary; 6 heard it and was not flagged (it never heard enough outsiders); 0 heard all
/// six back, and the honest hotspots 7 and 8 of the claimed city, who never heard it.
fn spoofers() -> (WitnessRows, Flags) {
    let mut heard: Vec<(u32, Vec<u32>)> =
        (1..=6).map(|w| (w, (0..=6).filter(|b| *b != w).collect())).collect();
    heard.push((0, (1..=8).collect()));
    heard.push((7, vec![8]));
    heard.push((8, vec![7]));
    let heard: Vec<(u32, &[u32])> = heard.iter().map(|(w, r)| (*w, r.as_slice())).collect();
    let mut flags = Flags::new();
    for s in 1..=5 {
        flags.insert(id(s), vec![Evidence::Unheard { beacon: 200, beaconers: 6 }]);
    }
    (rows(9, &heard), flags)
}

/// An unproven hold of `epoch` of device `d`, due now, and its device's clean entry in the
/// boundary's report; judged at the first block of epoch 8 (height 240, 30-block epochs).
fn judge(d: DeviceId, epoch: u64, hearers: &crate::rewards::Hearers) -> FraudHold {
    let base = cairn_state::MemStore::default();
    let mut o = Overlay::new(&base);
    let owner = Address([7; 32]);
    let h = FraudHold {
        device: d,
        owner,
        epoch,
        amount: 1_000,
        evidence: vec![Evidence::Unproven { until: 210, witnesses: 0, needed: 3 }],
        release_epoch: 8,
        appealed: false,
        status: HoldStatus::Held,
    };
    hold(&mut o, &h).unwrap();
    let mut supply = get_supply(&o).unwrap();
    supply.held = h.amount;
    o.put_encoded(state_key::supply(), &supply);
    let entry = crate::rewards::pay::DeviceInput {
        device: d,
        owner,
        class: cairn_types::DeviceClass::Hotspot,
        work: cairn_types::rewards::Work::default(),
        density: Vec::new(),
        sensor_quality: None,
    }
    .into_entry();
    let params = Params { blocks_per_epoch: 30, ..Params::default() };
    let due = release_due(&mut o, 8, 240).unwrap();
    assert_eq!(due, vec![h]);
    judge_unproven(&mut o, &params, 8, 240, &[entry], due, hearers).unwrap();
    get_hold(&o, &d, epoch).unwrap().unwrap()
}

#[test]
fn a_spoofer_heard_mostly_by_flagged_spoofers_is_not_released_when_its_probation_ends() {
    let (r, flags) = spoofers();
    let state = cairn_state::MemStore::default();
    let hearers = hearers(&state, &r, 9, &flags, &[id(0), id(7)]).unwrap();
    // Its hearers are the six other spoofers; 7 was heard by its neighbour 8 and by 0.
    let of = |d: u8| hearers[&id(d)].iter().map(|h| h.device).collect::<Vec<_>>();
    assert_eq!(of(0), (1..=6).map(id).collect::<Vec<_>>());
    assert_eq!(of(7), vec![id(0), id(8)]);
    // The one unflagged spoofer's vouch is outweighed by the five flagged ones.
    let h = judge(id(0), 1, &hearers);
    assert_eq!(h.status, HoldStatus::Held);
    assert_eq!(h.evidence.last(), Some(&Evidence::HeardByFlagged { flagged: 5, unflagged: 1 }));
    assert_eq!(h.release_epoch, 8 + FraudParams::default().escrow_epochs.max(1));
    // The honest hotspot heard only by its honest neighbour is paid.
    let h = judge(id(7), 1, &hearers);
    assert_eq!(h.status, HoldStatus::Released { height: 240 });
}

#[test]
fn a_finding_since_the_held_epoch_counts_against_a_hearer_not_flagged_at_the_boundary() {
    // 1..=5 were flagged in epoch 3, not at the boundary closing epoch 7.
    let (r, _) = spoofers();
    let base = cairn_state::MemStore::default();
    let mut o = Overlay::new(&base);
    for s in 1..=5 {
        o.put_encoded(
            state_key::fraud_seen(&id(s)),
            &(3u64, vec![Evidence::Unheard { beacon: 60, beaconers: 5 }]),
        );
    }
    let hearers = hearers(&o, &r, 9, &Flags::new(), &[id(0)]).unwrap();
    assert_eq!(
        heard_by_flagged(&hearers[&id(0)], 1),
        Some(Evidence::HeardByFlagged { flagged: 5, unflagged: 1 })
    );
    // A finding before the held epoch is not held against its hearers' later word.
    assert_eq!(heard_by_flagged(&hearers[&id(0)], 3), None);
}

#[test]
fn a_hotspot_nobody_clean_heard_is_held_only_if_flagged_hotspots_outnumber_clean_ones() {
    let hearer = |impeached: bool, flagged: bool| Hearer {
        device: id(1),
        impeached,
        flagged,
        seen: None,
        heard_back: true,
    };
    // Heard by nobody, or only by hotspots still on probation: no evidence either way.
    assert_eq!(heard_by_flagged(&[], 1), None);
    assert_eq!(heard_by_flagged(&[hearer(false, true), hearer(false, true)], 1), None);
    // As many clean hearers as flagged ones: released.
    assert_eq!(heard_by_flagged(&[hearer(true, true), hearer(false, false)], 1), None);
    // One flagged more than clean ones: held, whoever else is on probation.
    let two = [hearer(true, true), hearer(true, true), hearer(false, false), hearer(false, true)];
    assert_eq!(
        heard_by_flagged(&two, 1),
        Some(Evidence::HeardByFlagged { flagged: 2, unflagged: 1 })
    );
    // An impeached hotspot it never heard counts for neither side.
    let claim = Hearer { heard_back: false, ..hearer(true, true) };
    let against = Evidence::HeardByFlagged { flagged: 1, unflagged: 0 };
    assert_eq!(heard_by_flagged(&[hearer(true, true), claim.clone()], 1), Some(against));
    assert_eq!(heard_by_flagged(&[claim, hearer(false, false)], 1), None);
}

/// The attack on the rule: a clique of seven spoofers in which four never witness anyone
/// outside it, so the unheard rule never has five beaconers to judge them by, while the
/// three others witness eight honest hotspots each at the claimed places (and are flagged
/// `unheard`). Their 24 links outside outnumber the clique's 21 pairs, so it is no ring. A
/// silent member is heard by the three flagged and the three other silent members: as many
/// clean as flagged, so its probation hold is released. It gets through; one silent member
/// fewer and every silent member is held.
#[test]
fn a_spoofer_clique_with_as_many_silent_members_as_flagged_ones_is_released() {
    let n = 7 + 24;
    let clique: Vec<(u32, Vec<u32>)> = (0..7)
        .map(|w| {
            let mut row: Vec<u32> = (0..7).filter(|b| *b != w).collect();
            if w < 3 {
                row.extend((0..8).map(|k| 7 + 8 * w + k));
            }
            (w, row)
        })
        .collect();
    let heard: Vec<(u32, &[u32])> = clique.iter().map(|(w, r)| (*w, r.as_slice())).collect();
    let r = rows(n, &heard);
    let inputs = FraudInputs { witnessed: r.clone(), ..FraudInputs::default() };
    let found = detect(&FraudParams::default(), &inputs);
    assert!((0..7).all(|m| !found.contains_key(&id(m))), "{found:?}");
    let mut flags = Flags::new();
    for loud in 0..3 {
        flags.insert(id(loud), vec![Evidence::Unheard { beacon: 200, beaconers: 8 }]);
    }
    let silent: Vec<DeviceId> = (3..7).map(id).collect();
    let state = cairn_state::MemStore::default();
    let h = hearers(&state, &r, usize::from(n), &flags, &silent).unwrap();
    assert!(silent.iter().all(|d| heard_by_flagged(&h[d], 1).is_none()));
    // With four loud members and three silent ones, the silent ones are held.
    flags.insert(id(3), vec![Evidence::Unheard { beacon: 200, beaconers: 8 }]);
    let h = hearers(&state, &r, usize::from(n), &flags, &silent[1..]).unwrap();
    assert!(silent[1..].iter().all(|d| heard_by_flagged(&h[d], 1).is_some()));
}

/// In the simulator's cold start at 1,000 devices two honest hotspots were each heard by 11
/// clean neighbours and 12 flagged hotspots — Sybil farms' members, `colocated`, who really
/// hear them. A farm is flagged for crowding one cell, not for making up witnesses: its
/// members vouch for no one, and speak against no one either.
#[test]
fn a_sybil_farm_that_hears_a_new_honest_neighbour_does_not_hold_it() {
    // It hears them all back: they are its neighbours.
    let mut heard: Vec<(u32, Vec<u32>)> = (1..=11).map(|w| (w, vec![0])).collect();
    heard.push((0, (1..=11).collect()));
    let heard: Vec<(u32, &[u32])> = heard.iter().map(|(w, r)| (*w, r.as_slice())).collect();
    let r = rows(12, &heard);
    let mut flags = Flags::new();
    for farm in 1..=8 {
        flags.insert(id(farm), vec![Evidence::Colocated { cell: 7, hotspots: 8 }]);
    }
    let state = cairn_state::MemStore::default();
    let hearers = hearers(&state, &r, 12, &flags, &[id(0)]).unwrap();
    assert_eq!(hearers[&id(0)].len(), 11);
    assert_eq!(heard_by_flagged(&hearers[&id(0)], 1), None);
    assert_eq!(judge(id(0), 1, &hearers).status, HoldStatus::Released { height: 240 });
    // Had the farm's members made up witnesses (a ring), they would have held it.
    for farm in 1..=8 {
        flags.insert(id(farm), vec![Evidence::WitnessRing { members: 8, edges: 28, outside: 3 }]);
    }
    let hearers = super::hearers(&state, &r, 12, &flags, &[id(0)]).unwrap();
    let against = Evidence::HeardByFlagged { flagged: 8, unflagged: 3 };
    assert_eq!(heard_by_flagged(&hearers[&id(0)], 1), Some(against));
}

/// At 10,000 devices (the same command) spoofers claiming places in a city witnessed the
/// beacons of new honest hotspots there, as the spoofer does: one honest hotspot was heard
/// by 10 spoofers flagged `unheard` and 3 clean neighbours. It never heard those spoofers
/// (they live elsewhere): their claim to hear it is the one the unheard rule found false, and
/// is no evidence against it. A spoofer hears its fellows for real and so is held.
#[test]
fn spoofers_that_claim_to_hear_a_new_honest_hotspot_do_not_hold_it() {
    // 0 is the honest hotspot; 1..=3 its neighbours, which it hears; 4..=13 spoofers.
    let mut heard: Vec<(u32, Vec<u32>)> = (1..=13).map(|w| (w, vec![0])).collect();
    heard.push((0, vec![1, 2, 3]));
    let heard: Vec<(u32, &[u32])> = heard.iter().map(|(w, r)| (*w, r.as_slice())).collect();
    let r = rows(14, &heard);
    let mut flags = Flags::new();
    for s in 4..=13 {
        flags.insert(id(s), vec![Evidence::Unheard { beacon: 200, beaconers: 6 }]);
    }
    let state = cairn_state::MemStore::default();
    let hearers = hearers(&state, &r, 14, &flags, &[id(0)]).unwrap();
    assert_eq!(hearers[&id(0)].len(), 13);
    assert_eq!(heard_by_flagged(&hearers[&id(0)], 1), None);
    assert_eq!(judge(id(0), 1, &hearers).status, HoldStatus::Released { height: 240 });
}
