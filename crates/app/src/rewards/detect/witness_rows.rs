//! The heard lists of the reciprocity window as the witness graph takes them: hotspots
//! numbered, each witness's beaconers a row of numbers in one flat array.
//!
//! The reward run numbers hotspots by their place on the epoch's roster (sorted ids) while
//! it reads them, and beaconers that are not on it after the roster; [`WitnessRows::from`]
//! numbers hand-made lists the same way the graph did before it took rows.

use cairn_types::device_key::DeviceId;

/// Witness lists in flat rows over numbered hotspots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessRows {
    /// Every numbered hotspot: number i is `ids[i]` (distinct ids).
    pub ids: Vec<DeviceId>,
    /// The number of each row's witness (distinct).
    pub witnesses: Vec<u32>,
    /// Row k, the beaconers witness k heard (repeats and the witness itself allowed):
    /// `flat[offsets[k]..offsets[k + 1]]`. One more offset than rows, starting at 0.
    pub offsets: Vec<usize>,
    pub flat: Vec<u32>,
}

impl WitnessRows {
    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.witnesses.is_empty()
    }

    /// Appends the row of witness `w`.
    pub fn push_row(&mut self, w: u32, row: impl IntoIterator<Item = u32>) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.witnesses.push(w);
        self.flat.extend(row);
        self.offsets.push(self.flat.len());
    }
}

impl From<&[(DeviceId, Vec<DeviceId>)]> for WitnessRows {
    /// Witnesses sorted by id (the first list of a witness listed twice), numbered first;
    /// then the beaconers that did not witness, sorted.
    fn from(lists: &[(DeviceId, Vec<DeviceId>)]) -> WitnessRows {
        let mut order: Vec<&(DeviceId, Vec<DeviceId>)> = lists.iter().collect();
        order.sort_by_key(|(w, _)| *w);
        order.dedup_by_key(|(w, _)| *w);
        let mut ids: Vec<DeviceId> = order.iter().map(|(w, _)| *w).collect();
        let found = IdIndex::new(&ids);
        let mut others: Vec<DeviceId> = order
            .iter()
            .flat_map(|(_, bs)| bs)
            .filter(|b| found.position(b).is_none())
            .copied()
            .collect();
        others.sort_unstable();
        others.dedup();
        let n = ids.len();
        let number = |b: &DeviceId| {
            let at = found.position(b).or_else(|| others.binary_search(b).ok().map(|i| n + i));
            at.and_then(|i| u32::try_from(i).ok()).unwrap_or(u32::MAX)
        };
        let mut rows = WitnessRows::default();
        for (k, (_, bs)) in order.iter().enumerate() {
            rows.push_row(u32::try_from(k).unwrap_or(u32::MAX), bs.iter().map(number));
        }
        ids.extend(others);
        rows.ids = ids;
        rows
    }
}

impl From<Vec<(DeviceId, Vec<DeviceId>)>> for WitnessRows {
    fn from(lists: Vec<(DeviceId, Vec<DeviceId>)>) -> WitnessRows {
        WitnessRows::from(lists.as_slice())
    }
}

/// Positions in a sorted list of ids, found through an index of their first bits (ids are
/// hashes, so each slot holds one or two) and a binary search within the slot: about two
/// memory reads a lookup instead of a search over the whole list. Ids ground to share a
/// prefix only lengthen the binary search.
pub struct IdIndex<'a> {
    ids: &'a [DeviceId],
    /// Bits of the first eight bytes that pick a slot.
    bits: u32,
    /// `starts[p]`: the first position whose slot is at least `p`.
    starts: Vec<u32>,
}

impl<'a> IdIndex<'a> {
    /// `ids` must be sorted. About one slot per id (at least 2^8, at most 2^24 slots);
    /// positions past `u32::MAX` are not indexed.
    pub fn new(ids: &'a [DeviceId]) -> IdIndex<'a> {
        let bits = usize::BITS - ids.len().leading_zeros();
        let bits = bits.clamp(8, 24);
        let ids = ids.get(..ids.len().min(u32::MAX as usize)).unwrap_or_default();
        let slots = 1usize << bits;
        let mut starts = Vec::with_capacity(slots + 1);
        for (i, d) in ids.iter().enumerate() {
            let s = slot(d, bits);
            while starts.len() <= s {
                starts.push(i as u32);
            }
        }
        starts.resize(slots + 1, ids.len() as u32);
        IdIndex { ids, bits, starts }
    }

    pub fn position(&self, d: &DeviceId) -> Option<usize> {
        let (from, to) = self.bucket(d);
        let bucket = self.ids.get(from..to)?;
        // A slot holds one or two ids: compared for equality in turn (inlined, where an
        // ordering comparison calls out); a slot of ground ids is searched.
        let at = if bucket.len() <= SCAN {
            bucket.iter().position(|x| x == d)
        } else {
            bucket.binary_search(d).ok()
        };
        at.map(|i| from + i)
    }

    /// The positions whose ids share the slot of `d`.
    fn bucket(&self, d: &DeviceId) -> (usize, usize) {
        let s = slot(d, self.bits);
        match (self.starts.get(s), self.starts.get(s + 1)) {
            (Some(from), Some(to)) => (*from as usize, *to as usize),
            _ => (0, 0),
        }
    }
}

/// The largest slot whose ids are compared in turn rather than searched.
const SCAN: usize = 8;

/// Sorts `ids` in their order (bytes compared in turn), on all cores, comparing the first
/// eight bytes as one integer before the rest.
pub fn sort_ids(ids: &mut [DeviceId]) {
    use rayon::prelude::*;
    ids.par_sort_unstable_by(|a, b| prefix(a).cmp(&prefix(b)).then_with(|| a.cmp(b)));
}

/// The first eight bytes of an id, big-endian (ordered like the id).
fn prefix(d: &DeviceId) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.0[..8]);
    u64::from_be_bytes(b)
}

/// The slot of an id: the top `bits` of its first eight bytes, big-endian (ordered like
/// the id).
fn slot(d: &DeviceId, bits: u32) -> usize {
    (prefix(d) >> (64 - bits)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Sorting by prefix first gives the ids' order, and the index finds exactly what a
        /// binary search over the whole list finds, including ids that share long prefixes.
        #[test]
        fn positions_match_a_binary_search(
            raw in proptest::collection::vec((any::<[u8; 32]>(), 0u8..4), 0..300),
            probes in proptest::collection::vec(any::<[u8; 32]>(), 0..50),
        ) {
            // Some ids ground to share their first bytes.
            let mut ids: Vec<DeviceId> = raw
                .into_iter()
                .map(|(mut b, shared)| {
                    b[..usize::from(shared) * 3].fill(0xab);
                    cairn_types::Hash(b)
                })
                .collect();
            let mut by_prefix = ids.clone();
            sort_ids(&mut by_prefix);
            ids.sort_unstable();
            prop_assert_eq!(&by_prefix, &ids);
            ids.dedup();
            let index = IdIndex::new(&ids);
            let all: Vec<DeviceId> =
                ids.iter().copied().chain(probes.iter().map(|b| cairn_types::Hash(*b))).collect();
            for d in &all {
                prop_assert_eq!(index.position(d), ids.binary_search(d).ok());
            }
        }
    }

    #[test]
    fn lists_are_numbered_witnesses_first_then_other_beaconers() {
        let id = |i: u8| cairn_types::Hash([i; 32]);
        let lists = vec![(id(5), vec![id(1), id(9), id(5)]), (id(1), vec![id(7)])];
        let rows = WitnessRows::from(lists);
        assert_eq!(rows.ids, vec![id(1), id(5), id(7), id(9)]);
        assert_eq!(rows.witnesses, vec![0, 1]);
        assert_eq!(rows.offsets, vec![0, 1, 4]);
        assert_eq!(rows.flat, vec![2, 0, 3, 1]);
    }
}
