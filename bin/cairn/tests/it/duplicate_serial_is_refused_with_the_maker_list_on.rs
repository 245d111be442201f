//! With the maker allow-list on (`cairn init --maker-allowlist --admin ADDR`), a device
//! registers only with an attestation (`cairn device attest`) by a maker the admin listed
//! (`cairn admin maker`), and a (maker, serial) pair registers once: a second device with
//! the same serial fails with receipt code `duplicate_serial`, no attestation fails with
//! `maker_required`, an unlisted maker with `unknown_maker`, and an attestation of another
//! key is refused at the door (`bad_maker_signature`). Failed registrations cost the fee
//! only; the device stays unknown.

use crate::device_support::{
    self as ds, KeyFile, device, device_is_unknown, failure_code, keygen, success_receipt,
};
use crate::harness::{self, Node, NodeBuilder, crn};
use cairn_types::device::MakerAttestation;
use cairn_types::{Address, Receipt};
use std::path::PathBuf;
use std::time::Duration;

/// `cairn --json device attest --maker maker --device-pub KEY --serial SERIAL`, written to
/// DIR/NAME; returns the file and what it holds.
fn attest(node: &Node, maker: &str, dev: &KeyFile, serial: &str, name: &str) -> PathBuf {
    let out = node.dir().join("devices").join(name);
    let printed = node
        .cli(&[
            "--json",
            "device",
            "attest",
            "--maker",
            maker,
            "--device-pub",
            &dev.public.to_string(),
            "--serial",
            serial,
            "--out",
            out.to_str().unwrap(),
        ])
        .success()
        .json();
    let file: MakerAttestation =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("attestation file"))
            .expect("attestation file is a MakerAttestation");
    assert_eq!(serde_json::to_value(&file).unwrap(), printed);
    assert_eq!(file.serial, serial);
    out
}

fn register(node: &Node, dev: &KeyFile, attestation: Option<&PathBuf>) -> harness::CliOutput {
    let mut args = vec![
        "--json",
        "device",
        "register",
        "--owner",
        "owner",
        "--device-key",
        dev.arg(),
        "--class",
        "hotspot",
    ];
    if let Some(a) = attestation {
        args.extend(["--maker-attestation", a.to_str().unwrap()]);
    }
    node.cli(&args)
}

/// Registration of `dev` fails in its body with `code`; the owner pays the fee only and the
/// device stays unknown.
async fn fails_with(
    node: &Node,
    owner: &Address,
    dev: &KeyFile,
    attestation: Option<&PathBuf>,
    code: &str,
) -> Receipt {
    let before = node.account(owner).await;
    let (r, got) = failure_code(register(node, dev, attestation));
    assert_eq!(got, code, "{r:?}");
    let after = node.account(owner).await;
    assert_eq!(after.balance, before.balance - r.fee_paid, "a failed registration took the bond");
    assert_eq!(after.nonce, before.nonce + 1);
    assert!(device_is_unknown(node, &dev.id).await);
    r
}

#[test]
fn duplicate_serial_is_refused_with_the_maker_list_on() {
    harness::run(Duration::from_secs(90), async {
        let b = NodeBuilder::new();
        let admin = b.new_keystore_key("admin");
        let maker = b.new_keystore_key("maker");
        let owner = b.new_keystore_key("owner");
        let node = b
            .admin(admin)
            .maker_allowlist()
            .fund(admin, crn(100))
            .fund(owner, crn(1_000))
            .start()
            .await;
        let params = ds::params(&node).await;
        assert!(params.devices.maker_allowlist);
        assert_eq!(params.admin, Some(admin));
        let bond = params.devices.bonds.hotspot;

        let dev1 = keygen(&node, "dev1", false);
        let dev2 = keygen(&node, "dev2", true);
        let dev3 = keygen(&node, "dev3", false);

        // No attestation: maker_required.
        fails_with(&node, &owner, &dev1, None, "maker_required").await;

        // An attestation by a maker nobody listed: unknown_maker.
        let att1 = attest(&node, "maker", &dev1, "SN-0001", "att1.json");
        let r = fails_with(&node, &owner, &dev1, Some(&att1), "unknown_maker").await;
        assert!(format!("{:?}", r.status).contains(&maker.to_string()), "{r:?}");

        // Only the admin may list a maker.
        let (_, code) = failure_code(
            node.cli(&["--json", "admin", "maker", "--admin", "owner", "--maker", "maker"]),
        );
        assert_eq!(code, "not_admin");
        success_receipt(
            node.cli(&["--json", "admin", "maker", "--admin", "admin", "--maker", "maker"]),
        );

        // Now dev1 registers with its attestation.
        let before = node.account(&owner).await.balance;
        let r = success_receipt(register(&node, &dev1, Some(&att1)));
        assert_eq!(node.account(&owner).await.balance, before - bond - r.fee_paid);
        let v = node.cli(&["--json", "device", "show", &dev1.id.to_string()]).success().json();
        assert_eq!(v["device"]["status"]["state"], "active", "{v}");
        assert_eq!(v["device"]["maker"], serde_json::json!([maker.to_string(), "SN-0001"]), "{v}");
        assert_eq!(v["device"]["bond"], bond.to_string(), "{v}");

        // dev1's attestation does not vouch for dev2's key: refused before any block.
        let before = node.account(&owner).await;
        let out = register(&node, &dev2, Some(&att1));
        assert!(!out.status.success(), "{}", out.stdout);
        assert!(out.stderr.contains("bad_maker_signature"), "{}", out.stderr);
        node.wait_blocks(2).await;
        let after = node.account(&owner).await;
        assert_eq!((after.balance, after.nonce), (before.balance, before.nonce));
        assert!(device_is_unknown(&node, &dev2.id).await);

        // dev2 with a valid attestation of the serial dev1 holds: duplicate_serial, naming
        // the device that holds it.
        let att2 = attest(&node, "maker", &dev2, "SN-0001", "att2-dup.json");
        let r = fails_with(&node, &owner, &dev2, Some(&att2), "duplicate_serial").await;
        let cairn_types::TxStatus::Failed { error } = &r.status else { unreachable!() };
        assert_eq!(
            error,
            &cairn_types::TxFailure::DuplicateSerial {
                maker,
                serial: "SN-0001".into(),
                device: dev1.id
            }
        );
        // Still duplicate after a block or two, and with another device too.
        let att3 = attest(&node, "maker", &dev3, "SN-0001", "att3-dup.json");
        fails_with(&node, &owner, &dev3, Some(&att3), "duplicate_serial").await;
        // And no attestation is still maker_required.
        fails_with(&node, &owner, &dev3, None, "maker_required").await;

        // dev2 with its own serial registers: the refusals were about the serial only.
        let att2 = attest(&node, "maker", &dev2, "SN-0002", "att2.json");
        let before = node.account(&owner).await.balance;
        let r = success_receipt(register(&node, &dev2, Some(&att2)));
        assert_eq!(node.account(&owner).await.balance, before - bond - r.fee_paid);
        let v = device(&node, &dev2.id).await;
        assert_eq!(v.device.maker, Some((maker, "SN-0002".to_string())));
        // dev1 still holds SN-0001.
        let v = device(&node, &dev1.id).await;
        assert_eq!(v.device.maker, Some((maker, "SN-0001".to_string())));
    });
}
