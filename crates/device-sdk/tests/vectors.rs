#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The SDK reproduces the published test vectors, `docs/vectors/*.json` (docs/wire.md#test-vectors).
//!
//! From the fixed seeds and field values the vectors are generated from
//! (`cairn_types::vectors`), the SDK builds everything of the vectors it can build — account
//! and device keys and ids (ed25519 and P-256), registration consents, maker attestations and
//! `RegisterDevice` bodies, signed reports of every kind, the usage receipt, and the signed
//! transactions of the kinds it has (`register_device`, `submit_reports`, `settle_channel`,
//! `dispute_channel`) — and each of its bytes, hashes and signatures is compared with the
//! vector's, exactly.
//!
//! P-256 signatures are the one exception. The SDK signs with RFC 6979 nonces
//! (deterministic), but the node signs with ring, whose ECDSA nonces are random, so the
//! vectors carry fixed P-256 signatures made once. A vector's P-256 signature is therefore
//! checked by verifying it (the node's verifier, which also refuses high-S) under the key the
//! SDK derives, over the message the SDK builds; the bytes that contain it (a signed report,
//! a registration body, the transactions carrying them) are then compared exactly with the
//! vector's signature in place of the SDK's. The SDK's own P-256 signatures over the same
//! messages are verified by the node's verifier too.
//!
//! Nothing of a covered part may go unchecked: every leaf of the covered parts of every file
//! must be compared, or be a form the SDK does not produce (bech32m addresses, the node's JSON
//! views), and every file must be listed as covered or not. So an entry added to a vector
//! file, of a kind the SDK builds, fails here until the SDK reproduces it.

use cairn_device_sdk as sdk;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The chain id every vector is signed for.
const CHAIN: &str = "cairn-vectors-1";
/// The fee parameters of the vector chain (its genesis), the expiry of its transactions.
const BASE_FEE: u128 = 1_000;
const FEE_PER_BYTE: u128 = 10;
const EXPIRY: u64 = 1_000;
/// The metadata of the vector registrations.
const METADATA: &[u8] = br#"{"model":"vector-1"}"#;

// ---- The files, and what of them the SDK covers ------------------------------------------

/// The vector files the SDK covers, with the parts (JSON pointers) it covers. The entries of
/// `transactions.json` whose kind the SDK builds are covered too ([`covered_parts`]).
const COVERED: &[(&str, &[&str])] = &[
    ("keys.json", &["/accounts", "/devices"]),
    ("devices.json", &["/chain_id", "/classes", "/ed25519", "/p256"]),
    ("reports.json", &["/chain_id", "/beacon_entropy_hex", "/reports"]),
    ("usage.json", &["/chain_id", "/receipt"]),
    ("transactions.json", &["/chain_id", "/base_fee", "/fee_per_byte", "/tx_tag"]),
    ("wire.json", &["/chain_id", "/signer", "/recipient"]),
];

/// The vector files of which the SDK builds nothing.
const NOT_COVERED: &[(&str, &str)] = &[
    ("bft.json", "BFT certificates and validator-set proofs are the node's"),
    ("blocks.json", "blocks, certificates and receipts are the node's"),
    ("merkle.json", "Merkle roots of transactions and receipts are the node's"),
    ("rewards.json", "reward leaves, roots and claims are the node's"),
    ("state.json", "state proofs are the node's"),
];

/// Leaves inside covered parts that are forms the SDK does not produce: bech32m addresses
/// (the SDK carries raw 32-byte addresses: `address_bech32`, a consent's `owner`, an
/// attestation's `maker`, a receipt's `consumer`) and the node's JSON views of objects whose
/// bytes are compared (`body_json`, `json`).
fn not_produced(pointer: &str) -> bool {
    pointer.split('/').any(|s| matches!(s, "body_json" | "json"))
        || ["/address_bech32", "/consent/owner", "/maker_attestation/maker", "/receipt/consumer"]
            .iter()
            .any(|suffix| pointer.ends_with(suffix))
}

type Files = BTreeMap<String, Value>;

fn vectors_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        )
        .join("../../docs/vectors")
}

fn load() -> Files {
    let mut files = Files::new();
    for entry in std::fs::read_dir(vectors_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            files.insert(name, serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap());
        }
    }
    files
}

// ---- What the vectors must hold ----------------------------------------------------------

/// What one leaf of a vector file must be.
#[derive(Debug, Clone)]
enum Want {
    /// Exactly this JSON value (hex strings are lowercase).
    Json(Value),
    /// This integer, as a JSON number or a decimal string (the node writes 64-bit and larger
    /// integers as strings).
    Int(i128),
    /// A P-256 signature (hex `r ‖ s`) that the node's verifier accepts, low-S, by `key` over
    /// `message`.
    P256 { key: [u8; 65], message: Vec<u8> },
    /// A PKCS#8 document (hex) from which the SDK loads the key `key`.
    Pkcs8 { key: sdk::DeviceKey },
}

/// Every leaf the SDK checks: (file, JSON pointer) → what it must be.
type Wants = BTreeMap<(String, String), Want>;

/// Writes wants for one file, under a pointer prefix.
struct W<'a> {
    wants: &'a mut Wants,
    file: &'static str,
    base: String,
}

impl W<'_> {
    fn at(&mut self, rel: &str) -> W<'_> {
        W { wants: self.wants, file: self.file, base: format!("{}{rel}", self.base) }
    }

    fn want(&mut self, rel: &str, want: Want) {
        let key = (self.file.to_string(), format!("{}{rel}", self.base));
        assert!(self.wants.insert(key.clone(), want).is_none(), "{key:?} wanted twice");
    }

    fn json(&mut self, rel: &str, v: impl Into<Value>) {
        self.want(rel, Want::Json(v.into()));
    }

    fn hex(&mut self, rel: &str, bytes: impl AsRef<[u8]>) {
        self.json(rel, hex::encode(bytes));
    }

    fn int(&mut self, rel: &str, n: impl Into<i128>) {
        self.want(rel, Want::Int(n.into()));
    }
}

fn wants_for<'a>(wants: &'a mut Wants, file: &'static str) -> W<'a> {
    W { wants, file, base: String::new() }
}

// ---- The fixed inputs --------------------------------------------------------------------

/// A seed from a label: SHA-256 of the label, as the vectors derive every key.
fn seed(label: &str) -> [u8; 32] {
    sdk::wire::sha256_parts(&[label.as_bytes()])
}

/// The vectors' keys, made by the SDK from the vectors' seeds. The P-256 key is made once:
/// P-256 arithmetic is slow in a debug build.
struct Keys {
    signer: sdk::AccountKey,
    recipient: sdk::AccountKey,
    maker: sdk::AccountKey,
    ed25519: sdk::DeviceSigner,
    p256: sdk::DeviceSigner,
    p256_key: sdk::DeviceKey,
}

impl Keys {
    fn new() -> Keys {
        let p256 = sdk::DeviceSigner::p256_from_secret(seed("vector-device-p256")).unwrap();
        Keys {
            signer: sdk::AccountKey::from_seed(seed("vector-signer")),
            recipient: sdk::AccountKey::from_seed(seed("vector-recipient")),
            maker: sdk::AccountKey::from_seed(seed("vector-maker")),
            ed25519: sdk::DeviceSigner::ed25519_from_seed(seed("vector-device-ed25519")),
            p256_key: p256.public_key(),
            p256,
        }
    }
}

fn encode(write: impl FnOnce(&mut sdk::Writer)) -> Vec<u8> {
    let mut w = sdk::Writer::new();
    write(&mut w);
    w.finish()
}

fn key_text(key: &sdk::DeviceKey, bytes: &[u8]) -> String {
    format!("{}:{}", key.kind(), hex::encode(bytes))
}

/// The fixed P-256 signatures the vectors carry, read from them (see the module docs).
struct P256Sigs {
    consent: [u8; 64],
    heartbeat: [u8; 64],
}

fn read_sig(files: &Files, file: &str, pointer: &str) -> Result<[u8; 64], String> {
    let s = files
        .get(file)
        .and_then(|v| v.pointer(pointer))
        .and_then(Value::as_str)
        .ok_or(format!("{file}{pointer}: no P-256 signature"))?;
    let bytes = hex::decode(s).map_err(|e| format!("{file}{pointer}: {e}"))?;
    bytes.try_into().map_err(|_| format!("{file}{pointer}: not 64 bytes"))
}

impl P256Sigs {
    fn read(files: &Files) -> Result<P256Sigs, String> {
        Ok(P256Sigs {
            consent: read_sig(files, "devices.json", "/p256/consent/signature/signature_hex")?,
            heartbeat: read_sig(files, "reports.json", "/reports/4/signature/signature_hex")?,
        })
    }
}

/// Which vector device: the ed25519 one or the P-256 one.
#[derive(Clone, Copy)]
enum Device {
    Ed25519,
    P256,
}

impl Device {
    fn key(self, k: &Keys) -> sdk::DeviceKey {
        match self {
            Device::Ed25519 => k.ed25519.public_key(),
            Device::P256 => k.p256_key,
        }
    }
}

/// The classes in their frozen order, with their names.
const CLASSES: [(sdk::DeviceClass, &str); 6] = [
    (sdk::DeviceClass::Hotspot, "hotspot"),
    (sdk::DeviceClass::Storage, "storage"),
    (sdk::DeviceClass::Compute, "compute"),
    (sdk::DeviceClass::Sensor, "sensor"),
    (sdk::DeviceClass::Energy, "energy"),
    (sdk::DeviceClass::Relay, "relay"),
];

/// A vector registration: the device, its class, the maker's serial.
struct Registration {
    device: Device,
    class: sdk::DeviceClass,
    serial: &'static str,
}

const REGISTRATIONS: [(&str, Registration, u64); 2] = [
    (
        "/ed25519",
        Registration {
            device: Device::Ed25519,
            class: sdk::DeviceClass::Hotspot,
            serial: "SN-0001",
        },
        1,
    ),
    (
        "/p256",
        Registration { device: Device::P256, class: sdk::DeviceClass::Sensor, serial: "SN-0002" },
        2,
    ),
];

fn consent(k: &Keys) -> sdk::RegistrationConsent {
    sdk::RegistrationConsent { owner: k.signer.address(), device_nonce: 0 }
}

/// The registration body: the ed25519 device signs its consent in the SDK's
/// `RegisterDevice::new`; the P-256 one carries the vector's fixed consent signature.
fn register_body(k: &Keys, r: &Registration, sigs: &P256Sigs) -> sdk::RegisterDevice {
    let key = r.device.key(k);
    let owner = k.signer.address();
    let mut body = match r.device {
        Device::Ed25519 => {
            sdk::RegisterDevice::new(&k.ed25519, CHAIN, owner, r.class, METADATA.to_vec(), 0)
                .unwrap()
        }
        Device::P256 => sdk::RegisterDevice {
            key,
            class: r.class,
            metadata: METADATA.to_vec(),
            device_nonce: 0,
            device_signature: sdk::DeviceSignature::P256(sigs.consent),
            maker: None,
        },
    };
    body.maker = Some(sdk::MakerAttestation::sign(&k.maker, CHAIN, &key, r.serial));
    body
}

/// The vector reports: each payload kind from the ed25519 device, then a heartbeat from the
/// P-256 device; seq 100, 101, …, epoch 1, timestamps 1 700 000 000 500, 501, …
fn reports(k: &Keys) -> Vec<(Device, sdk::Report)> {
    let entropy = seed("vector-entropy");
    let ed = k.ed25519.public_key();
    let payloads = [
        (Device::Ed25519, sdk::ReportPayload::Heartbeat { uptime_secs: 86_400 }),
        (Device::Ed25519, sdk::ReportPayload::Reading { value: -21_500 }),
        (
            Device::Ed25519,
            sdk::ReportPayload::Beacon {
                entropy_height: 40,
                data: sdk::beacon_data(&entropy, &ed.id()),
                frequency_khz: 868_100,
                tx_power_dbm: 14,
            },
        ),
        (
            Device::Ed25519,
            sdk::ReportPayload::Witness {
                beaconer: seed("vector-beaconer"),
                beacon_height: 41,
                rssi_cdbm: -10_250,
                frequency_khz: 868_100,
            },
        ),
        (Device::P256, sdk::ReportPayload::Heartbeat { uptime_secs: 3_600 }),
    ];
    payloads
        .into_iter()
        .zip(0u64..)
        .map(|((device, payload), i)| {
            let report = sdk::Report {
                device: device.key(k),
                seq: 100 + i,
                epoch: 1,
                timestamp_ms: 1_700_000_000_500 + i,
                payload,
            };
            (device, report)
        })
        .collect()
}

fn signed_reports(k: &Keys, sigs: &P256Sigs) -> Vec<sdk::SignedReport> {
    reports(k)
        .into_iter()
        .map(|(device, report)| match device {
            Device::Ed25519 => report.sign(&k.ed25519, CHAIN).unwrap(),
            Device::P256 => {
                sdk::SignedReport { report, signature: sdk::DeviceSignature::P256(sigs.heartbeat) }
            }
        })
        .collect()
}

/// The vector usage receipt: on the channel the vector signer opened at nonce 3 (its id by
/// the rule of docs/wire.md, SHA-256("cairn/channel-id/v1" ‖ consumer ‖ nonce as big-endian
/// `u64`): the SDK takes channel ids as given), signed by the signer.
fn usage_receipt(k: &Keys) -> sdk::SignedUsageReceipt {
    let channel = sdk::wire::sha256_parts(&[
        b"cairn/channel-id/v1",
        &k.signer.address(),
        &3u64.to_be_bytes(),
    ]);
    sdk::UsageReceipt { channel, total_units: 1_234, seq: 9 }.sign(&k.signer, CHAIN)
}

/// The kind name of every body the SDK builds. The match is exhaustive: a body added to the
/// SDK needs a name here, and a vector in [`sdk_body`].
fn kind(body: &sdk::TxBody) -> &'static str {
    match body {
        sdk::TxBody::RegisterDevice(_) => "register_device",
        sdk::TxBody::SubmitReports { .. } => "submit_reports",
        sdk::TxBody::SettleChannel { .. } => "settle_channel",
        sdk::TxBody::DisputeChannel { .. } => "dispute_channel",
    }
}

/// The body of the vector transaction of kind `kind`, if the SDK builds that kind.
fn sdk_body(k: &Keys, sigs: &P256Sigs, kind: &str) -> Option<sdk::TxBody> {
    Some(match kind {
        "register_device" => {
            sdk::TxBody::RegisterDevice(register_body(k, &REGISTRATIONS[0].1, sigs))
        }
        "submit_reports" => sdk::TxBody::SubmitReports { reports: signed_reports(k, sigs) },
        "settle_channel" => sdk::TxBody::SettleChannel { receipt: usage_receipt(k) },
        "dispute_channel" => sdk::TxBody::DisputeChannel { receipt: usage_receipt(k) },
        _ => return None,
    })
}

/// The vector signer signs `body` at `nonce` at the minimum fee.
fn signed_tx(k: &Keys, nonce: u64, body: sdk::TxBody) -> sdk::SignedTx {
    sdk::Transaction {
        chain_id: CHAIN.into(),
        signer: k.signer.address(),
        nonce,
        max_fee: 0,
        expiry_height: EXPIRY,
        body,
    }
    .sign_with_min_fee(&k.signer, BASE_FEE, FEE_PER_BYTE)
}

// ---- The wants, file by file -------------------------------------------------------------

fn device_key(mut w: W<'_>, key: &sdk::DeviceKey) {
    let encoding = encode(|e| key.write(e));
    w.json("/kind", key.kind());
    w.hex("/public_key_hex", key.as_bytes());
    w.json("/key_text", key_text(key, key.as_bytes()));
    w.hex("/key_borsh_hex", &encoding);
    w.hex("/device_id_preimage_hex", [sdk::wire::tag::DEVICE_ID.as_bytes(), &encoding].concat());
    w.hex("/device_id_hex", key.id());
}

/// A device signature vector: the message, the signature (exact for ed25519, verified for
/// P-256, with its digest), its encoding and text form.
fn device_signature(mut w: W<'_>, key: &sdk::DeviceKey, msg: &[u8], sig: &sdk::DeviceSignature) {
    w.hex("/signing_message_hex", msg);
    match *key {
        sdk::DeviceKey::Ed25519(_) => w.hex("/signature_hex", sig.as_bytes()),
        sdk::DeviceKey::P256(key) => {
            w.want("/signature_hex", Want::P256 { key, message: msg.to_vec() });
            w.hex("/ecdsa_digest_hex", sdk::wire::sha256_parts(&[msg]));
        }
    }
    w.hex("/signature_borsh_hex", encode(|e| sig.write(e)));
    w.json("/signature_text", key_text(key, sig.as_bytes()));
}

fn keys_json(wants: &mut Wants, k: &Keys) {
    let mut w = wants_for(wants, "keys.json");
    for (i, (label, key)) in
        [("vector-signer", &k.signer), ("vector-recipient", &k.recipient)].into_iter().enumerate()
    {
        let mut a = w.at(&format!("/accounts/{i}"));
        a.json("/seed_label", label);
        a.hex("/seed_hex", seed(label));
        a.hex("/public_key_hex", key.address());
        a.hex("/address_borsh_hex", key.address());
    }
    w.json("/devices/ed25519/seed_label", "vector-device-ed25519");
    w.hex("/devices/ed25519/seed_hex", seed("vector-device-ed25519"));
    device_key(w.at("/devices/ed25519/key"), &k.ed25519.public_key());
    w.json("/devices/p256/seed_label", "vector-device-p256");
    w.hex("/devices/p256/secret_scalar_hex", seed("vector-device-p256"));
    w.want("/devices/p256/pkcs8_hex", Want::Pkcs8 { key: k.p256_key });
    device_key(w.at("/devices/p256/key"), &k.p256_key);
}

fn devices_json(wants: &mut Wants, k: &Keys, sigs: &P256Sigs) {
    let mut w = wants_for(wants, "devices.json");
    w.json("/chain_id", CHAIN);
    for (i, (class, name)) in CLASSES.iter().enumerate() {
        w.json(&format!("/classes/{i}/class"), *name);
        w.int(&format!("/classes/{i}/index"), *class as u8);
    }
    for (at, r, nonce) in &REGISTRATIONS {
        let mut w = w.at(at);
        let body = register_body(k, r, sigs);
        let key = body.key;
        let name = CLASSES.iter().find(|(c, _)| *c == r.class).unwrap().1;
        device_key(w.at("/device_key"), &key);
        w.json("/class", name);
        w.int("/class_index", r.class as u8);
        w.hex("/metadata_hex", METADATA);
        let consent = consent(k);
        w.int("/consent/device_nonce", consent.device_nonce);
        w.hex("/consent/borsh_hex", encode(|e| consent.write(e)));
        w.json("/consent/tag", sdk::wire::tag::DEVICE_REGISTER);
        device_signature(
            w.at("/consent/signature"),
            &key,
            &consent.signing_message(CHAIN),
            &body.device_signature,
        );
        let maker = body.maker.as_ref().unwrap();
        w.json("/maker_attestation/maker_seed_label", "vector-maker");
        w.json("/maker_attestation/serial", r.serial);
        w.json("/maker_attestation/tag", sdk::wire::tag::MAKER);
        w.hex(
            "/maker_attestation/signing_message_hex",
            sdk::MakerAttestation::signing_message(CHAIN, &key, r.serial),
        );
        w.hex("/maker_attestation/signature_hex", maker.signature);
        w.hex("/maker_attestation/borsh_hex", encode(|e| maker.write(e)));
        let body = sdk::TxBody::RegisterDevice(body);
        w.hex("/body_borsh_hex", encode(|e| body.write(e)));
        w.hex("/signed_tx_hex", signed_tx(k, *nonce, body).encode());
    }
}

fn payload_json(mut w: W<'_>, payload: &sdk::ReportPayload) {
    match *payload {
        sdk::ReportPayload::Heartbeat { uptime_secs } => {
            w.json("/kind", "heartbeat");
            w.int("/uptime_secs", uptime_secs);
        }
        sdk::ReportPayload::Reading { value } => {
            w.json("/kind", "reading");
            w.int("/value", value);
        }
        sdk::ReportPayload::Beacon { entropy_height, data, frequency_khz, tx_power_dbm } => {
            w.json("/kind", "beacon");
            w.int("/entropy_height", entropy_height);
            w.hex("/data", data);
            w.int("/frequency_khz", frequency_khz);
            w.int("/tx_power_dbm", tx_power_dbm);
        }
        sdk::ReportPayload::Witness { beaconer, beacon_height, rssi_cdbm, frequency_khz } => {
            w.json("/kind", "witness");
            w.hex("/beaconer", beaconer);
            w.int("/beacon_height", beacon_height);
            w.int("/rssi_cdbm", rssi_cdbm);
            w.int("/frequency_khz", frequency_khz);
        }
    }
}

fn reports_json(wants: &mut Wants, k: &Keys, sigs: &P256Sigs) {
    let mut w = wants_for(wants, "reports.json");
    w.json("/chain_id", CHAIN);
    w.hex("/beacon_entropy_hex", seed("vector-entropy"));
    for (i, signed) in signed_reports(k, sigs).iter().enumerate() {
        let mut w = w.at(&format!("/reports/{i}"));
        let r = &signed.report;
        let payload = encode(|e| r.payload.write(e));
        w.json("/kind", payload_kind(&r.payload));
        w.int("/payload_index", payload[0]);
        w.hex("/payload_borsh_hex", &payload);
        w.hex("/device_id_hex", r.device.id());
        w.hex("/report_borsh_hex", r.encode());
        w.json("/report_json/device", key_text(&r.device, r.device.as_bytes()));
        w.int("/report_json/seq", r.seq);
        w.int("/report_json/epoch", r.epoch);
        w.int("/report_json/timestamp_ms", r.timestamp_ms);
        payload_json(w.at("/report_json/payload"), &r.payload);
        w.json("/tag", sdk::wire::tag::REPORT);
        device_signature(
            w.at("/signature"),
            &r.device,
            &r.signing_message(CHAIN),
            &signed.signature,
        );
        w.hex("/signed_report_borsh_hex", signed.encode());
    }
}

fn payload_kind(p: &sdk::ReportPayload) -> &'static str {
    match p {
        sdk::ReportPayload::Heartbeat { .. } => "heartbeat",
        sdk::ReportPayload::Reading { .. } => "reading",
        sdk::ReportPayload::Beacon { .. } => "beacon",
        sdk::ReportPayload::Witness { .. } => "witness",
    }
}

fn usage_json(wants: &mut Wants, k: &Keys) {
    let mut w = wants_for(wants, "usage.json");
    w.json("/chain_id", CHAIN);
    let s = usage_receipt(k);
    let mut w = w.at("/receipt");
    w.hex("/channel_hex", s.receipt.channel);
    w.int("/total_units", s.receipt.total_units);
    w.int("/seq", s.receipt.seq);
    w.hex("/borsh_hex", encode(|e| s.receipt.write(e)));
    w.json("/tag", sdk::wire::tag::USAGE_RECEIPT);
    w.hex("/signing_message_hex", s.receipt.signing_message(CHAIN));
    w.hex("/signature_hex", s.signature);
    w.hex("/signed_borsh_hex", s.encode());
}

/// The entries of `transactions.json` of a kind the SDK builds: (index, kind).
fn sdk_transactions(files: &Files) -> Vec<(usize, String)> {
    let empty = Vec::new();
    let entries =
        files.get("transactions.json").and_then(|v| v["transactions"].as_array()).unwrap_or(&empty);
    let sdk_kinds: BTreeSet<&str> = sdk_kinds().into_iter().collect();
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e["kind"].as_str().map(|kind| (i, kind.to_string())))
        .filter(|(_, kind)| sdk_kinds.contains(kind.as_str()))
        .collect()
}

/// The kinds of transaction the SDK builds.
fn sdk_kinds() -> Vec<&'static str> {
    ["register_device", "submit_reports", "settle_channel", "dispute_channel"].to_vec()
}

fn transactions_json(wants: &mut Wants, files: &Files, k: &Keys, sigs: &P256Sigs) {
    let mut w = wants_for(wants, "transactions.json");
    w.json("/chain_id", CHAIN);
    w.int("/base_fee", BASE_FEE as i128);
    w.int("/fee_per_byte", FEE_PER_BYTE as i128);
    w.json("/tx_tag", sdk::wire::tag::TX);
    // The vector transactions are signed with nonces 0, 1, … in file order.
    for (i, kind_name) in sdk_transactions(files) {
        let body = sdk_body(k, sigs, &kind_name).unwrap();
        assert_eq!(kind(&body), kind_name);
        let stx = signed_tx(k, i as u64, body);
        let bytes = stx.encode();
        let body_bytes = encode(|e| stx.tx.body.write(e));
        let mut w = w.at(&format!("/transactions/{i}"));
        w.json("/kind", kind_name);
        w.int("/variant_index", body_bytes[0]);
        w.int("/nonce", stx.tx.nonce);
        w.int("/max_fee", stx.tx.max_fee as i128);
        w.int("/expiry_height", stx.tx.expiry_height);
        w.hex("/body_borsh_hex", &body_bytes);
        w.hex("/tx_borsh_hex", encode(|e| stx.tx.write(e)));
        w.hex("/signing_message_hex", stx.tx.signing_message());
        w.hex("/signature_hex", stx.signature);
        w.hex("/signed_tx_hex", &bytes);
        w.int("/size", bytes.len() as i128);
        w.hex("/hash_hex", stx.hash());
    }
}

fn wire_json(wants: &mut Wants, k: &Keys) {
    let mut w = wants_for(wants, "wire.json");
    w.json("/chain_id", CHAIN);
    w.json("/signer/label", "vector-signer");
    w.hex("/signer/address_hex", k.signer.address());
    w.hex("/signer/address_borsh_hex", k.signer.address());
    w.json("/recipient/label", "vector-recipient");
    w.hex("/recipient/address_hex", k.recipient.address());
}

/// Everything the SDK checks in `files`. The vectors' P-256 signatures and the kinds of
/// their transactions are read from `files`; everything else comes from the fixed inputs.
fn wants(files: &Files, k: &Keys) -> Result<Wants, String> {
    let sigs = P256Sigs::read(files)?;
    let mut wants = Wants::new();
    keys_json(&mut wants, k);
    devices_json(&mut wants, k, &sigs);
    reports_json(&mut wants, k, &sigs);
    usage_json(&mut wants, k);
    transactions_json(&mut wants, files, k, &sigs);
    wire_json(&mut wants, k);
    Ok(wants)
}

// ---- Checking ----------------------------------------------------------------------------

fn matches(got: &Value, want: &Want) -> Result<(), String> {
    match want {
        Want::Json(v) if got == v => Ok(()),
        Want::Json(Value::String(ours)) if got.is_string() => {
            let theirs = got.as_str().unwrap_or_default();
            let at = ours.chars().zip(theirs.chars()).take_while(|(a, b)| a == b).count();
            let from = at.saturating_sub(8);
            Err(format!(
                "differs at character {at} of {} (the SDK: {} long): the SDK gives …{}…",
                theirs.len(),
                ours.len(),
                ours.chars().skip(from).take(at - from + 8).collect::<String>()
            ))
        }
        Want::Json(v) => Err(format!("the SDK gives {v}")),
        Want::Int(n) => {
            let parsed = match got {
                Value::Number(x) => x.to_string().parse::<i128>().ok(),
                Value::String(s) => s.parse::<i128>().ok(),
                _ => None,
            };
            if parsed == Some(*n) { Ok(()) } else { Err(format!("the SDK gives {n}")) }
        }
        Want::P256 { key, message } => {
            let sig: [u8; 64] = got
                .as_str()
                .and_then(|s| hex::decode(s).ok())
                .and_then(|b| b.try_into().ok())
                .ok_or("not 64 bytes of hex")?;
            cairn_types::DeviceKey::P256(*key)
                .verify(message, &cairn_types::DeviceSignature::P256(sig))
                .map_err(|e| format!("the node refuses it under the SDK's key and message: {e}"))
        }
        Want::Pkcs8 { key } => {
            let der = got.as_str().and_then(|s| hex::decode(s).ok()).ok_or("not hex")?;
            let loaded = sdk::DeviceSigner::p256_from_pkcs8(&der)
                .map_err(|e| format!("the SDK cannot load it: {e}"))?;
            if loaded.public_key() == *key {
                Ok(())
            } else {
                Err(format!("the SDK loads {:?}, not {key:?}", loaded.public_key()))
            }
        }
    }
}

/// The mismatches between `files` and `wants`, restricted to `only` if given.
fn check(files: &Files, wants: &Wants, only: Option<&(String, String)>) -> Vec<String> {
    wants
        .iter()
        .filter(|(at, _)| only.is_none_or(|o| o == *at))
        .filter_map(|((file, pointer), want)| {
            let result = match files.get(file).and_then(|v| v.pointer(pointer)) {
                None => Err("missing".to_string()),
                Some(got) => matches(got, want),
            };
            result.err().map(|why| format!("{file}{pointer}: {why}"))
        })
        .collect()
}

/// Every leaf (JSON pointer) under `v`.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                leaves(x, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// The covered parts of every covered file: [`COVERED`], and the transactions of the kinds
/// the SDK builds.
fn covered_parts(files: &Files) -> Vec<(String, String)> {
    let mut parts: Vec<(String, String)> = COVERED
        .iter()
        .flat_map(|(file, ps)| ps.iter().map(|p| (file.to_string(), p.to_string())))
        .collect();
    for (i, _) in sdk_transactions(files) {
        parts.push(("transactions.json".into(), format!("/transactions/{i}")));
    }
    parts
}

/// What the check leaves out that it should not: unlisted or missing files, and leaves of
/// covered parts that nothing checks.
fn unchecked(files: &Files, wants: &Wants) -> Vec<String> {
    let listed: BTreeSet<&str> =
        COVERED.iter().map(|(f, _)| *f).chain(NOT_COVERED.iter().map(|(f, _)| *f)).collect();
    let present: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    let mut out: Vec<String> = present
        .difference(&listed)
        .map(|f| format!("{f}: a vector file listed neither as covered nor as not covered"))
        .chain(listed.difference(&present).map(|f| format!("{f}: listed, but not in docs/vectors")))
        .collect();
    for (file, part) in covered_parts(files) {
        let Some(v) = files.get(&file).and_then(|v| v.pointer(&part)) else {
            out.push(format!("{file}{part}: covered, but not in the file"));
            continue;
        };
        let mut ls = Vec::new();
        leaves(v, part, &mut ls);
        for leaf in ls {
            if !not_produced(&leaf) && !wants.contains_key(&(file.clone(), leaf.clone())) {
                out.push(format!("{file}{leaf}: covered by the SDK but not checked"));
            }
        }
    }
    out
}

/// Everything wrong with `files` as the SDK sees them: leaves that differ from what the SDK
/// builds, leaves of covered parts nothing checks, unlisted files, and the SDK's transaction
/// kinds missing or repeated. `only` restricts the comparison of leaves to one (the rest is
/// cheap).
fn verdict(files: &Files, k: &Keys, only: Option<&(String, String)>) -> Vec<String> {
    let wants = match wants(files, k) {
        Ok(w) => w,
        Err(e) => return vec![e],
    };
    let mut out = check(files, &wants, only);
    out.extend(unchecked(files, &wants));
    let kinds: Vec<String> = sdk_transactions(files).into_iter().map(|(_, k)| k).collect();
    if kinds != sdk_kinds() {
        out.push(format!(
            "transactions.json: the kinds the SDK builds, {:?}, appear as {kinds:?}",
            sdk_kinds()
        ));
    }
    out
}

// ---- Tests -------------------------------------------------------------------------------

#[test]
fn the_sdk_rebuilds_every_vector_of_what_it_covers_byte_for_byte() {
    let files = load();
    let k = Keys::new();
    let wrong = verdict(&files, &k, None);
    assert!(wrong.is_empty(), "{} problems:\n{}", wrong.len(), wrong.join("\n"));
    // Both P-256 vector signatures are verified, not skipped, and every file the SDK covers
    // is checked.
    let wants = wants(&files, &k).unwrap();
    assert_eq!(wants.values().filter(|w| matches!(w, Want::P256 { .. })).count(), 2);
    let files_checked: BTreeSet<&str> = wants.keys().map(|(f, _)| f.as_str()).collect();
    assert_eq!(files_checked, COVERED.iter().map(|(f, _)| *f).collect());
}

#[test]
fn the_sdk_builds_a_body_of_every_kind_it_names() {
    let k = Keys::new();
    let sigs = P256Sigs { consent: [1; 64], heartbeat: [2; 64] };
    for name in sdk_kinds() {
        assert_eq!(kind(&sdk_body(&k, &sigs, name).unwrap()), name);
    }
    assert!(sdk_body(&k, &sigs, "transfer").is_none());
}

#[test]
fn the_sdks_own_p256_signatures_of_the_vector_messages_verify_on_the_node() {
    let files = load();
    let k = Keys::new();
    let verify = |msg: &[u8], sig: &sdk::DeviceSignature| {
        let sdk::DeviceSignature::P256(rs) = *sig else { panic!("not a P-256 signature") };
        let sdk::DeviceKey::P256(key) = k.p256_key else { unreachable!() };
        cairn_types::DeviceKey::P256(key)
            .verify(msg, &cairn_types::DeviceSignature::P256(rs))
            .unwrap();
    };
    let hex_at = |file: &str, pointer: &str| {
        hex::decode(files[file].pointer(pointer).unwrap().as_str().unwrap()).unwrap()
    };

    // The consent, through the SDK's registration call.
    let msg = hex_at("devices.json", "/p256/consent/signature/signing_message_hex");
    let body = sdk::RegisterDevice::new(
        &k.p256,
        CHAIN,
        k.signer.address(),
        sdk::DeviceClass::Sensor,
        METADATA.to_vec(),
        0,
    )
    .unwrap();
    verify(&msg, &body.device_signature);

    // The heartbeat: the SDK's signed report is the vector's but for the signature.
    let (_, report) = reports(&k).pop().unwrap();
    let signed = report.sign(&k.p256, CHAIN).unwrap();
    verify(&hex_at("reports.json", "/reports/4/signature/signing_message_hex"), &signed.signature);
    let vector = hex_at("reports.json", "/reports/4/signed_report_borsh_hex");
    let ours = signed.encode();
    assert_eq!(ours.len(), vector.len());
    assert_eq!(ours[..ours.len() - 64], vector[..vector.len() - 64]);
    // RFC 6979: the SDK signs the same message the same way every time.
    assert_eq!(report.sign(&k.p256, CHAIN).unwrap().signature, signed.signature);
}

#[test]
fn the_sdk_decodes_every_vector_signed_report_into_the_report_it_builds() {
    let files = load();
    let k = Keys::new();
    let sigs = P256Sigs::read(&files).unwrap();
    let built = signed_reports(&k, &sigs);
    let entries = files["reports.json"]["reports"].as_array().unwrap();
    assert_eq!(entries.len(), built.len());
    for (entry, ours) in entries.iter().zip(&built) {
        let bytes = hex::decode(entry["signed_report_borsh_hex"].as_str().unwrap()).unwrap();
        assert_eq!(sdk::SignedReport::decode(&bytes).unwrap(), *ours);
    }
}

/// `files` with the leaf at `pointer` of `file` changed in one byte: the last character of a
/// string (in hex, the last byte), a number plus one, a bool negated.
fn mutated(files: &Files, file: &str, pointer: &str) -> Files {
    let mut files = files.clone();
    let leaf = files.get_mut(file).and_then(|v| v.pointer_mut(pointer)).unwrap();
    match leaf {
        Value::String(s) => {
            let last = s.pop();
            s.push(if last == Some('0') { '1' } else { '0' });
        }
        Value::Number(n) => *leaf = json!(n.as_i64().unwrap() + 1),
        Value::Bool(b) => *b = !*b,
        other => panic!("{file}{pointer}: cannot change {other}"),
    }
    files
}

#[test]
fn a_one_byte_change_in_a_vector_is_detected() {
    let files = load();
    let k = Keys::new();
    // One byte inside the report batch transaction's bytes.
    let (i, _) = sdk_transactions(&files).into_iter().find(|(_, k)| k == "submit_reports").unwrap();
    let pointer = format!("/transactions/{i}/signed_tx_hex");
    let mut changed = files.clone();
    let leaf = changed.get_mut("transactions.json").unwrap().pointer_mut(&pointer).unwrap();
    let mut bytes = hex::decode(leaf.as_str().unwrap()).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    *leaf = json!(hex::encode(bytes));
    assert!(check(&files, &wants(&files, &k).unwrap(), None).is_empty());
    let mismatches = check(&changed, &wants(&changed, &k).unwrap(), None);
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert!(mismatches[0].starts_with(&format!("transactions.json{pointer}: ")), "{mismatches:?}");
}

#[test]
fn changing_any_vector_leaf_the_sdk_checks_by_one_byte_fails_the_check() {
    let files = load();
    let k = Keys::new();
    let all = wants(&files, &k).unwrap();
    assert!(all.len() > 200, "only {} leaves checked", all.len());
    for at @ (file, pointer) in all.keys() {
        // The wants are rebuilt from the changed files: a changed P-256 signature is also
        // the one the SDK's bytes then carry, a changed kind takes a transaction out.
        let wrong = verdict(&mutated(&files, file, pointer), &k, Some(at));
        assert!(!wrong.is_empty(), "a change of {file}{pointer} went unnoticed");
    }
}

#[test]
fn a_vector_entry_of_a_covered_kind_that_nothing_checks_fails_the_check() {
    let files = load();
    let k = Keys::new();
    // A sixth report, a seventh class, another transaction of a kind the SDK builds, a new
    // file.
    let mut more = files.clone();
    let reports = more.get_mut("reports.json").unwrap()["reports"].as_array_mut().unwrap();
    reports.push(reports[0].clone());
    let classes = more.get_mut("devices.json").unwrap()["classes"].as_array_mut().unwrap();
    classes.push(json!({"class": "weather", "index": 6}));
    let txs = more.get_mut("transactions.json").unwrap()["transactions"].as_array_mut().unwrap();
    let settle = txs.iter().find(|t| t["kind"] == "settle_channel").unwrap().clone();
    txs.push(settle);
    let last = txs.len() - 1;
    more.insert("p256.json".into(), json!({"about": "more"}));
    let wrong = verdict(&more, &k, None);
    for expected in [
        "reports.json/reports/5/signed_report_borsh_hex: covered by the SDK but not checked",
        "devices.json/classes/6/index: covered by the SDK but not checked",
        "p256.json: a vector file listed neither as covered nor as not covered",
    ] {
        assert!(wrong.iter().any(|u| u == expected), "{expected} not in {wrong:#?}");
    }
    // The extra transaction is checked as the SDK signs it at its place, with its index as
    // nonce; the copy of the settlement carries the settlement's nonce instead.
    assert!(
        wrong
            .iter()
            .any(|m| m.starts_with(&format!("transactions.json/transactions/{last}/nonce: "))),
        "{wrong:#?}"
    );
    assert!(wrong.iter().any(|m| m.starts_with("transactions.json: the kinds the SDK builds")));
}

#[test]
fn bech32_addresses_and_json_views_are_the_only_leaves_left_to_the_node() {
    for produced in [
        "/ed25519/consent/borsh_hex",
        "/accounts/0/public_key_hex",
        "/p256/class",
        "/p256/maker_attestation/maker_seed_label",
        "/p256/consent/signature/signature_hex",
    ] {
        assert!(!not_produced(produced), "{produced}");
    }
    for left in [
        "/accounts/0/address_bech32",
        "/ed25519/consent/owner",
        "/p256/maker_attestation/maker",
        "/receipt/consumer",
        "/ed25519/body_json/class",
        "/transactions/5/json/tx/nonce",
    ] {
        assert!(not_produced(left), "{left}");
    }
}
