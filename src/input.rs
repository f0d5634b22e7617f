//! Files the user names (the environment file, var files, plan artifacts): regular files of
//! bounded size only. A FIFO, a device, a socket or a directory is refused before a byte is
//! read; a FIFO is opened without blocking (`O_NONBLOCK`), so naming one can never hang a
//! command; and a read never takes more than the limit, so `/dev/zero` or a file that grows
//! while it is read cannot exhaust memory.
//!
//! The limits are in [`FILE_LIMITS`], documented in docs/configuration.md ("Limits") and kept in
//! step with it by tests/docs.rs. Callers name the flag or the field the path came from.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

const MIB: u64 = 1024 * 1024;

/// The environment file: a few KiB in practice.
pub const ENV_FILE_MAX: u64 = MIB;
/// A Terraform var file (`shared.var_files`, `service.var_files`): Terraform reads these into
/// memory whole; real ones are KiB.
pub const VAR_FILE_MAX: u64 = 16 * MIB;
/// A plan artifact given to `apply`: the redacted plan JSON plus the encrypted Terraform plan of
/// one color's stack (a few MiB for large stacks; docs/plan-then-deploy.md).
pub const PLAN_ARTIFACT_MAX: u64 = 256 * MIB;

/// Every input-file limit: (what, the most bytes accepted). docs/configuration.md lists the same.
pub const FILE_LIMITS: [(&str, u64); 3] = [
    ("environment file (`bluegreen.hcl`)", ENV_FILE_MAX),
    (
        "var file (`shared.var_files`, `service.var_files`)",
        VAR_FILE_MAX,
    ),
    ("plan artifact (`apply FILE`)", PLAN_ARTIFACT_MAX),
];

/// Why a named file cannot be used as input. The message names the path; the caller adds the
/// flag or field and the fix.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{} does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("{} is {kind}, not a regular file", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{} is {}, more than the limit of {}", path.display(), Bytes(*size), Bytes(*max))]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl InputError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            InputError::Missing { path }
            | InputError::NotRegular { path, .. }
            | InputError::TooLarge { path, .. }
            | InputError::Io { path, .. } => path,
        }
    }

    /// The fix that goes with the error, for `what` (e.g. "a var file", "the plan artifact").
    pub fn fix(&self, what: &str) -> String {
        match self {
            InputError::Missing { .. } => format!("correct the path of {what}"),
            InputError::NotRegular { .. } => format!(
                "{what} must be a regular file; FIFOs, devices, sockets and directories are refused"
            ),
            InputError::TooLarge { max, .. } => format!(
                "{what} may be at most {}; check that the path names the right file",
                Bytes(*max)
            ),
            InputError::Io { .. } => format!("check that {what} is readable"),
        }
    }
}

/// Checks, without opening it, that `path` (symlinks followed) is a regular file of at most
/// `max` bytes. For files another program reads (Terraform's var files).
pub fn check(path: &Path, max: u64) -> Result<Metadata, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    check_meta(path, &meta, max)?;
    Ok(meta)
}

/// Reads `path`, a regular file of at most `max` bytes. Checked before it is opened and again
/// on the open handle (the path may have been replaced in between); opened with `O_NONBLOCK`
/// so that a FIFO put there in between cannot block; read through a cap.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, InputError> {
    check(path, max)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(open_flags())
        .open(path)
        .map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    check_meta(path, &meta, max)?;
    read_capped(file, path, max, meta.len())
}

/// `O_NONBLOCK`: opening a FIFO for reading returns at once instead of waiting for a writer
/// (a regular file ignores it); `O_NOCTTY`: a terminal never becomes the controlling one.
fn open_flags() -> i32 {
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    i32::try_from(flags.bits()).expect("open flags fit an int")
}

/// [`read`] for text.
pub fn read_to_string(path: &Path, max: u64) -> Result<String, InputError> {
    String::from_utf8(read(path, max)?).map_err(|e| InputError::Io {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

fn read_capped(file: File, path: &Path, max: u64, len: u64) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // One byte more than allowed tells a file that grew past the limit from one that did not.
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    let size = bytes.len() as u64;
    if size > max {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            size,
            max,
        });
    }
    Ok(bytes)
}

fn check_meta(path: &Path, meta: &Metadata, max: u64) -> Result<(), InputError> {
    let kind = kind_of(meta);
    if kind != "a regular file" {
        return Err(InputError::NotRegular {
            path: path.to_owned(),
            kind,
        });
    }
    if meta.len() > max {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
            max,
        });
    }
    Ok(())
}

/// What a file is, in words: "a regular file", "a directory", "a FIFO (named pipe)", …
pub fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn io_error(path: &Path, source: io::Error) -> InputError {
    if source.kind() == io::ErrorKind::NotFound {
        InputError::Missing {
            path: path.to_owned(),
        }
    } else {
        InputError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// A byte count for people: "512 bytes", "16 MiB", "1.5 GiB".
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} bytes", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if value.fract() == 0.0 {
            write!(f, "{value:.0} {}", UNITS[unit])
        } else {
            write!(f, "{value:.1} {}", UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("run mkfifo");
        assert!(status.success());
    }

    #[test]
    fn a_regular_file_within_the_limit_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, "hello").unwrap();
        assert_eq!(read(&path, 5).unwrap(), b"hello");
        assert_eq!(read_to_string(&path, 100).unwrap(), "hello");
        let err = read(&path, 4).unwrap_err();
        assert!(
            matches!(
                err,
                InputError::TooLarge {
                    size: 5,
                    max: 4,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("is 5 bytes, more than the limit of 4 bytes"),
            "{err}"
        );
    }

    #[test]
    fn devices_directories_and_missing_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let cases = [
            (Path::new("/dev/zero"), "a character device"),
            (Path::new("/dev/null"), "a character device"),
            (tmp.path(), "a directory"),
        ];
        for (path, kind) in cases {
            let err = read(path, ENV_FILE_MAX).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("is {kind}, not a regular file")),
                "{}: {err}",
                path.display()
            );
            assert!(check(path, ENV_FILE_MAX).is_err());
        }
        let err = read(&tmp.path().join("nope"), 10).unwrap_err();
        assert!(matches!(err, InputError::Missing { .. }), "{err:?}");
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("pipe");
        mkfifo(&fifo);
        let started = Instant::now();
        let err = read(&fifo, ENV_FILE_MAX).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(err.to_string().contains("a FIFO (named pipe)"), "{err}");
        // A symlink to it is followed and refused the same way.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(matches!(
            read(&link, 10).unwrap_err(),
            InputError::NotRegular { .. }
        ));
    }

    #[test]
    fn a_fifo_opened_after_the_check_does_not_block() {
        // The open itself must not wait for a writer: the handle is checked, then refused.
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("pipe");
        mkfifo(&fifo);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(open_flags())
            .open(&fifo)
            .unwrap();
        let meta = file.metadata().unwrap();
        assert!(check_meta(&fifo, &meta, 10).is_err());
    }

    #[test]
    fn reads_stop_at_the_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        let file = File::open(&path).unwrap();
        // As if the file grew after its size was checked.
        let err = read_capped(file, &path, 10, 5).unwrap_err();
        assert!(
            matches!(
                err,
                InputError::TooLarge {
                    size: 11,
                    max: 10,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn bytes_read_well() {
        assert_eq!(Bytes(512).to_string(), "512 bytes");
        assert_eq!(Bytes(MIB).to_string(), "1 MiB");
        assert_eq!(Bytes(16 * MIB).to_string(), "16 MiB");
        assert_eq!(Bytes(3 * MIB / 2).to_string(), "1.5 MiB");
        assert_eq!(Bytes(256 * MIB).to_string(), "256 MiB");
        assert_eq!(Bytes(12 * 1024 * MIB).to_string(), "12 GiB");
    }
}
