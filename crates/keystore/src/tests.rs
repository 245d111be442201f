use super::*;

/// The cheapest Argon2id setting, to keep tests fast.
const CHEAP: KdfParams = KdfParams { m_cost_kib: 8, t_cost: 1, p_cost: 1 };

fn store() -> (tempfile::TempDir, Keystore) {
    let tmp = tempfile::tempdir().unwrap();
    let ks = Keystore::open(&tmp.path().join("keys")).unwrap();
    (tmp, ks)
}

fn err_text(r: Result<impl std::fmt::Debug>) -> String {
    format!("{:#}", r.unwrap_err())
}

#[test]
fn round_trip() {
    let (_tmp, ks) = store();
    let addr = ks.create("alice", "pw", CHEAP).unwrap();
    let key = ks.load("alice", "pw").unwrap();
    assert_eq!(key.address(), addr);
    let info = ks.show("alice").unwrap();
    assert_eq!(info.name, "alice");
    assert_eq!(info.address, addr);
    assert_eq!(info.path, ks.dir().join("alice.json"));

    let bob = Keypair::from_label("bob");
    assert_eq!(ks.import("bob", &bob, "", CHEAP).unwrap(), bob.address());
    assert_eq!(ks.load("bob", "").unwrap().secret_bytes(), bob.secret_bytes());

    // The file has the documented shape.
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(ks.dir().join("bob.json")).unwrap()).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["name"], "bob");
    assert_eq!(v["address"], bob.address().to_string());
    assert_eq!(v["kdf"]["alg"], "argon2id");
    assert_eq!(v["kdf"]["m_cost_kib"], 8);
    assert_eq!(v["kdf"]["salt"].as_str().unwrap().len(), 32);
    assert_eq!(v["cipher"]["alg"], "chacha20poly1305");
    assert_eq!(v["cipher"]["nonce"].as_str().unwrap().len(), 24);
    assert_eq!(v["cipher"]["ciphertext"].as_str().unwrap().len(), 96);
    // No temporary files are left behind.
    let names: Vec<_> = fs::read_dir(ks.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn default_kdf_round_trip() {
    let (_tmp, ks) = store();
    let addr = ks.create("k", "correct horse", KdfParams::default()).unwrap();
    assert_eq!(ks.load("k", "correct horse").unwrap().address(), addr);
}

#[test]
fn wrong_passphrase() {
    let (_tmp, ks) = store();
    ks.create("alice", "right", CHEAP).unwrap();
    let msg = err_text(ks.load("alice", "wrong"));
    assert!(msg.contains("wrong passphrase for key alice"), "{msg}");
}

fn tamper(ks: &Keystore, name: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = ks.dir().join(format!("{name}.json"));
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn tampered_files_are_refused() {
    let (_tmp, ks) = store();
    ks.create("a", "pw", CHEAP).unwrap();
    let original = fs::read(ks.dir().join("a.json")).unwrap();
    let restore = || fs::write(ks.dir().join("a.json"), &original).unwrap();

    // A flipped ciphertext bit.
    tamper(&ks, "a", |v| {
        let ct = v["cipher"]["ciphertext"].as_str().unwrap();
        let mut bytes = hex::decode(ct).unwrap();
        bytes[0] ^= 1;
        v["cipher"]["ciphertext"] = hex::encode(bytes).into();
    });
    assert!(err_text(ks.load("a", "pw")).contains("has been modified"));
    restore();

    // Another address (the associated data) on the same ciphertext.
    tamper(&ks, "a", |v| {
        v["address"] = Keypair::from_label("mallory").address().to_string().into();
    });
    assert!(ks.load("a", "pw").is_err());
    restore();

    // Weaker KDF settings, another salt.
    tamper(&ks, "a", |v| v["kdf"]["t_cost"] = 2.into());
    assert!(ks.load("a", "pw").is_err());
    restore();
    tamper(&ks, "a", |v| v["kdf"]["salt"] = "00".repeat(16).into());
    assert!(ks.load("a", "pw").is_err());
    restore();

    // Malformed fields.
    tamper(&ks, "a", |v| v["cipher"]["nonce"] = "00".into());
    assert!(err_text(ks.load("a", "pw")).contains("cipher.nonce holds 1 bytes"));
    restore();
    tamper(&ks, "a", |v| v["cipher"]["ciphertext"] = "xyz".into());
    assert!(ks.load("a", "pw").is_err());
    restore();
    tamper(&ks, "a", |v| v["kdf"]["m_cost_kib"] = u32::MAX.into());
    assert!(err_text(ks.load("a", "pw")).contains("exceeds the limits"));
    restore();
    tamper(&ks, "a", |v| v["kdf"]["alg"] = "scrypt".into());
    assert!(ks.show("a").is_err());
    restore();
    tamper(&ks, "a", |v| v["version"] = 2.into());
    assert!(err_text(ks.show("a")).contains("unsupported key file version 2"));
    restore();
    tamper(&ks, "a", |v| v["name"] = "b".into());
    assert!(ks.show("a").is_err());
    restore();
    fs::write(ks.dir().join("a.json"), b"not json").unwrap();
    assert!(ks.show("a").is_err());
    assert!(ks.list().is_err());
    restore();

    assert!(ks.load("a", "pw").is_ok());
}

#[test]
fn duplicate_name_is_refused() {
    let (_tmp, ks) = store();
    let first = ks.create("alice", "pw", CHEAP).unwrap();
    let msg = err_text(ks.create("alice", "pw2", CHEAP));
    assert!(msg.contains("already exists"), "{msg}");
    assert!(ks.import("alice", &Keypair::from_label("x"), "pw", CHEAP).is_err());
    // The original is untouched.
    assert_eq!(ks.load("alice", "pw").unwrap().address(), first);
    // The no-clobber publish step refuses on its own too.
    let path = ks.dir().join("alice.json");
    assert!(write_new_file(&path, "alice", b"{}").is_err());
    assert_eq!(ks.load("alice", "pw").unwrap().address(), first);
    assert_eq!(ks.list().unwrap().len(), 1);
}

#[test]
fn bad_names_are_refused() {
    let (_tmp, ks) = store();
    let long = "a".repeat(65);
    for bad in ["", "a b", "../x", "a/b", "a.json", ".hidden", "é", long.as_str()] {
        let msg = err_text(ks.create(bad, "pw", CHEAP));
        assert!(msg.contains("invalid key name"), "{bad:?}: {msg}");
        assert!(ks.show(bad).is_err());
        assert!(ks.load(bad, "pw").is_err());
    }
    assert!(ks.create(&"a".repeat(64), "pw", CHEAP).is_ok());
    assert!(ks.create("A-z_0-9", "pw", CHEAP).is_ok());
    assert!(err_text(ks.show("missing")).contains("no key named missing"));
}

#[test]
fn list_is_sorted_by_name() {
    let (_tmp, ks) = store();
    assert!(ks.list().unwrap().is_empty());
    for name in ["charlie", "Alice", "bob", "alice"] {
        ks.create(name, "pw", CHEAP).unwrap();
    }
    // Stray files are ignored.
    fs::write(ks.dir().join("notes.txt"), b"hi").unwrap();
    fs::write(ks.dir().join(".x.json.tmp-00"), b"{}").unwrap();
    let names: Vec<_> = ks.list().unwrap().into_iter().map(|k| k.name).collect();
    assert_eq!(names, ["Alice", "alice", "bob", "charlie"]);
}

#[cfg(unix)]
#[test]
fn permissions_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, ks) = store();
    ks.create("k", "pw", CHEAP).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(ks.dir()), 0o700);
    assert_eq!(mode(&ks.dir().join("k.json")), 0o600);
}
