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
        write_new_file(&path, name, &json)?;
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

/// Writes `contents` to `path` as a new private file (see [`cairn_node::files`]), never
/// over an existing key.
fn write_new_file(path: &Path, name: &str, contents: &[u8]) -> Result<()> {
    cairn_node::files::write_private_new(path, contents).map_err(|e| {
        let exists = e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::AlreadyExists)
        });
        if exists {
            anyhow!("a key named {name} already exists ({})", path.display())
        } else {
            e.context(format!("cannot write {}", path.display()))
        }
    })
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
mod tests;
