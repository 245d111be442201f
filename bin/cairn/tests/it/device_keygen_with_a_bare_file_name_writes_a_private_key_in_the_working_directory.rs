//! `cairn device keygen --out dev1.json` (a bare file name) writes the key in the working
//! directory, readable only by its owner, and succeeds: the directory to sync after the
//! rename is `.`, not the empty parent of a bare name (which failed with "syncing :" after
//! the key was written). A second keygen to the same name is refused and leaves the first
//! key as it was.

use crate::harness::cli_in;

#[test]
fn device_keygen_with_a_bare_file_name_writes_a_private_key_in_the_working_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cli_in(dir.path(), &["--json", "device", "keygen", "--out", "dev1.json"], &[]);
    let out = out.success();
    let v = out.json();
    let path = dir.path().join("dev1.json");
    let text = std::fs::read_to_string(&path).expect("the key file is in the working directory");
    let file: serde_json::Value = serde_json::from_str(&text).expect("key file is JSON");
    assert_eq!(file["public"], v["public"], "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key file mode {mode:o}");
    }
    // Nothing else is left in the directory (no temporary file).
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["dev1.json".to_string()]);

    // Not over an existing key.
    let again = cli_in(dir.path(), &["device", "keygen", "--out", "dev1.json"], &[]);
    assert!(!again.status.success(), "a second keygen overwrote the key: {again:?}");
    assert_eq!(std::fs::read_to_string(&path).expect("key file"), text);
}
