//! The cold-start probation (docs/adr/0013-cold-start.md): on hand-built witness graphs, and
//! through blocks in a network whose every hotspot is new.

use super::tests::{EPOCH, HONEST, RING, ring_run_with};
use super::*;
use crate::devices::tests::assert_supply_identity;
use cairn_types::rewards::RewardReport;
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
