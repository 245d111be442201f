//! Three of four validators run the chain from genesis; the fourth starts later with an
//! empty data directory, fetches every block from height 1 with its commit certificate,
//! checks and executes them, reaches the others and keeps up, with the same state.

use crate::cluster::Cluster;
use crate::harness::{crn, run};
use cairn_types::Keypair;
use std::time::Duration;

#[test]
fn a_late_joiner_syncs_from_height_zero() {
    run(Duration::from_secs(150), async {
        let alice = Keypair::from_label("alice");
        let bob = Keypair::from_label("bob").address();
        let mut c = Cluster::builder(4).fund(alice.address(), crn(100)).start(&[0, 1, 2]).await;
        for nonce in 0..3 {
            let r = c.nodes[nonce as usize]
                .submit_and_wait(&c.nodes[0].transfer(&alice, bob, crn(1), nonce))
                .await;
            assert!(r.is_success(), "{r:?}");
        }
        c.wait_all(12, Duration::from_secs(60)).await;
        assert!(!c.nodes[3].data_dir().join("chain.redb").exists(), "node 3 never ran");

        c.start(3).await;
        let top = *c.heights().await.iter().max().unwrap();
        c.nodes[3].wait_for_height(top, Duration::from_secs(60)).await;
        let h = c.converge(top + 2, Duration::from_secs(60)).await;
        assert!(h >= top + 2, "the joiner keeps up after catching up");
        assert_eq!(c.nodes[3].account(&bob).await.balance, crn(3));
    });
}
