//! With neither `--keystore` nor `CAIRN_KEYSTORE`, the CLI looks in `~/.cairn/keystore`; when
//! that does not exist and a devnet ran here (`~/.cairn/devnet/keystore`), it uses the
//! devnet's keystore and says so on standard error. Once the user's own keystore exists, it
//! is used and nothing is said. `HOME` is a temporary directory.

use crate::harness::cli;

#[test]
fn with_no_keystore_given_the_cli_uses_the_devnets_and_says_so() {
    let home = tempfile::tempdir().expect("temp dir");
    let home_s = home.path().to_str().expect("utf-8 path");
    let devnet = home.path().join(".cairn/devnet/keystore");
    let devnet_s = devnet.to_str().expect("utf-8 path");
    let env = [("HOME", home_s), ("CAIRN_PASSPHRASE", "")];
    // The devnet's keystore with one key, written with the keystore named.
    let secret = "11".repeat(32);
    cli(
        &["--keystore", devnet_s, "keys", "import", "devnet-key"],
        &[("HOME", home_s), ("CAIRN_PASSPHRASE", ""), ("CAIRN_SECRET_HEX", &secret)],
    )
    .success();

    // No keystore given: the devnet's is used, and said.
    let out = cli(&["keys", "list"], &env).success();
    assert!(out.stdout.contains("devnet-key"), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!("using the devnet's keystore {devnet_s}")),
        "{}",
        out.stderr
    );

    // The user's own keystore exists: it is used, silently.
    std::fs::create_dir_all(home.path().join(".cairn/keystore")).expect("own keystore");
    let out = cli(&["keys", "list"], &env).success();
    assert!(!out.stdout.contains("devnet-key"), "{}", out.stdout);
    assert!(!out.stderr.contains("devnet"), "{}", out.stderr);
}
