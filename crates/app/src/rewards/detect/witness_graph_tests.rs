//! The witness graph's detectors on hand-built graphs: rings cut out of a component along
//! weak links, and hotspots heard by no one outside their group, settled against the
//! beacons' heights in state.

use crate::rewards::detect::witness_graph::Suspect;
use crate::rewards::detect::{Flags, FraudInputs, detect_all, judge_unheard};
use crate::state_key;
use cairn_state::{MemStore, Overlay};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{Evidence, FraudParams};
use cairn_types::{Hash, Height, Params};

fn id(i: u8) -> DeviceId {
    Hash([i; 32])
}

/// Every member witnesses every other.
fn clique(ids: &[u8]) -> Vec<(DeviceId, Vec<DeviceId>)> {
    ids.iter().map(|w| (id(*w), ids.iter().filter(|b| *b != w).map(|b| id(*b)).collect())).collect()
}

fn add(w: &mut Vec<(DeviceId, Vec<DeviceId>)>, from: u8, to: &[u8]) {
    match w.iter_mut().find(|(d, _)| *d == id(from)) {
        Some((_, bs)) => bs.extend(to.iter().map(|b| id(*b))),
        None => w.push((id(from), to.iter().map(|b| id(*b)).collect())),
    }
}

/// The default parameters with the unheard rule on at five beaconers.
fn params() -> FraudParams {
    FraudParams { unheard_min_beaconers: 5, ..FraudParams::default() }
}

fn detect(witnessed: Vec<(DeviceId, Vec<DeviceId>)>) -> (Flags, Vec<Suspect>) {
    detect_all(&params(), &FraudInputs { witnessed: witnessed.into(), ..FraudInputs::default() })
}

#[test]
fn two_rings_that_now_and_then_hear_each_other_are_both_rings() {
    let mut w = clique(&[1, 2, 3, 4, 5]);
    w.extend(clique(&[11, 12, 13, 14, 15]));
    // One member of each heard one of the other ring once.
    add(&mut w, 1, &[11]);
    add(&mut w, 12, &[2]);
    let (flags, _) = detect(w);
    assert_eq!(flags.len(), 10, "{flags:?}");
    assert_eq!(flags[&id(1)], vec![Evidence::WitnessRing { members: 5, edges: 10, outside: 2 }]);
    assert_eq!(flags[&id(13)], vec![Evidence::WitnessRing { members: 5, edges: 10, outside: 2 }]);
}

#[test]
fn two_rings_joined_through_a_member_that_hears_most_of_the_other_are_both_rings() {
    // As two simulated rings did: member 4 of the second is linked to three of the first
    // (1, 2, 3), which makes its link to 3 strong (they share 1 and 2), and two more
    // members hear one each. The cut keeps the ten together; each ring is a clique.
    let mut w = clique(&[1, 2, 3, 4, 5]);
    w.extend(clique(&[11, 12, 13, 14, 15]));
    add(&mut w, 14, &[1, 2, 3]);
    add(&mut w, 11, &[3]);
    add(&mut w, 5, &[12]);
    let (flags, _) = detect(w);
    let flagged: Vec<DeviceId> = flags.keys().copied().collect();
    let mut rings: Vec<DeviceId> = (1..=5).chain(11..=15).map(id).collect();
    rings.sort_unstable();
    assert_eq!(flagged, rings, "{flags:?}");
    // Five links leave each ring: 14–1, 14–2, 14–3, 11–3, 5–12.
    assert_eq!(flags[&id(1)], vec![Evidence::WitnessRing { members: 5, edges: 10, outside: 5 }]);
    assert_eq!(flags[&id(14)], vec![Evidence::WitnessRing { members: 5, edges: 10, outside: 5 }]);
}

#[test]
fn a_ring_linked_to_more_outsiders_than_the_leak_share_is_not_a_ring() {
    // 10 linked pairs: the leak share of them in outside links is tolerated, one more is
    // not (at the default 100 %: ten and eleven).
    let tolerated = (10 * FraudParams::default().ring_leak_percent / 100) as u8;
    assert_eq!(tolerated, 10);
    for (links, ring) in [(tolerated, true), (tolerated + 1, false)] {
        let mut w = clique(&[1, 2, 3, 4, 5]);
        // Outsiders in a line far from each other, each heard once by a member.
        for k in 0..links {
            add(&mut w, 1 + k % 5, &[50 + k]);
        }
        let (flags, _) = detect(w);
        assert_eq!(flags.contains_key(&id(1)), ring, "{links} links: {flags:?}");
        assert!(!flags.contains_key(&id(50)), "an outsider is not a ring member");
    }
}

#[test]
fn a_ring_that_hears_a_busy_town_hotspot_is_still_a_ring() {
    // A town of forty that all hear each other: every townsman has 78 witness edges, far
    // more than a ring member can.
    let town: Vec<u8> = (100..140).collect();
    let mut w = clique(&town);
    w.extend(clique(&[1, 2, 3, 4, 5]));
    add(&mut w, 1, &[100]);
    add(&mut w, 101, &[2]);
    let (flags, _) = detect(w);
    let flagged: Vec<DeviceId> = flags.keys().copied().collect();
    assert_eq!(flagged, (1..=5).map(id).collect::<Vec<_>>());
    assert_eq!(flags[&id(4)], vec![Evidence::WitnessRing { members: 5, edges: 10, outside: 2 }]);
}

#[test]
fn a_town_is_not_cut_into_rings() {
    // Twenty hotspots on a grid, each hearing its neighbours up to two steps away.
    let pos = |i: u8| (i32::from(i % 5), i32::from(i / 5));
    let mut w = Vec::new();
    for a in 0..20u8 {
        let near: Vec<u8> = (0..20u8)
            .filter(|b| *b != a)
            .filter(|b| {
                let ((x1, y1), (x2, y2)) = (pos(a), pos(*b));
                (x1 - x2).abs() <= 2 && (y1 - y2).abs() <= 2
            })
            .map(|b| b + 100)
            .collect();
        add(&mut w, a + 100, &near);
    }
    let (flags, suspects) = detect(w);
    assert!(flags.is_empty(), "{flags:?}");
    assert!(suspects.is_empty(), "{suspects:?}");
}

/// A town of eight that hears itself, a spoofer hearing all of it and heard by no one, and
/// two spoofers that also hear each other.
#[test]
fn hotspots_heard_by_no_one_outside_their_group_are_suspects() {
    let town: Vec<u8> = (1..=8).collect();
    let mut w = clique(&town);
    add(&mut w, 40, &town);
    add(&mut w, 41, &town);
    add(&mut w, 41, &[42]);
    add(&mut w, 42, &town[..5]);
    add(&mut w, 42, &[41]);
    // A townsman heard by the town, who heard only four: not a suspect either way.
    add(&mut w, 9, &town[..4]);
    add(&mut w, 1, &[9]);
    // A hotspot that hears five beaconers that only beacon (sinks, hearing no one): no
    // evidence against it.
    add(&mut w, 10, &[50, 51, 52, 53, 54]);
    add(&mut w, 1, &[10]);
    let (_, suspects) = detect(w);
    let got: Vec<(DeviceId, usize)> =
        suspects.iter().map(|s| (s.device, s.beaconers.len())).collect();
    assert_eq!(got, vec![(id(40), 8), (id(41), 8), (id(42), 5)]);
    assert_eq!(suspects[0].beaconers, town.iter().map(|b| id(*b)).collect::<Vec<_>>());
}

/// State as written keys, replayed into an overlay for each judgement.
struct World {
    writes: std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
    params: Params,
}

impl World {
    fn new() -> World {
        let mut params = Params::default();
        params.blocks_per_epoch = 30;
        params.fraud = self::params();
        assert_eq!(params.coverage.reciprocity_blocks, 300);
        assert_eq!(params.coverage.witness_lag_blocks, 10);
        World { writes: Default::default(), params }
    }

    fn put(&mut self, key: Vec<u8>, value: &impl borsh::BorshSerialize) {
        self.writes.insert(key, borsh::to_vec(value).unwrap());
    }

    /// Six beaconers (1..=6) with beacons at `theirs`, suspect 40 with beacons at `its`, and
    /// 40's heard list holding each of the six's beacon of `heard_at`.
    fn with(theirs: &[Height], its: &[Height], heard_at: Height) -> World {
        let mut w = World::new();
        for b in 1..=6 {
            w.beacons(b, theirs);
        }
        w.beacons(40, its);
        w.heard(40, &(1..=6).map(|b| (b, heard_at)).collect::<Vec<_>>());
        w
    }

    /// Beacons of `d` at these heights, the last one last.
    fn beacons(&mut self, d: u8, at: &[Height]) {
        if let Some(last) = at.last() {
            self.put(state_key::last_beacon(&id(d)), last);
        }
        if at.len() >= 2 {
            self.put(state_key::prev_beacon(&id(d)), &at[at.len() - 2]);
        }
    }

    fn heard(&mut self, d: u8, pairs: &[(u8, Height)]) {
        let list: Vec<(DeviceId, Height)> = pairs.iter().map(|(b, h)| (id(*b), *h)).collect();
        self.put(state_key::heard(&id(d)), &list);
    }

    /// Judges suspect 40, who heard beaconers 1..=6, at the boundary closing epoch 19 (600).
    fn judge(&self) -> Vec<Evidence> {
        let base = MemStore::default();
        let mut o = Overlay::new(&base);
        for (k, v) in &self.writes {
            o.put(k.clone(), v.clone());
        }
        let s = Suspect { device: id(40), beaconers: (1..=6).map(id).collect() };
        let mut flags = Flags::new();
        judge_unheard(&o, &self.params, 19, &[s], &mut flags).unwrap();
        flags.remove(&id(40)).unwrap_or_default()
    }
}

#[test]
fn an_unheard_suspect_is_flagged_only_when_those_it_heard_could_have_heard_it() {
    // A network that runs: the six beaconed at 400 and again at 500; the suspect beaconed
    // at 450 and heard their beacons of 500.
    let mut net = World::with(&[400, 500], &[450], 500);
    assert_eq!(net.judge(), vec![Evidence::Unheard { beacon: 450, beaconers: 6 }]);
    // The default parameters turn the rule off.
    net.params.fraud.unheard_min_beaconers = 0;
    assert_eq!(net.judge(), vec![]);

    // Four of the six minimum five had beaconed before 450: not enough.
    let mut few = World::new();
    for b in 1..=6 {
        few.beacons(b, if b <= 4 { &[400, 500] } else { &[500] });
    }
    few.beacons(40, &[450]);
    few.heard(40, &(1..=6).map(|b| (b, 500)).collect::<Vec<_>>());
    assert_eq!(few.judge(), vec![]);

    // A network just starting: the suspect beaconed first, before anyone could witness.
    let start = World::with(&[460], &[450], 460);
    assert_eq!(start.judge(), vec![]);

    // Its only beacon in the window is younger than the witness lag: not judged yet. With
    // an older one in the window before it, that one is judged.
    let mut fresh = World::with(&[400, 500], &[595], 500);
    assert_eq!(fresh.judge(), vec![]);
    fresh.beacons(40, &[450, 595]);
    assert_eq!(fresh.judge(), vec![Evidence::Unheard { beacon: 450, beaconers: 6 }]);

    // A beacon that left the reciprocity window (before 300) is not judged.
    let old = World::with(&[250, 500], &[290], 500);
    assert_eq!(old.judge(), vec![]);
}

/// The unheard rule by its definition, slowly: a witness's beaconers that witnessed others
/// and cannot reach it back through witness edges (a search from each).
fn unheard_by_definition(k: u32, witnessed: &[(DeviceId, Vec<DeviceId>)]) -> Vec<Suspect> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut out: BTreeMap<DeviceId, BTreeSet<DeviceId>> = BTreeMap::new();
    for (w, bs) in witnessed {
        out.entry(*w).or_default().extend(bs.iter().filter(|b| *b != w));
    }
    let reaches = |from: &DeviceId, to: &DeviceId| {
        let (mut seen, mut todo) = (BTreeSet::from([*from]), vec![*from]);
        while let Some(d) = todo.pop() {
            if d == *to {
                return true;
            }
            for b in out.get(&d).into_iter().flatten() {
                if seen.insert(*b) {
                    todo.push(*b);
                }
            }
        }
        false
    };
    out.iter()
        .filter(|_| k > 0)
        .filter_map(|(w, bs)| {
            let listens = |b: &DeviceId| out.get(b).is_some_and(|l| !l.is_empty());
            let beaconers: Vec<DeviceId> =
                bs.iter().filter(|b| listens(b) && !reaches(b, w)).copied().collect();
            (bs.len() >= k as usize && beaconers.len() >= k as usize)
                .then_some(Suspect { device: *w, beaconers })
        })
        .collect()
}

/// Random witness lists: up to 20 witnesses among 24 hotspots, each hearing up to 7 of 32
/// (itself and repeats included).
fn random_lists()
-> impl proptest::strategy::Strategy<Value = std::collections::BTreeMap<u8, Vec<u8>>> {
    proptest::collection::btree_map(0u8..24, proptest::collection::vec(0u8..32, 0..8), 0..20)
}

fn lists_of(lists: &std::collections::BTreeMap<u8, Vec<u8>>) -> Vec<(DeviceId, Vec<DeviceId>)> {
    lists.iter().map(|(w, bs)| (id(*w), bs.iter().map(|b| id(*b)).collect())).collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]
    /// On random witness graphs, the suspects are exactly the definition's.
    #[test]
    fn the_unheard_suspects_are_what_the_definition_says(lists in random_lists(), k in 0u32..4) {
        let witnessed = lists_of(&lists);
        let p = FraudParams { unheard_min_beaconers: k, ..params() };
        let (_, suspects) =
            detect_all(&p, &FraudInputs { witnessed: witnessed.clone().into(), ..FraudInputs::default() });
        proptest::prop_assert_eq!(suspects, unheard_by_definition(k, &witnessed));
    }

    /// Heard lists numbered by the roster as the reward run reads them (beaconers off the
    /// roster after it) give the detectors exactly what the lists numbered by themselves give.
    #[test]
    fn rows_numbered_by_the_roster_detect_what_the_lists_detect(
        lists in random_lists(),
        on_roster in proptest::prelude::any::<u32>(),
        k in 0u32..4,
    ) {
        use crate::rewards::Facts;
        use crate::rewards::detect::witness_rows::IdIndex;
        let witnessed = lists_of(&lists);
        // Every witness is on the roster, and some other hotspots.
        let roster: Vec<DeviceId> = (0u8..32)
            .filter(|i| lists.contains_key(i) || on_roster & (1 << i) != 0)
            .map(id)
            .collect();
        let index = IdIndex::new(&roster);
        let places: Vec<u32> = (0..roster.len() as u32).collect();
        let facts: Vec<Facts> = roster
            .iter()
            .map(|d| {
                let mut f = Facts::default();
                if let Some((_, bs)) = witnessed.iter().find(|(w, _)| w == d) {
                    crate::rewards::gather::number_heard(bs.iter().copied(), &index, &places, &mut f);
                }
                f
            })
            .collect();
        let rows = crate::rewards::detect::inputs::heard_rows(roster.clone(), &facts);
        let p = FraudParams { unheard_min_beaconers: k, ring_min: 2, ..params() };
        let by_roster = detect_all(&p, &FraudInputs { witnessed: rows, ..FraudInputs::default() });
        let by_lists =
            detect_all(&p, &FraudInputs { witnessed: witnessed.into(), ..FraudInputs::default() });
        proptest::prop_assert_eq!(by_roster, by_lists);
    }
}
