//! `POST /v1/txs/relay`, the route validators forward transactions on: a borsh list of
//! canonical transaction bytes. The receiver does not trust the forwarder: a transaction with
//! a bad signature or bytes that do not decode is refused, a duplicate counts as already
//! known, and only the valid one is committed. A body that is not a borsh list is refused
//! with a JSON error.

use crate::harness::{self, Node, crn, http};
use cairn_client::relay_body;
use cairn_types::api::RelayResponse;
use cairn_types::{Keypair, TxBody};
use reqwest::Method;
use std::time::Duration;

#[test]
fn relayed_transactions_are_checked_like_any_other_and_counted() {
    harness::run(Duration::from_secs(40), async {
        let alice = Keypair::from_label("it-relay-alice");
        let bob = Keypair::from_label("it-relay-bob");
        let node = Node::start(&[(alice.address(), crn(100))]).await;
        let good = node.transfer(&alice, bob.address(), crn(1), 0);
        // Signed for 2 CRN, then altered: the signature no longer covers the body.
        let mut forged = node.transfer(&alice, bob.address(), crn(2), 1);
        if let TxBody::Transfer { amount, .. } = &mut forged.tx.body {
            *amount = crn(50);
        }
        let body =
            relay_body(&[good.to_bytes(), good.to_bytes(), forged.to_bytes(), vec![1, 2, 3]]);
        let counts = node.client().submit_relay(body).await.expect("relay");
        assert_eq!(counts, RelayResponse { admitted: 1, already_known: 1, refused: 2 });

        let receipt = node.wait_receipt(&good.hash()).await;
        assert!(receipt.is_success(), "{receipt:?}");
        node.wait_blocks(1).await;
        let forged_lookup = node.client().tx(&forged.hash()).await;
        assert!(
            forged_lookup.as_ref().is_err_and(|e| e.is_not_found()),
            "the forged transfer must be nowhere: {forged_lookup:?}"
        );

        let resp = http(
            &node,
            Method::POST,
            "/v1/txs/relay",
            Some(("application/octet-stream", vec![9, 0, 0, 0, 1])),
        )
        .await;
        resp.assert_error(400, "malformed_batch");
    });
}
