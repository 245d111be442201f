//! Oracles, prices and minting through blocks; burn and mint at the epoch boundary.

use crate::credits::{balance, get_credit_supply, get_oracles, price};
use crate::devices::tests::{Net, START, assert_supply_identity, failure};
use crate::tests::genesis;
use cairn_types::{Keypair, TxBody, TxFailure, UNITS_PER_CRN};

const CRN: u128 = UNITS_PER_CRN;

struct Market {
    n: Net,
    admin: Keypair,
    o1: Keypair,
    o2: Keypair,
    buyer: Keypair,
}

fn market() -> Market {
    let (admin, o1, o2, buyer) = (
        Keypair::from_label("cadmin"),
        Keypair::from_label("co1"),
        Keypair::from_label("co2"),
        Keypair::from_label("cbuyer"),
    );
    let mut g = genesis(&[&admin, &o1, &o2, &buyer], START);
    g.params.admin = Some(admin.address());
    g.params.blocks_per_epoch = 10;
    g.params.credits.oracles = vec![o1.address()];
    g.params.credits.price_max_age_blocks = 5;
    g.params.credits.remint_cap_per_epoch = 30 * CRN;
    Market { n: Net::new(&g), admin, o1, o2, buyer }
}

#[test]
fn only_listed_oracles_report_and_the_price_is_the_median_of_fresh_reports() {
    let mut m = market();
    let o2 = m.o2.clone();
    let r = m.n.run(&o2, TxBody::ReportPrice { nano_usd_per_crn: 1 });
    assert_eq!(failure(&r), &TxFailure::NotOracle { signer: o2.address() });
    let (admin, o1) = (m.admin.clone(), m.o1.clone());
    let r = m.n.run(&o1, TxBody::SetOracle { oracle: o2.address(), allowed: true });
    assert_eq!(failure(&r), &TxFailure::NotAdmin { signer: o1.address() });
    assert!(
        m.n.run(&admin, TxBody::SetOracle { oracle: o2.address(), allowed: true }).is_success()
    );
    assert_eq!(get_oracles(&m.n.c.store).unwrap().len(), 2);
    assert_eq!(
        failure(&m.n.run(&o1, TxBody::ReportPrice { nano_usd_per_crn: 0 })),
        &TxFailure::ZeroPrice
    );
    assert!(m.n.run(&o1, TxBody::ReportPrice { nano_usd_per_crn: 2_000_000_000 }).is_success());
    assert!(m.n.run(&o2, TxBody::ReportPrice { nano_usd_per_crn: 1_000_000_000 }).is_success());
    let p = m.n.params();
    let h = m.n.height();
    // Two fresh reports: the lower middle.
    assert_eq!(price(&m.n.c.store, &p, h + 1).unwrap(), Some(1_000_000_000));
    // o2 removed: only o1's.
    assert!(
        m.n.run(&admin, TxBody::SetOracle { oracle: o2.address(), allowed: false }).is_success()
    );
    assert_eq!(price(&m.n.c.store, &p, h + 2).unwrap(), Some(2_000_000_000));
}

#[test]
fn minting_burns_crn_at_the_fresh_price_and_refuses_a_stale_one() {
    let mut m = market();
    let (o1, buyer) = (m.o1.clone(), m.buyer.clone());
    let to = o1.address();
    // No report yet.
    let r = m.n.run(&buyer, TxBody::MintCredits { to, amount: CRN });
    assert_eq!(failure(&r), &TxFailure::StalePrice { max_age: 5 });
    // $1.25 per CRN: 2 CRN buy 250 000 credits of $0.00001.
    let reported = m.n.run(&o1, TxBody::ReportPrice { nano_usd_per_crn: 1_250_000_000 }).height;
    let (before, burned) = (m.n.balance(&buyer), m.n.supply().burned);
    let r = m.n.run(&buyer, TxBody::MintCredits { to, amount: 2 * CRN });
    assert!(r.is_success(), "{r:?}");
    assert_eq!(balance(&m.n.c.store, &to).unwrap(), 250_000);
    assert_eq!(m.n.balance(&buyer), before - 2 * CRN - r.fee_paid);
    assert_eq!(m.n.supply().burned, burned + 2 * CRN + r.fee_paid);
    assert_eq!(m.n.supply().remint_pending, 2 * CRN);
    assert_eq!(get_credit_supply(&m.n.c.store).unwrap().minted, 250_000);
    let r = m.n.run(&buyer, TxBody::MintCredits { to, amount: 7 });
    assert_eq!(
        failure(&r),
        &TxFailure::TooFewForACredit { amount: 7, nano_usd_per_crn: 1_250_000_000 }
    );
    // The report is fresh up to 5 blocks after it, stale from the sixth.
    m.n.advance_to(reported + 5);
    assert!(m.n.run(&buyer, TxBody::MintCredits { to, amount: CRN }).is_success());
    let r = m.n.run(&buyer, TxBody::MintCredits { to, amount: CRN });
    assert_eq!(failure(&r), &TxFailure::StalePrice { max_age: 5 });
    let keys = [&m.admin, &m.o1, &m.o2, &m.buyer];
    assert_supply_identity(&m.n.c.store, &keys);
}

#[test]
fn burned_crn_is_minted_back_into_the_pools_up_to_the_cap_per_epoch() {
    let mut m = market();
    let (o1, buyer) = (m.o1.clone(), m.buyer.clone());
    m.n.run(&o1, TxBody::ReportPrice { nano_usd_per_crn: 1_000_000_000 });
    assert!(
        m.n.run(&buyer, TxBody::MintCredits { to: buyer.address(), amount: 50 * CRN }).is_success()
    );
    m.n.advance_to(10);
    let r = m.n.block(vec![]).executed.reward_report().unwrap().unwrap();
    // Cap 30 of the 50 pending; the rest next epoch.
    assert_eq!(r.summary.reminted, 30 * CRN);
    let paid: u128 = r.entries.iter().map(|e| e.amount).sum();
    assert_eq!(
        paid + r.summary.to_treasury + r.summary.to_validators,
        r.summary.emission + 30 * CRN
    );
    assert_eq!((m.n.supply().reminted, m.n.supply().remint_pending), (30 * CRN, 20 * CRN));
    m.n.advance_to(20);
    let r = m.n.block(vec![]).executed.reward_report().unwrap().unwrap();
    assert_eq!(r.summary.reminted, 20 * CRN);
    assert_eq!((m.n.supply().reminted, m.n.supply().remint_pending), (50 * CRN, 0));
    let keys = [&m.admin, &m.o1, &m.o2, &m.buyer];
    assert_supply_identity(&m.n.c.store, &keys);
}

/// Three listed oracles, whose price needs `min` fresh reports.
fn quorum(min: u32, balance: u128, credit_value: u128) -> (Market, Keypair) {
    let o3 = Keypair::from_label("co3");
    let mut m = market();
    let mut g = genesis(&[&m.admin, &m.o1, &m.o2, &o3, &m.buyer], balance);
    g.params.admin = Some(m.admin.address());
    g.params.blocks_per_epoch = 10;
    g.params.credits.oracles = vec![m.o1.address(), m.o2.address(), o3.address()];
    g.params.credits.price_max_age_blocks = 5;
    g.params.credits.min_oracles = min;
    g.params.credits.credit_value_nano_usd = credit_value;
    m.n = Net::new(&g);
    (m, o3)
}

#[test]
fn one_oracle_alone_cannot_set_the_price_when_min_oracles_is_3() {
    let (mut m, o3) = quorum(3, 1_000 * CRN, 10_000);
    let (o1, o2, buyer) = (m.o1.clone(), m.o2.clone(), m.buyer.clone());
    let to = buyer.address();
    let mint = TxBody::MintCredits { to, amount: CRN };
    assert_eq!(failure(&m.n.run(&buyer, mint.clone())), &TxFailure::StalePrice { max_age: 5 });
    // One oracle reports an absurdly high price: it alone sets nothing.
    let absurd = cairn_types::credits::MAX_NANO_USD_PER_CRN;
    assert!(m.n.run(&o1, TxBody::ReportPrice { nano_usd_per_crn: absurd }).is_success());
    let r = m.n.run(&buyer, mint.clone());
    assert_eq!(failure(&r), &TxFailure::NotEnoughOracles { fresh: 1, min: 3 });
    assert!(m.n.run(&o2, TxBody::ReportPrice { nano_usd_per_crn: 1_000_000_000 }).is_success());
    let r = m.n.run(&buyer, mint.clone());
    assert_eq!(failure(&r), &TxFailure::NotEnoughOracles { fresh: 2, min: 3 });
    assert_eq!(balance(&m.n.c.store, &to).unwrap(), 0);
    let p = m.n.params();
    assert_eq!(price(&m.n.c.store, &p, m.n.height() + 1).unwrap(), None);
    // The third report makes a quorum; the median ignores the outlier.
    assert!(m.n.run(&o3, TxBody::ReportPrice { nano_usd_per_crn: 1_200_000_000 }).is_success());
    assert!(m.n.run(&buyer, mint.clone()).is_success());
    // $1.20 per CRN: 1 CRN buys 120 000 credits of $0.00001.
    assert_eq!(balance(&m.n.c.store, &to).unwrap(), 120_000);
    // Once the first report goes stale (more than 5 blocks old), the quorum is gone again.
    m.n.empty_blocks(1);
    let r = m.n.run(&buyer, mint);
    assert_eq!(failure(&r), &TxFailure::NotEnoughOracles { fresh: 2, min: 3 });
    let keys = [&m.admin, &m.o1, &m.o2, &o3, &m.buyer];
    assert_supply_identity(&m.n.c.store, &keys);
}

#[test]
fn a_price_report_of_zero_or_above_the_highest_is_refused() {
    let mut m = market();
    let o1 = m.o1.clone();
    let max = cairn_types::credits::MAX_NANO_USD_PER_CRN;
    for p in [u128::MAX, max + 1] {
        let r = m.n.run(&o1, TxBody::ReportPrice { nano_usd_per_crn: p });
        assert_eq!(failure(&r), &TxFailure::PriceTooHigh { nano_usd_per_crn: p, max });
    }
    assert_eq!(get_oracles(&m.n.c.store).unwrap()[&o1.address()], None);
    assert!(m.n.run(&o1, TxBody::ReportPrice { nano_usd_per_crn: max }).is_success());
}

#[test]
fn minting_at_an_absurd_price_fails_with_an_overflow_reason_and_changes_nothing() {
    // Credits of one nano-dollar at the highest price: each base unit buys 10^12 credits,
    // so 3.4 × 10^26 base units overflow a u128; the old arithmetic credited the count
    // modulo 2^128.
    let (mut m, o3) = quorum(1, 1_000_000_000_000_000_000_000_000_000, 1);
    let (o1, buyer) = (m.o1.clone(), m.buyer.clone());
    let max = cairn_types::credits::MAX_NANO_USD_PER_CRN;
    assert!(m.n.run(&o1, TxBody::ReportPrice { nano_usd_per_crn: max }).is_success());
    let snapshot = |m: &Market| {
        let s = m.n.supply();
        (
            get_credit_supply(&m.n.c.store).unwrap(),
            balance(&m.n.c.store, &m.buyer.address()).unwrap(),
            s.burned,
            s.remint_pending,
            m.n.balance(&m.buyer),
        )
    };
    let amount = 1_000_000_000_000_000_000_000_000_000; // 10^27 base units
    let before = snapshot(&m);
    let r = m.n.run(&buyer, TxBody::MintCredits { to: buyer.address(), amount });
    assert_eq!(
        failure(&r),
        &TxFailure::CreditOverflow { what: "credits_for".into(), a: amount, b: max }
    );
    let after = snapshot(&m);
    // Only the fee moved.
    assert_eq!((after.0, after.1, after.3), (before.0, before.1, before.3));
    assert_eq!((after.2, after.4), (before.2 + r.fee_paid, before.4 - r.fee_paid));

    // Two mints that each fit but together do not: the second fails on the balance, and
    // one to another account on the minted total; neither changes the credit counts.
    let half = 200_000_000_000_000_000_000_000_000; // 2 × 10^26 units: 2 × 10^38 credits
    let to = buyer.address();
    assert!(m.n.run(&buyer, TxBody::MintCredits { to, amount: half }).is_success());
    let held = balance(&m.n.c.store, &to).unwrap();
    assert_eq!(held, half * 1_000_000_000_000);
    let before = snapshot(&m);
    let r = m.n.run(&buyer, TxBody::MintCredits { to, amount: half });
    assert_eq!(
        failure(&r),
        &TxFailure::CreditOverflow { what: "balance".into(), a: held, b: held }
    );
    let r2 = m.n.run(&buyer, TxBody::MintCredits { to: o3.address(), amount: half });
    assert_eq!(
        failure(&r2),
        &TxFailure::CreditOverflow { what: "minted".into(), a: held, b: held }
    );
    let after = snapshot(&m);
    assert_eq!((after.0, after.1, after.3), (before.0, before.1, before.3));
    assert_eq!(after.4, before.4 - r.fee_paid - r2.fee_paid);
    let keys = [&m.admin, &m.o1, &m.o2, &o3, &m.buyer];
    assert_supply_identity(&m.n.c.store, &keys);
}

/// Every failure of the credits' kinds, and of locking credits into an escrow, lands on the
/// receipt as the variant it always had.
#[test]
fn every_credits_error_maps_onto_its_receipt_failure() {
    use crate::accounts::AccountsError;
    use crate::credits::{CreditsError as E, LockError as L};
    use cairn_types::Address;
    use cairn_types::credits::NoQuorum;
    let a = Address([1; 32]);
    crate::handler::assert_failure_table(vec![
        (
            L::InsufficientCredits { needed: 9, available: 4 },
            "insufficient_credits",
            TxFailure::InsufficientCredits { needed: 9, available: 4 },
        ),
        (
            L::EscrowedOverflow { escrowed: u128::MAX, amount: 2 },
            "credit_overflow",
            TxFailure::CreditOverflow { what: "escrowed".into(), a: u128::MAX, b: 2 },
        ),
    ]);
    crate::handler::assert_failure_table(vec![
        (E::NotAdmin { signer: a }, "not_admin", TxFailure::NotAdmin { signer: a }),
        (E::TooManyOracles { max: 32 }, "too_many_oracles", TxFailure::TooManyOracles { max: 32 }),
        (E::ZeroPrice, "zero_price", TxFailure::ZeroPrice),
        (
            E::PriceTooHigh { nano_usd_per_crn: 11, max: 10 },
            "price_too_high",
            TxFailure::PriceTooHigh { nano_usd_per_crn: 11, max: 10 },
        ),
        (E::NotOracle { signer: a }, "not_oracle", TxFailure::NotOracle { signer: a }),
        (
            E::NoPrice(NoQuorum::Stale { max_age: 5 }),
            "stale_price",
            TxFailure::StalePrice { max_age: 5 },
        ),
        (
            E::NoPrice(NoQuorum::TooFew { fresh: 1, min: 3 }),
            "not_enough_oracles",
            TxFailure::NotEnoughOracles { fresh: 1, min: 3 },
        ),
        (
            E::TooFewForACredit { amount: 7, nano_usd_per_crn: 8 },
            "too_few_for_a_credit",
            TxFailure::TooFewForACredit { amount: 7, nano_usd_per_crn: 8 },
        ),
        (
            E::Overflow { what: "minted", a: 1, b: 2 },
            "credit_overflow",
            TxFailure::CreditOverflow { what: "minted".into(), a: 1, b: 2 },
        ),
        (
            E::ValueOverflow { minted: 3, amount: 4 },
            "credit_value_overflow",
            TxFailure::CreditValueOverflow { minted: 3, amount: 4 },
        ),
        (
            E::Balance(AccountsError::InsufficientBalance { needed: 6, available: 5 }),
            "insufficient_balance",
            TxFailure::InsufficientBalance { needed: 6, available: 5 },
        ),
    ]);
}
