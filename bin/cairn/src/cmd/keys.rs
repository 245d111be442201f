//! `cairn keys new|list|show`.

use super::{Ctx, PASSPHRASE_ENV};
use crate::keystore::{KdfParams, passphrase};
use crate::output;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Create a new key, encrypted with a passphrase (prompted, or $CAIRN_PASSPHRASE).
    New { name: String },
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
