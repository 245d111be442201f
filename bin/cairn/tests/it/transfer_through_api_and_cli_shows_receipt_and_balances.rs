//! A transfer through the API (signed in Rust) and transfers through the CLI (keystore keys
//! made by `cairn keys new`) all commit with the receipt the node reports, and balances
//! and nonces move by exactly amount + fee. `cairn query tx` and `cairn query account
//! --prove` agree with it.

use crate::harness::{self, NodeBuilder, crn, min_fee_of};
use cairn_types::{Address, Amount, Keypair, Receipt, TxStatus, parse_crn};
use std::time::Duration;

fn receipt_from_json(v: &serde_json::Value) -> Receipt {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not a receipt ({e}): {v}"))
}

#[test]
fn transfer_through_api_and_cli_shows_receipt_and_balances() {
    harness::run(Duration::from_secs(60), async {
        let alice = Keypair::from_label("it-transfer-alice");
        let bob = Keypair::from_label("it-transfer-bob");
        let b = NodeBuilder::new();
        let carol = b.new_keystore_key("carol");
        let dave = b.new_keystore_key("dave");
        let node = b
            .fund(alice.address(), crn(1_000))
            .fund(bob.address(), crn(1_000))
            .fund(carol, crn(500))
            .start()
            .await;
        let client = node.client();
        let chain = client.genesis().await.expect("genesis");
        assert_eq!(chain.chain_id, node.chain_id());
        assert_eq!(chain.accounts.len(), 3);

        // Through the API.
        let amount_api: Amount = parse_crn("12.5").unwrap();
        let stx = node.transfer(&alice, bob.address(), amount_api, 0);
        let fee = min_fee_of(&stx);
        assert!(fee > 0);
        let hash = client.submit_tx(&stx).await.expect("submit");
        assert_eq!(hash, stx.hash());
        let r = node.wait_receipt(&hash).await;
        assert_eq!(r.tx_hash, hash);
        assert_eq!(r.status, TxStatus::Success);
        assert_eq!(r.fee_paid, fee);
        assert!(r.height >= 1);
        let block = client.block(r.height).await.expect("block of the receipt");
        let in_block = &block.txs[r.index as usize];
        assert_eq!(in_block.hash, hash);
        assert_eq!(in_block.receipt.as_ref(), Some(&r));

        // Through the CLI: to an address, then to a keystore key by name. Transfers have a
        // fixed-width encoding, so the CLI's fee is the same minimum.
        let amount_cli: Amount = parse_crn("7.25").unwrap();
        let out = node
            .cli(&[
                "--json",
                "tx",
                "transfer",
                "--from",
                "carol",
                "--to",
                &alice.address().to_string(),
                "--amount",
                "7.25",
            ])
            .success();
        let r1 = receipt_from_json(&out.json());
        assert_eq!(r1.status, TxStatus::Success);
        assert_eq!(r1.fee_paid, fee);
        let out = node
            .cli(&["--json", "tx", "transfer", "--from", "carol", "--to", "dave", "--amount", "1"])
            .success();
        let r2 = receipt_from_json(&out.json());
        assert_eq!(r2.status, TxStatus::Success);
        assert_eq!(r2.fee_paid, fee);
        assert!(r2.height > r1.height || (r2.height == r1.height && r2.index > r1.index));
        // The node reports the same receipts the CLI printed.
        assert_eq!(client.receipt(&r1.tx_hash).await.expect("receipt 1"), r1);
        assert_eq!(client.receipt(&r2.tx_hash).await.expect("receipt 2"), r2);

        // Exact balances and nonces.
        let expect: [(&str, Address, Amount, u64); 4] = [
            ("alice", alice.address(), crn(1_000) - amount_api - fee + amount_cli, 1),
            ("bob", bob.address(), crn(1_000) + amount_api, 0),
            ("carol", carol, crn(500) - amount_cli - fee - crn(1) - fee, 2),
            ("dave", dave, crn(1), 0),
        ];
        for (name, addr, balance, nonce) in expect {
            let a = node.account(&addr).await;
            assert_eq!(a.balance, balance, "{name}'s balance");
            assert_eq!(a.nonce, nonce, "{name}'s nonce");
            assert_eq!(a.next_nonce, nonce, "{name}'s next nonce (nothing pending)");
        }

        // `cairn query tx` shows the committed transaction and its receipt.
        for r in [&r, &r1, &r2] {
            let v = node.cli(&["--json", "query", "tx", &r.tx_hash.to_string()]).success().json();
            assert_eq!(v["state"], "committed", "{v}");
            assert_eq!(v["hash"], r.tx_hash.to_string());
            assert_eq!(&receipt_from_json(&v["receipt"]), r);
        }
        let v = node.cli(&["--json", "query", "tx", &hash.to_string()]).success().json();
        assert_eq!(v["tx"]["signer"], alice.address().to_string());
        assert_eq!(v["tx"]["body"]["amount"], amount_api.to_string());

        // Proofs check out against the block header, for existing and absent accounts.
        let nobody = Keypair::from_label("it-transfer-nobody").address();
        for (addr, balance) in [(alice.address(), expect[0].2), (dave, crn(1)), (nobody, 0)] {
            let out = node.cli(&["query", "account", &addr.to_string(), "--prove"]).success();
            assert!(out.stdout.contains("verified against"), "{}", out.stdout);
            let v = node
                .cli(&["--json", "query", "account", &addr.to_string(), "--prove"])
                .success()
                .json();
            assert_eq!(v["balance"], balance.to_string(), "{v}");
            let checked = v["proof_verified_against"].as_str().unwrap_or_default();
            assert!(checked.starts_with("block "), "{v}");
        }

        // A transfer the sender cannot afford fails in the CLI, and changes nothing.
        let before = node.account(&dave).await;
        let out = node.cli(&["tx", "transfer", "--from", "dave", "--to", "carol", "--amount", "5"]);
        assert!(!out.status.success(), "overspending transfer succeeded: {}", out.stdout);
        assert!(out.stderr.contains("insufficient_balance"), "{}", out.stderr);
        node.wait_blocks(2).await;
        assert_eq!(node.account(&dave).await.balance, before.balance);
        assert_eq!(node.account(&dave).await.nonce, before.nonce);
    });
}
