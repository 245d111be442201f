#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Frozen wire vectors (docs/wire.md, docs/vectors/).
//!
//! Every vector file `cairn_types::vectors` makes is computed from its fixed seeds and
//! compared, field by field, with the file of the same name in `docs/vectors/`. Any change to
//! the canonical encoding, the hashes, the signing messages, key derivation, the address
//! format or the JSON shapes fails here. If a change is intended (a new wire version, or a
//! field appended to `Params`, which changes the genesis encoding), regenerate the files with
//!
//! ```text
//! CAIRN_WRITE_VECTORS=1 cargo test -p cairn-types --test vectors -- --ignored write_vectors
//! ```
//!
//! (or `cairn vectors --out docs/vectors`, which also writes the state proofs) and say in the
//! commit why the format changed. The state proofs (`state.json`) are checked by
//! `cairn-app`'s own vectors test.

use cairn_types::vectors::{self, CHAIN_ID};
use cairn_types::{Address, Block, BlockHeader, Genesis, Hash, Receipt, SignedTx, codec};
use serde_json::Value;
use std::path::PathBuf;

/// `docs/vectors/` from the crate directory cargo gives the running test, so a test binary
/// built from a clone at another path (a shared target directory) still finds it.
fn dir() -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    crate_dir.join("../../docs/vectors")
}

fn read(name: &str) -> Result<String, String> {
    let path = dir().join(name);
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

fn load(name: &str) -> Value {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector file parses")
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_else(|| panic!("vector {} is missing or not a string", path.join(".")))
}

fn bytes_at(v: &Value, path: &[&str]) -> Vec<u8> {
    hex::decode(str_at(v, path)).unwrap()
}

#[test]
fn encodings_match_frozen_vectors() {
    let files = vectors::files().unwrap();
    let diffs = vectors::compare(&files, read);
    assert!(
        diffs.is_empty(),
        "the wire format changed:\n{}\nIf this is intended, regenerate with \
         CAIRN_WRITE_VECTORS=1 (see the top of this file).",
        diffs.join("\n")
    );
}

/// The frozen bytes decode (strictly) to the same objects and verify, independently of
/// the encoder: this catches a decoder change that the encoder comparison would miss.
#[test]
fn frozen_bytes_decode_and_verify() {
    let v = load("wire.json");
    let stx = vectors::wire_signed_tx();
    let genesis_params = vectors::genesis().params;

    let tx_bytes = bytes_at(&v, &["signed_tx", "bytes_hex"]);
    let decoded = SignedTx::from_bytes(&tx_bytes, 16 * 1024).unwrap();
    assert_eq!(decoded, stx);
    assert_eq!(decoded.hash().to_hex(), str_at(&v, &["signed_tx", "hash_hex"]));
    assert_eq!(decoded.signing_message(), bytes_at(&v, &["signed_tx", "signing_message_hex"]));
    assert_eq!(decoded.signature.0.to_vec(), bytes_at(&v, &["signed_tx", "signature_hex"]));
    decoded.check_stateless(CHAIN_ID, &genesis_params, tx_bytes.len()).unwrap();
    let from_json: SignedTx = serde_json::from_value(v["signed_tx"]["json"].clone()).unwrap();
    assert_eq!(from_json, stx);

    let header_bytes = bytes_at(&v, &["block_header", "bytes_hex"]);
    let header: BlockHeader = codec::decode(&header_bytes, 1024, "header").unwrap();
    assert_eq!(header, vectors::wire_header(&stx));
    assert_eq!(header.hash().to_hex(), str_at(&v, &["block_header", "hash_hex"]));

    let block_bytes = bytes_at(&v, &["block", "bytes_hex"]);
    let block: Block = codec::decode(&block_bytes, 1 << 20, "block").unwrap();
    assert_eq!(block, vectors::wire_block(&stx));
    assert_eq!(block.hash().to_hex(), str_at(&v, &["block", "hash_hex"]));
    block.certificate.verify(CHAIN_ID, &block.hash()).unwrap();
    assert!(block.certificate.verify("other-chain", &block.hash()).is_err());

    let bft_bytes = bytes_at(&v, &["bft_block", "bytes_hex"]);
    let bft: Block = codec::decode(&bft_bytes, 1 << 20, "block").unwrap();
    assert_eq!(bft, vectors::wire_bft_block(&stx));
    let set = vectors::bft_set().unwrap();
    bft.certificate.verify_block(CHAIN_ID, &bft.header, &set).unwrap();
    assert!(bft.certificate.verify_block("other-chain", &bft.header, &set).is_err());
    // Same block, same proposer: the entropy does not depend on the certificate kind.
    assert_eq!(bft.entropy(), block.entropy());

    let genesis_bytes = bytes_at(&v, &["genesis", "bytes_hex"]);
    let genesis: Genesis = codec::decode(&genesis_bytes, 1 << 20, "genesis").unwrap();
    assert_eq!(genesis, vectors::genesis());
    assert_eq!(genesis.hash().to_hex(), str_at(&v, &["genesis", "hash_hex"]));
    genesis.validate().unwrap();
    let from_json: Genesis = serde_json::from_value(v["genesis"]["json"].clone()).unwrap();
    assert_eq!(from_json, genesis);

    for (i, r) in vectors::wire_receipts(&stx).iter().enumerate() {
        let bytes = hex::decode(v["receipts"][i]["bytes_hex"].as_str().unwrap()).unwrap();
        let decoded: Receipt = codec::decode(&bytes, 1024, "receipt").unwrap();
        assert_eq!(&decoded, r);
    }

    let addr = Address::from_bech32(str_at(&v, &["signer", "address_bech32"])).unwrap();
    assert_eq!(addr, vectors::signer().address());
    assert_eq!(addr.0.to_vec(), bytes_at(&v, &["signer", "address_hex"]));
    let hash = Hash::from_hex(str_at(&v, &["signed_tx", "hash_hex"])).unwrap();
    assert_eq!(hash, stx.hash());
}

/// Every frozen transaction of `transactions.json` decodes to the transaction of its kind,
/// passes the stateless checks at its frozen size (so its fee is the minimum of that size),
/// and their variant indices are 0, 1, 2, … in order: one of every kind.
#[test]
fn every_frozen_transaction_decodes_verifies_and_pays_the_fee_of_its_size() {
    let v = load("transactions.json");
    let txs = vectors::transactions().unwrap();
    let frozen = v["transactions"].as_array().unwrap();
    assert_eq!(frozen.len(), txs.len());
    let params = vectors::fee_params();
    for (i, (f, stx)) in frozen.iter().zip(&txs).enumerate() {
        let bytes = hex::decode(f["signed_tx_hex"].as_str().unwrap()).unwrap();
        let decoded = SignedTx::from_bytes(&bytes, 64 * 1024).unwrap();
        assert_eq!(&decoded, stx, "transaction {i}");
        assert_eq!(f["variant_index"], i, "{} is not variant {i}", stx.tx.body.kind());
        assert_eq!(bytes[bytes.len() - 64..], stx.signature.0, "the signature ends the bytes");
        decoded.check_stateless(CHAIN_ID, &params, bytes.len()).unwrap();
        assert_eq!(decoded.tx.max_fee, params.min_fee(bytes.len()));
    }
}

/// The frozen device registrations and reports verify with their device keys, ed25519 and
/// P-256, and the P-256 signatures verify over the stated digest's message.
#[test]
fn frozen_device_signatures_verify() {
    use cairn_types::device::{RegistrationConsent, SignedReport};
    use cairn_types::{DeviceKey, TxBody};
    let d = load("devices.json");
    for kind in ["ed25519", "p256"] {
        let bytes = hex::decode(d[kind]["body_borsh_hex"].as_str().unwrap()).unwrap();
        let body: TxBody = codec::decode(&bytes, 4096, "body").unwrap();
        let TxBody::RegisterDevice { key, device_nonce, device_signature, .. } = body else {
            panic!("{kind} registration is not a RegisterDevice body")
        };
        let consent = RegistrationConsent { owner: vectors::signer().address(), device_nonce };
        key.verify(&consent.signing_message(CHAIN_ID), &device_signature).unwrap();
        assert_eq!(matches!(key, DeviceKey::P256(_)), kind == "p256");
    }
    let r = load("reports.json");
    for (i, f) in r["reports"].as_array().unwrap().iter().enumerate() {
        let bytes = hex::decode(f["signed_report_borsh_hex"].as_str().unwrap()).unwrap();
        let signed: SignedReport = codec::decode(&bytes, 4096, "report").unwrap();
        signed
            .report
            .device
            .verify(&signed.report.signing_message(CHAIN_ID), &signed.signature)
            .unwrap_or_else(|e| panic!("report {i}: {e}"));
    }
}

/// Writes the vector files into `docs/vectors/` from the current code. Ignored: run it only
/// for an intended format change, with `CAIRN_WRITE_VECTORS=1`.
#[test]
#[ignore = "regenerates the frozen vectors; run with CAIRN_WRITE_VECTORS=1"]
fn write_vectors() {
    if std::env::var("CAIRN_WRITE_VECTORS").as_deref() != Ok("1") {
        eprintln!("CAIRN_WRITE_VECTORS=1 is not set; not writing {}", dir().display());
        return;
    }
    for (name, v) in vectors::files().unwrap() {
        std::fs::write(dir().join(name), vectors::to_text(&v)).unwrap();
        eprintln!("wrote {}", dir().join(name).display());
    }
}

/// docs/wire.md lists every transaction body at its variant index under its kind, and
/// names every domain tag, so the spec cannot drift from the code.
#[test]
fn the_wire_spec_lists_every_body_index_and_domain_tag() {
    let path = dir().join("../wire.md");
    let spec = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for stx in vectors::transactions().unwrap() {
        let index = codec::encode(&stx.tx.body)[0];
        let row = format!("| {index} | `{}` |", stx.tx.body.kind());
        assert!(spec.contains(&row), "docs/wire.md has no row {row:?}");
    }
    for tag in cairn_types::crypto::domain::ALL {
        assert!(spec.contains(&format!("`{tag}`")), "docs/wire.md does not name {tag}");
    }
}
