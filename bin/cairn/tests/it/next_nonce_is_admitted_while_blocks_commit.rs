//! A sender's next transaction (nonce one past its pending ones) is admitted even when it
//! arrives while a block holding the pending ones commits: admission must see the account
//! and the mempool as of the same block.

use crate::harness::{self, NodeBuilder, crn};
use cairn_types::{Keypair, SignedTx};
use std::time::Duration;

const SENDERS: usize = 16;
const ROUNDS: u64 = 120;

#[test]
fn next_nonce_is_admitted_while_blocks_commit() {
    harness::run(Duration::from_secs(60), async {
        let senders: Vec<Keypair> =
            (0..SENDERS).map(|i| Keypair::from_label(&format!("it-race-{i}"))).collect();
        let to = Keypair::from_label("it-race-recipient").address();
        let mut b = NodeBuilder::new().block_ms(10);
        for k in &senders {
            b = b.fund(k.address(), crn(1_000));
        }
        let node = b.start().await;
        let mut refused = Vec::new();
        for nonce in 0..ROUNDS {
            let batch: Vec<SignedTx> =
                senders.iter().map(|k| node.transfer(k, to, 1, nonce)).collect();
            let results = node.client().submit_batch(&batch).await.expect("batch");
            for (r, t) in results.iter().zip(&batch) {
                if let Some(e) = &r.error {
                    refused
                        .push(format!("{} nonce {nonce}: {} ({})", t.tx.signer, e.code, e.message));
                }
            }
            if !refused.is_empty() {
                break;
            }
        }
        assert!(refused.is_empty(), "valid next-nonce transfers refused:\n{}", refused.join("\n"));
    });
}
