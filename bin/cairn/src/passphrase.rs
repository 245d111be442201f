//! Passphrases for the keystore (`cairn-keystore`), from the environment or the terminal.

use anyhow::{Result, anyhow, bail};

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
        assert!(format!("{:#}", no_tty.unwrap_err()).contains("set CAIRN_PW"));
    }
}
