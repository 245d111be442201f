//! Staking tests on the in-memory store.

use super::*;
use crate::accounts::get_supply;
use crate::devices::tests::{CRN, FEE, Net, START, failure};
use crate::tests::{CHAIN, genesis};
use cairn_types::consensus::{SignedVote, Vote, VoteKind};
use cairn_types::genesis::GenesisValidator;
use cairn_types::{Hash, Keypair, TxBody};

const EPOCH: u64 = 5;
const UNBONDING: u64 = 10;

struct Setup {
    n: Net,
    val: Keypair,
    other_val: Keypair,
    alice: Keypair,
    bob: Keypair,
}

/// Two genesis validators (300 and 200 CRN), two funded accounts.
fn setup() -> Setup {
    let (val, other_val) = (Keypair::from_label("val-a"), Keypair::from_label("val-b"));
    let (alice, bob) = (Keypair::from_label("alice"), Keypair::from_label("bob"));
    let mut g = genesis(&[&val, &other_val, &alice, &bob], START);
    g.validators = vec![
        GenesisValidator { address: val.address(), stake: 300 * CRN },
        GenesisValidator { address: other_val.address(), stake: 200 * CRN },
    ];
    g.params.blocks_per_epoch = EPOCH;
    g.params.devices.heartbeat_slots = 5;
    g.params.staking.unbonding_blocks = UNBONDING;
    g.params.staking.max_evidence_age_blocks = UNBONDING;
    g.params.staking.slash_bps = 1_000;
    // These tests follow stake exactly: the validators' reward pool (which compounds into
    // the pools) goes to the treasury here; rewards by stake are tested with the rewards.
    g.params.rewards.shares.treasury += g.params.rewards.shares.validators;
    g.params.rewards.shares.validators = 0;
    Setup { n: Net::new(&g), val, other_val, alice, bob }
}

impl Setup {
    fn params(&self) -> Params {
        crate::App::params(&self.n.c.store).unwrap()
    }

    /// The set that certifies the next block.
    fn next_set(&self) -> ValidatorSet {
        validator_set_for(&self.n.c.store, &self.params(), self.n.height() + 1).unwrap()
    }

    fn power(&self, k: &Keypair) -> Option<Power> {
        self.next_set().get(&k.address()).map(|v| v.power)
    }

    fn pool(&self, k: &Keypair) -> ValidatorStake {
        get_validator(&self.n.c.store, &k.address()).unwrap().unwrap()
    }

    fn stake(&self, validator: &Keypair, delegator: &Keypair) -> Amount {
        stake_of(&self.n.c.store, &validator.address(), &delegator.address()).unwrap()
    }

    /// Empty blocks until the next block opens an epoch, then that block.
    fn cross_epoch(&mut self) {
        let next = (self.n.height() / EPOCH + 1) * EPOCH;
        self.n.advance_to(next);
        self.n.empty_blocks(1);
    }

    /// Balances plus stake and burned equal the genesis supply.
    fn supply_holds(&self) {
        let s = get_supply(&self.n.c.store).unwrap();
        let balances: Amount = [&self.val, &self.other_val, &self.alice, &self.bob]
            .iter()
            .map(|k| self.n.account(k).balance)
            .sum();
        assert_eq!(balances + s.staked + s.bonded + s.escrowed, s.genesis - s.burned);
    }
}

#[test]
fn genesis_validators_are_bonded_and_form_the_first_set() {
    let s = setup();
    assert_eq!(s.power(&s.val), Some(300));
    assert_eq!(s.power(&s.other_val), Some(200));
    assert_eq!(s.next_set().validators()[0].address, s.val.address());
    assert_eq!(s.stake(&s.val, &s.val), 300 * CRN);
    assert_eq!(get_supply(&s.n.c.store).unwrap().staked, 500 * CRN);
    assert_eq!(s.n.account(&s.val).balance, START);
    s.supply_holds();
}

#[test]
fn a_self_bond_below_the_minimum_fails_and_changes_nothing_but_the_fee() {
    let mut s = setup();
    let alice = s.alice.clone();
    let r = s.n.run(&alice, TxBody::Bond { amount: 99 * CRN });
    assert_eq!(failure(&r).code(), "self_bond_too_small");
    assert_eq!(s.n.account(&alice).balance, START - FEE);
    assert!(get_validator(&s.n.c.store, &alice.address()).unwrap().is_none());
    assert!(!candidates(&s.n.c.store).unwrap().contains(&alice.address()));
    s.supply_holds();
}

#[test]
fn a_new_validator_joins_the_set_at_the_next_epoch_boundary() {
    let mut s = setup();
    let alice = s.alice.clone();
    assert!(s.n.run(&alice, TxBody::Bond { amount: 400 * CRN }).is_success());
    assert_eq!(s.n.account(&alice).balance, START - FEE - 400 * CRN);
    assert_eq!(s.power(&alice), None, "stake counts only from the next epoch");
    s.cross_epoch();
    assert_eq!(s.power(&alice), Some(400));
    assert_eq!(s.next_set().validators()[0].address, alice.address());
    s.supply_holds();
}

#[test]
fn delegations_add_power_and_need_a_candidate() {
    let mut s = setup();
    let (bob, alice, val) = (s.bob.clone(), s.alice.clone(), s.val.clone());
    let r = s.n.run(&bob, TxBody::Delegate { validator: alice.address(), amount: 10 * CRN });
    assert_eq!(failure(&r).code(), "not_a_validator");
    let r = s.n.run(&bob, TxBody::Delegate { validator: val.address(), amount: 150 * CRN });
    assert!(r.is_success(), "{r:?}");
    assert_eq!(s.stake(&val, &bob), 150 * CRN);
    assert_eq!(s.pool(&val).tokens, 450 * CRN);
    s.cross_epoch();
    assert_eq!(s.power(&val), Some(450));
    s.supply_holds();
}

#[test]
fn unbonded_stake_returns_only_after_the_delay_and_leaves_the_power_at_once() {
    let mut s = setup();
    let (bob, val) = (s.bob.clone(), s.val.clone());
    assert!(
        s.n.run(&bob, TxBody::Delegate { validator: val.address(), amount: 100 * CRN })
            .is_success()
    );
    let r = s.n.run(&bob, TxBody::Unbond { validator: val.address(), amount: 101 * CRN });
    assert_eq!(failure(&r).code(), "not_bonded");
    let before = s.n.account(&bob).balance;
    let r = s.n.run(&bob, TxBody::Unbond { validator: val.address(), amount: 60 * CRN });
    assert!(r.is_success(), "{r:?}");
    let unbonded_at = s.n.height();
    assert_eq!(s.stake(&val, &bob), 40 * CRN);
    assert_eq!(s.pool(&val).tokens, 340 * CRN);
    assert_eq!(s.n.account(&bob).balance, before - FEE);
    s.n.advance_to(unbonded_at + UNBONDING);
    assert_eq!(s.n.account(&bob).balance, before - FEE, "not before the release height");
    s.n.empty_blocks(1);
    assert_eq!(s.n.account(&bob).balance, before - FEE + 60 * CRN);
    assert!(unbonding(&s.n.c.store, &val.address()).unwrap().is_empty());
    s.supply_holds();
}

#[test]
fn a_validator_that_unbonds_below_its_minimum_leaves_the_set() {
    let mut s = setup();
    let other = s.other_val.clone();
    let r = s.n.run(&other, TxBody::Unbond { validator: other.address(), amount: 150 * CRN });
    assert!(r.is_success(), "{r:?}");
    assert_eq!(s.power(&other), Some(200), "the set changes at the boundary");
    s.cross_epoch();
    assert_eq!(s.power(&other), None);
    assert_eq!(s.next_set().len(), 1);
}

#[test]
fn the_last_validators_cannot_all_leave_at_once() {
    let mut s = setup();
    let (val, other) = (s.val.clone(), s.other_val.clone());
    assert!(
        s.n.run(&val, TxBody::Unbond { validator: val.address(), amount: 300 * CRN }).is_success()
    );
    assert!(
        s.n.run(&other, TxBody::Unbond { validator: other.address(), amount: 200 * CRN })
            .is_success()
    );
    s.cross_epoch();
    assert_eq!(s.next_set().len(), 2, "an empty set would halt the chain; the old one stays");
}

fn double_vote(key: &Keypair, height: u64) -> DoubleVote {
    let vote = |block: &[u8]| {
        let v = Vote {
            height,
            round: 0,
            kind: VoteKind::Precommit,
            block: Some(Hash::sha256(block)),
            validator: key.address(),
        };
        SignedVote { signature: v.sign(key, CHAIN), vote: v }
    };
    DoubleVote { first: vote(b"one"), second: vote(b"two") }
}

use cairn_types::consensus::DoubleVote;

#[test]
fn a_double_signing_validator_is_slashed_with_its_delegators_and_leaves_the_set() {
    let mut s = setup();
    let (val, bob, alice) = (s.val.clone(), s.bob.clone(), s.alice.clone());
    assert!(
        s.n.run(&bob, TxBody::Delegate { validator: val.address(), amount: 100 * CRN })
            .is_success()
    );
    s.n.empty_blocks(2);
    let infraction = s.n.height();
    // Bob starts unbonding after the infraction: that stake is still slashable.
    assert!(
        s.n.run(&bob, TxBody::Unbond { validator: val.address(), amount: 50 * CRN }).is_success()
    );
    let burned_before = get_supply(&s.n.c.store).unwrap().burned;

    // Anyone can hand in the evidence.
    let r = s.n.run(&alice, TxBody::ReportEquivocation { evidence: double_vote(&val, infraction) });
    assert!(r.is_success(), "{r:?}");
    let pool = s.pool(&val);
    assert!(pool.tombstoned);
    // 10 % of the 350 CRN still bonded and of the 50 CRN unbonding.
    assert_eq!(pool.tokens, 315 * CRN);
    assert_eq!(pool.slashed, 40 * CRN);
    assert_eq!(s.stake(&val, &val), 270 * CRN);
    assert_eq!(s.stake(&val, &bob), 45 * CRN);
    assert_eq!(unbonding(&s.n.c.store, &val.address()).unwrap()[0].amount, 45 * CRN);
    assert_eq!(get_supply(&s.n.c.store).unwrap().burned - burned_before, 40 * CRN + FEE);
    s.supply_holds();

    // Once is enough; it takes no new stake; it leaves the set at the boundary.
    let r = s.n.run(&alice, TxBody::ReportEquivocation { evidence: double_vote(&val, infraction) });
    assert_eq!(failure(&r).code(), "evidence_already_used");
    let r = s.n.run(&bob, TxBody::Delegate { validator: val.address(), amount: CRN });
    assert_eq!(failure(&r).code(), "tombstoned");
    assert_eq!(s.power(&val), Some(350));
    s.cross_epoch();
    assert_eq!(s.power(&val), None);
    assert!(s.power(&s.other_val).is_some());
    s.supply_holds();
}

#[test]
fn evidence_from_the_future_too_old_or_against_a_non_validator_is_refused() {
    let mut s = setup();
    let (alice, val) = (s.alice.clone(), s.val.clone());
    let next = s.n.height() + 1;
    let r = s.n.run(&alice, TxBody::ReportEquivocation { evidence: double_vote(&val, next) });
    assert_eq!(failure(&r).code(), "evidence_from_future");
    let r = s.n.run(&alice, TxBody::ReportEquivocation { evidence: double_vote(&alice, 1) });
    assert_eq!(failure(&r).code(), "not_a_validator");
    s.n.empty_blocks(UNBONDING + 2);
    let r = s.n.run(&alice, TxBody::ReportEquivocation { evidence: double_vote(&val, 1) });
    assert_eq!(failure(&r).code(), "evidence_too_old");
    assert!(!s.pool(&val).tombstoned);
}

#[test]
fn forged_evidence_fails_the_stateless_phase() {
    let s = setup();
    let mut ev = double_vote(&s.val, 1);
    ev.second.signature.0[3] ^= 1;
    let stx =
        crate::devices::tests::signed(&s.alice, 0, TxBody::ReportEquivocation { evidence: ev });
    let mut txs = vec![crate::SizedTx::new(stx)];
    let verdicts = crate::check::check_stateless_batch(CHAIN, &s.params(), &mut txs);
    assert_eq!(verdicts[0].as_ref().map_err(|e| e.code()), Err("bad_evidence"));
    let same = DoubleVote { second: double_vote(&s.val, 1).first, ..double_vote(&s.val, 1) };
    let stx =
        crate::devices::tests::signed(&s.alice, 0, TxBody::ReportEquivocation { evidence: same });
    let mut txs = vec![crate::SizedTx::new(stx)];
    let verdicts = crate::check::check_stateless_batch(CHAIN, &s.params(), &mut txs);
    assert_eq!(verdicts[0].as_ref().map_err(|e| e.code()), Err("bad_evidence"));
}

#[test]
fn share_accounting_rounds_in_favour_of_the_pool() {
    let pool = ValidatorStake { tokens: 10, shares: 3, tombstoned: false, slashed: 0 };
    assert_eq!(worth(&pool, 1), 3);
    assert_eq!(worth(&pool, 3), 10);
    assert_eq!(mul_div_up(1, 3, 10), Some(1));
    assert_eq!(mul_div(Amount::MAX, 2, 1), None);
    assert_eq!(evidence::cut(999, 1_000), 99);
    assert_eq!(evidence::cut(Amount::MAX, 10_000), Amount::MAX);
}

#[test]
fn the_validators_reward_pool_compounds_into_the_pools_by_stake() {
    let (val, other_val) = (Keypair::from_label("val-a"), Keypair::from_label("val-b"));
    let alice = Keypair::from_label("alice");
    let mut g = genesis(&[&val, &other_val, &alice], START);
    g.validators = vec![
        GenesisValidator { address: val.address(), stake: 300 * CRN },
        GenesisValidator { address: other_val.address(), stake: 200 * CRN },
    ];
    g.params.blocks_per_epoch = EPOCH;
    g.params.devices.heartbeat_slots = 5;
    let mut n = Net::new(&g);
    // alice delegates 100 CRN to val: val's pool holds 400, alice a quarter of it.
    assert!(
        n.run(&alice, TxBody::Delegate { validator: val.address(), amount: 100 * CRN })
            .is_success()
    );
    n.advance_to(EPOCH);
    let r = n.block(vec![]).executed.reward_report().unwrap().unwrap();
    // The validators' 5 % of 10 000 CRN = 500 CRN, split 400 : 200 by the pools' stake.
    let pool = r.summary.to_validators;
    assert_eq!(pool, 500 * CRN - 1); // 500 × 400/600 = 333.33…, 500 × 200/600 = 166.66…
    let payouts: Vec<Amount> = r.summary.validator_payouts.iter().map(|(_, a)| *a).collect();
    assert_eq!(payouts.iter().sum::<Amount>(), pool);
    let to_val = r.summary.validator_payouts.iter().find(|(a, _)| *a == val.address()).unwrap().1;
    assert_eq!(to_val, 333_333_333);
    let p = get_validator(&n.c.store, &val.address()).unwrap().unwrap();
    assert_eq!(p.tokens, 400 * CRN + to_val);
    // alice's quarter of the pool grew with it (rounded down by the share math).
    let alice_stake = stake_of(&n.c.store, &val.address(), &alice.address()).unwrap();
    assert!(alice_stake >= 100 * CRN + to_val / 4 - 1 && alice_stake <= 100 * CRN + to_val / 4);
    crate::devices::tests::assert_supply_identity(&n.c.store, &[&val, &other_val, &alice]);
}

/// Every failure of the staking kinds and of equivocation evidence lands on the receipt as
/// the variant it always had.
#[test]
fn every_staking_error_maps_onto_its_receipt_failure() {
    use crate::accounts::AccountsError;
    use StakingError as E;
    use cairn_types::TxFailure as F;
    let v = Address([1; 32]);
    crate::handler::assert_failure_table(vec![
        (E::NotAValidator { validator: v }, "not_a_validator", F::NotAValidator { validator: v }),
        (
            E::SelfBondTooSmall { bonded: 1, min: 2 },
            "self_bond_too_small",
            F::SelfBondTooSmall { bonded: 1, min: 2 },
        ),
        (
            E::NotBonded { validator: v, bonded: 3, requested: 4 },
            "not_bonded",
            F::NotBonded { validator: v, bonded: 3, requested: 4 },
        ),
        (E::Tombstoned { validator: v }, "tombstoned", F::Tombstoned { validator: v }),
        (E::PoolOverflow { validator: v }, "balance_overflow", F::BalanceOverflow { account: v }),
        (
            E::EvidenceTooOld { height: 5, oldest: 6 },
            "evidence_too_old",
            F::EvidenceTooOld { height: 5, oldest: 6 },
        ),
        (
            E::EvidenceFromFuture { height: 9, current: 8 },
            "evidence_from_future",
            F::EvidenceFromFuture { height: 9, current: 8 },
        ),
        (
            E::EvidenceAlreadyUsed { validator: v, height: 7 },
            "evidence_already_used",
            F::EvidenceAlreadyUsed { validator: v, height: 7 },
        ),
        (
            E::NothingToSlash { validator: v },
            "nothing_to_slash",
            F::NothingToSlash { validator: v },
        ),
        (
            E::Balance(AccountsError::InsufficientBalance { needed: 2, available: 1 }),
            "insufficient_balance",
            F::InsufficientBalance { needed: 2, available: 1 },
        ),
    ]);
}
