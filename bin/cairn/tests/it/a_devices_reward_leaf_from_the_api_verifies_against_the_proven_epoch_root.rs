//! `GET /v1/devices/{id}/rewards?epoch=` finds a device's entry through the store's indexes
//! (by device, then the owner's leaf index) and gives its leaf index and Merkle path: for
//! every device of a small fleet, two owners' devices interleaved, the path verifies with
//! `merkle::verify` against the epoch's reward root as proven against a block header's state
//! root, the index is the entry's place among the paid entries, an entry that is not paid
//! through the root gets no claim, and a path moved to another index does not verify.

use crate::fleet_support::{EPOCH, Fleet};
use crate::harness;
use cairn_app::rewards::root_proof;
use cairn_types::merkle;
use std::time::Duration;

#[test]
fn a_devices_reward_leaf_from_the_api_verifies_against_the_proven_epoch_root() {
    harness::run(Duration::from_secs(120), async {
        let mut f = Fleet::start("it-leaf").await;
        f.run_to(3 * EPOCH + 1).await;
        let client = f.c.node.client();
        // Epoch 2: the fleet's cold-start probation is over.
        let epoch = 2;
        let report = client.epoch_report(epoch).await.expect("epoch 2 is rewarded");
        let view = client.reward_root_proof(epoch).await.expect("a root proof");
        let header = client.block(view.proof.height).await.expect("block").header;
        let summary = root_proof::verify(&view, header.state_root).expect("the root is proven");
        let owners: std::collections::BTreeSet<_> = report.paid().map(|e| e.owner).collect();
        assert!(
            summary.leaves >= 3 && owners.len() >= 2,
            "{} leaves of {owners:?}",
            summary.leaves
        );

        let mut leaf_index = 0;
        for entry in &report.entries {
            let got = client.device_rewards(&entry.device, epoch).await.expect("device rewards");
            assert_eq!(got.entry.as_ref(), Some(entry));
            assert_eq!(got.root, Some((summary.root, summary.leaves)));
            if !entry.is_leaf() {
                assert!(got.claim.is_none(), "{:?} is not paid through the root", entry.device);
                continue;
            }
            let claim = got.claim.expect("a paid entry's claim");
            assert_eq!((claim.epoch, claim.index), (epoch, leaf_index));
            assert_eq!(claim.leaf, entry.leaf());
            let item = claim.leaf.hash();
            assert!(
                merkle::verify(&summary.root, summary.leaves, claim.index, &item, &claim.path),
                "leaf {} of {} does not verify",
                claim.index,
                summary.leaves
            );
            let other = (claim.index + 1) % summary.leaves;
            assert!(!merkle::verify(&summary.root, summary.leaves, other, &item, &claim.path));
            leaf_index += 1;
        }
        assert_eq!(leaf_index, summary.leaves, "every leaf was found through the API");
    });
}
