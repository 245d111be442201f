//! One module per command group.

pub mod admin;
pub mod bench;
pub mod chain;
pub mod compute;
pub mod credits;
pub mod device;
pub mod gov;
pub mod keys;
pub mod node;
pub mod query;
pub mod replay;
pub mod rewards;
pub mod sim;
pub mod storage;
pub mod testnet;
pub mod tx;
pub mod usage;
pub mod vectors;

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
        Ok(Keystore::open(&self.keystore_dir()?)?)
    }

    /// Where keys are looked for: `--keystore` / `CAIRN_KEYSTORE`; else `~/.cairn/keystore`
    /// if it exists; else the devnet's (`~/.cairn/devnet/keystore`) if a devnet ran here,
    /// said once on standard error; else `~/.cairn/keystore`.
    pub fn keystore_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.keystore {
            return Ok(d.clone());
        }
        let choice = default_keystore(&cairn_home()?);
        if let KeystoreChoice::Devnet(devnet) = &choice {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                eprintln!(
                    "using the devnet's keystore {} (CAIRN_KEYSTORE or --keystore chooses another)",
                    devnet.display()
                );
            });
        }
        Ok(choice.dir().to_path_buf())
    }
}

/// The keystore used when none is given, under the cairn home `home` (`~/.cairn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeystoreChoice {
    /// `home/keystore`: it exists, or there is no devnet's either (where a new one goes).
    Own(PathBuf),
    /// `home/devnet/keystore`: there is no own keystore and a devnet ran here.
    Devnet(PathBuf),
}

impl KeystoreChoice {
    pub fn dir(&self) -> &std::path::Path {
        match self {
            KeystoreChoice::Own(d) | KeystoreChoice::Devnet(d) => d,
        }
    }
}

/// Chooses the keystore when neither `--keystore` nor `CAIRN_KEYSTORE` names one.
pub fn default_keystore(home: &std::path::Path) -> KeystoreChoice {
    let own = home.join("keystore");
    let devnet = home.join("devnet").join("keystore");
    if !own.exists() && devnet.exists() {
        KeystoreChoice::Devnet(devnet)
    } else {
        KeystoreChoice::Own(own)
    }
}

/// An error for people: when nothing answers at the node's address, one line that says so
/// and how to start a node, instead of the chain of connection errors.
pub fn explain(node: &str, e: anyhow::Error) -> anyhow::Error {
    let unreachable = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<cairn_client::ClientError>(),
            Some(cairn_client::ClientError::Http { reason, .. })
                if reason.contains("Connection refused") || reason.contains("tcp connect error")
        )
    });
    if unreachable {
        anyhow::anyhow!(
            "no node answers at {node} — start one with `cairn devnet` (or pass --node / CAIRN_NODE)"
        )
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_is_one_line_that_suggests_a_devnet_and_other_errors_stay() {
        let refused = cairn_client::ClientError::Http {
            url: "http://127.0.0.1:7070/v1/status".into(),
            reason: "error sending request: client error (Connect): tcp connect error: \
                     Connection refused (os error 111)"
                .into(),
        };
        let e = explain("http://127.0.0.1:7070", anyhow::Error::from(refused).context("status"));
        assert_eq!(
            format!("{e:#}"),
            "no node answers at http://127.0.0.1:7070 — start one with `cairn devnet` (or pass \
             --node / CAIRN_NODE)"
        );
        let other = explain("http://x", anyhow::anyhow!("bad amount"));
        assert_eq!(format!("{other:#}"), "bad amount");
    }

    #[test]
    fn with_no_keystore_given_the_devnets_is_used_only_when_there_is_no_own_one() {
        let home = tempfile::tempdir().unwrap();
        let own = home.path().join("keystore");
        let devnet = home.path().join("devnet").join("keystore");
        let ctx = |keystore: Option<PathBuf>| Ctx { node: String::new(), json: false, keystore };
        // Nothing here yet: the own keystore, where a new key would go.
        assert_eq!(default_keystore(home.path()), KeystoreChoice::Own(own.clone()));
        // A devnet ran here and there is no own keystore: the devnet's.
        std::fs::create_dir_all(&devnet).unwrap();
        assert_eq!(default_keystore(home.path()), KeystoreChoice::Devnet(devnet.clone()));
        // The user's own keystore wins once it exists.
        std::fs::create_dir_all(&own).unwrap();
        assert_eq!(default_keystore(home.path()), KeystoreChoice::Own(own.clone()));
        // A keystore given (--keystore or CAIRN_KEYSTORE) is used as it is.
        let given = home.path().join("elsewhere");
        assert_eq!(ctx(Some(given.clone())).keystore_dir().unwrap(), given);
    }
}
