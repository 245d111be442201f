//! The witness graph of the reciprocity window and the two detectors that read it.
//!
//! A directed edge w → b says hotspot w witnessed a beacon of b within the window (from
//! each witness's heard list, given as [`WitnessRows`]). Hotspots are numbered again, the
//! witnesses first, then the beaconers that did not witness; each witness's beaconers
//! become a sorted row of numbers in one flat array (self-edges and repeats marked unused).
//!
//! - **Witness rings** ([`Graph::rings`]): groups of `ring_min` to `ring_max` hotspots of
//!   which at least `ring_density_percent` of the member pairs are linked (either way), with
//!   few links to hotspots outside (at most `ring_leak_percent` of their linked pairs). Only
//!   hotspots with few witness edges can be members ([`low_degree_max`]), so the groups
//!   come from the graph of those alone: each of its connected components is judged whole
//!   first; one that fails and has at most [`SPLIT_MAX`] members is split along its weak
//!   links — pairs whose two hotspots share few neighbours (twice the common neighbours
//!   below the larger degree less one) — and each part is judged. A ring that now and then
//!   hears another ring, or a hotspot of a town, is joined to it by weak links or through a
//!   hotspot with many edges: cut off, it is a ring again.
//! - **Unheard hotspots** ([`Graph::unheard`]): a hotspot that witnessed at least
//!   `unheard_min_beaconers` beaconers outside its strongly connected component — hotspots
//!   none of which can be reached back from it through "was heard by" — that themselves
//!   witnessed in the window is a suspect: it hears a neighbourhood of listening hotspots
//!   that never hears it or anyone who hears it. Radio links are reciprocal, so an honest
//!   hotspot that hears many is heard by some of them; a location spoofer, and a group of
//!   spoofers that witness one another, is heard by no one outside the group. A beaconer
//!   none of whose witnesses was accepted in the window (one that only beacons, or whose
//!   witnesses all fail their checks) is no evidence: it hears no one. The final judgement
//!   needs the beacons' heights ([`super::judge_unheard`]).

use super::Flags;
use super::witness_rows::WitnessRows;
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{Evidence, FraudParams};
use rayon::prelude::*;

/// An unused slot in a row (a self-edge, a repeat, or a beaconer that was not found).
const UNUSED: u32 = u32::MAX;
/// A hotspot heard but not witnessing while numbering: numbered in a second step.
const OTHER: u32 = u32::MAX - 1;
/// Components with more members than this are judged whole, never split.
pub const SPLIT_MAX: usize = 1_024;

/// A hotspot that heard many outside its strongly connected component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    pub device: DeviceId,
    /// The beaconers it heard that witnessed in the window, outside its strongly connected
    /// component (none of which heard it, or anyone who heard it), sorted.
    pub beaconers: Vec<DeviceId>,
}

pub struct Graph {
    /// Witnesses (in the order of their rows), then beaconers that did not witness.
    ids: Vec<DeviceId>,
    /// Row i (for the first `offsets.len() - 1` hotspots, the witnesses):
    /// `flat[offsets[i]..offsets[i + 1]]`, sorted, unused slots last.
    offsets: Vec<usize>,
    flat: Vec<u32>,
}

/// A witness edge between two low-degree hotspots, within the component it lies in (by
/// its root); sorted by component, then by its ends (the fields' order).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    component: usize,
    from: u32,
    to: u32,
}

/// A group judged a ring: its members (sorted numbers), the linked pairs among them and
/// the pairs linking a member to anyone else.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ring {
    members: Vec<u32>,
    pairs: u32,
    outside: u32,
}

/// A hotspot being visited by [`Graph::strong_components`]: its number and the position
/// in its row of the next edge to follow.
#[derive(Clone, Copy)]
struct Frame {
    node: u32,
    next: usize,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb);
    }
}

impl Graph {
    /// The graph of `rows`, renumbered: its witnesses first, in row order, then the other
    /// beaconers heard, in the order of their numbers. None if the numbers would not fit
    /// below the markers (more than four billion entries), or if a witness has two rows.
    pub fn build(rows: &WitnessRows) -> Option<Graph> {
        let n = rows.witnesses.len();
        let entries = rows.flat.len();
        if n.saturating_add(entries) >= OTHER as usize
            || rows.ids.len() >= OTHER as usize
            || rows.offsets.len() != n + 1
            || rows.offsets.last() != Some(&entries)
        {
            return None;
        }
        // Each hotspot's new number: UNUSED where it is neither a witness nor heard.
        let mut number = vec![UNUSED; rows.ids.len()];
        for (k, w) in rows.witnesses.iter().enumerate() {
            let slot = number.get_mut(*w as usize)?;
            if *slot != UNUSED {
                return None;
            }
            *slot = k as u32;
        }
        for b in &rows.flat {
            if let Some(slot) = number.get_mut(*b as usize)
                && *slot == UNUSED
            {
                *slot = OTHER;
            }
        }
        let mut ids: Vec<DeviceId> = Vec::with_capacity(n);
        ids.extend(rows.witnesses.iter().filter_map(|w| rows.ids.get(*w as usize)));
        let mut next = n as u32;
        for (slot, d) in number.iter_mut().zip(&rows.ids) {
            if *slot == OTHER {
                *slot = next;
                next += 1;
                ids.push(*d);
            }
        }
        let mut flat: Vec<u32> = rows
            .flat
            .par_iter()
            .map(|b| number.get(*b as usize).copied().unwrap_or(UNUSED))
            .collect();
        drop(number);
        let offsets = rows.offsets.clone();
        let mut parts: Vec<&mut [u32]> = Vec::with_capacity(n);
        let mut rest = flat.as_mut_slice();
        for w in offsets.windows(2) {
            let (row, tail) = rest.split_at_mut(w[1].saturating_sub(w[0]));
            parts.push(row);
            rest = tail;
        }
        parts.par_iter_mut().enumerate().for_each(|(w, row)| {
            // Sorted, each beaconer once, no self-edge; unused slots sort last.
            for b in row.iter_mut() {
                if *b == w as u32 {
                    *b = UNUSED;
                }
            }
            row.sort_unstable();
            for i in 1..row.len() {
                if row[i] == row[i - 1] {
                    row[i - 1] = UNUSED;
                }
            }
            row.sort_unstable();
        });
        drop(parts);
        Some(Graph { ids, offsets, flat })
    }

    fn witnesses(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The beaconers witness `i` heard (sorted numbers).
    fn row(&self, i: usize) -> &[u32] {
        let (Some(from), Some(to)) = (self.offsets.get(i), self.offsets.get(i + 1)) else {
            return &[];
        };
        let row = self.flat.get(*from..*to).unwrap_or(&[]);
        &row[..row.partition_point(|b| *b != UNUSED)]
    }

    /// Flags the witness rings.
    pub fn rings(&self, p: &FraudParams, flags: &mut Flags) {
        let total = self.ids.len();
        // Witness edges at each hotspot, both directions.
        let mut degree = vec![0u32; total];
        for w in 0..self.witnesses() {
            let row = self.row(w);
            degree[w] = degree[w].saturating_add(row.len() as u32);
            for b in row {
                degree[*b as usize] = degree[*b as usize].saturating_add(1);
            }
        }
        let low_max = low_degree_max(p);
        let low = |i: usize| degree[i] <= low_max;
        let mut parent: Vec<usize> = (0..total).collect();
        for w in (0..self.witnesses()).filter(|w| low(*w)) {
            for b in self.row(w).iter().filter(|b| low(**b as usize)) {
                union(&mut parent, w, *b as usize);
            }
        }
        let mut size = vec![0usize; total];
        for i in 0..total {
            let r = find(&mut parent, i);
            size[r] += 1;
        }
        let small = |size: usize| size >= p.ring_min.max(2) as usize && size <= SPLIT_MAX;
        // The edges between low-degree hotspots of the components that may hold a ring,
        // grouped by component.
        let mut edges: Vec<Edge> = Vec::new();
        for w in (0..self.witnesses()).filter(|w| low(*w)) {
            let root = find(&mut parent, w);
            if small(size[root]) {
                let low_row = self.row(w).iter().filter(|b| low(**b as usize));
                edges.extend(low_row.map(|b| Edge { component: root, from: w as u32, to: *b }));
            }
        }
        edges.sort_unstable();
        if edges.is_empty() {
            return;
        }
        // Every linked hotspot of each candidate member, in the whole graph, either way.
        let mut candidate = vec![false; total];
        for e in &edges {
            candidate[e.from as usize] = true;
            candidate[e.to as usize] = true;
        }
        let mut linked: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for w in 0..self.witnesses() {
            for b in self.row(w) {
                if candidate[w] {
                    linked.entry(w as u32).or_default().push(*b);
                }
                if candidate[*b as usize] {
                    linked.entry(*b).or_default().push(w as u32);
                }
            }
        }
        for list in linked.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
        for component in edges.chunk_by(|a, b| a.component == b.component) {
            let directed: Vec<(u32, u32)> = component.iter().map(|e| (e.from, e.to)).collect();
            for Ring { members, pairs, outside } in ring_parts(p, &directed, &linked) {
                let evidence =
                    Evidence::WitnessRing { members: members.len() as u32, edges: pairs, outside };
                for m in members {
                    let Some(d) = self.ids.get(m as usize) else { continue };
                    // A hotspot in two rings (two cliques sharing members) is flagged once,
                    // by the first.
                    let held = flags.entry(*d).or_default();
                    if !held.iter().any(|e| matches!(e, Evidence::WitnessRing { .. })) {
                        held.push(evidence.clone());
                    }
                }
            }
        }
    }

    /// The suspects of the unheard rule, in the order of the rows (device order in the
    /// reward run).
    pub fn unheard(&self, min_beaconers: u32) -> Vec<Suspect> {
        if min_beaconers == 0 {
            return Vec::new();
        }
        let n = self.witnesses();
        if !(0..n).any(|w| self.row(w).len() >= min_beaconers as usize) {
            return Vec::new();
        }
        let component = self.strong_components();
        let mut out = Vec::new();
        for w in 0..n {
            let row = self.row(w);
            if row.len() < min_beaconers as usize {
                continue;
            }
            let c = component[w];
            let mut beaconers: Vec<DeviceId> = row
                .iter()
                .filter(|b| component[**b as usize] != c && !self.row(**b as usize).is_empty())
                .filter_map(|b| self.ids.get(*b as usize).copied())
                .collect();
            if beaconers.len() < min_beaconers as usize {
                continue;
            }
            beaconers.sort_unstable();
            if let Some(device) = self.ids.get(w) {
                out.push(Suspect { device: *device, beaconers });
            }
        }
        out
    }

    /// The strongly connected component of every hotspot (numbered in the order they are
    /// completed), by Tarjan's algorithm without recursion.
    fn strong_components(&self) -> Vec<u32> {
        const NONE: u32 = u32::MAX;
        let total = self.ids.len();
        let mut index = vec![NONE; total];
        let mut low = vec![0u32; total];
        let mut on_stack = vec![false; total];
        let mut component = vec![NONE; total];
        let mut stack: Vec<u32> = Vec::new();
        let mut calls: Vec<Frame> = Vec::new();
        let (mut next_index, mut next_component) = (0u32, 0u32);
        for start in 0..total {
            if index[start] != NONE {
                continue;
            }
            calls.push(Frame { node: start as u32, next: 0 });
            index[start] = next_index;
            low[start] = next_index;
            next_index += 1;
            stack.push(start as u32);
            on_stack[start] = true;
            while let Some(&Frame { node: v, next: pos }) = calls.last() {
                let vi = v as usize;
                if let Some(b) = self.row(vi).get(pos) {
                    if let Some(top) = calls.last_mut() {
                        top.next += 1;
                    }
                    let bi = *b as usize;
                    if index[bi] == NONE {
                        index[bi] = next_index;
                        low[bi] = next_index;
                        next_index += 1;
                        stack.push(*b);
                        on_stack[bi] = true;
                        calls.push(Frame { node: *b, next: 0 });
                    } else if on_stack[bi] {
                        low[vi] = low[vi].min(index[bi]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(parent) = calls.last() {
                    let p = parent.node as usize;
                    low[p] = low[p].min(low[vi]);
                }
                if low[vi] == index[vi] {
                    while let Some(x) = stack.pop() {
                        on_stack[x as usize] = false;
                        component[x as usize] = next_component;
                        if x as usize == vi {
                            break;
                        }
                    }
                    next_component += 1;
                }
            }
        }
        component
    }
}

/// Hotspots with more witness edges than this (both directions) cannot be ring members:
/// every member pair linked both ways, plus the outside links the largest ring may have.
pub fn low_degree_max(p: &FraudParams) -> u32 {
    let m = u64::from(p.ring_max);
    let pairs = m * m.saturating_sub(1) / 2;
    let leaks = pairs * u64::from(p.ring_leak_percent) / 100;
    u32::try_from(2 * m.saturating_sub(1) + leaks).unwrap_or(u32::MAX)
}

/// The rings among one component of the low-degree graph, given as its directed edges
/// (`linked`: every member's linked hotspots in the whole graph). The whole component if
/// it is a ring; otherwise, if it has at most [`SPLIT_MAX`] members, its parts along weak
/// links.
fn ring_parts(
    p: &FraudParams,
    directed: &[(u32, u32)],
    linked: &std::collections::BTreeMap<u32, Vec<u32>>,
) -> Vec<Ring> {
    use std::collections::BTreeMap;
    let mut adjacent: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (a, b) in directed {
        adjacent.entry(*a).or_default().push(*b);
        adjacent.entry(*b).or_default().push(*a);
    }
    for list in adjacent.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    let all: Vec<u32> = adjacent.keys().copied().collect();
    let group = Group { p, adjacent: &adjacent, linked };
    if let Some(ring) = group.judge(&all) {
        return vec![ring];
    }
    if all.len() > SPLIT_MAX {
        return Vec::new();
    }
    // Strong links: the two share enough neighbours.
    let local = |d: u32| all.binary_search(&d).unwrap_or(0);
    let mut parent: Vec<usize> = (0..all.len()).collect();
    for (a, list) in &adjacent {
        for b in list.iter().filter(|b| *b > a) {
            let (na, nb) = (list, &adjacent[b]);
            let common = na.iter().filter(|x| nb.binary_search(x).is_ok()).count();
            if 2 * common + 1 >= na.len().max(nb.len()) {
                union(&mut parent, local(*a), local(*b));
            }
        }
    }
    let mut parts: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for (i, d) in all.iter().enumerate() {
        let root = find(&mut parent, i);
        parts.entry(root).or_default().push(*d);
    }
    let mut rings = Vec::new();
    let mut left = Vec::new();
    if parts.len() == 1 {
        left = all;
    } else {
        for members in parts.values() {
            match group.judge(members) {
                Some(ring) => rings.push(ring),
                None => left.extend_from_slice(members),
            }
        }
        left.sort_unstable();
    }
    rings.extend(group.cliques(&left));
    rings
}

struct Group<'a> {
    p: &'a FraudParams,
    adjacent: &'a std::collections::BTreeMap<u32, Vec<u32>>,
    linked: &'a std::collections::BTreeMap<u32, Vec<u32>>,
}

impl Group<'_> {
    /// The rings among the cliques of `within` (sorted): from each hotspot, in order, one
    /// clique grown greedily — its neighbours taken by how many neighbours they share with
    /// it (most first, then by number), each kept if it is linked to every member so far —
    /// judged like any group. Two rings that hear each other through a hotspot linked to
    /// most of both are one part after the cut, but each is a clique; a town's cliques
    /// have more links outside than a ring may.
    fn cliques(&self, within: &[u32]) -> Vec<Ring> {
        let min = self.p.ring_min.max(2) as usize;
        let max = self.p.ring_max as usize;
        let inside = |d: &u32| within.binary_search(d).is_ok();
        let near: Vec<Vec<u32>> = within
            .iter()
            .map(|v| {
                self.adjacent
                    .get(v)
                    .map_or_else(Vec::new, |l| l.iter().copied().filter(inside).collect())
            })
            .collect();
        let near_of = |d: u32| within.binary_search(&d).ok().and_then(|i| near.get(i));
        let linked = |a: u32, b: u32| near_of(a).is_some_and(|l| l.binary_search(&b).is_ok());
        let mut seen: std::collections::BTreeSet<Vec<u32>> = Default::default();
        let mut rings = Vec::new();
        for (v, nv) in within.iter().zip(&near) {
            if nv.len() + 1 < min {
                continue;
            }
            let shared = |u: &u32| {
                near_of(*u)
                    .map_or(0, |nu| nu.iter().filter(|x| nv.binary_search(x).is_ok()).count())
            };
            let mut order: Vec<(usize, u32)> = nv.iter().map(|u| (shared(u), *u)).collect();
            order.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut clique = vec![*v];
            for (_, u) in order {
                if clique.iter().all(|c| linked(*c, u)) {
                    clique.push(u);
                }
            }
            clique.sort_unstable();
            if clique.len() < min || clique.len() > max || !seen.insert(clique.clone()) {
                continue;
            }
            rings.extend(self.judge(&clique));
        }
        rings
    }

    /// Whether `members` (sorted) are a ring.
    fn judge(&self, members: &[u32]) -> Option<Ring> {
        let p = self.p;
        let m = members.len() as u64;
        if m < u64::from(p.ring_min.max(2)) || m > u64::from(p.ring_max) {
            return None;
        }
        let inside = |d: &u32| members.binary_search(d).is_ok();
        // Each linked pair appears in the adjacency of both its members.
        let ends: u64 = members
            .iter()
            .map(|d| self.adjacent.get(d).map_or(0, |v| v.iter().filter(|x| inside(x)).count()))
            .sum::<usize>() as u64;
        let linked = ends / 2;
        let outside: u64 = members
            .iter()
            .map(|d| self.linked.get(d).map_or(0, |v| v.iter().filter(|x| !inside(x)).count()))
            .sum::<usize>() as u64;
        // linked / (m (m − 1) / 2) ≥ percent / 100 and outside ≤ leak percent of linked, in
        // integers.
        let dense = linked * 200 >= u64::from(p.ring_density_percent) * m * (m - 1);
        let closed = outside * 100 <= u64::from(p.ring_leak_percent) * linked;
        (dense && closed).then(|| {
            let cap = |x: u64| x.min(u64::from(u32::MAX)) as u32;
            Ring { members: members.to_vec(), pairs: cap(linked), outside: cap(outside) }
        })
    }
}
