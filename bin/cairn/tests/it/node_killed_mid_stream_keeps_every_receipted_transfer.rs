//! A stream of transfers from several senders is submitted while blocks commit; the node
//! is SIGKILLed in the middle of it and restarted on the same data directory. Every receipt
//! observed before the kill is still there unchanged, the blocks seen before the kill keep
//! their hashes and state roots, the restarted chain replays from genesis (`cairn chain
//! verify`), keeps producing blocks, and the rest of the stream commits with exact final
//! balances.

use crate::harness::{self, NodeBuilder, Observed, crn, min_fee_of, submit_all};
use cairn_types::{Amount, Keypair, SignedTx, TxStatus};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SENDERS: usize = 6;
const PER_SENDER: u64 = 50;
/// Round (nonce) after which the node is killed.
const KILL_AFTER_ROUND: u64 = 25;

#[test]
fn node_killed_mid_stream_keeps_every_receipted_transfer() {
    harness::run(Duration::from_secs(90), async {
        let senders: Vec<Keypair> =
            (0..SENDERS).map(|i| Keypair::from_label(&format!("it-kill-sender-{i}"))).collect();
        let recipients: Vec<Keypair> =
            (0..3).map(|i| Keypair::from_label(&format!("it-kill-recipient-{i}"))).collect();
        let mut b = NodeBuilder::new();
        for k in &senders {
            b = b.fund(k.address(), crn(1_000));
        }
        let mut node = b.start().await;
        let chain_id = node.chain_id().to_string();

        // Every transfer, signed up front: sender i sends nonce n to recipient (i + n) % 3.
        let txs: Vec<Vec<SignedTx>> = senders
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (0..PER_SENDER)
                    .map(|n| {
                        let to = recipients[(i + n as usize) % recipients.len()].address();
                        harness::transfer(&chain_id, k, to, 1_000 + n as Amount, n)
                    })
                    .collect()
            })
            .collect();
        let fee = min_fee_of(&txs[0][0]);

        // Stream rounds of one transfer per sender while blocks commit; kill mid-stream.
        let mut seen = Observed::default();
        for round in 0..=KILL_AFTER_ROUND {
            let batch: Vec<SignedTx> = txs.iter().map(|s| s[round as usize].clone()).collect();
            submit_all(&node, &batch).await;
            tokio::time::sleep(Duration::from_millis(15)).await;
            assert_transfers_succeeded(&seen.catch_up(&node).await);
        }
        // More transfers in flight at the moment of the kill.
        let batch: Vec<SignedTx> =
            txs.iter().map(|s| s[KILL_AFTER_ROUND as usize + 1].clone()).collect();
        submit_all(&node, &batch).await;
        assert_transfers_succeeded(&seen.catch_up(&node).await);
        // Kill at an arbitrary point of the block interval (possibly mid-commit).
        let jitter =
            u64::from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos());
        tokio::time::sleep(Duration::from_millis(jitter % 100)).await;
        node.kill();
        let head_before = seen.head();
        assert!(head_before >= 2, "too few blocks before the kill: {head_before}");
        assert!(
            seen.receipts.len() >= SENDERS * 5,
            "only {} receipts observed before the kill",
            seen.receipts.len()
        );

        node.restart().await;
        let client = node.client();
        let restarted_at = node.height().await;
        assert!(restarted_at >= head_before, "head went back from {head_before} to {restarted_at}");

        // Every observed receipt and block is unchanged, and the chain replays from genesis.
        seen.assert_kept_from(&node, 1).await;
        harness::verify_chain(&node, restarted_at).await;

        // It keeps producing blocks, and the rest of the stream commits: resubmit what each
        // sender has not committed yet (in-flight transfers died with the mempool).
        node.wait_for_height(restarted_at + 3, Duration::from_secs(10)).await;
        for (i, k) in senders.iter().enumerate() {
            let next = node.account(&k.address()).await.nonce;
            assert!(next <= KILL_AFTER_ROUND + 2);
            submit_all(&node, &txs[i][next as usize..]).await;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for k in &senders {
            while node.account(&k.address()).await.nonce < PER_SENDER {
                assert!(Instant::now() < deadline, "the stream did not finish committing");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // The mempool forgets committed transactions just after their block is visible.
        while client.status().await.expect("status").mempool_size != 0 {
            assert!(Instant::now() < deadline, "committed transfers stay in the mempool");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Exact balances: every transfer committed exactly once.
        let sent: Amount = (0..PER_SENDER).map(|n| 1_000 + n as Amount).sum();
        for k in &senders {
            let a = node.account(&k.address()).await;
            assert_eq!(a.nonce, PER_SENDER);
            assert_eq!(a.balance, crn(1_000) - sent - fee * PER_SENDER as Amount);
        }
        let mut received = vec![0 as Amount; recipients.len()];
        for i in 0..SENDERS {
            for n in 0..PER_SENDER {
                received[(i + n as usize) % recipients.len()] += 1_000 + n as Amount;
            }
        }
        for (k, want) in recipients.iter().zip(received) {
            assert_eq!(node.account(&k.address()).await.balance, want);
        }
        // Every transfer has exactly one successful receipt.
        for t in txs.iter().flatten() {
            let r = client.receipt(&t.hash()).await.expect("receipt after the stream");
            assert_eq!(r.status, TxStatus::Success);
        }
        let head = node.height().await;
        let v = harness::verify_chain(&node, head).await;
        assert_eq!(v["transactions"].as_u64(), Some(SENDERS as u64 * PER_SENDER), "{v}");
    });
}

/// Every transfer of the stream succeeds.
fn assert_transfers_succeeded(receipts: &[cairn_types::Receipt]) {
    for r in receipts {
        assert_eq!(r.status, TxStatus::Success, "transfer {} failed", r.tx_hash);
    }
}
