#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Frozen wire and storage vectors.
//!
//! Fixed objects built from deterministic keys are encoded, hashed and signed, and the
//! results compared with `tests/vectors/wire.json`. Any change to the canonical encoding,
//! the hashes, the signing message, key derivation, the address format or the JSON shapes
//! fails here. If a change is intended (a new wire version), regenerate the file with
//!
//! ```text
//! CAIRN_WRITE_VECTORS=1 cargo test -p cairn-types --test vectors -- --ignored write_vectors
//! ```
//!
//! and say in the commit why the format changed. ed25519 signatures are deterministic, so
//! the file is stable.

use cairn_types::consensus::{Commit, CommitSignature, Validator, ValidatorSet, Vote, VoteKind};
use cairn_types::crypto::{self, domain};
use cairn_types::genesis::{GenesisAccount, GenesisValidator};
use cairn_types::{
    Address, Block, BlockHeader, Certificate, Genesis, Hash, Keypair, Params, Receipt, SignedTx,
    Transaction, TxBody, TxFailure, TxOutcome, TxStatus, codec, merkle,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

const CHAIN_ID: &str = "cairn-vectors-1";

/// The crate directory as cargo gives it to the running test, so a test binary
/// built from a clone at another path (a shared target directory) still finds the file.
fn vectors_path() -> PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    dir.join("tests/vectors/wire.json")
}

fn signer() -> Keypair {
    Keypair::from_label("vector-signer")
}

fn recipient() -> Keypair {
    Keypair::from_label("vector-recipient")
}

fn signed_tx() -> SignedTx {
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

fn receipts(stx: &SignedTx) -> Vec<Receipt> {
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

fn receipts_root(stx: &SignedTx) -> Hash {
    merkle::root(&receipts(stx).iter().map(Receipt::hash).collect::<Vec<_>>())
}

/// The header's roots other than `tx_root` are fixed hashes rather than computed, so that a
/// receipt or state format change shows up in its own vectors and leaves the header's alone.
fn header(stx: &SignedTx) -> BlockHeader {
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

fn block(stx: &SignedTx) -> Block {
    let header = header(stx);
    let certificate = Certificate::solo(&signer(), CHAIN_ID, &header.hash());
    Block { header, txs: vec![stx.clone()], certificate }
}

fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: 1_700_000_000_000,
        validator: signer().address(),
        validators: vec![GenesisValidator {
            address: recipient().address(),
            stake: 500 * cairn_types::UNITS_PER_CRN,
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
fn bft_validators() -> Vec<Keypair> {
    vec![
        signer(),
        Keypair::from_label("vector-validator-1"),
        Keypair::from_label("vector-validator-2"),
    ]
}

fn precommit(key: &Keypair, header: &BlockHeader) -> Vote {
    Vote {
        height: header.height,
        round: 1,
        kind: VoteKind::Precommit,
        block: Some(header.hash()),
        validator: key.address(),
    }
}

/// The vector block certified by a BFT commit of all three validators in round 1.
fn bft_block(stx: &SignedTx) -> Block {
    let header = header(stx);
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

fn bft_set() -> ValidatorSet {
    ValidatorSet::new(
        bft_validators().iter().map(|k| Validator { address: k.address(), power: 10 }).collect(),
    )
    .unwrap()
}

/// Every vector, computed from scratch.
fn compute() -> Value {
    let stx = signed_tx();
    let receipts = receipts(&stx);
    let header = header(&stx);
    let block = block(&stx);
    let bft = bft_block(&stx);
    let genesis = genesis();
    let zero = Address([0u8; 32]);
    json!({
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
            "json": serde_json::to_value(&stx).unwrap(),
        },
        "receipts_root_hex": receipts_root(&stx).to_hex(),
        "receipts": receipts.iter().map(|r| json!({
            "bytes_hex": hex::encode(codec::encode(r)),
            "hash_hex": r.hash().to_hex(),
            "json": serde_json::to_value(r).unwrap(),
        })).collect::<Vec<_>>(),
        "block_header": {
            "bytes_hex": hex::encode(codec::encode(&header)),
            "hash_hex": header.hash().to_hex(),
            "json": serde_json::to_value(&header).unwrap(),
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
            "json": serde_json::to_value(&bft).unwrap(),
        },
        "solo_block_entropy_hex": block.entropy().to_hex(),
        "genesis": {
            "bytes_hex": hex::encode(codec::encode(&genesis)),
            "hash_hex": genesis.hash().to_hex(),
            "json": serde_json::to_value(&genesis).unwrap(),
        },
        "storage": storage_vectors(),
        "governance": governance_vectors(),
    })
}

/// The governance bodies: a lock, an unlock, a parameter-change proposal and a vote.
fn governance_vectors() -> Value {
    use cairn_types::gov::{ParamChange, ProposalAction, VoteChoice};
    let bodies = [
        TxBody::Lock { amount: 1_000_000_000, epochs: 10, constant: false },
        TxBody::Unlock,
        TxBody::Propose {
            title: "Tighter witness cap".into(),
            action: ProposalAction::ParamChange {
                changes: vec![ParamChange {
                    key: "coverage.witness_cap".into(),
                    value: "10".into(),
                }],
            },
            deposit: 1_000_000_000,
        },
        TxBody::Vote { proposal: 1, choice: VoteChoice::Veto },
    ];
    Value::Array(
        bodies
            .iter()
            .map(|b| {
                json!({
                    "bytes_hex": hex::encode(codec::encode(b)),
                    "json": serde_json::to_value(b).unwrap(),
                })
            })
            .collect(),
    )
}

/// A chunk root (bound to its chunk count), an `OpenDeal` body over it and the provider's
/// `AcceptDeal` of the deal.
fn storage_vectors() -> Value {
    use cairn_types::storage::{chunk_proof, chunk_root, chunks, tree_root};
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
    json!({
        "chunk_count": parts.len(),
        "tree_root_hex": tree_root(&parts).to_hex(),
        "chunk_root_hex": root.to_hex(),
        "proof_of_chunk_4": chunk_proof(&parts, 4).unwrap().iter().map(Hash::to_hex).collect::<Vec<_>>(),
        "open_deal_bytes_hex": hex::encode(codec::encode(&open)),
        "open_deal_json": serde_json::to_value(&open).unwrap(),
        "accept_deal_bytes_hex": hex::encode(codec::encode(&accept)),
        "accept_deal_json": serde_json::to_value(&accept).unwrap(),
    })
}

/// `a.b[0].c` → leaf value, so a mismatch names the exact field.
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

fn load() -> Value {
    let text = std::fs::read_to_string(vectors_path()).expect("read tests/vectors/wire.json");
    serde_json::from_str(&text).expect("parse tests/vectors/wire.json")
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
    let mut expected = BTreeMap::new();
    flatten("", &load(), &mut expected);
    let mut actual = BTreeMap::new();
    flatten("", &compute(), &mut actual);
    let mut diffs = Vec::new();
    for key in expected.keys().chain(actual.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (e, a) = (expected.get(key), actual.get(key));
        if e != a {
            diffs.push(format!("  {key}:\n    frozen:   {e:?}\n    computed: {a:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "the wire/storage format changed ({} fields differ):\n{}\nIf this is intended, \
         regenerate with CAIRN_WRITE_VECTORS=1 (see the top of this file).",
        diffs.len(),
        diffs.join("\n")
    );
}

/// The frozen bytes decode (strictly) to the same objects and verify, independently of
/// the encoder: this catches a decoder change that the encoder comparison would miss.
#[test]
fn frozen_bytes_decode_and_verify() {
    let v = load();
    let stx = signed_tx();

    let tx_bytes = bytes_at(&v, &["signed_tx", "bytes_hex"]);
    let decoded = SignedTx::from_bytes(&tx_bytes, 16 * 1024).unwrap();
    assert_eq!(decoded, stx);
    assert_eq!(decoded.hash().to_hex(), str_at(&v, &["signed_tx", "hash_hex"]));
    assert_eq!(decoded.signing_message(), bytes_at(&v, &["signed_tx", "signing_message_hex"]));
    assert_eq!(decoded.signature.0.to_vec(), bytes_at(&v, &["signed_tx", "signature_hex"]));
    let size = tx_bytes.len();
    decoded.check_stateless(CHAIN_ID, &genesis().params, size).unwrap();
    let from_json: SignedTx = serde_json::from_value(v["signed_tx"]["json"].clone()).unwrap();
    assert_eq!(from_json, stx);

    let header_bytes = bytes_at(&v, &["block_header", "bytes_hex"]);
    let header: BlockHeader = codec::decode(&header_bytes, 1024, "header").unwrap();
    assert_eq!(header, self::header(&stx));
    assert_eq!(header.hash().to_hex(), str_at(&v, &["block_header", "hash_hex"]));

    let block_bytes = bytes_at(&v, &["block", "bytes_hex"]);
    let block: Block = codec::decode(&block_bytes, 1 << 20, "block").unwrap();
    assert_eq!(block, self::block(&stx));
    assert_eq!(block.hash().to_hex(), str_at(&v, &["block", "hash_hex"]));
    block.certificate.verify(CHAIN_ID, &block.hash()).unwrap();
    assert!(block.certificate.verify("other-chain", &block.hash()).is_err());

    let bft_bytes = bytes_at(&v, &["bft_block", "bytes_hex"]);
    let bft: Block = codec::decode(&bft_bytes, 1 << 20, "block").unwrap();
    assert_eq!(bft, bft_block(&stx));
    bft.certificate.verify_block(CHAIN_ID, &bft.header, &bft_set()).unwrap();
    assert!(bft.certificate.verify_block("other-chain", &bft.header, &bft_set()).is_err());
    // Same block, same proposer: the entropy does not depend on the certificate kind.
    assert_eq!(bft.entropy(), block.entropy());

    let genesis_bytes = bytes_at(&v, &["genesis", "bytes_hex"]);
    let genesis: Genesis = codec::decode(&genesis_bytes, 1 << 20, "genesis").unwrap();
    assert_eq!(genesis, self::genesis());
    assert_eq!(genesis.hash().to_hex(), str_at(&v, &["genesis", "hash_hex"]));
    genesis.validate().unwrap();
    let from_json: Genesis = serde_json::from_value(v["genesis"]["json"].clone()).unwrap();
    assert_eq!(from_json, genesis);

    for (i, r) in receipts(&stx).iter().enumerate() {
        let bytes = hex::decode(v["receipts"][i]["bytes_hex"].as_str().unwrap()).unwrap();
        let decoded: Receipt = codec::decode(&bytes, 1024, "receipt").unwrap();
        assert_eq!(&decoded, r);
    }

    let addr = Address::from_bech32(str_at(&v, &["signer", "address_bech32"])).unwrap();
    assert_eq!(addr, signer().address());
    assert_eq!(addr.0.to_vec(), bytes_at(&v, &["signer", "address_hex"]));
    let hash = Hash::from_hex(str_at(&v, &["signed_tx", "hash_hex"])).unwrap();
    assert_eq!(hash, stx.hash());
}

/// Writes `tests/vectors/wire.json` from the current code. Ignored: run it only for an
/// intended format change, with `CAIRN_WRITE_VECTORS=1`.
#[test]
#[ignore = "regenerates the frozen vectors; run with CAIRN_WRITE_VECTORS=1"]
fn write_vectors() {
    if std::env::var("CAIRN_WRITE_VECTORS").as_deref() != Ok("1") {
        eprintln!("CAIRN_WRITE_VECTORS=1 is not set; not writing {}", vectors_path().display());
        return;
    }
    let mut text = serde_json::to_string_pretty(&compute()).unwrap();
    text.push('\n');
    std::fs::write(vectors_path(), text).unwrap();
    eprintln!("wrote {}", vectors_path().display());
}
