#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The state-proof vectors (`docs/vectors/state.json`) and the BFT certificate vectors
//! (`docs/vectors/bft.json`) regenerate exactly, every proof in them verifies against its
//! root, the frozen certificate verifies against the frozen proven set, and an independent implementation of the wire spec
//! (`docs/vectors/check.py`, Python standard library only) recomputes every vector file.
//!
//! If a change is intended, regenerate with
//!
//! ```text
//! CAIRN_WRITE_VECTORS=1 cargo test -p cairn-app --test vectors -- --ignored write_vectors
//! ```
//!
//! (or `cairn vectors --out docs/vectors`) and say in the commit why the format changed.

use cairn_app::vectors;
use cairn_state::tree;
use cairn_types::api::BlockValidatorsView;
use cairn_types::consensus::ValidatorSet;
use cairn_types::{BlockHeader, Certificate, Hash, codec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn dir() -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    crate_dir.join("../../docs/vectors")
}

#[test]
fn state_proof_vectors_match_the_frozen_file() {
    let files = BTreeMap::from([
        ("state.json", vectors::state_json().unwrap()),
        ("bft.json", vectors::bft_json().unwrap()),
    ]);
    let diffs = cairn_types::vectors::compare(&files, |name| {
        std::fs::read_to_string(dir().join(name)).map_err(|e| e.to_string())
    });
    assert!(
        diffs.is_empty(),
        "the state proof vectors changed:\n{}\nIf this is intended, regenerate with \
         CAIRN_WRITE_VECTORS=1 (see the top of this file).",
        diffs.join("\n")
    );
}

/// Each frozen proof verifies against the frozen root with its frozen value, and not with
/// another value or against another root.
#[test]
fn frozen_state_proofs_verify_against_the_frozen_root() {
    let text = std::fs::read_to_string(dir().join("state.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let root = Hash::from_hex(v["state_root_hex"].as_str().unwrap()).unwrap();
    for p in v["proofs"].as_array().unwrap() {
        let key = hex::decode(p["key_hex"].as_str().unwrap()).unwrap();
        let value = p["value_hex"].as_str().map(|s| hex::decode(s).unwrap());
        let proof = hex::decode(p["proof_hex"].as_str().unwrap()).unwrap();
        tree::verify_proof(root, &key, value.as_deref(), &proof)
            .unwrap_or_else(|e| panic!("{}: {e}", p["name"]));
        assert!(tree::verify_proof(Hash([1; 32]), &key, value.as_deref(), &proof).is_err());
        let other = match &value {
            Some(v) => Some([v.as_slice(), &[0]].concat()),
            None => Some(vec![0]),
        };
        assert!(tree::verify_proof(root, &key, other.as_deref(), &proof).is_err());
    }
}

/// The frozen BFT block: its parent hashes to its parent hash, the set is proven under the
/// parent's state root, and the certificate verifies against that set; with one precommit
/// fewer (60 of 100) it does not.
#[test]
fn the_frozen_bft_certificate_verifies_against_the_set_proven_at_its_parent() {
    let text = std::fs::read_to_string(dir().join("bft.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let header: BlockHeader = serde_json::from_value(v["block"]["header"].clone()).unwrap();
    let parent: BlockHeader = serde_json::from_value(v["parent"]["header"].clone()).unwrap();
    let cert: Certificate = serde_json::from_value(v["block"]["certificate"].clone()).unwrap();
    let view: BlockValidatorsView = serde_json::from_value(v["validators"].clone()).unwrap();
    assert_eq!(header.parent_hash, parent.hash());
    assert_eq!((view.proof.state_root, view.proof.height), (parent.state_root, parent.height));
    let value = hex::decode(view.proof.value.as_ref().unwrap()).unwrap();
    let proof = hex::decode(&view.proof.proof).unwrap();
    let key = hex::decode(&view.proof.key).unwrap();
    tree::verify_proof(parent.state_root, &key, Some(&value), &proof).unwrap();
    let set: ValidatorSet = codec::decode(&value, value.len(), "set").unwrap();
    assert_eq!(set.validators(), view.validators.as_slice());
    let chain = v["chain_id"].as_str().unwrap();
    cert.verify_block(chain, &header, &set).unwrap();
    let Certificate::Bft(mut commit) = cert else { panic!("a BFT certificate") };
    let power = |c: &cairn_types::consensus::CommitSignature| set.get(&c.validator).unwrap().power;
    commit.signatures.retain(|c| power(c) != 30);
    assert!(Certificate::Bft(commit).verify_block(chain, &header, &set).is_err());
}

/// `docs/vectors/check.py` recomputes every vector from the spec alone. Skipped (with a
/// message) where no `python3` is installed.
#[test]
fn an_independent_python_check_recomputes_every_vector() {
    let script = dir().join("check.py");
    let out = match std::process::Command::new("python3").arg(&script).arg(dir()).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: python3 is not available ({e}); docs/vectors/check.py not run");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("state.json: ok"), "{stdout}");
    assert!(stdout.contains("bft.json: ok"), "{stdout}");
}

/// Writes every vector file into `docs/vectors/`. Ignored: run it only for an intended
/// format change, with `CAIRN_WRITE_VECTORS=1`.
#[test]
#[ignore = "regenerates the frozen vectors; run with CAIRN_WRITE_VECTORS=1"]
fn write_vectors() {
    if std::env::var("CAIRN_WRITE_VECTORS").as_deref() != Ok("1") {
        eprintln!("CAIRN_WRITE_VECTORS=1 is not set; not writing {}", dir().display());
        return;
    }
    for (name, v) in vectors::files().unwrap() {
        std::fs::write(dir().join(name), cairn_types::vectors::to_text(&v)).unwrap();
        eprintln!("wrote {}", dir().join(name).display());
    }
}
