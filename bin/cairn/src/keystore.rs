//! The encrypted on-disk keystore: a directory with one JSON file per key, `<name>.json`.
//!
//! Each file holds the key's 32-byte secret seed encrypted with ChaCha20-Poly1305 under a
//! 32-byte key derived from the passphrase with Argon2id, with the key's address bytes as
//! associated data, so the address shown without a passphrase cannot be swapped for another.
//!
//! ```json
//! { "version": 1, "name": "alice", "address": "cairn1...",
//!   "kdf": { "alg": "argon2id", "m_cost_kib": 19456, "t_cost": 2, "p_cost": 1, "salt": "<16 bytes hex>" },
//!   "cipher": { "alg": "chacha20poly1305", "nonce": "<12 bytes hex>", "ciphertext": "<48 bytes hex>" } }
//! ```

use anyhow::{Context, Result, anyhow, bail};
use argon2::{Algorithm, Argon2, Version};
use cairn_types::{Address, Keypair};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file format version this code reads and writes.
pub const KEYFILE_VERSION: u32 = 1;
const KDF_ALG: &str = "argon2id";
const CIPHER_ALG: &str = "chacha20poly1305";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const SEED_LEN: usize = 32;
/// Seed plus the 16-byte Poly1305 tag.
const CIPHERTEXT_LEN: usize = SEED_LEN + 16;
/// Key files are a few hundred bytes; anything far larger is not one.
const MAX_KEYFILE_BYTES: u64 = 64 * 1024;
/// Upper bounds on the KDF cost read from a file, so that a planted file cannot make
/// `load` allocate or compute without limit.
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
const MAX_T_COST: u32 = 100;
const MAX_P_COST: u32 = 64;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// OWASP's recommended Argon2id setting: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        KdfParams { m_cost_kib: 19_456, t_cost: 2, p_cost: 1 }
    }
}

impl KdfParams {
    fn check(&self) -> Result<argon2::Params> {
        if self.m_cost_kib > MAX_M_COST_KIB || self.t_cost > MAX_T_COST || self.p_cost > MAX_P_COST
        {
            bail!(
                "KDF cost m_cost_kib={} t_cost={} p_cost={} exceeds the limits {MAX_M_COST_KIB}/{MAX_T_COST}/{MAX_P_COST}",
                self.m_cost_kib,
                self.t_cost,
                self.p_cost
            );
        }
        argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32)).map_err(|e| {
            anyhow!(
                "invalid KDF cost m_cost_kib={} t_cost={} p_cost={}: {e}",
                self.m_cost_kib,
                self.t_cost,
                self.p_cost
            )
        })
    }

    fn derive_key(&self, passphrase: &str, salt: &[u8]) -> Result<[u8; 32]> {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.check()?);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(|e| anyhow!("key derivation failed: {e}"))?;
        Ok(key)
    }
}

/// What the keystore knows about a key without its passphrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub name: String,
    pub address: Address,
    pub path: PathBuf,
}

/// The JSON layout of a key file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    name: String,
    address: Address,
    kdf: KdfSection,
    cipher: CipherSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfSection {
    alg: String,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CipherSection {
    alg: String,
    nonce: String,
    ciphertext: String,
}

/// Just the version, read first so that a newer file gets a clear error.
#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

/// A directory of encrypted keys.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: PathBuf,
}

impl Keystore {
    /// Opens the keystore at `dir`, creating it (mode 0700 on unix) if it does not exist.
    pub fn open(dir: &Path) -> Result<Keystore> {
        if !dir.exists() {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder
                .create(dir)
                .with_context(|| format!("cannot create keystore directory {}", dir.display()))?;
        }
        if !dir.is_dir() {
            bail!("keystore path {} is not a directory", dir.display());
        }
        Ok(Keystore { dir: dir.to_path_buf() })
    }

    /// The keystore directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Generates a new key, stores it under `name` and returns its address.
    pub fn create(&self, name: &str, passphrase: &str, kdf: KdfParams) -> Result<Address> {
        self.import(name, &Keypair::generate(), passphrase, kdf)
    }

    /// Stores an existing key under `name` and returns its address.
    pub fn import(
        &self,
        name: &str,
        key: &Keypair,
        passphrase: &str,
        kdf: KdfParams,
    ) -> Result<Address> {
        check_name(name)?;
        let path = self.key_path(name);
        if fs::symlink_metadata(&path).is_ok() {
            bail!("a key named {name} already exists ({})", path.display());
        }
        let file = encrypt(name, key, passphrase, kdf)?;
        let mut json = serde_json::to_vec_pretty(&file).context("cannot encode key file")?;
        json.push(b'\n');
        write_new_file(&self.dir, &path, name, &json)?;
        Ok(key.address())
    }

    /// All keys, sorted by name.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        let entries = fs::read_dir(&self.dir)
            .with_context(|| format!("cannot read keystore directory {}", self.dir.display()))?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| {
                format!("cannot read keystore directory {}", self.dir.display())
            })?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            // Temporary files start with '.', and other stray files are not ours.
            if check_name(name).is_err() {
                continue;
            }
            keys.push(self.show(name)?);
        }
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    /// The key stored under `name`, without decrypting it.
    pub fn show(&self, name: &str) -> Result<KeyInfo> {
        let (file, path) = self.read(name)?;
        Ok(KeyInfo { name: file.name, address: file.address, path })
    }

    /// Decrypts the key stored under `name`.
    pub fn load(&self, name: &str, passphrase: &str) -> Result<Keypair> {
        let (file, path) = self.read(name)?;
        decrypt(&file, passphrase, &path)
    }

    fn key_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Reads and checks the file of `name` (everything but the ciphertext's integrity).
    fn read(&self, name: &str) -> Result<(KeyFile, PathBuf)> {
        check_name(name)?;
        let path = self.key_path(name);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("no key named {name} in {}", self.dir.display())
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if meta.len() > MAX_KEYFILE_BYTES {
            bail!("{} is {} bytes, too large to be a key file", path.display(), meta.len());
        }
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let file = parse_key_file(&bytes)
            .with_context(|| format!("{} is not a valid key file", path.display()))?;
        if file.name != name {
            bail!("{} holds key {:?}, expected {name:?}", path.display(), file.name);
        }
        Ok((file, path))
    }
}

/// Key names: 1 to 64 of `A-Z a-z 0-9 _ -`.
fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        bail!("invalid key name {name:?}: use 1 to 64 letters, digits, '_' or '-'");
    }
    Ok(())
}

fn parse_key_file(bytes: &[u8]) -> Result<KeyFile> {
    let VersionOnly { version } = serde_json::from_slice(bytes)?;
    if version != KEYFILE_VERSION {
        bail!("unsupported key file version {version} (this build reads {KEYFILE_VERSION})");
    }
    let file: KeyFile = serde_json::from_slice(bytes)?;
    if file.kdf.alg != KDF_ALG {
        bail!("unsupported KDF {:?}, expected {KDF_ALG:?}", file.kdf.alg);
    }
    if file.cipher.alg != CIPHER_ALG {
        bail!("unsupported cipher {:?}, expected {CIPHER_ALG:?}", file.cipher.alg);
    }
    Ok(file)
}

fn hex_field<const N: usize>(field: &str, value: &str) -> Result<[u8; N]> {
    let bytes = hex::decode(value).map_err(|e| anyhow!("{field} is not hex: {e}"))?;
    let len = bytes.len();
    bytes.try_into().map_err(|_| anyhow!("{field} holds {len} bytes, expected {N}"))
}

fn encrypt(name: &str, key: &Keypair, passphrase: &str, kdf: KdfParams) -> Result<KeyFile> {
    let salt: [u8; SALT_LEN] = rand::random();
    let nonce: [u8; NONCE_LEN] = rand::random();
    let address = key.address();
    let aead_key = kdf.derive_key(passphrase, &salt)?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&aead_key));
    let seed = key.secret_bytes();
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: &seed, aad: address.as_bytes() })
        .map_err(|_| anyhow!("encryption of key {name} failed"))?;
    Ok(KeyFile {
        version: KEYFILE_VERSION,
        name: name.to_string(),
        address,
        kdf: KdfSection {
            alg: KDF_ALG.into(),
            m_cost_kib: kdf.m_cost_kib,
            t_cost: kdf.t_cost,
            p_cost: kdf.p_cost,
            salt: hex::encode(salt),
        },
        cipher: CipherSection {
            alg: CIPHER_ALG.into(),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        },
    })
}

fn decrypt(file: &KeyFile, passphrase: &str, path: &Path) -> Result<Keypair> {
    let bad = |e: anyhow::Error| e.context(format!("{} is not a valid key file", path.display()));
    let salt: [u8; SALT_LEN] = hex_field("kdf.salt", &file.kdf.salt).map_err(bad)?;
    let nonce: [u8; NONCE_LEN] = hex_field("cipher.nonce", &file.cipher.nonce).map_err(bad)?;
    let ciphertext: [u8; CIPHERTEXT_LEN] =
        hex_field("cipher.ciphertext", &file.cipher.ciphertext).map_err(bad)?;
    let kdf = KdfParams {
        m_cost_kib: file.kdf.m_cost_kib,
        t_cost: file.kdf.t_cost,
        p_cost: file.kdf.p_cost,
    };
    let aead_key = kdf.derive_key(passphrase, &salt).map_err(bad)?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&aead_key));
    // A wrong passphrase and a modified file look the same to the AEAD.
    let seed = cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload { msg: &ciphertext, aad: file.address.as_bytes() },
        )
        .map_err(|_| {
            anyhow!(
                "wrong passphrase for key {} (or {} has been modified)",
                file.name,
                path.display()
            )
        })?;
    let seed: [u8; SEED_LEN] = seed
        .try_into()
        .map_err(|_| anyhow!("{} decrypts to a seed of the wrong length", path.display()))?;
    let key = Keypair::from_secret(seed);
    if key.address() != file.address {
        bail!(
            "{} is inconsistent: its secret belongs to {}, the file says {}",
            path.display(),
            key.address(),
            file.address
        );
    }
    Ok(key)
}

/// Writes `contents` to `path` atomically and without replacing an existing file: the bytes
/// go to a private temporary file in the same directory, are synced, and the file is then
/// linked into place (which fails if `path` exists), or renamed where hard links are not
/// supported. Mode 0600 on unix.
fn write_new_file(dir: &Path, path: &Path, name: &str, contents: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{name}.json.tmp-{}", hex::encode(rand::random::<[u8; 8]>())));
    let written = write_private(&tmp, contents);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", tmp.display()));
    }
    let published = match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(anyhow!("a key named {name} already exists ({})", path.display()))
        }
        Err(_) if fs::symlink_metadata(path).is_ok() => {
            Err(anyhow!("a key named {name} already exists ({})", path.display()))
        }
        // No hard links on this filesystem.
        Err(_) => fs::rename(&tmp, path)
            .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display())),
    };
    // After a link (or a failure) the temporary name is still there; after a rename it is
    // already gone.
    let _ = fs::remove_file(&tmp);
    published?;
    sync_dir(dir)
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Makes a new directory entry durable (unix; elsewhere a no-op).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A passphrase for scripts or people: the value of `env_var` if it is set, otherwise
/// prompted for on the terminal (without echo).
pub fn passphrase(prompt: &str, env_var: &str) -> Result<String> {
    resolve_passphrase(std::env::var(env_var), env_var, || rpassword::prompt_password(prompt))
}

fn resolve_passphrase(
    env_value: Result<String, std::env::VarError>,
    env_var: &str,
    prompt: impl FnOnce() -> std::io::Result<String>,
) -> Result<String> {
    match env_value {
        Ok(v) => return Ok(v),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{env_var} is set but is not valid UTF-8"),
        Err(std::env::VarError::NotPresent) => {}
    }
    prompt().map_err(|e| {
        anyhow!(
            "cannot prompt for a passphrase ({e}); without a terminal, set {env_var} to the passphrase"
        )
    })
}

#[cfg(test)]
mod tests {
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
        let names: Vec<_> =
            fs::read_dir(ks.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
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
        assert!(write_new_file(ks.dir(), &path, "alice", b"{}").is_err());
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

    #[test]
    fn passphrase_source() {
        let never = || -> std::io::Result<String> { panic!("must not prompt") };
        assert_eq!(resolve_passphrase(Ok("s3cret".into()), "CAIRN_PW", never).unwrap(), "s3cret");
        let prompted = resolve_passphrase(Err(std::env::VarError::NotPresent), "CAIRN_PW", || {
            Ok("typed".into())
        });
        assert_eq!(prompted.unwrap(), "typed");
        let no_tty = resolve_passphrase(Err(std::env::VarError::NotPresent), "CAIRN_PW", || {
            Err(std::io::Error::other("No such device or address"))
        });
        assert!(err_text(no_tty).contains("set CAIRN_PW"));
    }
}
