//! Keys at rest: the encrypted on-disk keystore, and [`files`], the one way the project
//! writes secret files. Wallets and other programs open the same keystores as `cairn keys`.
//!
//! The keystore is a directory with one JSON file per key, `<name>.json`.
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

pub mod files;

use argon2::{Algorithm, Argon2, Version};
use cairn_types::{Address, Keypair};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use serde::{Deserialize, Serialize};
use std::fs;
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
pub const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
/// See [`MAX_M_COST_KIB`].
pub const MAX_T_COST: u32 = 100;
/// See [`MAX_M_COST_KIB`].
pub const MAX_P_COST: u32 = 64;

/// The result of keystore operations.
pub type Result<T, E = KeystoreError> = std::result::Result<T, E>;

/// Why a keystore operation failed, with the values at fault.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("cannot create keystore directory {}: {error}", dir.display())]
    CreateDir { dir: PathBuf, error: std::io::Error },
    #[error("keystore path {} is not a directory", dir.display())]
    NotADirectory { dir: PathBuf },
    #[error("cannot read keystore directory {}: {error}", dir.display())]
    ReadDir { dir: PathBuf, error: std::io::Error },
    #[error("invalid key name {name:?}: use 1 to 64 letters, digits, '_' or '-'")]
    InvalidName { name: String },
    #[error("a key named {name} already exists ({})", path.display())]
    AlreadyExists { name: String, path: PathBuf },
    #[error("no key named {name} in {}", dir.display())]
    NotFound { name: String, dir: PathBuf },
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{} is {len} bytes, too large to be a key file", path.display())]
    TooLarge { path: PathBuf, len: u64 },
    #[error("{} is not a valid key file: {error}", path.display())]
    InvalidFile { path: PathBuf, error: KeyFileError },
    #[error("{} holds key {found:?}, expected {expected:?}", path.display())]
    NameMismatch { path: PathBuf, found: String, expected: String },
    #[error("wrong passphrase for key {name} (or {} has been modified)", path.display())]
    WrongPassphrase { name: String, path: PathBuf },
    #[error("{} decrypts to a seed of {len} bytes, expected {SEED_LEN}", path.display())]
    SeedLength { path: PathBuf, len: usize },
    #[error(
        "{} is inconsistent: its secret belongs to {secret_address}, the file says {file_address}",
        path.display()
    )]
    Inconsistent { path: PathBuf, secret_address: Address, file_address: Address },
    #[error("{0}")]
    Kdf(KdfError),
    #[error("encryption of key {name} failed")]
    Encrypt { name: String },
    #[error("cannot encode key file of {name}: {reason}")]
    Encode { name: String, reason: String },
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

/// What is wrong with the contents of a key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{reason}")]
    Json { reason: String },
    #[error("unsupported key file version {found} (this build reads {KEYFILE_VERSION})")]
    UnsupportedVersion { found: u32 },
    #[error("unsupported KDF {found:?}, expected {KDF_ALG:?}")]
    UnsupportedKdf { found: String },
    #[error("unsupported cipher {found:?}, expected {CIPHER_ALG:?}")]
    UnsupportedCipher { found: String },
    #[error("{field} is not hex: {reason}")]
    NotHex { field: &'static str, reason: String },
    #[error("{field} holds {len} bytes, expected {expected}")]
    FieldLength { field: &'static str, len: usize, expected: usize },
    #[error("{0}")]
    Kdf(KdfError),
}

/// Why a key could not be derived from a passphrase.
#[derive(Debug, thiserror::Error)]
pub enum KdfError {
    #[error(
        "KDF cost m_cost_kib={m_cost_kib} t_cost={t_cost} p_cost={p_cost} exceeds the limits {MAX_M_COST_KIB}/{MAX_T_COST}/{MAX_P_COST}"
    )]
    CostTooHigh { m_cost_kib: u32, t_cost: u32, p_cost: u32 },
    #[error("invalid KDF cost m_cost_kib={m_cost_kib} t_cost={t_cost} p_cost={p_cost}: {reason}")]
    InvalidCost { m_cost_kib: u32, t_cost: u32, p_cost: u32, reason: String },
    #[error("key derivation failed: {reason}")]
    Derive { reason: String },
}

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
    fn check(&self) -> Result<argon2::Params, KdfError> {
        let KdfParams { m_cost_kib, t_cost, p_cost } = *self;
        if m_cost_kib > MAX_M_COST_KIB || t_cost > MAX_T_COST || p_cost > MAX_P_COST {
            return Err(KdfError::CostTooHigh { m_cost_kib, t_cost, p_cost });
        }
        argon2::Params::new(m_cost_kib, t_cost, p_cost, Some(32)).map_err(|e| {
            KdfError::InvalidCost { m_cost_kib, t_cost, p_cost, reason: e.to_string() }
        })
    }

    fn derive_key(&self, passphrase: &str, salt: &[u8]) -> Result<[u8; 32], KdfError> {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.check()?);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(|e| KdfError::Derive { reason: e.to_string() })?;
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
                .map_err(|error| KeystoreError::CreateDir { dir: dir.to_path_buf(), error })?;
        }
        if !dir.is_dir() {
            return Err(KeystoreError::NotADirectory { dir: dir.to_path_buf() });
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
            return Err(KeystoreError::AlreadyExists { name: name.to_string(), path });
        }
        let file = encrypt(name, key, passphrase, kdf)?;
        let mut json = serde_json::to_vec_pretty(&file)
            .map_err(|e| KeystoreError::Encode { name: name.to_string(), reason: e.to_string() })?;
        json.push(b'\n');
        write_new_file(&path, name, &json)?;
        Ok(key.address())
    }

    /// All keys, sorted by name.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        let read_dir_err = |error| KeystoreError::ReadDir { dir: self.dir.clone(), error };
        let entries = fs::read_dir(&self.dir).map_err(read_dir_err)?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(read_dir_err)?;
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
                return Err(KeystoreError::NotFound {
                    name: name.to_string(),
                    dir: self.dir.clone(),
                });
            }
            Err(error) => return Err(KeystoreError::Read { path, error }),
        };
        if meta.len() > MAX_KEYFILE_BYTES {
            return Err(KeystoreError::TooLarge { path, len: meta.len() });
        }
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(error) => return Err(KeystoreError::Read { path, error }),
        };
        let file = match parse_key_file(&bytes) {
            Ok(f) => f,
            Err(error) => return Err(KeystoreError::InvalidFile { path, error }),
        };
        if file.name != name {
            return Err(KeystoreError::NameMismatch {
                path,
                found: file.name,
                expected: name.to_string(),
            });
        }
        Ok((file, path))
    }
}

/// Key names: 1 to 64 of `A-Z a-z 0-9 _ -`.
fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(KeystoreError::InvalidName { name: name.to_string() });
    }
    Ok(())
}

fn parse_key_file(bytes: &[u8]) -> Result<KeyFile, KeyFileError> {
    let json = |e: serde_json::Error| KeyFileError::Json { reason: e.to_string() };
    let VersionOnly { version } = serde_json::from_slice(bytes).map_err(json)?;
    if version != KEYFILE_VERSION {
        return Err(KeyFileError::UnsupportedVersion { found: version });
    }
    let file: KeyFile = serde_json::from_slice(bytes).map_err(json)?;
    if file.kdf.alg != KDF_ALG {
        return Err(KeyFileError::UnsupportedKdf { found: file.kdf.alg });
    }
    if file.cipher.alg != CIPHER_ALG {
        return Err(KeyFileError::UnsupportedCipher { found: file.cipher.alg });
    }
    Ok(file)
}

fn hex_field<const N: usize>(field: &'static str, value: &str) -> Result<[u8; N], KeyFileError> {
    let bytes =
        hex::decode(value).map_err(|e| KeyFileError::NotHex { field, reason: e.to_string() })?;
    let len = bytes.len();
    bytes.try_into().map_err(|_| KeyFileError::FieldLength { field, len, expected: N })
}

fn encrypt(name: &str, key: &Keypair, passphrase: &str, kdf: KdfParams) -> Result<KeyFile> {
    let salt: [u8; SALT_LEN] = rand::random();
    let nonce: [u8; NONCE_LEN] = rand::random();
    let address = key.address();
    let aead_key = kdf.derive_key(passphrase, &salt).map_err(KeystoreError::Kdf)?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&aead_key));
    let seed = key.secret_bytes();
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: &seed, aad: address.as_bytes() })
        .map_err(|_| KeystoreError::Encrypt { name: name.to_string() })?;
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
    let bad = |error: KeyFileError| KeystoreError::InvalidFile { path: path.to_path_buf(), error };
    let salt: [u8; SALT_LEN] = hex_field("kdf.salt", &file.kdf.salt).map_err(bad)?;
    let nonce: [u8; NONCE_LEN] = hex_field("cipher.nonce", &file.cipher.nonce).map_err(bad)?;
    let ciphertext: [u8; CIPHERTEXT_LEN] =
        hex_field("cipher.ciphertext", &file.cipher.ciphertext).map_err(bad)?;
    let kdf = KdfParams {
        m_cost_kib: file.kdf.m_cost_kib,
        t_cost: file.kdf.t_cost,
        p_cost: file.kdf.p_cost,
    };
    let aead_key = kdf.derive_key(passphrase, &salt).map_err(|e| bad(KeyFileError::Kdf(e)))?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&aead_key));
    // A wrong passphrase and a modified file look the same to the AEAD.
    let seed = cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload { msg: &ciphertext, aad: file.address.as_bytes() },
        )
        .map_err(|_| KeystoreError::WrongPassphrase {
            name: file.name.clone(),
            path: path.to_path_buf(),
        })?;
    let seed: [u8; SEED_LEN] = seed.try_into().map_err(|s: Vec<u8>| KeystoreError::SeedLength {
        path: path.to_path_buf(),
        len: s.len(),
    })?;
    let key = Keypair::from_secret(seed);
    if key.address() != file.address {
        return Err(KeystoreError::Inconsistent {
            path: path.to_path_buf(),
            secret_address: key.address(),
            file_address: file.address,
        });
    }
    Ok(key)
}

/// Writes `contents` to `path` as a new private file (see [`files`]), never over an
/// existing key.
fn write_new_file(path: &Path, name: &str, contents: &[u8]) -> Result<()> {
    files::write_private_new(path, contents).map_err(|e| {
        let exists = e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::AlreadyExists)
        });
        if exists {
            KeystoreError::AlreadyExists { name: name.to_string(), path: path.to_path_buf() }
        } else {
            KeystoreError::Write { path: path.to_path_buf(), reason: format!("{e:#}") }
        }
    })
}

#[cfg(test)]
mod tests;
