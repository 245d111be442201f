//! A device registers only with its own key's consent. Through the CLI (`cairn device
//! keygen` + `cairn device register`) an ed25519 and a P-256 device register: the owner pays
//! exactly bond + fee and `cairn device show` reports them active with their bonds. Through
//! the API, a registration whose consent is signed by another key, or by the device for
//! another owner, is refused with HTTP 400 `bad_device_signature` and changes nothing; the
//! same registration with the device's own consent then commits.

use crate::device_support::{
    self as ds, device, device_is_unknown, keygen, min_fee_paid, register_body, signed,
    success_receipt,
};
use crate::harness::{self, NodeBuilder, crn, http};
use cairn_types::device_key::DeviceSigner;
use cairn_types::{DeviceClass, Keypair, TxStatus};
use std::time::Duration;

#[test]
fn device_registers_only_with_its_own_signature() {
    harness::run(Duration::from_secs(90), async {
        let api_owner = Keypair::from_label("it-device-register-api-owner");
        let b = NodeBuilder::new();
        let owner = b.new_keystore_key("owner");
        let node = b.fund(owner, crn(1_000)).fund(api_owner.address(), crn(1_000)).start().await;
        let chain = node.chain_id().to_string();
        let params = ds::params(&node).await;
        let bonds = params.devices.bonds;
        assert!(bonds.hotspot > 0 && bonds.sensor > 0, "{bonds:?}");

        // --- CLI: an ed25519 hotspot ---
        let hot = keygen(&node, "hotspot", false);
        assert!(device_is_unknown(&node, &hot.id).await);
        let shown = node.cli(&["device", "show", &hot.id.to_string()]);
        assert!(!shown.status.success(), "show of an unknown device succeeded: {}", shown.stdout);
        assert!(shown.stderr.contains("not_found"), "{}", shown.stderr);

        let before = node.account(&owner).await.balance;
        let r = success_receipt(node.cli(&[
            "--json",
            "device",
            "register",
            "--owner",
            "owner",
            "--device-key",
            hot.arg(),
            "--class",
            "hotspot",
        ]));
        let fee = min_fee_paid(&node, &r).await;
        assert_eq!(node.account(&owner).await.balance, before - bonds.hotspot - fee);

        let v = node.cli(&["--json", "device", "show", &hot.id.to_string()]).success().json();
        assert_eq!(v["device"]["id"], hot.id.to_string(), "{v}");
        assert_eq!(v["device"]["key"], hot.public.to_string(), "{v}");
        assert_eq!(v["device"]["owner"], owner.to_string(), "{v}");
        assert_eq!(v["device"]["class"], "hotspot", "{v}");
        assert_eq!(v["device"]["status"]["state"], "active", "{v}");
        assert_eq!(v["device"]["bond"], bonds.hotspot.to_string(), "{v}");
        assert_eq!(v["device"]["registered_height"], r.height, "{v}");
        assert_eq!(v["device"]["location"], serde_json::Value::Null, "{v}");
        assert_eq!(v["registrations"], 1, "{v}");
        assert_eq!(v["last_seq"], 0, "{v}");
        // The API agrees with what the CLI printed.
        let api = device(&node, &hot.id).await;
        assert_eq!(serde_json::to_value(&api).unwrap(), v);

        // --- CLI: a P-256 sensor ---
        let p = keygen(&node, "sensor", true);
        let before = node.account(&owner).await.balance;
        let r = success_receipt(node.cli(&[
            "--json",
            "device",
            "register",
            "--owner",
            "owner",
            "--device-key",
            p.arg(),
            "--class",
            "sensor",
        ]));
        let fee = min_fee_paid(&node, &r).await;
        assert_eq!(node.account(&owner).await.balance, before - bonds.sensor - fee);
        let v = node.cli(&["--json", "device", "show", &p.id.to_string()]).success().json();
        assert_eq!(v["device"]["key"], p.public.to_string(), "{v}");
        assert!(v["device"]["key"].as_str().unwrap().starts_with("p256:"), "{v}");
        assert_eq!(v["device"]["status"]["state"], "active", "{v}");
        assert_eq!(v["device"]["bond"], bonds.sensor.to_string(), "{v}");
        assert_eq!(v["device"]["class"], "sensor", "{v}");

        // --- API: consents not made by the device for this owner are refused ---
        let ed = DeviceSigner::from_ed25519_seed([41; 32]);
        let ed_other = DeviceSigner::from_ed25519_seed([42; 32]);
        let p256 = DeviceSigner::generate_p256().expect("p256 key");
        let p256_other = DeviceSigner::generate_p256().expect("p256 key");
        let someone_else = Keypair::from_label("it-device-register-someone-else").address();
        let owner_addr = api_owner.address();
        let refused = [
            ("ed25519 signed by another key", &ed, &ed_other, owner_addr),
            ("ed25519 consent for another owner", &ed, &ed, someone_else),
            ("p256 signed by another key", &p256, &p256_other, owner_addr),
            ("p256 signed by an ed25519 key", &p256, &ed_other, owner_addr),
        ];
        let acct_before = node.account(&owner_addr).await;
        for (what, dev, consent_by, consent_owner) in refused {
            let body = register_body(
                &chain,
                consent_owner,
                &dev.public_key(),
                consent_by,
                DeviceClass::Hotspot,
                0,
            );
            // The transaction's signer is the API owner whatever the consent names.
            let stx = signed(&chain, &api_owner, 0, body);
            let resp = http(
                &node,
                reqwest::Method::POST,
                "/v1/txs",
                Some((
                    "application/json",
                    serde_json::to_vec(&serde_json::json!({ "tx": hex::encode(stx.to_bytes()) }))
                        .unwrap(),
                )),
            )
            .await;
            resp.assert_error(400, "bad_device_signature");
            let err = node.client().submit_tx(&stx).await.expect_err(what);
            assert_eq!(err.status(), Some(400), "{what}: {err}");
            assert_eq!(err.code(), Some("bad_device_signature"), "{what}: {err}");
            let tx = node.client().tx(&stx.hash()).await;
            assert!(tx.is_err_and(|e| e.is_not_found()), "{what}: the refused tx is known");
        }
        // Nothing changed: no device, no charge, no nonce used, empty mempool — even after
        // more blocks.
        node.wait_blocks(3).await;
        for dev in [&ed, &p256] {
            assert!(device_is_unknown(&node, &dev.id()).await);
        }
        let acct_after = node.account(&owner_addr).await;
        assert_eq!(acct_after.balance, acct_before.balance);
        assert_eq!(acct_after.nonce, acct_before.nonce);
        assert_eq!(acct_after.next_nonce, acct_before.nonce);
        assert_eq!(node.client().status().await.expect("status").mempool_size, 0);

        // The same registrations with the devices' own consents commit.
        let mut paid = 0;
        let devices = [(&ed, DeviceClass::Hotspot), (&p256, DeviceClass::Storage)];
        for (nonce, (dev, class)) in (acct_before.nonce..).zip(devices) {
            let body = register_body(&chain, owner_addr, &dev.public_key(), dev, class, 0);
            let stx = signed(&chain, &api_owner, nonce, body);
            let r = node.submit_and_wait(&stx).await;
            assert_eq!(r.status, TxStatus::Success, "{r:?}");
            paid += r.fee_paid + bonds.get(class);
            let v = device(&node, &dev.id()).await;
            assert_eq!(v.device.owner, owner_addr);
            assert_eq!(v.device.key, dev.public_key());
            assert_eq!(v.device.class, class);
            assert_eq!(v.device.bond, bonds.get(class));
            assert_eq!(v.device.status, cairn_types::device::DeviceStatus::Active);
            assert_eq!(v.registrations, 1);
        }
        assert_eq!(node.account(&owner_addr).await.balance, acct_before.balance - paid);
    });
}
