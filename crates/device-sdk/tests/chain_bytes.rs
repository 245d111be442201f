#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The SDK's bytes are the chain's bytes.
//!
//! Every object the SDK builds is built again, from the same fields, with the node's own
//! types (`cairn-types`), and the two encodings, signing messages and hashes are compared
//! byte for byte; the node decodes the SDK's bytes back to the same value and verifies the
//! SDK's signatures (ed25519 and P-256). ed25519 signing is deterministic, so there the
//! signatures themselves must be equal too. Where the frozen vectors of `cairn-types`
//! (`docs/vectors/wire.json`) cover the same thing — account keys from a
//! seed, ed25519 signatures, the signing-message prefix — the SDK reproduces them.

use cairn_device_sdk as sdk;
use cairn_types::codec;
use cairn_types::device::{MakerAttestation, RegistrationConsent, maker_message};
use cairn_types::tx::MAX_CHAIN_ID_LEN;
use cairn_types::usage::{SignedUsageReceipt, UsageReceipt};
use cairn_types::{
    Address, DeviceClass, DeviceKey, DeviceSignature, DeviceSigner, Hash, Keypair, Params, Report,
    ReportPayload, SignedReport, SignedTx, Transaction, TxBody,
};
use p256::pkcs8::EncodePrivateKey;
use proptest::prelude::*;

const CHAIN: &str = "cairn-sdk-test-1";

// ---- The same objects in the node's types -------------------------------------------------

fn key(k: &sdk::DeviceKey) -> DeviceKey {
    match *k {
        sdk::DeviceKey::Ed25519(b) => DeviceKey::Ed25519(b),
        sdk::DeviceKey::P256(b) => DeviceKey::P256(b),
    }
}

fn sig(s: &sdk::DeviceSignature) -> DeviceSignature {
    match *s {
        sdk::DeviceSignature::Ed25519(b) => DeviceSignature::Ed25519(b),
        sdk::DeviceSignature::P256(b) => DeviceSignature::P256(b),
    }
}

fn payload(p: &sdk::ReportPayload) -> ReportPayload {
    match *p {
        sdk::ReportPayload::Heartbeat { uptime_secs } => ReportPayload::Heartbeat { uptime_secs },
        sdk::ReportPayload::Reading { value } => ReportPayload::Reading { value },
        sdk::ReportPayload::Beacon { entropy_height, data, frequency_khz, tx_power_dbm } => {
            ReportPayload::Beacon { entropy_height, data: Hash(data), frequency_khz, tx_power_dbm }
        }
        sdk::ReportPayload::Witness { beaconer, beacon_height, rssi_cdbm, frequency_khz } => {
            ReportPayload::Witness {
                beaconer: Hash(beaconer),
                beacon_height,
                rssi_cdbm,
                frequency_khz,
            }
        }
    }
}

fn report(r: &sdk::Report) -> Report {
    Report {
        device: key(&r.device),
        seq: r.seq,
        epoch: r.epoch,
        timestamp_ms: r.timestamp_ms,
        payload: payload(&r.payload),
    }
}

fn signed_report(s: &sdk::SignedReport) -> SignedReport {
    SignedReport { report: report(&s.report), signature: sig(&s.signature) }
}

fn class(c: sdk::DeviceClass) -> DeviceClass {
    match c {
        sdk::DeviceClass::Hotspot => DeviceClass::Hotspot,
        sdk::DeviceClass::Storage => DeviceClass::Storage,
        sdk::DeviceClass::Compute => DeviceClass::Compute,
        sdk::DeviceClass::Sensor => DeviceClass::Sensor,
        sdk::DeviceClass::Energy => DeviceClass::Energy,
        sdk::DeviceClass::Relay => DeviceClass::Relay,
    }
}

const CLASSES: [sdk::DeviceClass; 6] = [
    sdk::DeviceClass::Hotspot,
    sdk::DeviceClass::Storage,
    sdk::DeviceClass::Compute,
    sdk::DeviceClass::Sensor,
    sdk::DeviceClass::Energy,
    sdk::DeviceClass::Relay,
];

fn receipt(r: &sdk::SignedUsageReceipt) -> SignedUsageReceipt {
    SignedUsageReceipt {
        receipt: UsageReceipt {
            channel: Hash(r.receipt.channel),
            total_units: r.receipt.total_units,
            seq: r.receipt.seq,
        },
        signature: cairn_types::Signature(r.signature),
    }
}

fn body(b: &sdk::TxBody) -> TxBody {
    match b {
        sdk::TxBody::RegisterDevice(r) => TxBody::RegisterDevice {
            key: key(&r.key),
            class: class(r.class),
            metadata: r.metadata.clone(),
            device_nonce: r.device_nonce,
            device_signature: sig(&r.device_signature),
            maker: r.maker.as_ref().map(|m| MakerAttestation {
                maker: Address(m.maker),
                serial: m.serial.clone(),
                signature: cairn_types::Signature(m.signature),
            }),
        },
        sdk::TxBody::SubmitReports { reports } => {
            TxBody::SubmitReports { reports: reports.iter().map(signed_report).collect() }
        }
        sdk::TxBody::SettleChannel { receipt: r } => TxBody::SettleChannel { receipt: receipt(r) },
        sdk::TxBody::DisputeChannel { receipt: r } => {
            TxBody::DisputeChannel { receipt: receipt(r) }
        }
    }
}

fn transaction(t: &sdk::Transaction) -> Transaction {
    Transaction {
        chain_id: t.chain_id.clone(),
        signer: Address(t.signer),
        nonce: t.nonce,
        max_fee: t.max_fee,
        expiry_height: t.expiry_height,
        body: body(&t.body),
    }
}

// ---- Keys from fixed seeds ---------------------------------------------------------------

fn ed25519_device(seed: u8) -> (sdk::DeviceSigner, DeviceSigner) {
    (sdk::DeviceSigner::ed25519_from_seed([seed; 32]), DeviceSigner::from_ed25519_seed([seed; 32]))
}

/// The same P-256 secret in the SDK and, as PKCS#8, in the node's signer.
fn p256_device(seed: u8) -> (sdk::DeviceSigner, DeviceSigner) {
    let ours = sdk::DeviceSigner::p256_from_seed([seed; 32]).unwrap();
    let sdk::DeviceSigner::P256(k) = &ours else { unreachable!() };
    let pkcs8 = p256::SecretKey::from_bytes(&k.to_bytes()).unwrap().to_pkcs8_der().unwrap();
    (ours, DeviceSigner::from_p256_pkcs8(pkcs8.as_bytes()).unwrap())
}

fn devices() -> Vec<(sdk::DeviceSigner, DeviceSigner)> {
    vec![ed25519_device(11), p256_device(12)]
}

fn payloads(beaconer: [u8; 32]) -> Vec<sdk::ReportPayload> {
    vec![
        sdk::ReportPayload::Heartbeat { uptime_secs: 86_400 },
        sdk::ReportPayload::Reading { value: -21_500 },
        sdk::ReportPayload::Beacon {
            entropy_height: 1_234,
            data: sdk::beacon_data(&[0xab; 32], &beaconer),
            frequency_khz: 868_100,
            tx_power_dbm: -3,
        },
        sdk::ReportPayload::Witness {
            beaconer,
            beacon_height: 1_240,
            rssi_cdbm: -11_250,
            frequency_khz: 868_100,
        },
    ]
}

// ---- Keys and ids ------------------------------------------------------------------------

#[test]
fn device_keys_from_a_seed_have_the_nodes_public_key_and_device_id() {
    for (ours, node) in devices() {
        assert_eq!(key(&ours.public_key()), node.public_key());
        assert_eq!(Hash(ours.id()), node.id());
        assert_eq!(Hash(ours.public_key().id()), node.public_key().id());
    }
}

#[test]
fn a_p256_key_file_of_the_node_gives_the_sdk_the_same_key() {
    let node = DeviceSigner::generate_p256().unwrap();
    let secret = node.to_secret_string();
    let der = hex::decode(secret.strip_prefix("p256:").unwrap()).unwrap();
    let ours = sdk::DeviceSigner::p256_from_pkcs8(&der).unwrap();
    assert_eq!(key(&ours.public_key()), node.public_key());
    let ed = DeviceSigner::from_ed25519_seed([1; 32]).to_secret_string();
    let not_p256 = hex::decode(ed.strip_prefix("ed25519:").unwrap()).unwrap();
    assert_eq!(
        sdk::DeviceSigner::p256_from_pkcs8(&not_p256).err(),
        Some(sdk::KeyError::InvalidPkcs8)
    );
}

#[test]
fn account_keys_from_a_seed_have_the_nodes_address() {
    for seed in [[0u8; 32], [0xff; 32], *Hash::sha256(b"sdk").as_bytes()] {
        assert_eq!(
            Address(sdk::AccountKey::from_seed(seed).address()),
            Keypair::from_secret(seed).address()
        );
    }
}

#[test]
fn beacon_data_is_the_nodes_beacon_data() {
    let (ours, _) = ed25519_device(3);
    let entropy = [0x5a; 32];
    assert_eq!(
        Hash(sdk::beacon_data(&entropy, &ours.id())),
        cairn_types::device::beacon_data(&Hash(entropy), &Hash(ours.id()))
    );
}

// ---- Reports -----------------------------------------------------------------------------

#[test]
fn every_report_kind_signed_by_either_key_is_the_nodes_report_byte_for_byte() {
    let beaconer = ed25519_device(40).0.id();
    for (ours, node) in devices() {
        for (seq, p) in (1u64..).zip(payloads(beaconer)) {
            let r = sdk::Report {
                device: ours.public_key(),
                seq,
                epoch: 9,
                timestamp_ms: 1_700_000_000_000 + seq,
                payload: p,
            };
            let theirs = report(&r);
            assert_eq!(r.encode(), codec::encode(&theirs), "{p:?}");
            assert_eq!(r.signing_message(CHAIN), theirs.signing_message(CHAIN), "{p:?}");

            let signed = r.sign(&ours, CHAIN).unwrap();
            let bytes = signed.encode();
            assert_eq!(bytes, codec::encode(&signed_report(&signed)), "{p:?}");
            // The node reads the SDK's bytes back to the same report and accepts the
            // signature over its own signing message.
            let decoded: SignedReport = codec::decode(&bytes, 1 << 16, "report").unwrap();
            assert_eq!(decoded, signed_report(&signed));
            decoded
                .report
                .device
                .verify(&decoded.report.signing_message(CHAIN), &decoded.signature)
                .unwrap();
            // ... and refuses it on another chain: the chain id is inside what is signed.
            assert!(
                decoded
                    .report
                    .device
                    .verify(&decoded.report.signing_message("other"), &decoded.signature)
                    .is_err()
            );
            if let DeviceSigner::Ed25519(_) = node {
                // Deterministic signatures: the node's own signer signs the same bytes.
                assert_eq!(
                    sig(&signed.signature),
                    node.sign(&theirs.signing_message(CHAIN)).unwrap()
                );
            }
        }
    }
}

// ---- Registration ------------------------------------------------------------------------

#[test]
fn a_registration_consent_is_the_nodes_consent_and_verifies_for_both_key_kinds() {
    let owner = Keypair::from_secret([21; 32]).address();
    for (ours, node) in devices() {
        let consent = sdk::RegistrationConsent { owner: owner.0, device_nonce: 2 };
        let theirs = RegistrationConsent { owner, device_nonce: 2 };
        assert_eq!(consent.signing_message(CHAIN), theirs.signing_message(CHAIN));
        let s = consent.sign(&ours, CHAIN).unwrap();
        node.public_key().verify(&theirs.signing_message(CHAIN), &sig(&s)).unwrap();
        // A consent for another nonce does not verify: it cannot be replayed.
        let later = RegistrationConsent { owner, device_nonce: 3 };
        assert!(node.public_key().verify(&later.signing_message(CHAIN), &sig(&s)).is_err());
    }
}

#[test]
fn a_maker_attestation_signs_the_nodes_maker_message() {
    let maker = sdk::AccountKey::from_seed([31; 32]);
    let (device, _) = p256_device(32);
    let m = sdk::MakerAttestation::sign(&maker, CHAIN, &device.public_key(), "SN-0042");
    let msg = maker_message(CHAIN, &key(&device.public_key()), "SN-0042");
    assert_eq!(sdk::MakerAttestation::signing_message(CHAIN, &device.public_key(), "SN-0042"), msg);
    cairn_types::crypto::verify(&Address(m.maker), &cairn_types::Signature(m.signature), &msg)
        .unwrap();
    assert_eq!(Keypair::from_secret([31; 32]).sign_raw(&msg).0, m.signature);
}

/// `sdk_tx` and the node's transaction of the same fields, signed by the same seed at the
/// minimum fee, are the same bytes and hash; the node decodes and checks the SDK's.
fn assert_same_signed_tx(sdk_tx: sdk::Transaction, seed: [u8; 32]) {
    let params = Params::default();
    let theirs: SignedTx =
        transaction(&sdk_tx).sign_with_min_fee(&Keypair::from_secret(seed), &params);
    let ours = sdk_tx.sign_with_min_fee(
        &sdk::AccountKey::from_seed(seed),
        params.base_fee,
        params.fee_per_byte,
    );
    let bytes = ours.encode();
    assert_eq!(bytes, theirs.to_bytes());
    assert_eq!(ours.tx.max_fee, theirs.tx.max_fee);
    assert_eq!(Hash(ours.hash()), theirs.hash());
    assert_eq!(ours.tx.signing_message(), theirs.signing_message());
    let decoded = SignedTx::from_bytes(&bytes, params.max_tx_bytes as usize).unwrap();
    decoded.check_stateless(&ours.tx.chain_id, &params, bytes.len()).unwrap();
}

#[test]
fn a_register_device_transaction_is_the_nodes_for_every_class_and_both_key_kinds() {
    let owner_seed = [41; 32];
    let owner = sdk::AccountKey::from_seed(owner_seed);
    let maker = sdk::AccountKey::from_seed([42; 32]);
    for ((device, node), class) in devices().into_iter().cycle().zip(CLASSES) {
        let mut reg = sdk::RegisterDevice::new(
            &device,
            CHAIN,
            owner.address(),
            class,
            b"rooftop".to_vec(),
            1,
        )
        .unwrap();
        if (class as u8).is_multiple_of(2) {
            reg.maker = Some(sdk::MakerAttestation::sign(&maker, CHAIN, &reg.key, "SN-7"));
        }
        // The node accepts the consent inside the body.
        let consent = RegistrationConsent { owner: Address(owner.address()), device_nonce: 1 };
        node.public_key()
            .verify(&consent.signing_message(CHAIN), &sig(&reg.device_signature))
            .unwrap();
        assert_same_signed_tx(
            sdk::Transaction {
                chain_id: CHAIN.into(),
                signer: owner.address(),
                nonce: 5,
                max_fee: 0,
                expiry_height: 900,
                body: sdk::TxBody::RegisterDevice(reg),
            },
            owner_seed,
        );
    }
}

// ---- Report batches and usage receipts ---------------------------------------------------

#[test]
fn a_report_batch_of_every_kind_and_both_key_kinds_is_the_nodes_transaction() {
    let beaconer = ed25519_device(40).0.id();
    let mut reports = Vec::new();
    for (ours, _) in devices() {
        for (seq, p) in (1u64..).zip(payloads(beaconer)) {
            let r = sdk::Report {
                device: ours.public_key(),
                seq,
                epoch: 2,
                timestamp_ms: 77,
                payload: p,
            };
            reports.push(r.sign(&ours, CHAIN).unwrap());
        }
    }
    let gateway = [51; 32];
    assert_same_signed_tx(
        sdk::Transaction {
            chain_id: CHAIN.into(),
            signer: sdk::AccountKey::from_seed(gateway).address(),
            nonce: 0,
            max_fee: 0,
            expiry_height: u64::MAX,
            body: sdk::TxBody::SubmitReports { reports },
        },
        gateway,
    );
}

#[test]
fn a_usage_receipt_is_the_nodes_receipt_and_settles_and_disputes_in_the_nodes_transactions() {
    let consumer_seed = [61; 32];
    let consumer = sdk::AccountKey::from_seed(consumer_seed);
    let channel = *cairn_types::usage::channel_id(&Address(consumer.address()), 4).as_bytes();
    let signed = sdk::UsageReceipt { channel, total_units: 1_000, seq: 3 }.sign(&consumer, CHAIN);
    let theirs = UsageReceipt { channel: Hash(channel), total_units: 1_000, seq: 3 };
    assert_eq!(signed.receipt.signing_message(CHAIN), theirs.signing_message(CHAIN));
    let node_signed = SignedUsageReceipt {
        signature: Keypair::from_secret(consumer_seed).sign_payload(
            cairn_types::crypto::domain::USAGE_RECEIPT,
            CHAIN,
            &theirs,
        ),
        receipt: theirs,
    };
    assert_eq!(signed.encode(), codec::encode(&node_signed));
    let owner = [62; 32];
    for body in [
        sdk::TxBody::SettleChannel { receipt: signed },
        sdk::TxBody::DisputeChannel { receipt: signed },
    ] {
        assert_same_signed_tx(
            sdk::Transaction {
                chain_id: CHAIN.into(),
                signer: sdk::AccountKey::from_seed(owner).address(),
                nonce: 1,
                max_fee: 0,
                expiry_height: 10,
                body,
            },
            owner,
        );
    }
}

// ---- The frozen vectors ------------------------------------------------------------------

fn vectors() -> serde_json::Value {
    let path = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        )
        .join("../../docs/vectors/wire.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn hex_of(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn the_sdk_reproduces_the_frozen_vectors_account_keys_signatures_and_signing_prefix() {
    let v = vectors();
    let chain = v["chain_id"].as_str().unwrap();
    for who in ["signer", "recipient"] {
        let label = v[who]["label"].as_str().unwrap();
        let seed = *Hash::sha256(label.as_bytes()).as_bytes();
        assert_eq!(
            sdk::AccountKey::from_seed(seed).address().to_vec(),
            hex_of(&v[who]["address_hex"])
        );
    }
    // The frozen transaction's signing message starts with the SDK's prefix, and the SDK's
    // key signs it into the frozen signature.
    let msg = hex_of(&v["signed_tx"]["signing_message_hex"]);
    let prefix = sdk::wire::signing_prefix(sdk::wire::tag::TX, chain, 0).finish();
    assert!(msg.starts_with(&prefix));
    let seed = *Hash::sha256(v["signer"]["label"].as_str().unwrap().as_bytes()).as_bytes();
    assert_eq!(
        sdk::AccountKey::from_seed(seed).sign(&msg).to_vec(),
        hex_of(&v["signed_tx"]["signature_hex"])
    );
    // The frozen signed transaction is its signing message's payload and the signature.
    let mut expected = msg[prefix.len()..].to_vec();
    expected.extend(hex_of(&v["signed_tx"]["signature_hex"]));
    assert_eq!(expected, hex_of(&v["signed_tx"]["bytes_hex"]));
}

// ---- Any field values --------------------------------------------------------------------

fn any_key() -> impl Strategy<Value = sdk::DeviceKey> {
    prop_oneof![
        any::<[u8; 32]>().prop_map(sdk::DeviceKey::Ed25519),
        (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<u8>()).prop_map(|(x, y, p)| {
            let mut b = [p; 65];
            b[1..33].copy_from_slice(&x);
            b[33..].copy_from_slice(&y);
            sdk::DeviceKey::P256(b)
        }),
    ]
}

fn any_signature() -> impl Strategy<Value = sdk::DeviceSignature> {
    (any::<bool>(), any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(ed, a, b)| {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&a);
        s[32..].copy_from_slice(&b);
        if ed { sdk::DeviceSignature::Ed25519(s) } else { sdk::DeviceSignature::P256(s) }
    })
}

fn any_payload() -> impl Strategy<Value = sdk::ReportPayload> {
    prop_oneof![
        any::<u64>().prop_map(|uptime_secs| sdk::ReportPayload::Heartbeat { uptime_secs }),
        any::<i64>().prop_map(|value| sdk::ReportPayload::Reading { value }),
        (any::<u64>(), any::<[u8; 32]>(), any::<u32>(), any::<i16>()).prop_map(
            |(entropy_height, data, frequency_khz, tx_power_dbm)| sdk::ReportPayload::Beacon {
                entropy_height,
                data,
                frequency_khz,
                tx_power_dbm
            }
        ),
        (any::<[u8; 32]>(), any::<u64>(), any::<i32>(), any::<u32>()).prop_map(
            |(beaconer, beacon_height, rssi_cdbm, frequency_khz)| sdk::ReportPayload::Witness {
                beaconer,
                beacon_height,
                rssi_cdbm,
                frequency_khz
            }
        ),
    ]
}

fn any_report() -> impl Strategy<Value = sdk::Report> {
    (any_key(), any::<u64>(), any::<u64>(), any::<u64>(), any_payload()).prop_map(
        |(device, seq, epoch, timestamp_ms, payload)| sdk::Report {
            device,
            seq,
            epoch,
            timestamp_ms,
            payload,
        },
    )
}

fn any_chain() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-z0-9-]{{0,{MAX_CHAIN_ID_LEN}}}")).unwrap()
}

fn any_register() -> impl Strategy<Value = sdk::RegisterDevice> {
    (
        any_key(),
        0..CLASSES.len(),
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<u64>(),
        any_signature(),
        proptest::option::of((any::<[u8; 32]>(), ".{0,40}", any::<[u8; 32]>())),
    )
        .prop_map(|(key, c, metadata, device_nonce, device_signature, maker)| {
            sdk::RegisterDevice {
                key,
                class: CLASSES[c],
                metadata,
                device_nonce,
                device_signature,
                maker: maker.map(|(maker, serial, s)| {
                    let mut signature = [0u8; 64];
                    signature[..32].copy_from_slice(&s);
                    sdk::MakerAttestation { maker, serial, signature }
                }),
            }
        })
}

fn any_receipt() -> impl Strategy<Value = sdk::SignedUsageReceipt> {
    (any::<[u8; 32]>(), any::<u64>(), any::<u64>(), any::<[u8; 32]>()).prop_map(
        |(channel, total_units, seq, s)| {
            let mut signature = [7u8; 64];
            signature[32..].copy_from_slice(&s);
            sdk::SignedUsageReceipt {
                receipt: sdk::UsageReceipt { channel, total_units, seq },
                signature,
            }
        },
    )
}

fn any_body() -> impl Strategy<Value = sdk::TxBody> {
    prop_oneof![
        any_register().prop_map(sdk::TxBody::RegisterDevice),
        proptest::collection::vec((any_report(), any_signature()), 0..6).prop_map(|rs| {
            sdk::TxBody::SubmitReports {
                reports: rs
                    .into_iter()
                    .map(|(report, signature)| sdk::SignedReport { report, signature })
                    .collect(),
            }
        }),
        any_receipt().prop_map(|receipt| sdk::TxBody::SettleChannel { receipt }),
        any_receipt().prop_map(|receipt| sdk::TxBody::DisputeChannel { receipt }),
    ]
}

proptest! {
    /// Any report, signed report and signing message: the SDK's bytes are the node's, and
    /// the node decodes them back to the same value.
    #[test]
    fn any_report_encodes_as_the_node_encodes_it(r in any_report(), s in any_signature(), chain in any_chain()) {
        prop_assert_eq!(r.encode(), codec::encode(&report(&r)));
        prop_assert_eq!(r.signing_message(&chain), report(&r).signing_message(&chain));
        prop_assert_eq!(Hash(r.device.id()), key(&r.device).id());
        let signed = sdk::SignedReport { report: r, signature: s };
        let bytes = signed.encode();
        prop_assert_eq!(&bytes, &codec::encode(&signed_report(&signed)));
        let back: SignedReport = codec::decode(&bytes, 1 << 16, "report").unwrap();
        prop_assert_eq!(back, signed_report(&signed));
        // The SDK reads the node's bytes back to the same value.
        prop_assert_eq!(sdk::SignedReport::decode(&codec::encode(&signed_report(&signed))), Ok(signed));
    }

    /// Bytes the node refuses as a signed report, the SDK refuses too: any cut of a valid
    /// encoding, or one with a byte appended or an index byte changed.
    #[test]
    fn the_sdk_decodes_exactly_what_the_node_decodes(
        r in any_report(),
        s in any_signature(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let bytes = sdk::SignedReport { report: r, signature: s }.encode();
        let mut variants = vec![bytes[..cut.index(bytes.len())].to_vec(), [bytes.as_slice(), &[byte]].concat()];
        let mut flipped = bytes.clone();
        flipped[flip.index(bytes.len())] = byte;
        variants.push(flipped);
        for v in variants {
            let node = codec::decode::<SignedReport>(&v, 1 << 16, "report").ok();
            let ours = sdk::SignedReport::decode(&v).ok();
            prop_assert_eq!(ours.as_ref().map(signed_report), node);
        }
    }

    /// Any consent, usage receipt and transaction of the SDK's bodies, with any field
    /// values: the same bytes and signing messages as the node's.
    #[test]
    fn any_consent_receipt_and_transaction_encode_as_the_node_encodes_them(
        owner in any::<[u8; 32]>(),
        device_nonce in any::<u64>(),
        receipt in any_receipt(),
        body in any_body(),
        chain in any_chain(),
        nonce in any::<u64>(),
        max_fee in any::<u128>(),
        expiry_height in any::<u64>(),
        signature in any::<[u8; 32]>(),
    ) {
        let consent = sdk::RegistrationConsent { owner, device_nonce };
        prop_assert_eq!(
            consent.signing_message(&chain),
            RegistrationConsent { owner: Address(owner), device_nonce }.signing_message(&chain)
        );
        prop_assert_eq!(receipt.encode(), codec::encode(&self::receipt(&receipt)));
        prop_assert_eq!(receipt.receipt.signing_message(&chain), self::receipt(&receipt).receipt.signing_message(&chain));
        let tx = sdk::Transaction { chain_id: chain, signer: owner, nonce, max_fee, expiry_height, body };
        let mut sig64 = [0u8; 64];
        sig64[..32].copy_from_slice(&signature);
        let ours = sdk::SignedTx { tx, signature: sig64 };
        let theirs = SignedTx { tx: transaction(&ours.tx), signature: cairn_types::Signature(sig64) };
        prop_assert_eq!(ours.encode(), theirs.to_bytes());
        prop_assert_eq!(ours.tx.signing_message(), theirs.signing_message());
        prop_assert_eq!(ours.tx.signed_len(), theirs.to_bytes().len());
        prop_assert_eq!(Hash(ours.hash()), theirs.hash());
    }

    /// Reports with any field values signed by keys from any seed, ed25519 or P-256: the
    /// node verifies every signature.
    #[test]
    fn the_node_verifies_sdk_signatures_of_any_report(
        seed in any::<[u8; 32]>(),
        p256 in any::<bool>(),
        r in any_report(),
        chain in any_chain(),
    ) {
        let signer = if p256 {
            sdk::DeviceSigner::p256_from_seed(seed).unwrap()
        } else {
            sdk::DeviceSigner::ed25519_from_seed(seed)
        };
        let r = sdk::Report { device: signer.public_key(), ..r };
        let signed = r.sign(&signer, &chain).unwrap();
        let theirs = signed_report(&signed);
        prop_assert!(theirs.report.device.verify(&theirs.report.signing_message(&chain), &theirs.signature).is_ok());
    }
}
