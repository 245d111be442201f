//! One module per command group.

pub mod admin;
pub mod bench;
pub mod chain;
pub mod channel;
pub mod credits;
pub mod device;
pub mod gov;
pub mod job;
pub mod keys;
pub mod node;
pub mod query;
pub mod replay;
pub mod rewards;
pub mod sim;
pub mod storage;
pub mod testnet;
pub mod tx;

use anyhow::Context;
use cairn_keystore::Keystore;
use std::path::PathBuf;

/// Global options every command sees.
pub struct Ctx {
    pub node: String,
    pub json: bool,
    pub keystore: Option<PathBuf>,
}

/// Environment variable holding the keystore passphrase for scripts.
pub const PASSPHRASE_ENV: &str = "CAIRN_PASSPHRASE";

/// `~/.cairn`, the default home of keystores and data directories.
pub fn cairn_home() -> anyhow::Result<PathBuf> {
    Ok(dirs::home_dir()
        .context("cannot find the home directory; pass --data-dir / --keystore")?
        .join(".cairn"))
}

impl Ctx {
    pub fn client(&self) -> anyhow::Result<cairn_client::Client> {
        Ok(cairn_client::Client::new(&self.node)?)
    }

    pub fn keystore(&self) -> anyhow::Result<Keystore> {
        let dir = match &self.keystore {
            Some(d) => d.clone(),
            None => cairn_home()?.join("keystore"),
        };
        Ok(Keystore::open(&dir)?)
    }
}
