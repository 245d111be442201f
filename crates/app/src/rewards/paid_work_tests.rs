//! Paid work earns at most what was paid for it (docs/adr/0012-paid-work-cap.md), through
//! blocks: self-dealing through one's own channel, jobs or deal returns at most the CRN it
//! burned for the credits, and an honest provider paid fairly is unaffected.

use crate::credits::value::{escrowed, held};
use crate::devices::tests::{
    CRN, Net, START, assert_credit_identity, assert_supply_identity, buy_credits, ed_device,
    register,
};
use crate::tests::genesis;
use cairn_types::compute::{commitment, job_id};
use cairn_types::rewards::{Pool, RewardEntry, RewardReport, mul_div};
use cairn_types::storage::{chunk_proof, chunk_root, chunks, deal_id};
use cairn_types::usage::{SignedUsageReceipt, UsageReceipt, channel_id};
use cairn_types::{Amount, DeviceClass, DeviceSigner, Hash, Keypair, Receipt, TxBody};

/// A chain whose `key` is an oracle and owns `devices` of `class`, registered in block 1.
fn chain(key: &Keypair, others: &[&Keypair], class: DeviceClass, devices: &[&DeviceSigner]) -> Net {
    let mut all = vec![key];
    all.extend_from_slice(others);
    let mut g = genesis(&all, START);
    g.params.usage.dispute_window_blocks = 3;
    g.params.storage.chunk_size = 64;
    g.params.storage.response_blocks = 2;
    g.params.credits.oracles = vec![key.address()];
    let mut n = Net::new(&g);
    let txs = devices.iter().map(|d| n.tx(key, register(d, key, class, 0, None))).collect();
    all_ok(&n.block(txs).executed.receipts);
    n
}

fn all_ok(receipts: &[Receipt]) {
    assert!(receipts.iter().all(Receipt::is_success), "{receipts:?}");
}

/// Heartbeats of `devs` until the boundary of `epoch`, then that boundary block: its report.
fn close_epoch(
    n: &mut Net,
    gw: &Keypair,
    devs: &[&DeviceSigner],
    seq: &mut u64,
    epoch: u64,
) -> RewardReport {
    let boundary = (epoch + 1) * n.params().blocks_per_epoch;
    n.heartbeats_to(gw, devs, seq, boundary);
    n.block(vec![]).executed.reward_report().unwrap().expect("the boundary runs the rewards")
}

fn entry(r: &RewardReport, d: &DeviceSigner) -> RewardEntry {
    r.entries.iter().find(|e| e.device == d.id()).expect("an entry").clone()
}

fn pool(r: &RewardReport, p: Pool) -> cairn_types::rewards::PoolOutcome {
    r.summary.pools.iter().find(|o| o.pool == p).expect("the pool").clone()
}

/// The CRN value of credits: held + escrowed + paid = minted.
fn value_identity(n: &Net) {
    assert_credit_identity(&n.c.store);
}

#[test]
fn a_consumer_settling_its_own_channel_earns_back_at_most_what_it_burned() {
    let attacker = Keypair::from_label("self-dealer");
    let dev = ed_device(91);
    let mut n = chain(&attacker, &[], DeviceClass::Relay, &[&dev]);
    let mut seq = 0;
    n.heartbeats_to(&attacker, &[&dev], &mut seq, 5);
    // 10 CRN burned for credits, all of them escrowed in a channel to its own relay.
    let burned = 10 * CRN;
    let mut txs = buy_credits(&mut n, &attacker, burned);
    let credits = burned; // One credit per base unit at the test price.
    let open = n.tx(
        &attacker,
        TxBody::OpenChannel { device: dev.id(), escrow: credits, price_per_unit: 1 },
    );
    let id = channel_id(&attacker.address(), open.tx.nonce);
    txs.push(open);
    all_ok(&n.block(txs).executed.receipts);
    assert_eq!(held(&n.c.store, &attacker.address()).unwrap(), 0);
    assert_eq!(escrowed(&n.c.store, &id).unwrap().value, burned);
    // It signs a receipt for every unit and settles it as the relay's owner.
    let receipt = UsageReceipt { channel: id, total_units: credits as u64, seq: 1 };
    let signature = attacker.sign_raw(&receipt.signing_message(crate::tests::CHAIN));
    let settle = n.tx(
        &attacker,
        TxBody::SettleChannel { receipt: SignedUsageReceipt { receipt, signature } },
    );
    all_ok(&n.block(vec![settle]).executed.receipts);
    let r = close_epoch(&mut n, &attacker, &[&dev], &mut seq, 0);
    let e = entry(&r, &dev);
    assert_eq!(e.work.units, credits as u64);
    assert_eq!(e.work.paid_usage, burned, "the escrow's value moved onto the relay");
    // Alone in the usage pool its volume share was the whole pool (4 000 CRN and the
    // re-minted 10 × 0.4); it is paid what it burned and no more.
    let usage = pool(&r, Pool::Usage);
    assert!(usage.amount > 4_000 * CRN);
    assert_eq!(e.amount, burned);
    assert_eq!(e.capped, usage.amount - burned);
    assert_eq!((usage.paid, usage.capped), (burned, usage.amount - burned));
    // What the cap held back went to the treasury; nothing was lost or made.
    let to_devices: Amount = r.entries.iter().map(|e| e.amount).sum();
    assert_eq!(
        to_devices + r.summary.to_validators + r.summary.to_treasury,
        r.summary.emission + r.summary.reminted
    );
    assert!(r.summary.to_treasury >= e.capped);
    value_identity(&n);
    assert_supply_identity(&n.c.store, &[&attacker]);
}

#[test]
fn self_dealt_compute_jobs_earn_at_most_what_they_cost() {
    // Ten 1-credit jobs at replication 1, taken by its own two compute devices and accepted.
    let attacker = Keypair::from_label("job-farmer");
    let devs = [ed_device(92), ed_device(93)];
    let dref: Vec<&DeviceSigner> = devs.iter().collect();
    let mut n = chain(&attacker, &[], DeviceClass::Compute, &dref);
    let mut seq = 0;
    n.heartbeats_to(&attacker, &dref, &mut seq, 5);
    let burned: Amount = 10; // base units: ten credits at the test price
    let mut txs = buy_credits(&mut n, &attacker, burned);
    let mut jobs = Vec::new();
    for i in 0..10u8 {
        let body = TxBody::PostJob {
            workload: Hash([i; 32]),
            input: Hash([i; 32]),
            replication: 1,
            price: 1,
        };
        let tx = n.tx(&attacker, body);
        jobs.push(job_id(&attacker.address(), tx.tx.nonce));
        txs.push(tx);
    }
    all_ok(&n.block(txs).executed.receipts);
    let result = Hash::sha256(b"anything");
    let salt = [7u8; 32];
    let mut txs = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let d = devs[i % 2].id();
        txs.push(n.tx(&attacker, TxBody::TakeJob { job: *job, device: d }));
        let c = commitment(&result, &salt, &d);
        txs.push(n.tx(&attacker, TxBody::CommitResult { job: *job, device: d, commitment: c }));
    }
    all_ok(&n.block(txs).executed.receipts);
    let mut txs = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let d = devs[i % 2].id();
        txs.push(n.tx(&attacker, TxBody::RevealResult { job: *job, device: d, result, salt }));
    }
    all_ok(&n.block(txs).executed.receipts);
    let txs =
        jobs.iter().map(|job| n.tx(&attacker, TxBody::AcceptJob { job: *job, result })).collect();
    all_ok(&n.block(txs).executed.receipts);
    let r = close_epoch(&mut n, &attacker, &dref, &mut seq, 0);
    let compute = pool(&r, Pool::Compute);
    assert!(compute.amount >= 1_500 * CRN);
    let mut earned = 0;
    for d in &devs {
        let e = entry(&r, d);
        assert_eq!((e.work.jobs, e.work.paid_service), (5, 5), "each job carried one base unit");
        assert_eq!(e.amount, e.work.paid_service);
        earned += e.amount;
    }
    // Its share of the whole compute pool came down to the ten base units it burned.
    assert_eq!(earned, burned);
    assert_eq!(compute.paid, burned);
    // Two equal shares of the pool: at most one base unit of rounding besides the cut.
    assert!(compute.amount - compute.paid - compute.capped < 2, "{compute:?}");
    value_identity(&n);
    assert_supply_identity(&n.c.store, &[&attacker]);
}

/// A file of `len` bytes for 64-byte chunks, and its root.
fn file(len: u32) -> (Vec<u8>, Hash) {
    let data: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
    let root = chunk_root(&chunks(&data, 64));
    (data, root)
}

#[test]
fn a_storage_deal_paying_one_credit_an_epoch_earns_at_most_that_credits_value() {
    let attacker = Keypair::from_label("deal-farmer");
    let dev = ed_device(94);
    let mut n = chain(&attacker, &[], DeviceClass::Storage, &[&dev]);
    let mut seq = 0;
    n.heartbeats_to(&attacker, &[&dev], &mut seq, 5);
    // 10 base units buy 10 credits worth one base unit each; a big file for 1 credit an
    // epoch over two epochs.
    let mut txs = buy_credits(&mut n, &attacker, 10);
    let (data, root) = file(64 * 40);
    let open = n.tx(
        &attacker,
        TxBody::OpenDeal {
            device: dev.id(),
            root,
            chunks: data.len().div_ceil(64) as u64,
            duration_epochs: 2,
            price_per_epoch: 1,
        },
    );
    let id = deal_id(&attacker.address(), open.tx.nonce);
    txs.push(open);
    // The device's owner (the attacker too) takes the deal on in the same block.
    txs.push(n.tx(&attacker, TxBody::AcceptDeal { deal: id }));
    all_ok(&n.block(txs).executed.receipts);
    assert_eq!(escrowed(&n.c.store, &id).unwrap().value, 2, "two credits' worth in escrow");
    // Epoch 1's challenge comes at its first block; the owner answers it.
    let bpe = n.params().blocks_per_epoch;
    n.heartbeats_to(&attacker, &[&dev], &mut seq, bpe + 1);
    let ch =
        crate::storage::get_deal(&n.c.store, &id).unwrap().unwrap().challenge.expect("a challenge");
    let cs = chunks(&data, 64);
    let answer = TxBody::ProveStorage {
        deal: id,
        index: ch.index,
        chunk: cs[ch.index as usize].to_vec(),
        path: chunk_proof(&cs, ch.index).unwrap(),
    };
    let answer = n.tx(&attacker, answer);
    all_ok(&n.block(vec![answer]).executed.receipts);
    let r = close_epoch(&mut n, &attacker, &[&dev], &mut seq, 1);
    let e = entry(&r, &dev);
    let storage = pool(&r, Pool::Storage);
    assert_eq!((e.work.proven_bytes, e.work.paid_service), (64 * 40, 1));
    assert!(storage.amount >= 1_500 * CRN);
    assert_eq!(e.amount, 1, "the epoch's one credit was worth one base unit");
    assert_eq!(storage.capped, storage.amount - 1);
    value_identity(&n);
    assert_supply_identity(&n.c.store, &[&attacker]);
}

#[test]
fn an_honest_provider_paid_fairly_is_unaffected_when_the_pool_is_not_exhausted() {
    // A consumer pays two providers' relays 60 and 40 CRN of usage in an epoch that emits
    // 100 CRN: the usage pool (0.4 × (100 + 100 re-minted) = 80 CRN) splits 48 / 32, each
    // below what was paid for its units, so the caps take nothing.
    let consumer = Keypair::from_label("honest-consumer");
    let (pa, pb) = (Keypair::from_label("provider-a"), Keypair::from_label("provider-b"));
    let (da, db) = (ed_device(95), ed_device(96));
    let mut g = genesis(&[&consumer, &pa, &pb], START);
    g.params.usage.dispute_window_blocks = 3;
    g.params.credits.oracles = vec![consumer.address()];
    g.params.rewards.emission_per_epoch = 100 * CRN;
    let mut n = Net::new(&g);
    let txs = vec![
        n.tx(&pa, register(&da, &pa, DeviceClass::Relay, 0, None)),
        n.tx(&pb, register(&db, &pb, DeviceClass::Relay, 0, None)),
    ];
    all_ok(&n.block(txs).executed.receipts);
    let mut seq = 0;
    n.heartbeats_to(&consumer, &[&da, &db], &mut seq, 5);
    let mut txs = buy_credits(&mut n, &consumer, 100 * CRN);
    let mut ids = Vec::new();
    for (d, paid) in [(&da, 60 * CRN), (&db, 40 * CRN)] {
        let tx = n.tx(
            &consumer,
            TxBody::OpenChannel { device: d.id(), escrow: paid, price_per_unit: CRN },
        );
        ids.push(channel_id(&consumer.address(), tx.tx.nonce));
        txs.push(tx);
    }
    all_ok(&n.block(txs).executed.receipts);
    let mut txs = Vec::new();
    for ((id, owner), units) in ids.iter().zip([&pa, &pb]).zip([60, 40]) {
        let receipt = UsageReceipt { channel: *id, total_units: units, seq: 1 };
        let signature = consumer.sign_raw(&receipt.signing_message(crate::tests::CHAIN));
        txs.push(n.tx(
            owner,
            TxBody::SettleChannel { receipt: SignedUsageReceipt { receipt, signature } },
        ));
    }
    all_ok(&n.block(txs).executed.receipts);
    let r = close_epoch(&mut n, &consumer, &[&da, &db], &mut seq, 0);
    let usage = pool(&r, Pool::Usage);
    assert_eq!(usage.amount, 80 * CRN);
    for (d, units, paid) in [(&da, 60u64, 60 * CRN), (&db, 40, 40 * CRN)] {
        let e = entry(&r, d);
        assert_eq!((e.work.units, e.work.paid_usage), (units, paid));
        // Its volume share, in full.
        assert_eq!(e.amount, mul_div(usage.amount, u128::from(units), 100));
        assert!(e.amount < paid);
        assert_eq!(e.capped, 0);
    }
    assert_eq!((usage.paid, usage.capped), (80 * CRN, 0));
    value_identity(&n);
    assert_supply_identity(&n.c.store, &[&consumer, &pa, &pb]);
}
