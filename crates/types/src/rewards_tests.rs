//! Emission and split against tables worked by hand.

use super::*;

const CRN: Amount = crate::UNITS_PER_CRN;

fn params(base: Amount, halving: u64) -> RewardParams {
    RewardParams { emission_per_epoch: base, halving_epochs: halving, ..RewardParams::default() }
}

#[test]
fn emission_halves_exactly_at_each_boundary() {
    let p = params(10_000 * CRN, 100);
    // epoch → emission, worked by hand: 10 000 CRN, halved at 100, 200, 300 …
    let table = [
        (0, 10_000 * CRN),
        (99, 10_000 * CRN),
        (100, 5_000 * CRN),
        (199, 5_000 * CRN),
        (200, 2_500 * CRN),
        (300, 1_250 * CRN),
        (400, 625 * CRN),
        (500, 312_500_000), // 312.5 CRN
    ];
    for (epoch, want) in table {
        assert_eq!(emission(&p, epoch), want, "epoch {epoch}");
    }
    // An odd base rounds down at each halving: 7 → 3 → 1 → 0.
    let odd = params(7, 10);
    assert_eq!([0, 10, 20, 30].map(|e| emission(&odd, e)), [7, 3, 1, 0]);
    // 128 halvings and more: nothing; no halving at all with 0.
    assert_eq!(emission(&params(u128::MAX, 1), 127), 1);
    assert_eq!(emission(&params(u128::MAX, 1), 128), 0);
    assert_eq!(emission(&params(u128::MAX, 1), u64::MAX), 0);
    assert_eq!(emission(&params(5, 0), u64::MAX), 5);
}

#[test]
fn the_split_follows_the_shares_and_the_treasury_takes_the_dust() {
    let shares = RewardParams::default().shares; // 40 / 15 / 15 / 15 / 5 / 5 / 5 %
    let parts = split(&shares, 10_000 * CRN);
    let want = [4_000, 1_500, 1_500, 1_500, 500, 500, 500].map(|c| c * CRN);
    assert_eq!(parts.map(|(_, a)| a), want);
    // 999 base units: usage 399 (399.6), coverage 149 (149.85), storage 149, compute 149,
    // sensor 49 (49.95), validators 49; treasury 49 + the dust 0.6 + 3 × 0.85 + 2 × 0.95 = 55.
    let parts = split(&shares, 999);
    assert_eq!(parts.map(|(_, a)| a), [399, 149, 149, 149, 49, 49, 55]);
    assert_eq!(parts.iter().map(|(_, a)| a).sum::<Amount>(), 999);
    // Nothing to split.
    assert_eq!(split(&shares, 0).map(|(_, a)| a), [0; 7]);
}

#[test]
fn mul_div_is_exact_beyond_128_bit_products() {
    assert_eq!(mul_div(10, 3, 4), 7);
    assert_eq!(mul_div(0, 3, 4), 0);
    assert_eq!(mul_div(5, 3, 0), 0);
    let big = u128::MAX;
    assert_eq!(mul_div(big, big, big), big);
    assert_eq!(mul_div(big, 1 << 100, 1 << 101), big / 2);
    assert_eq!(mul_div(big, 3, 4), big / 4 * 3 + (big % 4) * 3 / 4);
    assert_eq!(mul_div(1 << 127, 1 << 10, 1 << 11), 1 << 126);
}

#[test]
fn the_treasury_address_is_fixed() {
    assert_eq!(treasury_address(), treasury_address());
    assert_ne!(treasury_address(), Address([0; 32]));
}

#[test]
fn a_leaf_hash_is_the_sha256_of_its_borsh_encoding() {
    for (i, amount) in [0u128, 1, 999, u128::from(u64::MAX) + 7, u128::MAX].into_iter().enumerate()
    {
        let leaf = RewardLeaf {
            device: Hash([i as u8; 32]),
            owner: Address([0xa5 ^ i as u8; 32]),
            amount,
        };
        assert_eq!(leaf.hash(), Hash::sha256(&crate::codec::encode(&leaf)));
    }
}

/// An entry of device `d` with `k` scores, notes and density factors (so entries differ in
/// length) and an amount of `amount`.
fn entry(d: u8, k: usize, amount: Amount) -> RewardEntry {
    RewardEntry {
        device: Hash([d; 32]),
        owner: Address([d.wrapping_mul(7); 32]),
        class: DeviceClass::Hotspot,
        work: Work { beacons: u32::from(d), ..Work::default() },
        uptime_ok: d.is_multiple_of(2),
        scores: (0..k).map(|i| (Pool::Coverage, i as u128 + 1)).collect(),
        amount,
        not_counted: (0..k).map(|i| format!("note {i}")).collect(),
        flags: Vec::new(),
        density: (0..k)
            .map(|i| crate::device::DensityFactor {
                resolution: i as u8,
                cell: u64::from(d),
                unclipped: 1,
                clipped: 1,
                occupied: 2,
                limit: 3,
            })
            .collect(),
        sensor_quality: None,
        capped: 0,
    }
}

fn summary(epoch: u64) -> EpochRewards {
    EpochRewards {
        epoch,
        emission: 10,
        reminted: 0,
        pools: Vec::new(),
        to_treasury: 1,
        to_validators: 0,
        validator_payouts: Vec::new(),
        escrowed: 0,
        root: Hash::default(),
        leaves: 0,
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// A packed report gives back its entries as they were, whole, by any range (across its
    /// blocks), one by one and by device; a device absent from it is found absent, and a
    /// position past its end gives nothing, not a panic.
    #[test]
    fn a_packed_report_gives_back_each_entry_by_position_range_and_device(
        spec in proptest::collection::vec((0usize..4, 0u128..3), 0..700),
        ranges in proptest::collection::vec((0usize..800, 0usize..800), 1..10),
    ) {
        // Devices 2, 4, 6 …: ascending, with gaps to look up absent ones in.
        let device = |i: usize| {
            let mut d = [0u8; 32];
            d[..8].copy_from_slice(&(2 * i as u64 + 2).to_be_bytes());
            Hash(d)
        };
        let entries: Vec<RewardEntry> = spec
            .iter()
            .enumerate()
            .map(|(i, (k, a))| RewardEntry { device: device(i), ..entry(i as u8, *k, *a) })
            .collect();
        let report = RewardReport { summary: summary(3), entries: entries.clone() };
        let packed = PackedReport::pack(report.clone());
        proptest::prop_assert_eq!(packed.len(), entries.len());
        proptest::prop_assert_eq!(&packed.unpack().unwrap(), &report);
        // Every entry of a few blocks' ends and starts, and every 37th.
        let probes = entries.iter().enumerate().filter(|(i, _)| {
            i % 37 == 0 || matches!(i % PACK_BLOCK, 0 | 1) || i % PACK_BLOCK == PACK_BLOCK - 1
        });
        for (i, e) in probes {
            proptest::prop_assert_eq!(packed.entry(i).unwrap(), Some(e.clone()));
            proptest::prop_assert_eq!(packed.find(&e.device).unwrap(), Some(e.clone()));
            let mut absent = e.device;
            absent.0[31] = 1;
            proptest::prop_assert_eq!(packed.find(&absent).unwrap(), None);
        }
        proptest::prop_assert_eq!(packed.find(&Hash([0; 32])).unwrap(), None);
        proptest::prop_assert_eq!(packed.find(&Hash([0xff; 32])).unwrap(), None);
        for (a, b) in ranges {
            let want: Vec<RewardEntry> =
                entries.iter().skip(a).take(b.saturating_sub(a)).cloned().collect();
            proptest::prop_assert_eq!(packed.entries(a..b).unwrap(), want);
        }
        proptest::prop_assert_eq!(packed.entry(entries.len()).unwrap(), None);
        proptest::prop_assert_eq!(packed.entry(usize::MAX).unwrap(), None);
    }
}

#[test]
fn a_share_of_a_packed_report_indexes_its_entries_with_their_positions() {
    let entries: Vec<RewardEntry> = (1..=6).map(|d| entry(d, d as usize % 3, 5)).collect();
    let packed = std::sync::Arc::new(PackedReport::pack(RewardReport {
        summary: summary(9),
        entries: entries.clone(),
    }));
    let chunk = RewardIndexChunk { report: packed.clone(), from: 2, to: 5, first_leaf: 2 };
    assert_eq!(chunk.epoch(), 9);
    let want: Vec<(u32, RewardEntry)> = (2..5).map(|i| (i as u32, entries[i].clone())).collect();
    assert_eq!(chunk.entries().unwrap(), want);
    // A chunk past the report's end is refused whole.
    let past = RewardIndexChunk { report: packed, from: 5, to: 8, first_leaf: 0 };
    let err = past.entries().unwrap_err();
    assert!(err.to_string().contains("entries 5 to 8 of a report of 6 entries"), "{err}");
}

#[test]
fn a_packed_report_of_repetitive_entries_is_far_smaller_than_their_encoding() {
    let entries: Vec<RewardEntry> = (0..2_000).map(|i| entry((i % 200) as u8, 2, 7)).collect();
    let encoded: usize = entries.iter().map(|e| crate::codec::encode(e).len()).sum();
    let packed = PackedReport::pack(RewardReport { summary: summary(1), entries });
    assert!(packed.packed_bytes() * 3 < encoded, "{} of {encoded}", packed.packed_bytes());
}
