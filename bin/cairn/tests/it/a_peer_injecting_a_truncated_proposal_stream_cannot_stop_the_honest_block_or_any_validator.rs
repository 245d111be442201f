//! One of four validators injects truncated proposal streams (the test-only `stream_fault`
//! of `consensus.json`): before each of its own proposals it sends a copy with the same
//! header and seal, no transactions and an early end, and for every proposal it receives
//! from another validator it sends such a copy naming that validator. A receiver that kept
//! the first stream to complete for a block hash would record the honest block as invalid,
//! prevote nil, and stop when the others decide it. Here the copies are refused (their
//! transactions are not the header's, or the fin is not signed by the proposer they name),
//! the blocks they copied are decided, and every validator keeps committing the same chain.

use crate::cluster::{Cluster, eventually};
use crate::harness::{crn, metric, run};
use cairn_types::{Address, Keypair};
use std::time::Duration;

#[test]
fn a_peer_injecting_a_truncated_proposal_stream_cannot_stop_the_honest_block_or_any_validator() {
    run(Duration::from_secs(170), async {
        let alice = Keypair::from_label("truncating-alice");
        let bob = Keypair::from_label("truncating-bob").address();
        let mut c = Cluster::builder(4).fund(alice.address(), crn(1_000)).start(&[]).await;
        c.edit_config(3, |cfg| cfg["stream_fault"] = serde_json::json!("truncate"));
        for i in 0..4 {
            c.start(i).await;
        }
        let layout: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(c.dir().join("testnet.json")).unwrap())
                .unwrap();
        let faulty: Address = layout["nodes"][3]["validator"].as_str().unwrap().parse().unwrap();
        c.wait_all(2, Duration::from_secs(30)).await;

        // Transfers keep coming, so blocks carry transactions and a truncated copy differs
        // from the block it copies.
        let client = c.nodes[0].client().clone();
        let mut nonce = 0;
        let mut last = None;
        let mut seen_from_faulty = None;
        let mut checked = 1;
        for _ in 0..600 {
            let tx = c.nodes[0].transfer(&alice, bob, crn(1), nonce);
            if client.submit_tx(&tx).await.is_ok() {
                nonce += 1;
                last = Some(tx.hash());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let head = c.nodes[0].height().await;
            while checked <= head {
                let b = client.block(checked).await.unwrap();
                if b.header.proposer == faulty && !b.txs.is_empty() {
                    seen_from_faulty = Some(checked);
                }
                checked += 1;
            }
            if seen_from_faulty.is_some() && nonce >= 20 {
                break;
            }
        }
        // The block whose header and seal the copy carried (built by the injecting
        // validator, with transactions) was decided by the honest three.
        let at = seen_from_faulty.expect("a block with transactions from the injecting validator");
        assert!(at > 1);
        c.nodes[0].wait_receipt(&last.unwrap()).await;

        // The honest validators refused the copies.
        for n in &c.nodes[..3] {
            let text = n.client().metrics_text().await.unwrap();
            let refused: f64 = ["tx_root", "signature"]
                .iter()
                .filter_map(|r| {
                    metric(
                        &text,
                        &format!("cairn_consensus_streams_refused_total{{reason=\"{r}\"}}"),
                    )
                })
                .sum();
            assert!(refused >= 1.0, "no truncated stream refused:\n{text}");
        }
        // No validator stopped: all four keep committing the same chain.
        let h = *c.heights().await.iter().max().unwrap();
        let top = c.converge(h + 3, Duration::from_secs(60)).await;
        for n in &c.nodes {
            assert!(n.height().await >= top);
        }
        eventually(Duration::from_secs(20), "bob's transfers on every node", || async {
            let mut all = true;
            for n in &c.nodes {
                all &= n.client().account(&bob, false).await.is_ok_and(|a| a.balance == crn(nonce));
            }
            all
        })
        .await;
    });
}
