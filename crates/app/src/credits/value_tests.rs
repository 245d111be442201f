//! The CRN value carried with credits, moved by any mix of mints, locks, payments and
//! refunds: nothing is lost or made, and a payment carries no more than its share.

use super::*;
use cairn_state::MemStore;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Holder `who` buys `credits` credits for `crn` base units.
    Mint { who: u8, credits: u128, crn: Amount },
    /// Holder `who` locks `credits` in escrow `id`.
    Lock { who: u8, id: u8, credits: u128 },
    /// `credits` of escrow `id` consumed for a device's work.
    Consume { id: u8, credits: u128 },
    /// `credits` of escrow `id` refunded to `who`.
    Refund { id: u8, who: u8, credits: u128 },
}

fn op() -> impl Strategy<Value = Op> {
    let amount = || prop_oneof![1u128..10, 1u128..1_000_000, 1u128..1u128 << 100];
    prop_oneof![
        (0u8..3, amount(), amount()).prop_map(|(who, credits, crn)| Op::Mint { who, credits, crn }),
        (0u8..3, 0u8..4, amount()).prop_map(|(who, id, credits)| Op::Lock { who, id, credits }),
        (0u8..4, amount()).prop_map(|(id, credits)| Op::Consume { id, credits }),
        (0u8..4, 0u8..3, amount()).prop_map(|(id, who, credits)| Op::Refund { id, who, credits }),
    ]
}

fn addr(who: u8) -> Address {
    Address([who; 32])
}

fn escrow(id: u8) -> Hash {
    Hash([id; 32])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn credit_value_is_neither_lost_nor_made_and_moves_with_its_share(
        ops in prop::collection::vec(op(), 0..40),
    ) {
        let base = MemStore::default();
        let mut o = Overlay::new(&base);
        let mut paid: Amount = 0;
        for op in ops {
            match op {
                Op::Mint { who, credits, crn } => {
                    let b = credits::balance(&o, &addr(who)).unwrap();
                    o.put_encoded(state_key::credits(&addr(who)), &b.saturating_add(credits));
                    prop_assert!(mint(&mut o, &addr(who), crn).unwrap().is_ok());
                }
                Op::Lock { who, id, credits } => {
                    let (b, v) = (credits::balance(&o, &addr(who)).unwrap(), held(&o, &addr(who)).unwrap());
                    let before = escrowed(&o, &escrow(id)).unwrap();
                    let r = lock(&mut o, &addr(who), &escrow(id), credits).unwrap();
                    let after = escrowed(&o, &escrow(id)).unwrap();
                    if credits > b {
                        prop_assert!(r.is_err());
                        prop_assert_eq!(before, after);
                    } else {
                        // The share, rounded down: moved × b ≤ v × credits.
                        let moved = after.value - before.value;
                        prop_assert_eq!(moved, if credits == b { v } else { mul_div(v, credits, b) });
                        prop_assert_eq!(held(&o, &addr(who)).unwrap(), v - moved);
                    }
                }
                Op::Consume { id, credits } => {
                    let e = escrowed(&o, &escrow(id)).unwrap();
                    let got = consume(&mut o, &escrow(id), credits).unwrap();
                    prop_assert!(got <= e.value);
                    if credits >= e.credits {
                        prop_assert_eq!(got, e.value);
                    }
                    paid += got;
                }
                Op::Refund { id, who, credits } => {
                    let e = escrowed(&o, &escrow(id)).unwrap();
                    let v = held(&o, &addr(who)).unwrap();
                    refund(&mut o, &escrow(id), &addr(who), credits.min(e.credits)).unwrap();
                    let back = held(&o, &addr(who)).unwrap() - v;
                    prop_assert_eq!(e.value - escrowed(&o, &escrow(id)).unwrap().value, back);
                }
            }
            let s = value_supply(&o).unwrap();
            let holders: Amount = (0..3).map(|w| held(&o, &addr(w)).unwrap()).sum();
            let escrows: Amount = (0..4).map(|i| escrowed(&o, &escrow(i)).unwrap().value).sum();
            prop_assert_eq!(s.escrowed, escrows);
            prop_assert_eq!(s.paid, paid);
            prop_assert_eq!(holders + escrows + paid, s.minted);
            // No credits, no value.
            for w in 0..3 {
                if credits::balance(&o, &addr(w)).unwrap() == 0 {
                    prop_assert_eq!(held(&o, &addr(w)).unwrap(), 0);
                }
            }
            for i in 0..4 {
                let e = escrowed(&o, &escrow(i)).unwrap();
                if e.credits == 0 {
                    prop_assert_eq!(e.value, 0);
                }
            }
        }
    }
}

#[test]
fn a_mint_whose_value_would_not_fit_fails_and_changes_nothing() {
    let base = MemStore::default();
    let mut o = Overlay::new(&base);
    assert!(mint(&mut o, &addr(1), Amount::MAX - 5).unwrap().is_ok());
    let before = value_supply(&o).unwrap();
    let r = mint(&mut o, &addr(2), 6).unwrap();
    assert_eq!(r, Err(CreditsError::ValueOverflow { minted: Amount::MAX - 5, amount: 6 }));
    assert_eq!(value_supply(&o).unwrap(), before);
    assert_eq!(held(&o, &addr(2)).unwrap(), 0);
}
