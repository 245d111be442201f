//! A Byzantine proposer streams each of its proposals to every other validator with a seal
//! of its own (ed25519: the same block hash signed again with another nonce, each equally
//! valid), addressed to that validator alone. The four validators decide on the block hash,
//! each keeps the seal it was sent in its certificate, and all still compute the same state
//! root at every next height and keep committing: the chain entropy comes from the header
//! hash the validators voted on, not from a seal (ADR 0016).

use crate::cluster::Cluster;
use crate::harness::run;
use cairn_types::Certificate;
use std::collections::BTreeSet;
use std::time::Duration;

#[test]
fn a_proposer_sending_different_seals_of_one_block_to_different_validators_cannot_split_the_state()
{
    run(Duration::from_secs(240), async {
        let mut c = Cluster::builder(4).start(&[]).await;
        let byzantine = c.validator(0);
        c.inject_faults(0, serde_json::json!({ "reseal_proposals_per_peer": true }));
        for i in 0..4 {
            c.start(i).await;
        }
        let h0 = c.converge(12, Duration::from_secs(120)).await;

        // Every node keeps the seal it received in the certificate of the block it commits.
        let seal = |cert: &Certificate| match cert {
            Certificate::Bft(commit) => commit.proposer_signature.0,
            other => panic!("not a BFT certificate: {other:?}"),
        };
        let (mut built, mut four_seals) = (Vec::new(), 0);
        for h in 1..=h0 {
            let mut blocks = Vec::new();
            for n in &c.nodes {
                blocks.push(n.client().block(h).await.unwrap());
            }
            if blocks[0].header.proposer != byzantine {
                continue;
            }
            built.push(h);
            let seals: BTreeSet<[u8; 64]> = blocks.iter().map(|b| seal(&b.certificate)).collect();
            if seals.len() == c.nodes.len() {
                four_seals += 1;
            }
        }
        assert!(!built.is_empty(), "validator 0 built none of blocks 1..={h0}");
        assert!(four_seals > 0, "no block of validator 0 was committed with four different seals");

        // Commits go on, and at every height all four hold the same block, state root and
        // entropy (`converge` compares block hashes and state roots from height 1 up).
        let top = c.converge(h0 + 4, Duration::from_secs(60)).await;
        c.assert_same_entropy(1..=top).await;
        eprintln!(
            "figure: {four_seals} of validator 0's {} blocks committed with four different \
             seals (one per node); same blocks, state roots and entropy on all 4 at heights \
             1..={top}",
            built.len()
        );
    });
}
