//! The scoring's results written back on all cores, against the same done one device at a
//! time.

use super::apply_at;
use crate::rewards::detect::inputs::tests::gathered;
use proptest::prelude::*;

proptest! {
    /// Every value lands on the entry at its place, runs of entries of any length, and no
    /// other entry changes.
    #[test]
    fn values_applied_on_all_cores_land_at_their_places(
        n in 0usize..700,
        picks in prop::collection::vec(any::<bool>(), 700),
    ) {
        let mut entries = gathered(&vec![(3, Vec::new(), false, 0); n]).entries;
        let at: Vec<usize> = (0..n).filter(|i| picks[*i]).collect();
        let values: Vec<u64> = at.iter().map(|i| *i as u64 + 1).collect();
        apply_at(&mut entries, &at, values, |e, v| e.work.units = v);
        for (i, e) in entries.iter().enumerate() {
            let want = if picks[i] { i as u64 + 1 } else { 0 };
            prop_assert_eq!(e.work.units, want);
        }
    }
}
