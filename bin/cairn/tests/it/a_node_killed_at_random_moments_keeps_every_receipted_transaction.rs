//! The kill -9 loop: a node under a stream of transfers (several senders) and device
//! reports (heartbeats of a registered device, submitted by a gateway) is SIGKILLed at a
//! random moment — between blocks, mid-commit, mid-admission — and restarted on the same
//! data directory, cycle after cycle. After every restart each block and receipt observed
//! before the kill is served unchanged (its transaction committed); at the end every receipt
//! observed in any cycle is still there and `cairn chain verify` replays the whole chain from
//! genesis to the head's state root.
//!
//! `CAIRN_KILL_CYCLES` sets the number of cycles (default 10; `scripts/kill-loop` runs 100),
//! `CAIRN_KILL_SEED` the seed of the random stream lengths and kill moments (default: from
//! the clock). The seed is printed at the start and again if the test fails, so a failing
//! run can be repeated.

use crate::device_support::{heartbeat, now_ms, register_body, signed};
use crate::harness::{self, Node, NodeBuilder, Observed, crn, submit_all};
use cairn_types::device_key::DeviceSigner;
use cairn_types::{DeviceClass, Keypair, SignedTx, TxBody, TxOutcome, TxStatus};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SENDERS: usize = 3;
const RECIPIENTS: usize = 2;
/// A short block interval, so a random kill often lands while a block commits.
const BLOCK_MS: u64 = 40;
const DEFAULT_CYCLES: u64 = 10;
/// One epoch covers the whole run, so every heartbeat is for epoch 0.
const BLOCKS_PER_EPOCH: u64 = 1_000_000;

/// Prints how to repeat the run if the test fails.
struct SeedOnFailure {
    seed: u64,
    cycles: u64,
}

impl Drop for SeedOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kill loop failed: repeat with CAIRN_KILL_SEED={} CAIRN_KILL_CYCLES={}",
                self.seed, self.cycles
            );
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.trim().parse().unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}")))
}

/// The stream's senders and device, with the next nonce (and report sequence) of each.
struct Stream {
    chain_id: String,
    senders: Vec<Keypair>,
    recipients: Vec<Keypair>,
    nonces: Vec<u64>,
    gateway: Keypair,
    gateway_nonce: u64,
    device: DeviceSigner,
    seq: u64,
}

impl Stream {
    /// One transfer per sender and one heartbeat batch. A transfer is a function of its
    /// sender and nonce, so a resubmission after a restart is the same transaction.
    fn round(&mut self) -> Vec<SignedTx> {
        let mut batch = Vec::with_capacity(SENDERS + 1);
        for (i, k) in self.senders.iter().enumerate() {
            let n = self.nonces[i];
            let to = self.recipients[(i + n as usize) % RECIPIENTS].address();
            batch.push(harness::transfer(&self.chain_id, k, to, 1_000 + u128::from(n), n));
            self.nonces[i] += 1;
        }
        self.seq += 1;
        let device = self.device.public_key();
        let report = heartbeat(&self.chain_id, &device, &self.device, self.seq, 0, now_ms());
        let body = TxBody::SubmitReports { reports: vec![report] };
        batch.push(signed(&self.chain_id, &self.gateway, self.gateway_nonce, body));
        self.gateway_nonce += 1;
        batch
    }

    /// Takes the next nonces from the chain: what was in flight at the kill died with the
    /// mempool and is sent again (transfers) or replaced (heartbeats, with a later sequence).
    async fn resync(&mut self, node: &Node) {
        for (i, k) in self.senders.iter().enumerate() {
            self.nonces[i] = node.account(&k.address()).await.nonce;
        }
        self.gateway_nonce = node.account(&self.gateway.address()).await.nonce;
    }
}

/// Every transaction of the stream succeeds; returns the heartbeats accepted.
fn check_receipts(receipts: &[cairn_types::Receipt]) -> u64 {
    let mut accepted = 0;
    for r in receipts {
        assert_eq!(r.status, TxStatus::Success, "transaction {} failed: {r:?}", r.tx_hash);
        if let TxOutcome::Reports { accepted: a, .. } = &r.outcome {
            accepted += u64::from(*a);
        }
    }
    accepted
}

#[test]
fn a_node_killed_at_random_moments_keeps_every_receipted_transaction() {
    let cycles = env_u64("CAIRN_KILL_CYCLES").unwrap_or(DEFAULT_CYCLES);
    let seed = env_u64("CAIRN_KILL_SEED").unwrap_or_else(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos() as u64
    });
    eprintln!("kill loop: {cycles} cycles, CAIRN_KILL_SEED={seed}");
    let _repeat = SeedOnFailure { seed, cycles };
    let mut rng = StdRng::seed_from_u64(seed);
    let limit = Duration::from_secs(60 + 10 * cycles);
    harness::run(limit, async move {
        let started = Instant::now();
        let senders: Vec<Keypair> =
            (0..SENDERS).map(|i| Keypair::from_label(&format!("it-loop-sender-{i}"))).collect();
        let recipients: Vec<Keypair> = (0..RECIPIENTS)
            .map(|i| Keypair::from_label(&format!("it-loop-recipient-{i}")))
            .collect();
        let gateway = Keypair::from_label("it-loop-gateway");
        let mut b = NodeBuilder::new().block_ms(BLOCK_MS).blocks_per_epoch(BLOCKS_PER_EPOCH);
        for k in senders.iter().chain([&gateway]) {
            b = b.fund(k.address(), crn(1_000_000));
        }
        let mut node = b.start().await;
        let chain_id = node.chain_id().to_string();

        // The gateway owns the device whose heartbeats it submits.
        let device = DeviceSigner::from_ed25519_seed([7; 32]);
        let body = register_body(
            &chain_id,
            gateway.address(),
            &device.public_key(),
            &device,
            DeviceClass::Energy,
            0,
        );
        let r = node.submit_and_wait(&signed(&chain_id, &gateway, 0, body)).await;
        assert_eq!(r.status, TxStatus::Success, "registration: {r:?}");

        let mut stream = Stream {
            chain_id,
            senders,
            recipients,
            nonces: vec![0; SENDERS],
            gateway,
            gateway_nonce: 1,
            device,
            seq: 0,
        };
        let mut seen = Observed::default();
        check_receipts(&seen.catch_up(&node).await);
        let mut heartbeats = 0;
        for cycle in 0..cycles {
            let from = seen.next_height;
            // A random stretch of the stream, then a kill at a random moment.
            for _ in 0..rng.random_range(1..=4u32) {
                submit_all(&node, &stream.round()).await;
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..2 * BLOCK_MS))).await;
                heartbeats += check_receipts(&seen.catch_up(&node).await);
            }
            if rng.random_bool(0.5) {
                // Transactions in flight at the kill.
                submit_all(&node, &stream.round()).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..3 * BLOCK_MS))).await;
            node.kill();

            node.restart().await;
            let head = node.height().await;
            assert!(
                head >= seen.head(),
                "cycle {cycle}: head went back from {} to {head}",
                seen.head()
            );
            seen.assert_kept_from(&node, from).await;
            heartbeats += check_receipts(&seen.catch_up(&node).await);
            stream.resync(&node).await;
        }

        // The stream goes on after the last restart, and nothing observed was lost.
        submit_all(&node, &stream.round()).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        for (k, next) in stream.senders.iter().zip(&stream.nonces) {
            while node.account(&k.address()).await.nonce < *next {
                assert!(Instant::now() < deadline, "the last round did not commit");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let head = node.wait_blocks(1).await;
        heartbeats += check_receipts(&seen.catch_up(&node).await);
        seen.assert_kept_from(&node, 1).await;
        let v = harness::verify_chain(&node, head).await;
        let replayed = v["transactions"].as_u64().expect("transactions replayed");
        assert!(replayed >= seen.receipts.len() as u64, "replayed {replayed} transactions: {v}");
        assert!(heartbeats > 0, "no heartbeat was accepted");
        let transfers: u64 = stream.nonces.iter().sum();
        // Each committed transfer has one receipt (the other receipt without report
        // outcome is the registration).
        let plain = seen.receipts.values().filter(|r| r.outcome == TxOutcome::None).count();
        assert_eq!(plain as u64, transfers + 1, "transfers and their receipts differ");
        eprintln!(
            "kill loop: {cycles} kills survived in {:.1?}: {} blocks, {} receipts \
             ({transfers} transfers, {heartbeats} heartbeats accepted), chain verified",
            started.elapsed(),
            seen.head(),
            seen.receipts.len(),
        );
    });
}
