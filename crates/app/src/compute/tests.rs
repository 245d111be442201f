//! Compute job tests on the in-memory store.

use super::*;
use crate::credits::get_credit_supply;
use crate::devices::tests::{
    CRN, Net, START, assert_credit_identity, assert_supply_identity, buy_credits, credits_of,
    ed_device, failure, register,
};
use crate::tests::genesis;
use cairn_types::compute::{commitment, job_id};
use cairn_types::{DeviceSigner, Keypair, Receipt, TxBody};

const PRICE: Amount = 2 * CRN;
const COMMIT: u64 = 10;
const REVEAL: u64 = 6;

struct Setup {
    n: Net,
    consumer: Keypair,
    owners: Vec<Keypair>,
    devices: Vec<DeviceSigner>,
}

fn setup(providers: usize) -> Setup {
    let consumer = Keypair::from_label("consumer");
    let owners: Vec<Keypair> =
        (0..providers).map(|i| Keypair::from_label(&format!("prov{i}"))).collect();
    let mut all: Vec<&Keypair> = owners.iter().collect();
    all.push(&consumer);
    let mut g = genesis(&all, START);
    g.params.compute.commit_window_blocks = COMMIT;
    g.params.compute.reveal_window_blocks = REVEAL;
    g.params.credits.oracles = vec![consumer.address()];
    let mut n = Net::new(&g);
    let devices: Vec<DeviceSigner> = (0..providers).map(|i| ed_device(60 + i as u8)).collect();
    let mut txs = buy_credits(&mut n, &consumer, 20 * PRICE);
    for (o, d) in owners.iter().zip(&devices) {
        txs.push(n.tx(o, register(d, o, DeviceClass::Compute, 0, None)));
    }
    let p = n.block(txs);
    assert!(p.executed.receipts.iter().all(Receipt::is_success), "{:?}", p.executed.receipts);
    Setup { n, consumer, owners, devices }
}

fn post(s: &mut Setup, replication: u8) -> Hash {
    let nonce = s.n.account(&s.consumer).nonce;
    let body = TxBody::PostJob {
        workload: Hash([1; 32]),
        input: Hash([2; 32]),
        replication,
        price: PRICE,
    };
    let consumer = s.consumer.clone();
    let r = s.n.run(&consumer, body);
    assert!(r.is_success(), "{r:?}");
    job_id(&consumer.address(), nonce)
}

fn salt(i: usize) -> [u8; 32] {
    [i as u8 + 100; 32]
}

/// Each provider i takes a place and commits to `results[i]` in one block.
fn take_and_commit(s: &mut Setup, job: Hash, results: &[Hash]) {
    let mut txs = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let (o, d) = (s.owners[i].clone(), s.devices[i].id());
        txs.push(s.n.tx(&o, TxBody::TakeJob { job, device: d }));
        txs.push(s.n.tx(
            &o,
            TxBody::CommitResult { job, device: d, commitment: commitment(r, &salt(i), &d) },
        ));
    }
    let p = s.n.block(txs);
    assert!(p.executed.receipts.iter().all(Receipt::is_success), "{:?}", p.executed.receipts);
}

fn reveal(s: &mut Setup, job: Hash, i: usize, result: Hash) -> Receipt {
    let (o, d) = (s.owners[i].clone(), s.devices[i].id());
    s.n.run(&o, TxBody::RevealResult { job, device: d, result, salt: salt(i) })
}

fn job(s: &Setup, id: &Hash) -> Job {
    get_job(&s.n.c.store, id).unwrap().expect("job")
}

fn settle_now(s: &mut Setup, id: &Hash) {
    let deadline = job(s, id).reveal_deadline;
    s.n.advance_to(deadline + 1);
}

fn supply_identity_holds(s: &Setup) {
    let mut keys: Vec<&Keypair> = s.owners.iter().collect();
    keys.push(&s.consumer);
    assert_supply_identity(&s.n.c.store, &keys);
    assert_credit_identity(&s.n.c.store);
}

#[test]
fn a_job_with_one_lying_provider_out_of_three_pays_the_honest_two_and_slashes_the_liar() {
    let mut s = setup(3);
    let id = post(&mut s, 3);
    let good = Hash::sha256(b"42");
    let bad = Hash::sha256(b"41");
    take_and_commit(&mut s, id, &[good, good, bad]);
    let before: Vec<Amount> = s.owners.iter().map(|o| s.n.balance(o)).collect();
    let consumer_before = credits_of(&s.n.c.store, &s.consumer);
    let bond_before = s.n.device(&s.devices[2].id()).bond;
    for (i, r) in [good, good, bad].into_iter().enumerate() {
        assert!(reveal(&mut s, id, i, r).is_success());
    }
    settle_now(&mut s, &id);
    let j = job(&s, &id);
    let JobStatus::Done { result, paid, slashed, refunded, .. } = &j.status else {
        panic!("{j:?}")
    };
    assert_eq!(*result, Some(good));
    assert_eq!(paid, &vec![s.devices[0].id(), s.devices[1].id()]);
    assert_eq!(slashed, &vec![s.devices[2].id()]);
    assert_eq!(*refunded, PRICE);
    // The honest two are paid: their places' credits are consumed and each counts a
    // verified job for the compute pool; the liar's place is refunded and its bond slashed.
    let fee = crate::devices::tests::FEE;
    for (i, b) in before.iter().enumerate() {
        assert_eq!(s.n.balance(&s.owners[i]), b - fee);
    }
    assert_eq!(get_credit_supply(&s.n.c.store).unwrap().consumed, 2 * PRICE);
    assert_eq!(s.n.device(&s.devices[2].id()).bond, bond_before - s.n.params().compute.slash);
    assert_eq!(credits_of(&s.n.c.store, &s.consumer), consumer_before + PRICE);
    let epoch = s.n.params().epoch_of(j.reveal_deadline);
    assert_eq!(
        crate::devices::get_activity(&s.n.c.store, &s.devices[0].id(), epoch).unwrap().jobs,
        1
    );
    supply_identity_holds(&s);
}

#[test]
fn a_job_revealed_in_an_epoch_its_provider_was_up_counts_whatever_its_uptime_at_settlement() {
    // Posted at block 22: commits before 32, reveals before 38; both reveal in epoch 0
    // (blocks 0–29) once all have committed, and the job settles at block 38 of epoch 1.
    // Provider 0 heartbeats through epoch 0, provider 1 never; neither in epoch 1.
    let mut s = setup(2);
    let (consumer, dev0) = (s.consumer.clone(), s.devices[0].clone());
    let mut seq = 0;
    s.n.heartbeats_to(&consumer, &[&dev0], &mut seq, 22);
    let id = post(&mut s, 2);
    assert_eq!(job(&s, &id).reveal_deadline, 38);
    let good = Hash::sha256(b"42");
    take_and_commit(&mut s, id, &[good, good]);
    for i in 0..2 {
        assert!(reveal(&mut s, id, i, good).is_success());
    }
    assert!(job(&s, &id).slots.iter().all(|slot| slot.revealed_at.is_some_and(|h| h < 30)));
    s.n.heartbeats_to(&consumer, &[&dev0], &mut seq, 30);
    settle_now(&mut s, &id);
    assert!(matches!(job(&s, &id).status, JobStatus::Done { height: 38, .. }));
    let act = |s: &Setup, i: usize| {
        let a = crate::devices::get_activity(&s.n.c.store, &s.devices[i].id(), 1).unwrap();
        (a.jobs, a.jobs_pregated)
    };
    assert_eq!((act(&s, 0), act(&s, 1)), ((1, 1), (1, 0)));
    s.n.advance_to(60);
    let report = s.n.block(vec![]).executed.reward_report().unwrap().expect("epoch 1 is rewarded");
    let entry = |i: usize| {
        let id = s.devices[i].id();
        report.entries.iter().find(|e| e.device == id).expect("an entry").clone()
    };
    let (e0, e1) = (entry(0), entry(1));
    assert!(!e0.uptime_ok && !e1.uptime_ok);
    assert_eq!(e0.scores, vec![(cairn_types::rewards::Pool::Compute, 1)]);
    assert!(e0.amount > 0 && e0.not_counted.is_empty(), "{e0:?}");
    assert!(e1.scores.is_empty() && e1.amount == 0);
    assert_eq!(e1.not_counted, vec!["uptime_below_gate".to_string()]);
}

#[test]
fn a_reveal_that_does_not_match_the_commitment_is_refused() {
    let mut s = setup(1);
    let id = post(&mut s, 1);
    let r = Hash::sha256(b"x");
    take_and_commit(&mut s, id, &[r]);
    let (o, d) = (s.owners[0].clone(), s.devices[0].id());
    let wrong_salt =
        s.n.run(&o, TxBody::RevealResult { job: id, device: d, result: r, salt: [0; 32] });
    assert_eq!(failure(&wrong_salt), &TxFailure::CommitMismatch { device: d });
    let other = reveal(&mut s, id, 0, Hash::sha256(b"y"));
    assert_eq!(failure(&other).code(), "commit_mismatch");
    assert!(reveal(&mut s, id, 0, r).is_success());
    assert_eq!(failure(&reveal(&mut s, id, 0, r)).code(), "already_done");
}

#[test]
fn without_a_majority_nobody_is_paid_and_only_missing_reveals_are_slashed() {
    // Three places, results A, B and a missing reveal: no result has 2 of 3.
    let mut s = setup(3);
    let id = post(&mut s, 3);
    let (a, b) = (Hash::sha256(b"a"), Hash::sha256(b"b"));
    take_and_commit(&mut s, id, &[a, b, a]);
    assert!(reveal(&mut s, id, 0, a).is_success());
    assert!(reveal(&mut s, id, 1, b).is_success());
    let consumer_before = credits_of(&s.n.c.store, &s.consumer);
    settle_now(&mut s, &id);
    let JobStatus::Done { result, paid, slashed, refunded, .. } = job(&s, &id).status else {
        panic!()
    };
    assert_eq!(result, None);
    assert!(paid.is_empty());
    assert_eq!(slashed, vec![s.devices[2].id()]);
    assert_eq!(refunded, 3 * PRICE);
    assert_eq!(credits_of(&s.n.c.store, &s.consumer), consumer_before + 3 * PRICE);
    supply_identity_holds(&s);
}

#[test]
fn a_tie_between_two_providers_pays_and_slashes_nobody() {
    let mut s = setup(2);
    let id = post(&mut s, 2);
    let (a, b) = (Hash::sha256(b"a"), Hash::sha256(b"b"));
    take_and_commit(&mut s, id, &[a, b]);
    assert!(reveal(&mut s, id, 0, a).is_success());
    assert!(reveal(&mut s, id, 1, b).is_success());
    settle_now(&mut s, &id);
    let JobStatus::Done { result, paid, slashed, refunded, .. } = job(&s, &id).status else {
        panic!()
    };
    assert_eq!((result, paid.len(), slashed.len(), refunded), (None, 0, 0, 2 * PRICE));
}

#[test]
fn the_consumer_may_accept_a_result_early() {
    let mut s = setup(3);
    let id = post(&mut s, 3);
    let r = Hash::sha256(b"ok");
    take_and_commit(&mut s, id, &[r, r, r]);
    assert!(reveal(&mut s, id, 0, r).is_success());
    let consumer = s.consumer.clone();
    let stranger = s.owners[1].clone();
    assert_eq!(
        failure(&s.n.run(&stranger, TxBody::AcceptJob { job: id, result: r })).code(),
        "not_a_party"
    );
    assert!(s.n.run(&consumer, TxBody::AcceptJob { job: id, result: r }).is_success());
    let JobStatus::Done { paid, slashed, refunded, .. } = job(&s, &id).status else { panic!() };
    assert_eq!((paid, slashed.len(), refunded), (vec![s.devices[0].id()], 0, 2 * PRICE));
    // The job is closed: a late reveal is refused, and the deadline changes nothing.
    assert_eq!(failure(&reveal(&mut s, id, 1, r)).code(), "job_closed");
    settle_now(&mut s, &id);
    supply_identity_holds(&s);
}

#[test]
fn places_phases_and_limits_are_enforced() {
    let mut s = setup(3);
    let id = post(&mut s, 2);
    let (o0, o2) = (s.owners[0].clone(), s.owners[2].clone());
    let (d0, d1, d2) = (s.devices[0].id(), s.devices[1].id(), s.devices[2].id());
    assert!(s.n.run(&o0, TxBody::TakeJob { job: id, device: d0 }).is_success());
    assert_eq!(
        failure(&s.n.run(&o0, TxBody::TakeJob { job: id, device: d0 })).code(),
        "already_in_job"
    );
    // Someone else's device.
    assert_eq!(failure(&s.n.run(&o0, TxBody::TakeJob { job: id, device: d1 })).code(), "not_owner");
    let o1 = s.owners[1].clone();
    assert!(s.n.run(&o1, TxBody::TakeJob { job: id, device: d1 }).is_success());
    assert_eq!(failure(&s.n.run(&o2, TxBody::TakeJob { job: id, device: d2 })).code(), "job_full");
    // Reveal before everyone committed and before the deadline.
    let r = Hash::sha256(b"r");
    let c0 = commitment(&r, &salt(0), &d0);
    assert!(
        s.n.run(&o0, TxBody::CommitResult { job: id, device: d0, commitment: c0 }).is_success()
    );
    assert_eq!(failure(&reveal(&mut s, id, 0, r)).code(), "early_reveal");
    // Commit after the deadline.
    let deadline = job(&s, &id).commit_deadline;
    s.n.advance_to(deadline);
    let c1 = commitment(&r, &salt(1), &d1);
    assert_eq!(
        failure(&s.n.run(&o1, TxBody::CommitResult { job: id, device: d1, commitment: c1 })).code(),
        "late_commit"
    );
    // Reveals open at the commit deadline; not after the reveal deadline.
    assert!(reveal(&mut s, id, 0, r).is_success());
    let consumer = s.consumer.clone();
    let bad =
        s.n.run(&consumer, TxBody::PostJob { workload: r, input: r, replication: 8, price: 1 });
    assert_eq!(failure(&bad).code(), "bad_job");
    let none =
        s.n.run(&consumer, TxBody::PostJob { workload: r, input: r, replication: 1, price: 0 });
    assert_eq!(failure(&none).code(), "bad_job");
}

#[test]
fn only_active_compute_devices_take_jobs() {
    let mut s = setup(1);
    let id = post(&mut s, 1);
    let o = s.owners[0].clone();
    let sensor = ed_device(90);
    assert!(s.n.run(&o, register(&sensor, &o, DeviceClass::Sensor, 0, None)).is_success());
    assert_eq!(
        failure(&s.n.run(&o, TxBody::TakeJob { job: id, device: sensor.id() })).code(),
        "not_active"
    );
}

/// Every failure of the compute jobs' kinds lands on the receipt as the variant it always
/// had.
#[test]
fn every_compute_error_maps_onto_its_receipt_failure() {
    use crate::credits::LockError;
    use crate::devices::DeviceAccessError;
    use ComputeError as E;
    use cairn_types::TxFailure as F;
    let (a, b) = (Address([1; 32]), Address([2; 32]));
    let (j, d) = (Hash([4; 32]), Hash([5; 32]));
    crate::handler::assert_failure_table(vec![
        (E::BadJob { got: 9, max: 7 }, "bad_job", F::BadJob { got: 9, max: 7 }),
        (
            E::EscrowOverflow { price: u128::MAX, places: 3 },
            "credit_overflow",
            F::CreditOverflow { what: "escrow".into(), a: u128::MAX, b: 3 },
        ),
        (E::UnknownJob { job: j }, "unknown_job", F::UnknownJob { job: j }),
        (E::JobClosed { job: j }, "job_closed", F::JobClosed { job: j }),
        (E::JobFull { job: j, replication: 3 }, "job_full", F::JobFull { job: j, replication: 3 }),
        (E::NotInJob { job: j, device: d }, "not_in_job", F::NotInJob { job: j, device: d }),
        (
            E::AlreadyInJob { job: j, device: d },
            "already_in_job",
            F::AlreadyInJob { job: j, device: d },
        ),
        (E::NotActive { device: d }, "not_active", F::NotActive { device: d }),
        (E::LateCommit { deadline: 10 }, "late_commit", F::LateCommit { deadline: 10 }),
        (E::LateReveal { deadline: 20 }, "late_reveal", F::LateReveal { deadline: 20 }),
        (E::EarlyReveal { opens: 15 }, "early_reveal", F::EarlyReveal { opens: 15 }),
        (
            E::AlreadyDone { job: j, device: d },
            "already_done",
            F::AlreadyDone { job: j, device: d },
        ),
        (E::CommitMismatch { device: d }, "commit_mismatch", F::CommitMismatch { device: d }),
        (E::NotAParty { signer: a }, "not_a_party", F::NotAParty { signer: a }),
        (
            E::Device(DeviceAccessError::NotOwner { device: d, owner: a, signer: b }),
            "not_owner",
            F::NotOwner { device: d, owner: a, signer: b },
        ),
        (
            E::Escrow(LockError::InsufficientCredits { needed: 6, available: 2 }),
            "insufficient_credits",
            F::InsufficientCredits { needed: 6, available: 2 },
        ),
    ]);
}
