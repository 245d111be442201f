//! One of four validators is killed: the other three keep committing (a quorum), a transfer
//! still commits. Restarted on its data directory, it resumes from its store, fetches the
//! blocks it missed with their commit certificates, and holds the same chain.

use crate::cluster::Cluster;
use crate::harness::{crn, run};
use cairn_types::Keypair;
use std::time::Duration;

#[test]
fn a_killed_validator_catches_up_after_restart_while_the_rest_keep_committing() {
    run(Duration::from_secs(150), async {
        let alice = Keypair::from_label("alice");
        let bob = Keypair::from_label("bob").address();
        let mut c = Cluster::builder(4).fund(alice.address(), crn(100)).start(&[0, 1, 2, 3]).await;
        c.wait_all(3, Duration::from_secs(30)).await;

        c.kill(3);
        let before = c.nodes[3].data_dir().to_path_buf();
        assert!(before.join("chain.redb").exists());
        let h0 = *c.heights().await.iter().max().unwrap();
        let r = c.nodes[0].submit_and_wait(&c.nodes[0].transfer(&alice, bob, crn(7), 0)).await;
        assert!(r.is_success(), "{r:?}");
        // The three keep committing, also past heights the dead validator would propose.
        let h1 = c.converge(h0 + 8, Duration::from_secs(60)).await;

        c.start(3).await;
        let restarted_at = c.nodes[3].height().await;
        assert!(restarted_at >= 3, "it resumed from its store, not from genesis");
        c.nodes[3].wait_for_height(h1 + 2, Duration::from_secs(60)).await;
        let top = c.converge(h1 + 2, Duration::from_secs(30)).await;
        assert!(top > h1);
        assert_eq!(c.nodes[3].account(&bob).await.balance, crn(7));
        let receipt = c.nodes[3].wait_receipt(&r.tx_hash).await;
        assert_eq!(receipt.height, r.height);
    });
}
