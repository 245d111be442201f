//! The witness graph of the reciprocity window and the two detectors that read it.
//!
//! A directed edge w → b says hotspot w witnessed a beacon of b within the window (from
//! each witness's heard list). Hotspots are numbered by their place in the sorted
//! witnesses, then in the sorted beaconers that did not witness; each witness's beaconers
//! become a sorted row of numbers in one flat array (self-edges and repeats marked unused).
//!
//! - **Witness rings** ([`Graph::rings`]): groups of `ring_min` to `ring_max` hotspots of
//!   which at least `ring_density_percent` of the member pairs are linked (either way), and
//!   that are linked to few hotspots outside (at most `ring_leak_percent` of their linked
//!   pairs). A connected component of the undirected graph is judged whole first; one that
//!   fails and has at most [`SPLIT_MAX`] members is split along its weak links — pairs
//!   whose two hotspots share few neighbours (twice the common neighbours below the larger
//!   degree less one) — and each part is judged. Two rings that now and then hear each
//!   other are one component joined by weak links: split, each is a ring again.
//! - **Unheard hotspots** ([`Graph::unheard`]): a hotspot that witnessed at least
//!   `unheard_min_beaconers` beaconers outside its strongly connected component — hotspots
//!   none of which can be reached back from it through "was heard by" — is a suspect: it
//!   hears a neighbourhood that never hears it or anyone who hears it. Radio links are
//!   reciprocal, so an honest hotspot that hears many is heard by some of them; a location
//!   spoofer, and a group of spoofers that witness one another, is heard by no one outside
//!   the group. The final judgement needs the beacons' heights ([`super::fraud`]).

use super::fraud::Flags;
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{Evidence, FraudParams};
use rayon::prelude::*;

/// An unused slot in a row (a self-edge, a repeat, or a beaconer that was not found).
const UNUSED: u32 = u32::MAX;
/// A beaconer that did not witness: numbered in a second step.
const OTHER: u32 = u32::MAX - 1;
/// Components with more members than this are judged whole, never split.
pub const SPLIT_MAX: usize = 1_024;

/// A hotspot that heard many outside its strongly connected component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    pub device: DeviceId,
    /// The beaconers it heard outside its strongly connected component (none of which
    /// heard it, or anyone who heard it), sorted.
    pub beaconers: Vec<DeviceId>,
}

pub struct Graph {
    /// Witnesses (sorted), then beaconers that did not witness (sorted).
    ids: Vec<DeviceId>,
    /// Row i (for the first `offsets.len() - 1` hotspots, the witnesses):
    /// `flat[offsets[i]..offsets[i + 1]]`, sorted, unused slots last.
    offsets: Vec<usize>,
    flat: Vec<u32>,
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
    /// Numbers the window's witness lists. None if the numbers would not fit below the
    /// markers (more than four billion entries).
    pub fn build(witnessed: &[(DeviceId, Vec<DeviceId>)]) -> Option<Graph> {
        let mut order: Vec<&(DeviceId, Vec<DeviceId>)> = witnessed.iter().collect();
        if !order.is_sorted_by_key(|(w, _)| w) {
            order.par_sort_unstable_by_key(|(w, _)| *w);
        }
        order.dedup_by_key(|(w, _)| *w);
        let witnesses: Vec<DeviceId> = order.iter().map(|(w, _)| *w).collect();
        let n = witnesses.len();
        let entries: usize = order.iter().map(|(_, bs)| bs.len()).sum();
        if n.saturating_add(entries) >= OTHER as usize {
            return None;
        }
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0usize);
        for (_, bs) in &order {
            offsets.push(offsets.last().copied().unwrap_or(0) + bs.len());
        }
        let found = SortedIds::new(&witnesses);
        let mut flat = vec![UNUSED; entries];
        let mut rows: Vec<&mut [u32]> = Vec::with_capacity(n);
        let mut rest = flat.as_mut_slice();
        for (_, bs) in &order {
            let (row, tail) = rest.split_at_mut(bs.len());
            rows.push(row);
            rest = tail;
        }
        rows.par_iter_mut().zip(order.par_iter()).for_each(|(row, (w, bs))| {
            for (slot, b) in row.iter_mut().zip(bs) {
                *slot = if b == w { UNUSED } else { found.position(b).map_or(OTHER, |i| i as u32) };
            }
        });
        let mut others: Vec<DeviceId> = rows
            .par_iter()
            .zip(order.par_iter())
            .flat_map_iter(|(row, (_, bs))| {
                row.iter().zip(bs).filter(|(slot, _)| **slot == OTHER).map(|(_, b)| *b)
            })
            .collect();
        others.par_sort_unstable();
        others.dedup();
        let other = SortedIds::new(&others);
        rows.par_iter_mut().zip(order.par_iter()).for_each(|(row, (_, bs))| {
            for (slot, b) in row.iter_mut().zip(bs) {
                if *slot == OTHER {
                    *slot = other.position(b).map_or(UNUSED, |i| (n + i) as u32);
                }
            }
            // Sorted, each beaconer once; unused slots sort last.
            row.sort_unstable();
            for i in 1..row.len() {
                if row[i] == row[i - 1] {
                    row[i - 1] = UNUSED;
                }
            }
            row.sort_unstable();
        });
        drop(rows);
        let mut ids = witnesses;
        ids.extend(others);
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
        let mut parent: Vec<usize> = (0..total).collect();
        for w in 0..self.witnesses() {
            for b in self.row(w) {
                union(&mut parent, w, *b as usize);
            }
        }
        let mut size = vec![0usize; total];
        for i in 0..total {
            let r = find(&mut parent, i);
            size[r] += 1;
        }
        let small = |size: usize| size >= p.ring_min.max(2) as usize && size <= SPLIT_MAX;
        // The undirected pairs of the components that may hold a ring, each once, grouped by
        // component.
        let mut pairs: Vec<(usize, u32, u32)> = Vec::new();
        for w in 0..self.witnesses() {
            let root = find(&mut parent, w);
            if !small(size[root]) {
                continue;
            }
            let w32 = w as u32;
            pairs.extend(self.row(w).iter().map(|b| (root, w32.min(*b), w32.max(*b))));
        }
        pairs.sort_unstable();
        pairs.dedup();
        for component in pairs.chunk_by(|a, b| a.0 == b.0) {
            let links: Vec<(u32, u32)> = component.iter().map(|(_, a, b)| (*a, *b)).collect();
            for (members, linked, outside) in ring_parts(p, &links) {
                let evidence =
                    Evidence::WitnessRing { members: members.len() as u32, edges: linked, outside };
                for m in members {
                    if let Some(d) = self.ids.get(m as usize) {
                        flags.entry(*d).or_default().push(evidence.clone());
                    }
                }
            }
        }
    }

    /// The suspects of the unheard rule, in device order.
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
                .filter(|b| component[**b as usize] != c)
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
        // (node, next edge position in its row)
        let mut calls: Vec<(u32, usize)> = Vec::new();
        let (mut next_index, mut next_component) = (0u32, 0u32);
        for start in 0..total {
            if index[start] != NONE {
                continue;
            }
            calls.push((start as u32, 0));
            index[start] = next_index;
            low[start] = next_index;
            next_index += 1;
            stack.push(start as u32);
            on_stack[start] = true;
            while let Some(&(v, pos)) = calls.last() {
                let vi = v as usize;
                if let Some(b) = self.row(vi).get(pos) {
                    if let Some(top) = calls.last_mut() {
                        top.1 += 1;
                    }
                    let bi = *b as usize;
                    if index[bi] == NONE {
                        index[bi] = next_index;
                        low[bi] = next_index;
                        next_index += 1;
                        stack.push(*b);
                        on_stack[bi] = true;
                        calls.push((*b, 0));
                    } else if on_stack[bi] {
                        low[vi] = low[vi].min(index[bi]);
                    }
                    continue;
                }
                calls.pop();
                if let Some((parent, _)) = calls.last() {
                    let p = *parent as usize;
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

/// The rings among one component's linked pairs (numbers, each pair once, smaller first):
/// (members, linked pairs among them, pairs leaving them). The whole component if it is
/// one; otherwise, if it has at most [`SPLIT_MAX`] members, its parts along weak links.
pub fn ring_parts(p: &FraudParams, links: &[(u32, u32)]) -> Vec<(Vec<u32>, u32, u32)> {
    use std::collections::BTreeMap;
    let mut adjacent: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (a, b) in links {
        adjacent.entry(*a).or_default().push(*b);
        adjacent.entry(*b).or_default().push(*a);
    }
    for list in adjacent.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    let all: Vec<u32> = adjacent.keys().copied().collect();
    if let Some(ring) = judge(p, &adjacent, &all) {
        return vec![ring];
    }
    if all.len() > SPLIT_MAX {
        return Vec::new();
    }
    // Strong links: the two share enough neighbours.
    let local = |d: u32| all.binary_search(&d).unwrap_or(0);
    let mut parent: Vec<usize> = (0..all.len()).collect();
    for (a, b) in links {
        let (na, nb) = (&adjacent[a], &adjacent[b]);
        let common = na.iter().filter(|x| nb.binary_search(x).is_ok()).count();
        if 2 * common + 1 >= na.len().max(nb.len()) {
            union(&mut parent, local(*a), local(*b));
        }
    }
    let mut parts: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for (i, d) in all.iter().enumerate() {
        let root = find(&mut parent, i);
        parts.entry(root).or_default().push(*d);
    }
    if parts.len() == 1 {
        return Vec::new();
    }
    parts.values().filter_map(|members| judge(p, &adjacent, members)).collect()
}

/// Whether `members` (sorted) are a ring: (members, linked pairs, pairs leaving).
fn judge(
    p: &FraudParams,
    adjacent: &std::collections::BTreeMap<u32, Vec<u32>>,
    members: &[u32],
) -> Option<(Vec<u32>, u32, u32)> {
    let m = members.len() as u64;
    if m < u64::from(p.ring_min.max(2)) || m > u64::from(p.ring_max) {
        return None;
    }
    let (mut inside, mut outside) = (0u64, 0u64);
    for d in members {
        for x in adjacent.get(d).map_or(&[][..], |v| v.as_slice()) {
            if members.binary_search(x).is_ok() {
                inside += 1;
            } else {
                outside += 1;
            }
        }
    }
    // Each inside pair was counted from both ends.
    let linked = inside / 2;
    // linked / (m (m − 1) / 2) ≥ percent / 100 and outside ≤ leak percent of linked, in
    // integers.
    let dense = linked * 200 >= u64::from(p.ring_density_percent) * m * (m - 1);
    let closed = outside * 100 <= u64::from(p.ring_leak_percent) * linked;
    (dense && closed).then(|| {
        (
            members.to_vec(),
            linked.min(u64::from(u32::MAX)) as u32,
            outside.min(u64::from(u32::MAX)) as u32,
        )
    })
}

/// Positions in a sorted list of ids, found through an index of the first two bytes (ids
/// are hashes, so each slot holds a handful) and a binary search on the first eight bytes
/// within the slot: one or two memory reads a lookup instead of a search over the whole
/// list. Ids ground to share a prefix only lengthen the binary search.
struct SortedIds<'a> {
    ids: &'a [DeviceId],
    keys: Vec<u64>,
    /// `starts[p]`: the first position whose two-byte prefix is at least `p`.
    starts: Vec<usize>,
}

impl<'a> SortedIds<'a> {
    fn new(ids: &'a [DeviceId]) -> SortedIds<'a> {
        let keys: Vec<u64> = ids.iter().map(key).collect();
        let starts = if ids.is_empty() {
            Vec::new()
        } else {
            (0..=1usize << 16).map(|p| keys.partition_point(|k| slot(*k) < p)).collect()
        };
        SortedIds { ids, keys, starts }
    }

    fn position(&self, d: &DeviceId) -> Option<usize> {
        let k = key(d);
        let (from, to) = (*self.starts.get(slot(k))?, *self.starts.get(slot(k) + 1)?);
        let bucket = self.keys.get(from..to)?;
        let first = from + bucket.partition_point(|x| *x < k);
        let last = from + bucket.partition_point(|x| *x <= k);
        (first..last).find(|i| self.ids.get(*i) == Some(d))
    }
}

/// The first eight bytes of an id, big-endian: ordered like the id.
fn key(d: &DeviceId) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.0[..8]);
    u64::from_be_bytes(b)
}

fn slot(key: u64) -> usize {
    (key >> 48) as usize
}
