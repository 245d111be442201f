//! Test vectors of the wire formats (docs/wire.md), built from fixed seeds.
//!
//! Every signed, hashed or sent format is built here from fixed inputs and written out as
//! JSON with its inputs (seeds, field values) and the expected bytes, hashes and signatures in
//! hex, so that a client in another language can check itself against them. The files are
//! kept in `docs/vectors/`; `cairn vectors --out docs/vectors` writes them, and the tests
//! `cairn-types/tests/vectors.rs` (these files) and `cairn-app/tests/vectors.rs` (the state
//! proofs, which need the state tree) regenerate them and fail on any difference.
//!
//! ed25519 signatures are deterministic. P-256 (ECDSA) signatures are not: each P-256
//! signature is an input here, a fixed `r ‖ s` made once, and the generator checks that it
//! still verifies over the message it computes. If a format change alters a P-256 message,
//! generation fails with [`VectorError::StaleP256`], which carries a fresh signature to put in
//! its place.

use crate::consensus::{Commit, CommitSignature, DoubleVote, SignedVote, Validator, ValidatorSet};
use crate::consensus::{Vote, VoteKind};
use crate::crypto::{self, domain};
use crate::device::{MakerAttestation, RegistrationConsent, Report, ReportPayload, SignedReport};
use crate::device_key::{DEVICE_ID_DOMAIN, DeviceKey, DeviceSignature, DeviceSigner};
use crate::genesis::{GenesisAccount, GenesisValidator};
use crate::rewards::{RewardClaim, RewardLeaf};
use crate::usage::{SignedUsageReceipt, UsageReceipt};
use crate::{
    Address, Block, BlockHeader, Certificate, DeviceClass, Genesis, Hash, Keypair, Params, Receipt,
    SignedTx, Transaction, TxBody, TxFailure, TxOutcome, TxStatus, codec, merkle,
};
use borsh::BorshSerialize;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The chain id every vector is signed for.
pub const CHAIN_ID: &str = "cairn-vectors-1";

/// Seed label of the P-256 device key: its secret scalar is SHA-256 of the label (below the
/// group order).
pub const P256_LABEL: &str = "vector-device-p256";
/// The public key of that scalar, `0x04 ‖ x ‖ y` (computed once; ring checks on loading
/// that it belongs to the scalar, and `docs/vectors/check.py` recomputes it).
const P256_PUBLIC: &str = "04035e90bc863cecb9b06d9f0e9ec40e9cd6c85878ff615285284da525aa77f167571934d5134ee4173a85450187b505e6241eab2582dea222d7ac1b90dd6902f3";
/// The PKCS#8 v1 document around the scalar and public key: prefix ‖ scalar ‖ middle ‖ key.
const PKCS8_PREFIX: &str =
    "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420";
const PKCS8_MIDDLE: &str = "a144034200";

/// Fixed P-256 signatures (`r ‖ s`, low-S) over the vectors' P-256 messages, by name.
const P256_SIGNATURES: &[(&str, &str)] = &[
    (
        "registration_consent",
        "f4af1067a29da4db7c34db832bb7dd389125cfa7c83b5f1e8953251edd802ec72ae0a546ef4b126eb2d6d0235f64865ae61422cb1ff15c9512730ff125ef135b",
    ),
    (
        "report_heartbeat",
        "e593a1df5f1673fd5f537df7a2ae430e505169e0ad987504d724304b28dfd0811017dfe2ab3e8f8657d439da6ac1068aada3791904854948aee0379992051685",
    ),
];

/// Why the vectors could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VectorError {
    #[error("vector {what} does not serialize to JSON: {reason}")]
    Json { what: &'static str, reason: String },
    #[error("the P-256 vector key cannot be loaded: {0}")]
    P256Key(String),
    #[error(
        "the fixed P-256 signature {name:?} no longer verifies over its message {message}; \
         if the format change is intended, replace it in P256_SIGNATURES with {fresh}"
    )]
    StaleP256 { name: &'static str, message: String, fresh: String },
    #[error("vector {0} could not be built")]
    Build(&'static str),
}

type R<T> = Result<T, VectorError>;

fn to_json<T: Serialize>(what: &'static str, v: &T) -> R<Value> {
    serde_json::to_value(v).map_err(|e| VectorError::Json { what, reason: e.to_string() })
}

fn hx<T: BorshSerialize>(v: &T) -> String {
    hex::encode(codec::encode(v))
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// The account key that signs the vector transactions.
pub fn signer() -> Keypair {
    Keypair::from_label("vector-signer")
}

/// The account that receives.
pub fn recipient() -> Keypair {
    Keypair::from_label("vector-recipient")
}

/// The ed25519 device key: seed SHA-256("vector-device-ed25519").
pub fn ed25519_device() -> DeviceSigner {
    DeviceSigner::from_ed25519_seed(Hash::sha256(b"vector-device-ed25519").0)
}

/// The PKCS#8 document of the P-256 device key.
pub fn p256_pkcs8() -> Vec<u8> {
    let scalar = Hash::sha256(P256_LABEL.as_bytes());
    let mut doc = hex::decode(PKCS8_PREFIX).unwrap_or_default();
    doc.extend_from_slice(&scalar.0);
    doc.extend(hex::decode(PKCS8_MIDDLE).unwrap_or_default());
    doc.extend(hex::decode(P256_PUBLIC).unwrap_or_default());
    doc
}

/// The P-256 device key: scalar SHA-256("vector-device-p256").
pub fn p256_device() -> R<DeviceSigner> {
    DeviceSigner::from_p256_pkcs8(&p256_pkcs8()).map_err(|e| VectorError::P256Key(e.to_string()))
}

/// Signs `msg` with `device`: ed25519 deterministically, P-256 with the fixed signature
/// `name` (checked to verify).
fn device_sign(device: &DeviceSigner, name: &'static str, msg: &[u8]) -> R<DeviceSignature> {
    match device.public_key() {
        DeviceKey::Ed25519(_) => device.sign(msg).map_err(|_| VectorError::Build(name)),
        DeviceKey::P256(_) => {
            let fixed = P256_SIGNATURES
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, s)| hex::decode(s).ok())
                .and_then(|b| <[u8; 64]>::try_from(b).ok())
                .map(DeviceSignature::P256);
            match fixed {
                Some(sig) if device.public_key().verify(msg, &sig).is_ok() => Ok(sig),
                _ => {
                    let fresh = device.sign(msg).map_err(|_| VectorError::Build(name))?;
                    Err(VectorError::StaleP256 {
                        name,
                        message: hex::encode(msg),
                        fresh: hex::encode(fresh.as_bytes()),
                    })
                }
            }
        }
    }
}

/// What a device signature vector shows: the message, for P-256 the ECDSA digest, and the
/// signature.
fn device_sig_json(key: &DeviceKey, msg: &[u8], sig: &DeviceSignature) -> Value {
    let mut v = json!({
        "signing_message_hex": hex::encode(msg),
        "signature_hex": hex::encode(sig.as_bytes()),
        "signature_borsh_hex": hx(sig),
        "signature_text": sig.to_string(),
    });
    if let DeviceKey::P256(_) = key {
        v["ecdsa_digest_hex"] = json!(Hash::sha256(msg).to_hex());
    }
    v
}

fn account_json(label: &str, key: &Keypair) -> Value {
    json!({
        "seed_label": label,
        "seed_hex": hex::encode(key.secret_bytes()),
        "public_key_hex": hex::encode(key.address().0),
        "address_bech32": key.address().to_bech32(),
        "address_borsh_hex": hx(&key.address()),
    })
}

fn device_key_json(key: &DeviceKey) -> Value {
    let borsh = codec::encode(key);
    let mut preimage = DEVICE_ID_DOMAIN.as_bytes().to_vec();
    preimage.extend_from_slice(&borsh);
    json!({
        "kind": key.kind(),
        "public_key_hex": hex::encode(key.as_bytes()),
        "key_text": key.to_string(),
        "key_borsh_hex": hex::encode(&borsh),
        "device_id_preimage_hex": hex::encode(preimage),
        "device_id_hex": key.id().to_hex(),
    })
}

/// `keys.json`: account keys and addresses, device keys and ids.
pub fn keys() -> R<Value> {
    let p256 = p256_device()?;
    Ok(json!({
        "about": "Account keys (ed25519 from a 32-byte seed; seed = SHA-256(label)), their \
                  bech32m addresses, and device keys with their ids (docs/wire.md#keys).",
        "accounts": [
            account_json("vector-signer", &signer()),
            account_json("vector-recipient", &recipient()),
        ],
        "zero_address_bech32": Address([0; 32]).to_bech32(),
        "treasury_address": {
            "preimage": "cairn/treasury/v1",
            "address_hex": hex::encode(crate::rewards::treasury_address().0),
            "address_bech32": crate::rewards::treasury_address().to_bech32(),
        },
        "devices": {
            "ed25519": {
                "seed_label": "vector-device-ed25519",
                "seed_hex": Hash::sha256(b"vector-device-ed25519").to_hex(),
                "key": device_key_json(&ed25519_device().public_key()),
            },
            "p256": {
                "seed_label": P256_LABEL,
                "secret_scalar_hex": Hash::sha256(P256_LABEL.as_bytes()).to_hex(),
                "pkcs8_hex": hex::encode(p256_pkcs8()),
                "key": device_key_json(&p256.public_key()),
            },
        },
    }))
}

// ---------------------------------------------------------------------------------------------
// Devices: registration consents and maker attestations
// ---------------------------------------------------------------------------------------------

/// The maker whose attestation the registrations carry.
pub fn maker() -> Keypair {
    Keypair::from_label("vector-maker")
}

/// A registration of `device` by the vector signer, with its consent and a maker
/// attestation, and the vector JSON of both.
fn registration(device: &DeviceSigner, class: DeviceClass, serial: &str) -> R<(TxBody, Value)> {
    let key = device.public_key();
    let consent = RegistrationConsent { owner: signer().address(), device_nonce: 0 };
    let consent_msg = consent.signing_message(CHAIN_ID);
    let device_signature = device_sign(device, "registration_consent", &consent_msg)?;
    let maker_msg = crate::device::maker_message(CHAIN_ID, &key, serial);
    let maker_sig = maker().sign_raw(&maker_msg);
    let attestation =
        MakerAttestation { maker: maker().address(), serial: serial.into(), signature: maker_sig };
    let metadata = br#"{"model":"vector-1"}"#.to_vec();
    let body = TxBody::RegisterDevice {
        key,
        class,
        metadata: metadata.clone(),
        device_nonce: 0,
        device_signature,
        maker: Some(attestation.clone()),
    };
    let v = json!({
        "device_key": device_key_json(&key),
        "class": class.as_str(),
        "class_index": class as u8,
        "metadata_hex": hex::encode(&metadata),
        "consent": {
            "owner": consent.owner.to_bech32(),
            "device_nonce": consent.device_nonce,
            "borsh_hex": hx(&consent),
            "tag": domain::DEVICE_REGISTER,
            "signature": device_sig_json(&key, &consent_msg, &device_signature),
        },
        "maker_attestation": {
            "maker": maker().address().to_bech32(),
            "maker_seed_label": "vector-maker",
            "serial": serial,
            "tag": domain::MAKER,
            "signing_message_hex": hex::encode(&maker_msg),
            "signature_hex": hex::encode(maker_sig.0),
            "borsh_hex": hx(&attestation),
        },
        "body_borsh_hex": hx(&body),
        "body_json": to_json("registration body", &body)?,
    });
    Ok((body, v))
}

// ---------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------

/// The entropy a beacon vector derives its data from.
fn beacon_entropy() -> Hash {
    Hash::sha256(b"vector-entropy")
}

fn report_payloads() -> Vec<ReportPayload> {
    let device = ed25519_device().id();
    vec![
        ReportPayload::Heartbeat { uptime_secs: 86_400 },
        ReportPayload::Reading { value: -21_500 },
        ReportPayload::Beacon {
            entropy_height: 40,
            data: crate::device::beacon_data(&beacon_entropy(), &device),
            frequency_khz: 868_100,
            tx_power_dbm: 14,
        },
        ReportPayload::Witness {
            beaconer: Hash::sha256(b"vector-beaconer"),
            beacon_height: 41,
            rssi_cdbm: -10_250,
            frequency_khz: 868_100,
        },
    ]
}

/// The signed reports of the vectors: each payload kind from the ed25519 device, then a
/// heartbeat from the P-256 device.
pub fn signed_reports() -> R<Vec<SignedReport>> {
    Ok(report_vectors()?.into_iter().map(|(r, _)| r).collect())
}

fn report_vectors() -> R<Vec<(SignedReport, Value)>> {
    let mut out = Vec::new();
    let ed = ed25519_device();
    let p256 = p256_device()?;
    let mut items: Vec<(&DeviceSigner, ReportPayload, &'static str)> =
        report_payloads().into_iter().map(|p| (&ed, p, "")).collect();
    items.push((&p256, ReportPayload::Heartbeat { uptime_secs: 3_600 }, "report_heartbeat"));
    for (i, (device, payload, p256_name)) in items.into_iter().enumerate() {
        let report = Report {
            device: device.public_key(),
            seq: 100 + i as u64,
            epoch: 1,
            timestamp_ms: 1_700_000_000_500 + i as u64,
            payload,
        };
        let msg = report.signing_message(CHAIN_ID);
        let signature = device_sign(device, p256_name, &msg)?;
        let signed = SignedReport { report: report.clone(), signature };
        let payload_borsh = codec::encode(&report.payload);
        let v = json!({
            "kind": to_json("report kind", &report.payload.kind())?,
            "payload_index": payload_borsh.first().copied(),
            "payload_borsh_hex": hex::encode(&payload_borsh),
            "device_id_hex": report.device.id().to_hex(),
            "report_borsh_hex": hx(&report),
            "report_json": to_json("report", &report)?,
            "tag": domain::REPORT,
            "signature": device_sig_json(&report.device, &msg, &signature),
            "signed_report_borsh_hex": hx(&signed),
        });
        out.push((signed, v));
    }
    Ok(out)
}

/// `reports.json`.
pub fn reports() -> R<Value> {
    let vectors: Vec<Value> = report_vectors()?.into_iter().map(|(_, v)| v).collect();
    Ok(json!({
        "about": "Signed reports of every payload kind (ed25519), and a P-256 heartbeat. \
                  The beacon's data is SHA-256(\"cairn/beacon/v1\" ‖ entropy ‖ device id).",
        "chain_id": CHAIN_ID,
        "beacon_entropy_hex": beacon_entropy().to_hex(),
        "reports": vectors,
    }))
}

// ---------------------------------------------------------------------------------------------
// Usage receipts, ids and commitments
// ---------------------------------------------------------------------------------------------

/// The usage receipt of the vectors, signed by the consumer (the vector signer).
pub fn signed_usage_receipt() -> SignedUsageReceipt {
    let receipt = UsageReceipt {
        channel: crate::usage::channel_id(&signer().address(), 3),
        total_units: 1_234,
        seq: 9,
    };
    let signature = signer().sign_payload(domain::USAGE_RECEIPT, CHAIN_ID, &receipt);
    SignedUsageReceipt { receipt, signature }
}

/// `usage.json`: a usage receipt and the ids derived from an account and a nonce.
pub fn usage() -> R<Value> {
    let s = signed_usage_receipt();
    let consumer = signer().address();
    let result = Hash::sha256(b"vector-result");
    let salt = [0x5a; 32];
    let device = ed25519_device().id();
    Ok(json!({
        "about": "A consumer's usage receipt under cairn/usage-receipt/v1, and the ids of \
                  channels, jobs and deals (SHA-256(tag ‖ account ‖ nonce as u64 big-endian)).",
        "chain_id": CHAIN_ID,
        "receipt": {
            "consumer": consumer.to_bech32(),
            "channel_hex": s.receipt.channel.to_hex(),
            "total_units": s.receipt.total_units,
            "seq": s.receipt.seq,
            "borsh_hex": hx(&s.receipt),
            "tag": domain::USAGE_RECEIPT,
            "signing_message_hex": hex::encode(s.receipt.signing_message(CHAIN_ID)),
            "signature_hex": hex::encode(s.signature.0),
            "signed_borsh_hex": hx(&s),
            "json": to_json("usage receipt", &s)?,
        },
        "ids": {
            "account": consumer.to_bech32(),
            "nonce": 3,
            "channel_id_hex": crate::usage::channel_id(&consumer, 3).to_hex(),
            "job_id_hex": crate::compute::job_id(&consumer, 3).to_hex(),
            "deal_id_hex": crate::storage::deal_id(&consumer, 3).to_hex(),
        },
        "job_commitment": {
            "result_hex": result.to_hex(),
            "salt_hex": hex::encode(salt),
            "device_hex": device.to_hex(),
            "commitment_hex": crate::compute::commitment(&result, &salt, &device).to_hex(),
        },
    }))
}

// ---------------------------------------------------------------------------------------------
// Rewards and Merkle trees
// ---------------------------------------------------------------------------------------------

/// The vector epoch's reward leaves: five, so that the last is carried up a level.
pub fn reward_leaves() -> Vec<RewardLeaf> {
    (0..5u8)
        .map(|i| RewardLeaf {
            device: Hash::sha256(&[b'd', i]),
            owner: if i % 2 == 0 { signer().address() } else { recipient().address() },
            amount: 1_000_000 * (u128::from(i) + 1),
        })
        .collect()
}

/// The reward epoch of the vectors.
pub const REWARD_EPOCH: u64 = 3;

/// The root over [`reward_leaves`].
pub fn reward_root() -> Hash {
    merkle::root(&reward_leaves().iter().map(RewardLeaf::hash).collect::<Vec<_>>())
}

/// The claim of leaf `index` of the vector epoch.
pub fn reward_claim(index: u64) -> R<RewardClaim> {
    let leaves = reward_leaves();
    let hashes: Vec<Hash> = leaves.iter().map(RewardLeaf::hash).collect();
    let path = merkle::prove(&hashes, index).ok_or(VectorError::Build("reward path"))?;
    let leaf = leaves.get(index as usize).cloned().ok_or(VectorError::Build("reward leaf"))?;
    Ok(RewardClaim { epoch: REWARD_EPOCH, index, leaf, path })
}

/// `rewards.json`: reward leaves, their hashes, the root, every path and two claims.
pub fn rewards() -> R<Value> {
    let leaves = reward_leaves();
    let hashes: Vec<Hash> = leaves.iter().map(RewardLeaf::hash).collect();
    let mut rows = Vec::new();
    for (i, (leaf, h)) in leaves.iter().zip(&hashes).enumerate() {
        let path = merkle::prove(&hashes, i as u64).ok_or(VectorError::Build("reward path"))?;
        rows.push(json!({
            "index": i,
            "device_hex": leaf.device.to_hex(),
            "owner": leaf.owner.to_bech32(),
            "amount": leaf.amount.to_string(),
            "leaf_borsh_hex": hx(leaf),
            "leaf_hash_hex": h.to_hex(),
            "merkle_leaf_hex": merkle::leaf_hash(&h.0).to_hex(),
            "path_hex": path.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        }));
    }
    let claims = [1, 4]
        .into_iter()
        .map(|i| {
            let c = reward_claim(i)?;
            Ok(json!({ "borsh_hex": hx(&c), "json": to_json("claim", &c)? }))
        })
        .collect::<R<Vec<_>>>()?;
    Ok(json!({
        "about": "Reward leaves: leaf hash = SHA-256(borsh(leaf)) = SHA-256(device ‖ owner ‖ \
                  amount u128 LE); Merkle leaf = SHA-256(0x00 ‖ leaf hash); inner = \
                  SHA-256(0x01 ‖ left ‖ right); an odd last node is carried up; the path lists \
                  the siblings from the bottom, skipping levels where the node was carried up.",
        "epoch": REWARD_EPOCH,
        "leaf_count": leaves.len(),
        "root_hex": reward_root().to_hex(),
        "leaves": rows,
        "claims": claims,
    }))
}

/// `merkle.json`: the transaction/receipt Merkle tree on small inputs.
pub fn merkle_vectors() -> Value {
    let roots: Vec<Value> = (0..=5u8)
        .map(|n| {
            let items: Vec<Hash> = (0..n).map(|i| Hash::sha256(&[i])).collect();
            json!({
                "count": n,
                "items_hex": items.iter().map(Hash::to_hex).collect::<Vec<_>>(),
                "root_hex": merkle::root(&items).to_hex(),
            })
        })
        .collect();
    json!({
        "about": "Binary Merkle roots over item hashes (item i = SHA-256 of the single byte i): \
                  leaf = SHA-256(0x00 ‖ item), inner = SHA-256(0x01 ‖ left ‖ right), an odd last \
                  node is carried up unchanged, the empty root is 32 zero bytes.",
        "roots": roots,
    })
}

// ---------------------------------------------------------------------------------------------
// Transactions of every kind
// ---------------------------------------------------------------------------------------------

/// The fee parameters the vector transactions pay at (the vector genesis's).
pub fn fee_params() -> Params {
    genesis().params
}

fn double_vote() -> DoubleVote {
    let key = Keypair::from_label("vector-validator-1");
    let vote = |block: &[u8]| {
        let v = Vote {
            height: 40,
            round: 0,
            kind: VoteKind::Precommit,
            block: Some(Hash::sha256(block)),
            validator: key.address(),
        };
        let signature = v.sign(&key, CHAIN_ID);
        SignedVote { vote: v, signature }
    };
    DoubleVote { first: vote(b"vector-block-a"), second: vote(b"vector-block-b") }
}

/// One body of every kind, in the order of their variant indices.
pub fn bodies() -> R<Vec<TxBody>> {
    use crate::storage::{chunk_proof, chunks};
    let device = ed25519_device().id();
    let (register, _) = registration(&ed25519_device(), DeviceClass::Hotspot, "SN-0001")?;
    let data = b"cairn storage vector, six chunks of eight";
    let parts = chunks(data, 8);
    let receipt = signed_usage_receipt();
    let other = recipient().address();
    let job = Hash::sha256(b"vector-job");
    Ok(vec![
        TxBody::Transfer { to: other, amount: 1_500_000 },
        register,
        TxBody::AssertLocation { device, cell: 0x8c1f_b46c_a4a1_dfff },
        TxBody::TransferDevice { device, to: other },
        TxBody::DeregisterDevice { device },
        TxBody::SubmitReports { reports: signed_reports()? },
        TxBody::SetDenylist { key: p256_device()?.public_key(), reason: Some("cloned".into()) },
        TxBody::SetMaker { maker: maker().address(), allowed: true },
        TxBody::OpenChannel { device, escrow: 100_000, price_per_unit: 100 },
        TxBody::SettleChannel { receipt: receipt.clone() },
        TxBody::DisputeChannel { receipt },
        TxBody::CloseChannel { channel: crate::usage::channel_id(&signer().address(), 3) },
        TxBody::PostJob {
            workload: Hash::sha256(b"vector-workload"),
            input: Hash::sha256(b"vector-input"),
            replication: 3,
            price: 5_000,
        },
        TxBody::TakeJob { job, device },
        TxBody::CommitResult {
            job,
            device,
            commitment: crate::compute::commitment(
                &Hash::sha256(b"vector-result"),
                &[0x5a; 32],
                &device,
            ),
        },
        TxBody::RevealResult {
            job,
            device,
            result: Hash::sha256(b"vector-result"),
            salt: [0x5a; 32],
        },
        TxBody::OpenDeal {
            device,
            root: crate::storage::chunk_root(&parts),
            chunks: parts.len() as u64,
            duration_epochs: 10,
            price_per_epoch: 1_000,
        },
        TxBody::ProveStorage {
            deal: crate::storage::deal_id(&signer().address(), 3),
            index: 4,
            chunk: parts.get(4).map(|c| c.to_vec()).unwrap_or_default(),
            path: chunk_proof(&parts, 4).ok_or(VectorError::Build("chunk proof"))?,
        },
        TxBody::AcceptJob { job, result: Hash::sha256(b"vector-result") },
        TxBody::ClaimRewards { claims: vec![reward_claim(1)?, reward_claim(4)?] },
        TxBody::SetOracle { oracle: other, allowed: true },
        TxBody::ReportPrice { nano_usd_per_crn: 1_250_000_000 },
        TxBody::MintCredits { to: other, amount: 5_000_000 },
        TxBody::Appeal { device, epoch: REWARD_EPOCH },
        TxBody::ResolveFraud { device, epoch: REWARD_EPOCH, release: true },
        TxBody::Bond { amount: 500_000_000 },
        TxBody::Delegate { validator: other, amount: 2_000_000 },
        TxBody::Unbond { validator: other, amount: 1_000_000 },
        TxBody::ReportEquivocation { evidence: double_vote() },
        TxBody::AcceptDeal { deal: crate::storage::deal_id(&signer().address(), 3) },
        TxBody::Lock { amount: 1_000_000_000, epochs: 10, constant: false },
        TxBody::Unlock,
        TxBody::Propose {
            title: "Tighter witness cap".into(),
            action: crate::gov::ProposalAction::ParamChange {
                changes: vec![crate::gov::ParamChange {
                    key: "coverage.witness_cap".into(),
                    value: "10".into(),
                }],
            },
            deposit: 1_000_000_000,
        },
        TxBody::Vote { proposal: 1, choice: crate::gov::VoteChoice::Veto },
    ])
}

/// `key` signs `body` at `nonce`, expiring at height 1 000, at the minimum fee of
/// [`fee_params`].
pub fn sign_body(key: &Keypair, nonce: u64, body: TxBody) -> SignedTx {
    Transaction {
        chain_id: CHAIN_ID.into(),
        signer: key.address(),
        nonce,
        max_fee: 0,
        expiry_height: 1_000,
        body,
    }
    .sign_with_min_fee(key, &fee_params())
}

/// The vector transactions: one of every kind, signed by [`signer`] with nonces 0, 1, …
pub fn transactions() -> R<Vec<SignedTx>> {
    Ok(bodies()?.into_iter().enumerate().map(|(i, b)| sign_body(&signer(), i as u64, b)).collect())
}

fn tx_json(stx: &SignedTx) -> R<Value> {
    let body = codec::encode(&stx.tx.body);
    let bytes = stx.to_bytes();
    Ok(json!({
        "kind": stx.tx.body.kind(),
        "variant_index": body.first().copied(),
        "nonce": stx.tx.nonce,
        "max_fee": stx.tx.max_fee.to_string(),
        "expiry_height": stx.tx.expiry_height,
        "body_borsh_hex": hex::encode(&body),
        "tx_borsh_hex": hx(&stx.tx),
        "signing_message_hex": hex::encode(stx.signing_message()),
        "signature_hex": hex::encode(stx.signature.0),
        "signed_tx_hex": hex::encode(&bytes),
        "size": bytes.len(),
        "hash_hex": stx.hash().to_hex(),
        "json": to_json("signed tx", stx)?,
    }))
}

/// `transactions.json`: one signed transaction of every kind.
pub fn transactions_json() -> R<Value> {
    let p = fee_params();
    let txs = transactions()?.iter().map(tx_json).collect::<R<Vec<_>>>()?;
    Ok(json!({
        "about": "One signed transaction of every body kind, signed by the vector signer at \
                  the minimum fee (base_fee + fee_per_byte × size, size = length of the signed \
                  bytes, tx ‖ 64-byte signature).",
        "chain_id": CHAIN_ID,
        "signer": signer().address().to_bech32(),
        "base_fee": p.base_fee.to_string(),
        "fee_per_byte": p.fee_per_byte.to_string(),
        "tx_tag": domain::TX,
        "transactions": txs,
    }))
}

/// `devices.json`: device registrations with an ed25519 and a P-256 key.
pub fn devices() -> R<Value> {
    let (ed_body, ed) = registration(&ed25519_device(), DeviceClass::Hotspot, "SN-0001")?;
    let (p_body, p) = registration(&p256_device()?, DeviceClass::Sensor, "SN-0002")?;
    let classes: Vec<Value> = DeviceClass::ALL
        .iter()
        .map(|c| json!({ "class": c.as_str(), "index": *c as u8 }))
        .collect();
    let mut ed = ed;
    ed["signed_tx_hex"] = json!(hex::encode(sign_body(&signer(), 1, ed_body).to_bytes()));
    let mut p = p;
    p["signed_tx_hex"] = json!(hex::encode(sign_body(&signer(), 2, p_body).to_bytes()));
    Ok(json!({
        "about": "Device registrations: the device key signs RegistrationConsent {owner, \
                  device_nonce} under cairn/device-register/v1 (P-256: ECDSA over SHA-256 of the \
                  signing message, r ‖ s, low-S); the maker signs borsh(key) ‖ borsh(serial) \
                  under cairn/maker/v1.",
        "chain_id": CHAIN_ID,
        "owner": signer().address().to_bech32(),
        "classes": classes,
        "ed25519": ed,
        "p256": p,
    }))
}

// ---------------------------------------------------------------------------------------------
// Blocks and receipts
// ---------------------------------------------------------------------------------------------

/// Receipts of a block of the vector transactions: a success, a failure, and a report batch
/// with a rejection.
pub fn block_receipts() -> R<Vec<Receipt>> {
    let txs = transactions()?;
    let hash = |i: usize| txs.get(i).map(SignedTx::hash).ok_or(VectorError::Build("receipt"));
    let reports = signed_reports()?;
    let rejected_device = reports
        .get(1)
        .map(|r| r.report.device.id())
        .ok_or(VectorError::Build("rejected report"))?;
    Ok(vec![
        Receipt {
            tx_hash: hash(0)?,
            height: 42,
            index: 0,
            fee_paid: txs.first().map_or(0, |t| t.tx.max_fee),
            status: TxStatus::Success,
            outcome: TxOutcome::None,
        },
        Receipt {
            tx_hash: hash(2)?,
            height: 42,
            index: 1,
            fee_paid: txs.get(2).map_or(0, |t| t.tx.max_fee),
            status: TxStatus::Failed {
                error: TxFailure::NotOwner {
                    device: ed25519_device().id(),
                    owner: recipient().address(),
                    signer: signer().address(),
                },
            },
            outcome: TxOutcome::None,
        },
        Receipt {
            tx_hash: hash(5)?,
            height: 42,
            index: 2,
            fee_paid: txs.get(5).map_or(0, |t| t.tx.max_fee),
            status: TxStatus::Success,
            outcome: TxOutcome::Reports {
                accepted: 4,
                rejected: vec![crate::device::ReportRejection {
                    index: 1,
                    device: rejected_device,
                    seq: 101,
                    reason: crate::device::RejectReason::OutOfRange {
                        value: -21_500,
                        min: -20_000,
                        max: 60_000,
                    },
                }],
            },
        },
    ])
}

/// The header of block 42 of the vector transactions 0, 2 and 5, with the receipts root of
/// [`block_receipts`] and the state root given.
pub fn block_header(state_root: Hash) -> R<BlockHeader> {
    let txs = transactions()?;
    let included: Vec<Hash> =
        [0usize, 2, 5].iter().filter_map(|i| txs.get(*i)).map(SignedTx::hash).collect();
    let receipts: Vec<Hash> = block_receipts()?.iter().map(Receipt::hash).collect();
    Ok(BlockHeader {
        height: 42,
        parent_hash: Hash::sha256(b"vector-parent"),
        timestamp_ms: 1_700_000_000_123,
        proposer: signer().address(),
        epoch: 1,
        tx_root: merkle::root(&included),
        receipts_root: merkle::root(&receipts),
        state_root,
    })
}

/// `blocks.json`: receipts of every status and outcome with their root, a header over them
/// and its hash, and the solo certificate's signature.
pub fn blocks() -> R<Value> {
    let receipts = block_receipts()?;
    let rows = receipts
        .iter()
        .map(|r| {
            Ok(json!({
                "borsh_hex": hx(r),
                "hash_hex": r.hash().to_hex(),
                "json": to_json("receipt", r)?,
            }))
        })
        .collect::<R<Vec<_>>>()?;
    let header = block_header(Hash::sha256(b"vector-state"))?;
    let block_hash = header.hash();
    let cert = Certificate::solo(&signer(), CHAIN_ID, &block_hash);
    let (cert_signer, cert_sig) = match &cert {
        Certificate::Solo { signer, signature } => (*signer, *signature),
        Certificate::Bft(_) => return Err(VectorError::Build("solo certificate")),
    };
    Ok(json!({
        "about": "A block header over transactions 0, 2 and 5 of transactions.json (tx_root \
                  over their hashes) and three receipts (receipts_root over their hashes); \
                  header hash = SHA-256(borsh(header)).",
        "chain_id": CHAIN_ID,
        "tx_indices": [0, 2, 5],
        "receipts": rows,
        "receipts_root_hex": header.receipts_root.to_hex(),
        "header": {
            "borsh_hex": hx(&header),
            "hash_hex": block_hash.to_hex(),
            "json": to_json("header", &header)?,
        },
        "solo_certificate": {
            "tag": domain::BLOCK,
            "signer": cert_signer.to_bech32(),
            "signing_message_hex": hex::encode(crypto::signing_message(
                domain::BLOCK,
                CHAIN_ID,
                &block_hash,
            )),
            "signature_hex": hex::encode(cert_sig.0),
            "borsh_hex": hx(&cert),
        },
        "entropy": {
            "tag": domain::ENTROPY,
            "entropy_hex": crate::block::entropy_of(&block_hash).to_hex(),
        },
    }))
}

// ---------------------------------------------------------------------------------------------
// The original frozen vectors (`wire.json`)
// ---------------------------------------------------------------------------------------------

/// The signed transfer of `wire.json`.
pub fn wire_signed_tx() -> SignedTx {
    let key = signer();
    Transaction {
        chain_id: CHAIN_ID.into(),
        signer: key.address(),
        nonce: 7,
        max_fee: 12_345,
        expiry_height: 1_000,
        body: TxBody::Transfer { to: recipient().address(), amount: 1_500_000 },
    }
    .sign(&key)
}

/// The receipts of `wire.json`.
pub fn wire_receipts(stx: &SignedTx) -> Vec<Receipt> {
    vec![
        Receipt {
            tx_hash: stx.hash(),
            height: 42,
            index: 0,
            fee_paid: 12_345,
            status: TxStatus::Success,
            outcome: TxOutcome::None,
        },
        Receipt {
            tx_hash: Hash::sha256(b"vector-failed-tx"),
            height: 42,
            index: 1,
            fee_paid: 2_000,
            status: TxStatus::Failed {
                error: TxFailure::InsufficientBalance { needed: u128::MAX, available: 1 },
            },
            outcome: TxOutcome::None,
        },
    ]
}

fn wire_receipts_root(stx: &SignedTx) -> Hash {
    merkle::root(&wire_receipts(stx).iter().map(Receipt::hash).collect::<Vec<_>>())
}

/// The header of `wire.json`. Its roots other than `tx_root` are fixed hashes rather than
/// computed, so that a receipt or state format change shows up in its own vectors and leaves
/// the header's alone.
pub fn wire_header(stx: &SignedTx) -> BlockHeader {
    BlockHeader {
        height: 42,
        parent_hash: Hash::sha256(b"vector-parent"),
        timestamp_ms: 1_700_000_000_123,
        proposer: signer().address(),
        epoch: 1,
        tx_root: merkle::root(&[stx.hash()]),
        receipts_root: Hash::sha256(b"vector-receipts"),
        state_root: Hash::sha256(b"vector-state"),
    }
}

/// The solo-certified block of `wire.json`.
pub fn wire_block(stx: &SignedTx) -> Block {
    let header = wire_header(stx);
    let certificate = Certificate::solo(&signer(), CHAIN_ID, &header.hash());
    Block { header, txs: vec![stx.clone()], certificate }
}

/// The genesis of the vectors.
pub fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: 1_700_000_000_000,
        validator: signer().address(),
        validators: vec![GenesisValidator {
            address: recipient().address(),
            stake: 500 * crate::UNITS_PER_CRN,
        }],
        accounts: vec![
            GenesisAccount { address: signer().address(), balance: 1_000_000_000_000 },
            GenesisAccount { address: recipient().address(), balance: 1 },
        ],
        // The core fields are spelled out, so that tuning their defaults does not look
        // like a format change; fields added later take their defaults (and a new field
        // changes the genesis encoding, which these vectors are meant to notice).
        params: Params {
            blocks_per_epoch: 30,
            base_fee: 1_000,
            fee_per_byte: 10,
            max_tx_bytes: 16 * 1024,
            max_block_txs: 20_000,
            max_block_bytes: 8 * 1024 * 1024,
            ..Params::default()
        },
    }
}

fn sig_hex(c: &Certificate) -> String {
    match c {
        Certificate::Solo { signature, .. } => hex::encode(signature.0),
        Certificate::Bft(commit) => hex::encode(commit.proposer_signature.0),
    }
}

/// Validators of the BFT vectors: the signer (proposer) and two more.
pub fn bft_validators() -> Vec<Keypair> {
    vec![
        signer(),
        Keypair::from_label("vector-validator-1"),
        Keypair::from_label("vector-validator-2"),
    ]
}

/// The precommit of `key` for `header` in round 1.
pub fn precommit(key: &Keypair, header: &BlockHeader) -> Vote {
    Vote {
        height: header.height,
        round: 1,
        kind: VoteKind::Precommit,
        block: Some(header.hash()),
        validator: key.address(),
    }
}

/// The `wire.json` block certified by a BFT commit of all three validators in round 1.
pub fn wire_bft_block(stx: &SignedTx) -> Block {
    let header = wire_header(stx);
    let mut signatures: Vec<CommitSignature> = bft_validators()
        .iter()
        .map(|k| CommitSignature {
            validator: k.address(),
            signature: precommit(k, &header).sign(k, CHAIN_ID),
        })
        .collect();
    signatures.sort_by_key(|c| c.validator);
    let commit = Commit {
        round: 1,
        proposer_signature: signer().sign_payload(domain::BLOCK, CHAIN_ID, &header.hash()),
        signatures,
    };
    Block { header, txs: vec![stx.clone()], certificate: Certificate::Bft(commit) }
}

/// The validator set of the BFT vectors (power 10 each).
pub fn bft_set() -> Option<ValidatorSet> {
    ValidatorSet::new(
        bft_validators().iter().map(|k| Validator { address: k.address(), power: 10 }).collect(),
    )
    .ok()
}

/// `wire.json`: the first frozen vectors (a transfer, receipts, a header, solo and BFT
/// blocks, the genesis, storage).
pub fn wire() -> R<Value> {
    let stx = wire_signed_tx();
    let receipts = wire_receipts(&stx);
    let header = wire_header(&stx);
    let block = wire_block(&stx);
    let bft = wire_bft_block(&stx);
    let genesis = genesis();
    let zero = Address([0u8; 32]);
    let receipt_rows = receipts
        .iter()
        .map(|r| {
            Ok(json!({
                "bytes_hex": hex::encode(codec::encode(r)),
                "hash_hex": r.hash().to_hex(),
                "json": to_json("receipt", r)?,
            }))
        })
        .collect::<R<Vec<_>>>()?;
    Ok(json!({
        "about": "Cairn frozen wire vectors; regenerate only for an intended format change \
                  (see crates/types/tests/vectors.rs).",
        "chain_id": CHAIN_ID,
        "signer": {
            "label": "vector-signer",
            "address_bech32": signer().address().to_bech32(),
            "address_hex": hex::encode(signer().address().0),
            "address_borsh_hex": hex::encode(codec::encode(&signer().address())),
        },
        "recipient": {
            "label": "vector-recipient",
            "address_bech32": recipient().address().to_bech32(),
            "address_hex": hex::encode(recipient().address().0),
        },
        "zero_address": {
            "address_bech32": zero.to_bech32(),
        },
        "signed_tx": {
            "bytes_hex": hex::encode(stx.to_bytes()),
            "hash_hex": stx.hash().to_hex(),
            "signing_message_hex": hex::encode(stx.signing_message()),
            "signature_hex": hex::encode(stx.signature.0),
            "json": to_json("signed tx", &stx)?,
        },
        "receipts_root_hex": wire_receipts_root(&stx).to_hex(),
        "receipts": receipt_rows,
        "block_header": {
            "bytes_hex": hex::encode(codec::encode(&header)),
            "hash_hex": header.hash().to_hex(),
            "json": to_json("header", &header)?,
        },
        "block": {
            "bytes_hex": hex::encode(codec::encode(&block)),
            "hash_hex": block.hash().to_hex(),
            "certificate_signing_message_hex": hex::encode(crypto::signing_message(
                domain::BLOCK,
                CHAIN_ID,
                &block.hash(),
            )),
            "certificate_signature_hex": sig_hex(&block.certificate),
        },
        "bft_block": {
            "bytes_hex": hex::encode(codec::encode(&bft)),
            "hash_hex": bft.hash().to_hex(),
            "entropy_hex": bft.entropy().to_hex(),
            "precommit_signing_message_hex": hex::encode(
                precommit(&signer(), &bft.header).signing_message(CHAIN_ID),
            ),
            "json": to_json("bft block", &bft)?,
        },
        "solo_block_entropy_hex": block.entropy().to_hex(),
        "genesis": {
            "bytes_hex": hex::encode(codec::encode(&genesis)),
            "hash_hex": genesis.hash().to_hex(),
            "json": to_json("genesis", &genesis)?,
        },
        "storage": storage_vectors()?,
    }))
}

/// A chunk root (bound to its chunk count), an `OpenDeal` body over it and the provider's
/// `AcceptDeal` of the deal.
fn storage_vectors() -> R<Value> {
    use crate::storage::{chunk_proof, chunk_root, chunks, tree_root};
    let data = b"cairn storage vector, six chunks of eight";
    let parts = chunks(data, 8);
    let root = chunk_root(&parts);
    let open = TxBody::OpenDeal {
        device: Hash::sha256(b"vector-device"),
        root,
        chunks: parts.len() as u64,
        duration_epochs: 10,
        price_per_epoch: 1_000,
    };
    let accept = TxBody::AcceptDeal { deal: Hash::sha256(b"vector-deal") };
    let proof = chunk_proof(&parts, 4).ok_or(VectorError::Build("chunk proof"))?;
    Ok(json!({
        "chunk_count": parts.len(),
        "tree_root_hex": tree_root(&parts).to_hex(),
        "chunk_root_hex": root.to_hex(),
        "proof_of_chunk_4": proof.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        "open_deal_bytes_hex": hex::encode(codec::encode(&open)),
        "open_deal_json": to_json("open deal", &open)?,
        "accept_deal_bytes_hex": hex::encode(codec::encode(&accept)),
        "accept_deal_json": to_json("accept deal", &accept)?,
    }))
}

// ---------------------------------------------------------------------------------------------
// Files, comparison
// ---------------------------------------------------------------------------------------------

/// Every vector file this crate makes, by file name (the state proofs are made by
/// `cairn_app::vectors`, which adds `state.json`).
pub fn files() -> R<BTreeMap<&'static str, Value>> {
    Ok(BTreeMap::from([
        ("wire.json", wire()?),
        ("keys.json", keys()?),
        ("transactions.json", transactions_json()?),
        ("devices.json", devices()?),
        ("reports.json", reports()?),
        ("usage.json", usage()?),
        ("rewards.json", rewards()?),
        ("merkle.json", merkle_vectors()),
        ("blocks.json", blocks()?),
    ]))
}

/// The text a vector file is written as: pretty JSON and a final newline.
pub fn to_text(v: &Value) -> String {
    let mut text = serde_json::to_string_pretty(v).unwrap_or_default();
    text.push('\n');
    text
}

/// `a.b[0].c` → leaf value, so a difference names the exact field.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&p, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

/// Every field in which `actual` differs from `expected`, one line each.
pub fn differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut e = BTreeMap::new();
    flatten("", expected, &mut e);
    let mut a = BTreeMap::new();
    flatten("", actual, &mut a);
    let keys: std::collections::BTreeSet<&String> = e.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| e.get(*k) != a.get(*k))
        .map(|k| format!("  {k}:\n    frozen:   {:?}\n    computed: {:?}", e.get(k), a.get(k)))
        .collect()
}

/// Compares `files` with the frozen files of the same names, whose text `read` gives (the
/// caller does the reading: this crate does no I/O). Returns the differences of each file,
/// or a line saying it cannot be read or parsed; empty if all match.
pub fn compare(
    files: &BTreeMap<&str, Value>,
    read: impl Fn(&str) -> Result<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, computed) in files {
        let frozen =
            read(name).and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()));
        match frozen {
            Ok(frozen) => {
                let d = differences(&frozen, computed);
                if !d.is_empty() {
                    out.push(format!("{} ({} fields differ):\n{}", name, d.len(), d.join("\n")));
                }
            }
            Err(e) => out.push(format!("{name}: cannot read: {e}")),
        }
    }
    out
}
