//! Each of several senders signs two different transfers with the same nonce (twins) and
//! sends one to validator 0 and the other to validator 1 at the same time. Each validator
//! keeps the twin it saw first (the other is an under-priced replacement); one twin per
//! sender is committed, through whichever validator proposes. After the commits every
//! validator's mempool is empty: the losing twin is spent by its nonce, not kept because
//! its hash was not in the block.

use crate::cluster::{Cluster, eventually};
use crate::harness::{CHAIN_ID, crn, run, transfer};
use cairn_types::Keypair;
use std::time::Duration;

#[test]
fn twin_nonce_transactions_sent_through_two_validators_leave_every_mempool_empty() {
    run(Duration::from_secs(150), async {
        let senders: Vec<Keypair> =
            (0..8).map(|i| Keypair::from_label(&format!("twin-sender-{i}"))).collect();
        let to = Keypair::from_label("twin-recipient").address();
        let mut b = Cluster::builder(4);
        for s in &senders {
            b = b.fund(s.address(), crn(100));
        }
        let c = b.start(&[0, 1, 2, 3]).await;
        c.wait_all(2, Duration::from_secs(30)).await;
        // Sent at once, each twin usually reaches its validator before the other's relay
        // does; when a relay wins, that validator refuses its own twin as an under-priced
        // replacement, and the pair is not split.
        let mut split = 0;
        for s in &senders {
            let a = transfer(CHAIN_ID, s, to, crn(1), 0);
            let b = transfer(CHAIN_ID, s, to, crn(2), 0);
            assert_ne!(a.hash(), b.hash());
            let (ra, rb) =
                tokio::join!(c.nodes[0].client().submit_tx(&a), c.nodes[1].client().submit_tx(&b));
            for r in [&ra, &rb] {
                if let Err(e) = r {
                    assert!(format!("{e:?}").contains("replacement_underpriced"), "{e:?}");
                }
            }
            split += usize::from(ra.is_ok() && rb.is_ok());
        }
        assert!(split > 0, "no twin pair was split between the two validators");
        // Every sender's nonce 0 is spent, once.
        for s in &senders {
            let addr = s.address();
            let client = c.nodes[2].client().clone();
            eventually(Duration::from_secs(30), "the sender's nonce spent", || async {
                client.account(&addr, false).await.is_ok_and(|a| a.nonce == 1)
            })
            .await;
        }
        let h = *c.heights().await.iter().max().unwrap();
        c.converge(h + 2, Duration::from_secs(30)).await;
        for (i, n) in c.nodes.iter().enumerate() {
            let client = n.client().clone();
            eventually(Duration::from_secs(10), &format!("node {i}'s mempool empty"), || async {
                client.status().await.is_ok_and(|s| s.mempool_size == 0)
            })
            .await;
        }
        eprintln!(
            "figure: {split} of {} twin pairs split; all 4 mempools at 0 by height {}",
            senders.len(),
            h + 2
        );
    });
}
