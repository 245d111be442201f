#![allow(clippy::unwrap_used, clippy::expect_used)]

//! A chain started by an older version must open under every later one: its genesis bytes
//! decode, encode back unchanged and hash the same, whatever fields `Params` has gained since
//! (crates/types/src/appended.rs). The fixture was written by the first frozen layout.

use cairn_types::{Genesis, codec};

fn fixture() -> serde_json::Value {
    // The package directory of this run (the one compiled in may be of another checkout).
    let path = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        )
        .join("tests/fixtures/genesis-first-layout.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

#[test]
fn a_genesis_encoded_by_the_first_layout_decodes_and_hashes_as_it_did() {
    let f = fixture();
    let bytes = hex::decode(f["bytes_hex"].as_str().unwrap()).unwrap();
    let genesis: Genesis = codec::decode(&bytes, 1 << 20, "genesis").unwrap();
    assert_eq!(codec::encode(&genesis), bytes);
    assert_eq!(genesis.hash().to_hex(), f["hash_hex"].as_str().unwrap());
}

#[test]
fn a_genesis_file_written_by_the_first_layout_reads_as_the_same_genesis() {
    // A genesis.json without the appended fields gives them their legacy values, so a node
    // finds the file and its store in agreement.
    let f = fixture();
    let genesis: Genesis = serde_json::from_value(f["json"].clone()).unwrap();
    assert_eq!(genesis.hash().to_hex(), f["hash_hex"].as_str().unwrap());
}
