//! `cairn keys new|import|list|show`.

use super::{Ctx, PASSPHRASE_ENV};
use crate::output;
use crate::passphrase::passphrase;
use cairn_keystore::KdfParams;
use cairn_types::Keypair;
use clap::Subcommand;

/// Where `keys import` reads the secret from when it is set.
const SECRET_ENV: &str = "CAIRN_SECRET_HEX";

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Create a new key, encrypted with a passphrase (prompted, or $CAIRN_PASSPHRASE).
    New { name: String },
    /// Store an existing key: its 32-byte ed25519 secret as 64 hex digits, from
    /// $CAIRN_SECRET_HEX or prompted for (without echo).
    Import { name: String },
    /// List the keys in the keystore.
    List,
    /// Show one key's address.
    Show { name: String },
}

pub fn run(ctx: &Ctx, cmd: KeysCmd) -> anyhow::Result<()> {
    let ks = ctx.keystore()?;
    match cmd {
        KeysCmd::New { name } => {
            let pass = passphrase(&format!("Passphrase for new key {name}: "), PASSPHRASE_ENV)?;
            if std::env::var(PASSPHRASE_ENV).is_err() {
                let again = passphrase("Repeat the passphrase: ", PASSPHRASE_ENV)?;
                anyhow::ensure!(pass == again, "the passphrases differ");
            }
            ks.create(&name, &pass, KdfParams::default())?;
            let info = ks.show(&name)?;
            if ctx.json {
                output::json(&info)?;
            } else {
                output::fields(&[
                    ("name", info.name),
                    ("address", info.address.to_string()),
                    ("file", info.path.display().to_string()),
                ]);
            }
        }
        KeysCmd::Import { name } => {
            let hex_secret =
                passphrase(&format!("Secret of {name} (64 hex digits): "), SECRET_ENV)?;
            let bytes = hex::decode(hex_secret.trim())
                .map_err(|e| anyhow::anyhow!("the secret is not hex: {e}"))?;
            let seed: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                anyhow::anyhow!("the secret has {} bytes, not 32", b.len())
            })?;
            let pass = passphrase(&format!("Passphrase for {name}: "), PASSPHRASE_ENV)?;
            let address =
                ks.import(&name, &Keypair::from_secret(seed), &pass, KdfParams::default())?;
            if ctx.json {
                output::json(&serde_json::json!({ "name": name, "address": address }))?;
            } else {
                output::fields(&[("name", name), ("address", address.to_string())]);
            }
        }
        KeysCmd::List => {
            let keys = ks.list()?;
            if ctx.json {
                output::json(&keys)?;
            } else {
                println!("keystore {}", ks.dir().display());
                output::table(
                    &["name", "address"],
                    keys.into_iter().map(|k| vec![k.name, k.address.to_string()]).collect(),
                );
            }
        }
        KeysCmd::Show { name } => {
            let info = ks.show(&name)?;
            if ctx.json {
                output::json(&info)?;
            } else {
                output::fields(&[
                    ("name", info.name),
                    ("address", info.address.to_string()),
                    ("file", info.path.display().to_string()),
                ]);
            }
        }
    }
    Ok(())
}
