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
