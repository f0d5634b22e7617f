//! Files that may hold variable values (saved Terraform plans hold every one of
//! them in plain text, sensitive ones included): readable by their owner only.
//!
//! A saved plan is created empty with mode 0600 *before* Terraform writes it:
//! Terraform opens `plan -out=PATH` with truncation, which keeps an existing
//! file's mode, so no other user can ever read a byte of it. The mode is set
//! again afterwards in case a tool replaced the file instead.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

use super::error::IacError;

/// The mode of every file here.
pub const PRIVATE_MODE: u32 = 0o600;

/// Creates `path` empty (truncating it if it exists) with mode 0600.
pub fn create_private(path: &Path) -> Result<(), IacError> {
    open_private(path).map(drop)
}

/// Writes `bytes` to `path` (replacing it), readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), IacError> {
    let mut file = open_private(path)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io("write", path))
}

/// Creates (or truncates) `path`, readable by its owner only, for writing.
pub fn open_private(path: &Path) -> Result<File, IacError> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(PRIVATE_MODE);
    }
    let file = options.open(path).map_err(io("create", path))?;
    restrict(path)?;
    Ok(file)
}

/// Sets `path`'s mode to 0600 (an existing file's mode survives `open`).
pub fn restrict(path: &Path) -> Result<(), IacError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(PRIVATE_MODE))
            .map_err(io("restrict the permissions of", path))?;
    }
    Ok(())
}

/// Removes `path` if it is an empty file (a plan file created here that Terraform never wrote).
pub fn remove_if_empty(path: &Path) {
    if fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        let _ = fs::remove_file(path);
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IacError {
    let path = path.to_path_buf();
    move |source| IacError::Io {
        action,
        path,
        source,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_created_and_rewritten_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blue.tfplan");
        create_private(&path).unwrap();
        assert_eq!((mode(&path), fs::read(&path).unwrap().len()), (0o600, 0));

        // An old plan left world-readable is truncated and closed off.
        fs::write(&path, "old plan").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        create_private(&path).unwrap();
        assert_eq!((mode(&path), fs::read(&path).unwrap().len()), (0o600, 0));

        let other = dir.path().join("applied.tfplan");
        fs::write(&other, "longer old content").unwrap();
        fs::set_permissions(&other, fs::Permissions::from_mode(0o666)).unwrap();
        write_private(&other, b"plan").unwrap();
        assert_eq!(
            (mode(&other), fs::read(&other).unwrap()),
            (0o600, b"plan".to_vec())
        );
    }

    #[test]
    fn only_empty_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.tfplan");
        let full = dir.path().join("full.tfplan");
        create_private(&empty).unwrap();
        write_private(&full, b"x").unwrap();
        remove_if_empty(&empty);
        remove_if_empty(&full);
        remove_if_empty(&dir.path().join("missing"));
        assert!(!empty.exists() && full.exists());
    }
}
