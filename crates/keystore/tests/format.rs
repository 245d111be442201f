//! The on-disk format is fixed: `tests/v1-keystore/fixture.json` was written by `cairn keys
//! import` (the secret bytes 1..=32, passphrase "correct horse battery staple", the default
//! KDF) before the keystore became a library, and every later build must still open it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_keystore::{KEYFILE_VERSION, Keystore, KeystoreError};
use cairn_types::Keypair;
use std::path::Path;

const PASSPHRASE: &str = "correct horse battery staple";

/// The fixture directory, found from the crate directory cargo gives the running test (a
/// test binary built in another checkout would otherwise look in that checkout).
fn fixture_store() -> Keystore {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf(), Into::into);
    let dir = dir.join("tests/v1-keystore");
    assert!(dir.join("fixture.json").is_file(), "no fixture at {}", dir.display());
    Keystore::open(&dir).unwrap()
}

fn fixture_secret() -> [u8; 32] {
    std::array::from_fn(|i| i as u8 + 1)
}

#[test]
fn a_key_file_written_by_the_first_keystore_still_opens_with_its_passphrase() {
    let ks = fixture_store();
    let expected = Keypair::from_secret(fixture_secret());
    let keys = ks.list().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].name, "fixture");
    assert_eq!(keys[0].address, expected.address());
    assert_eq!(
        keys[0].address.to_string(),
        "cairn10x64vt50ue20jsrckyfw32vt57gplpf6u62ma4lquwgshtgyjejqy6p73u"
    );
    let key = ks.load("fixture", PASSPHRASE).unwrap();
    assert_eq!(key.secret_bytes(), expected.secret_bytes());
    assert_eq!(KEYFILE_VERSION, 1);
}

#[test]
fn the_first_keystores_key_file_refuses_another_passphrase() {
    let err = fixture_store().load("fixture", "Correct horse battery staple").unwrap_err();
    assert!(matches!(err, KeystoreError::WrongPassphrase { ref name, .. } if name == "fixture"));
}
