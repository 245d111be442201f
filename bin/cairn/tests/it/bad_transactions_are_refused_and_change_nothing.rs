//! Bad transactions are refused at the API with a stable error code and HTTP status, and
//! change nothing: the sender's and recipient's balance and nonce stay as they were, the
//! mempool stays empty, no transaction is committed, and the refusal is counted by code in
//! the metrics. Each case runs on its own node so that "nothing changed" is exact.

use crate::harness::{self, Node, crn, http, metric, resign};
use cairn_client::ClientError;
use cairn_types::api::AccountView;
use cairn_types::{Amount, Hash, Keypair, SignedTx, TxBody};
use reqwest::Method;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(40);
/// The node's default request body limit (`NodeConfig::max_request_bytes`).
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

struct Fixture {
    node: Node,
    alice: Keypair,
    bob: Keypair,
}

/// What must not change.
#[derive(Debug, PartialEq)]
struct Before {
    accounts: Vec<AccountView>,
    committed: Option<f64>,
}

impl Fixture {
    /// A node where alice holds 100 CRN and bob 10 CRN.
    async fn new(case: &str) -> Fixture {
        let alice = Keypair::from_label(&format!("it-bad-{case}-alice"));
        let bob = Keypair::from_label(&format!("it-bad-{case}-bob"));
        let node = Node::start(&[(alice.address(), crn(100)), (bob.address(), crn(10))]).await;
        Fixture { node, alice, bob }
    }

    fn transfer(&self, amount: Amount, nonce: u64) -> SignedTx {
        self.node.transfer(&self.alice, self.bob.address(), amount, nonce)
    }

    async fn before(&self) -> Before {
        // The producer updates the metrics just after a block's receipts become visible;
        // once the next block exists, the previous one is fully accounted for.
        self.node.wait_blocks(1).await;
        let mut accounts = Vec::new();
        for a in [self.alice.address(), self.bob.address()] {
            let mut v = self.node.account(&a).await;
            // Only the account matters, not the height it was read at.
            v.height = 0;
            accounts.push(v);
        }
        let text = self.node.client().metrics_text().await.expect("metrics");
        Before { accounts, committed: metric(&text, "cairn_txs_committed_total") }
    }

    /// Checks that `result` is the node's refusal with `status` and `code`, that the
    /// refusal is counted under its code, and that nothing changed.
    async fn assert_refused(
        &self,
        result: Result<Hash, ClientError>,
        status: u16,
        code: &str,
        before: &Before,
    ) {
        match &result {
            Err(ClientError::Api { status: s, code: c, message }) => {
                assert_eq!((*s, c.as_str()), (status, code), "refusal: {message}");
                assert!(!message.is_empty());
            }
            other => panic!("expected HTTP {status} {code}, got {other:?}"),
        }
        let text = self.node.client().metrics_text().await.expect("metrics");
        let counted = metric(&text, &format!("cairn_api_txs_rejected_total{{code=\"{code}\"}}"));
        assert!(counted >= Some(1.0), "refusal not counted under {code}:\n{text}");
        self.assert_unchanged(before).await;
    }

    /// After two more blocks: same accounts, empty mempool, nothing more committed.
    async fn assert_unchanged(&self, before: &Before) {
        self.node.wait_blocks(2).await;
        assert_eq!(&self.before().await, before, "state changed");
        let status = self.node.client().status().await.expect("status");
        assert_eq!(status.mempool_size, 0, "mempool is not empty");
        let text = self.node.client().metrics_text().await.expect("metrics");
        assert_eq!(metric(&text, "cairn_mempool_size"), Some(0.0));
    }
}

#[test]
fn bad_signature_is_refused() {
    harness::run(LIMIT, async {
        let f = Fixture::new("sig").await;
        let before = f.before().await;
        let mut stx = f.transfer(crn(1), 0);
        stx.signature.0[10] ^= 0x01;
        let r = f.node.client().submit_tx(&stx).await;
        f.assert_refused(r, 400, "bad_signature", &before).await;
        // A valid signature by another key than the signer is just as bad.
        let stx = f.transfer(crn(1), 0);
        let forged = SignedTx { signature: stx.tx.clone().sign(&f.bob).signature, ..stx };
        let r = f.node.client().submit_tx(&forged).await;
        f.assert_refused(r, 400, "bad_signature", &before).await;
        // A signed field changed after signing.
        let mut tampered = f.transfer(crn(1), 0);
        tampered.tx.body = TxBody::Transfer { to: f.alice.address(), amount: crn(1) };
        let r = f.node.client().submit_tx(&tampered).await;
        f.assert_refused(r, 400, "bad_signature", &before).await;
    });
}

#[test]
fn wrong_chain_id_is_refused() {
    harness::run(LIMIT, async {
        let f = Fixture::new("chain").await;
        let before = f.before().await;
        let stx = harness::transfer("another-chain", &f.alice, f.bob.address(), crn(1), 0);
        let r = f.node.client().submit_tx(&stx).await;
        f.assert_refused(r, 400, "wrong_chain_id", &before).await;
    });
}

#[test]
fn replayed_nonce_is_refused() {
    harness::run(LIMIT, async {
        let f = Fixture::new("replay").await;
        let stx = f.transfer(crn(1), 0);
        let receipt = f.node.submit_and_wait(&stx).await;
        assert!(receipt.is_success());
        let before = f.before().await;
        assert_eq!(before.accounts[0].nonce, 1);
        // The very same transaction again.
        let r = f.node.client().submit_tx(&stx).await;
        f.assert_refused(r, 422, "replayed_nonce", &before).await;
        // Another transaction reusing the spent nonce.
        let other = f.transfer(crn(2), 0);
        let r = f.node.client().submit_tx(&other).await;
        f.assert_refused(r, 422, "replayed_nonce", &before).await;
        // The receipt of the original is untouched.
        assert_eq!(f.node.client().receipt(&stx.hash()).await.expect("receipt"), receipt);
    });
}

#[test]
fn insufficient_balance_is_refused() {
    harness::run(LIMIT, async {
        let f = Fixture::new("balance").await;
        let before = f.before().await;
        // The whole balance leaves nothing for the fee.
        let r = f.node.client().submit_tx(&f.transfer(crn(100), 0)).await;
        f.assert_refused(r, 422, "insufficient_balance", &before).await;
        let r = f.node.client().submit_tx(&f.transfer(crn(1_000_000), 0)).await;
        f.assert_refused(r, 422, "insufficient_balance", &before).await;
        // An account that was never funded.
        let nobody = Keypair::from_label("it-bad-balance-nobody");
        let stx = f.node.transfer(&nobody, f.bob.address(), 1, 0);
        let r = f.node.client().submit_tx(&stx).await;
        f.assert_refused(r, 422, "insufficient_balance", &before).await;
    });
}

#[test]
fn overflowing_amount_is_refused() {
    harness::run(LIMIT, async {
        let f = Fixture::new("overflow").await;
        let before = f.before().await;
        let r = f.node.client().submit_tx(&f.transfer(u128::MAX, 0)).await;
        f.assert_refused(r, 400, "amount_overflow", &before).await;
        // Amount alone fits, amount plus fee does not.
        let stx = f.transfer(u128::MAX - 1, 0);
        assert!(stx.tx.max_fee > 1);
        let r = f.node.client().submit_tx(&stx).await;
        f.assert_refused(r, 400, "amount_overflow", &before).await;
    });
}

#[test]
fn oversized_body_is_refused_with_413_json() {
    harness::run(LIMIT, async {
        let f = Fixture::new("oversized").await;
        let before = f.before().await;
        let hex_tx = "ab".repeat(MAX_REQUEST_BYTES / 2 + 1024);
        let body = serde_json::to_vec(&serde_json::json!({ "tx": hex_tx })).unwrap();
        assert!(body.len() > MAX_REQUEST_BYTES);
        let resp = http(&f.node, Method::POST, "/v1/txs", Some(("application/json", body))).await;
        resp.assert_error(413, "body_too_large");
        let body = serde_json::to_vec(&serde_json::json!({ "txs": [hex_tx] })).unwrap();
        let resp =
            http(&f.node, Method::POST, "/v1/txs/batch", Some(("application/json", body))).await;
        resp.assert_error(413, "body_too_large");
        // The raw-bytes relay route too (its 413 was plain text).
        let body = vec![0u8; MAX_REQUEST_BYTES + 1024];
        let resp =
            http(&f.node, Method::POST, "/v1/txs/relay", Some(("application/octet-stream", body)))
                .await;
        resp.assert_error(413, "body_too_large");
        // Under the body limit but over the transaction size limit.
        let params = f.node.client().params().await.expect("params");
        let big = vec![0u8; params.max_tx_bytes as usize + 1];
        let r = f.node.client().submit_raw(&big).await;
        f.assert_refused(r, 413, "tx_too_large", &before).await;
    });
}

#[test]
fn malformed_encoding_is_refused() {
    harness::run(LIMIT, async {
        let f = Fixture::new("malformed").await;
        let before = f.before().await;
        let good = f.transfer(crn(1), 0).to_bytes();
        // Deterministic "random" bytes.
        let random: Vec<u8> = (0..8u8).flat_map(|i| Hash::sha256(&[i]).0).collect::<Vec<u8>>();
        let mut trailing = good.clone();
        trailing.push(0);
        let cases: [(&str, Vec<u8>); 5] = [
            ("random bytes", random),
            ("truncated", good[..good.len() / 2].to_vec()),
            ("one byte short", good[..good.len() - 1].to_vec()),
            ("trailing byte", trailing),
            ("empty", Vec::new()),
        ];
        for (what, bytes) in cases {
            let r = f.node.client().submit_raw(&bytes).await;
            assert!(
                matches!(&r, Err(ClientError::Api { status: 400, code, .. }) if code == "malformed_tx"),
                "{what}: {r:?}"
            );
        }
        f.assert_refused(
            f.node.client().submit_raw(&[0xff; 64]).await,
            400,
            "malformed_tx",
            &before,
        )
        .await;
        // Not hex at all, and odd-length hex.
        for tx in ["zz-not-hex", "abc"] {
            let body = serde_json::to_vec(&serde_json::json!({ "tx": tx })).unwrap();
            let resp =
                http(&f.node, Method::POST, "/v1/txs", Some(("application/json", body))).await;
            resp.assert_error(400, "malformed_tx");
        }
        // Bodies that are not the request JSON.
        let resp =
            http(&f.node, Method::POST, "/v1/txs", Some(("application/json", b"{".to_vec()))).await;
        resp.assert_error(400, "bad_json");
        let resp = http(
            &f.node,
            Method::POST,
            "/v1/txs",
            Some(("text/plain", b"{\"tx\":\"00\"}".to_vec())),
        )
        .await;
        resp.assert_error(415, "bad_json");
        f.assert_unchanged(&before).await;
    });
}

#[test]
fn other_stateless_and_admission_failures_are_refused() {
    harness::run(LIMIT, async {
        let f = Fixture::new("other").await;
        let before = f.before().await;
        let c = f.node.client();
        let base = f.transfer(1, 0).tx;
        let r = c.submit_tx(&resign(base.clone(), &f.alice, |t| t.body = zero(t))).await;
        f.assert_refused(r, 400, "zero_amount", &before).await;
        let r = c.submit_tx(&resign(base.clone(), &f.alice, |t| t.max_fee -= 1)).await;
        f.assert_refused(r, 400, "fee_too_low", &before).await;
        let r = c.submit_tx(&resign(base.clone(), &f.alice, |t| t.nonce = 1)).await;
        f.assert_refused(r, 422, "nonce_gap", &before).await;
        let r = c.submit_tx(&resign(base.clone(), &f.alice, |t| t.expiry_height = 0)).await;
        f.assert_refused(r, 422, "expired", &before).await;
    });
}

fn zero(t: &cairn_types::Transaction) -> TxBody {
    match &t.body {
        TxBody::Transfer { to, .. } => TxBody::Transfer { to: *to, amount: 0 },
        other => panic!("not a transfer: {other:?}"),
    }
}

#[test]
fn batch_refuses_each_bad_transaction_on_its_own() {
    harness::run(LIMIT, async {
        let f = Fixture::new("batch").await;
        let before = f.before().await;
        let mut bad_sig = f.transfer(crn(1), 0);
        bad_sig.signature.0[0] ^= 0x80;
        let batch = [
            bad_sig,
            harness::transfer("another-chain", &f.alice, f.bob.address(), crn(1), 0),
            f.transfer(crn(100), 0),
            f.transfer(u128::MAX, 0),
            f.transfer(crn(1), 5),
        ];
        let results = f.node.client().submit_batch(&batch).await.expect("batch answered");
        let codes: Vec<Option<&str>> =
            results.iter().map(|r| r.error.as_ref().map(|e| e.code.as_str())).collect();
        assert_eq!(
            codes,
            [
                Some("bad_signature"),
                Some("wrong_chain_id"),
                Some("insufficient_balance"),
                Some("amount_overflow"),
                Some("nonce_gap"),
            ]
        );
        assert!(results.iter().all(|r| r.hash.is_none()));
        f.assert_unchanged(&before).await;
    });
}
