//! Writing secret files (validator keys, device keys, the keystore's encrypted keys): the
//! one place the project creates them, so that every key file is made the same safe way.
//!
//! The bytes go to a temporary file in the target's directory, under a name of its own that
//! is created new (`create_new`, so a file or link planted under that name is never
//! written through) with mode 0600 from the start (a pre-existing file would keep its own
//! permissions); the file is synced, moved into place, and the directory synced so that the
//! move itself survives a crash. A bare file name (`dev1.json`) lives in the current
//! directory: its parent `""` is read as `"."`.

use anyhow::{Context, anyhow};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many temporary names are tried before giving up (each is new; a clash means another
/// writer, or a planted file, holds that name).
const TEMP_ATTEMPTS: u32 = 16;

/// The directory a path's file lives in: its parent, or `.` for a bare file name.
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A temporary name beside `path` that no other call of this process has used.
fn temp_name(dir: &Path, path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    dir.join(format!(".{name}.tmp-{}-{n}-{nanos:08x}", std::process::id()))
}

/// Creates a new private (0600) temporary file beside `path` holding `bytes`, synced.
/// Returns its name.
fn write_temp(dir: &Path, path: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let mut last = None;
    for _ in 0..TEMP_ATTEMPTS {
        let tmp = temp_name(dir, path);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&tmp) {
            Ok(mut f) => {
                let written = f.write_all(bytes).and_then(|()| f.sync_all());
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e).with_context(|| format!("writing {}", tmp.display()));
                }
                return Ok(tmp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e).with_context(|| format!("creating {}", tmp.display())),
        }
    }
    Err(anyhow!("no free temporary name beside {} ({last:?})", path.display()))
}

/// Makes a directory's new or renamed entries durable (unix; elsewhere a no-op).
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes a file readable only by its owner, atomically, replacing any file at `path`.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    let tmp = write_temp(&dir, path, bytes)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("renaming to {}", path.display()));
    }
    sync_dir(&dir)
}

/// Writes a file readable only by its owner, atomically, and never over an existing file:
/// the temporary file is hard-linked into place (which fails if `path` exists), or renamed
/// where the filesystem has no hard links. Fails with [`std::io::ErrorKind::AlreadyExists`]
/// in its chain when `path` exists.
pub fn write_private_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    let tmp = write_temp(&dir, path, bytes)?;
    let exists = || {
        anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
            .context(format!("{} already exists", path.display()))
    };
    let published = match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(_) if std::fs::symlink_metadata(path).is_ok() => Err(exists()),
        // No hard links on this filesystem.
        Err(_) => std::fs::rename(&tmp, path)
            .with_context(|| format!("moving {} to {}", tmp.display(), path.display())),
    };
    // After a link (or a failure) the temporary name is still there; after a rename it is
    // already gone.
    let _ = std::fs::remove_file(&tmp);
    published?;
    sync_dir(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_bare_file_name_is_written_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("dev1.json")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("keys/dev1.json")), PathBuf::from("keys"));
        assert_eq!(parent_dir(Path::new("/dev1.json")), PathBuf::from("/"));
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_is_private_even_when_a_world_readable_one_was_there() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validator_key.json");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        // The old fixed temporary name, planted world-readable: never written through.
        let planted = dir.path().join(".validator_key.json.tmp");
        std::fs::write(&planted, b"planted").unwrap();
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"secret").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&planted).unwrap(), b"planted");
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_new_file_is_never_written_over_an_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        write_private_new(&path, b"first").unwrap();
        let e = write_private_new(&path, b"second").unwrap_err();
        assert!(
            e.chain().any(|c| c
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::AlreadyExists)),
            "{e:#}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
