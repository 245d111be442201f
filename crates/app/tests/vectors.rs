#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The state-proof vectors (`docs/vectors/state.json`) regenerate exactly, every proof in
//! them verifies against its root, and an independent implementation of the wire spec
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
use cairn_types::Hash;
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
    let files = BTreeMap::from([("state.json", vectors::state_json().unwrap())]);
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
