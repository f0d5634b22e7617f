//! The plan key: 32 random bytes that encrypt the Terraform plan inside an artifact.
//!
//! It comes from `BLUEGREEN_PLAN_KEY` (CI: the plan job and the apply job share one secret) or
//! from a key file that is created on first use (one machine plans and applies). Both hold the
//! key as 64 hex characters (`openssl rand -hex 32`); the variable also takes the standard,
//! padded base64 of 32 bytes (`openssl rand -base64 32`), since secret stores often hand out
//! base64. The lengths (64 vs 44 characters) cannot be confused.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::error::ArtifactError;

/// The environment variable that holds the plan key.
pub const KEY_ENV: &str = "BLUEGREEN_PLAN_KEY";

/// A plan key is this many bytes.
pub const KEY_LEN: usize = 32;

/// Key files are a few dozen bytes; anything much larger is not a key file.
const MAX_KEY_FILE: u64 = 1024;

/// A 256-bit AES-GCM key. `Debug` shows the key id, never the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PlanKey {
    bytes: [u8; KEY_LEN],
}

/// Where a key came from, for messages ("sealed with key 0123… from BLUEGREEN_PLAN_KEY").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    /// An existing key file.
    File(PathBuf),
    /// A key file this call created (the first plan on this machine).
    Created(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env => f.write_str(KEY_ENV),
            KeySource::File(path) => write!(f, "{}", path.display()),
            KeySource::Created(path) => write!(f, "{} (a new key, created now)", path.display()),
        }
    }
}

impl fmt::Debug for PlanKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlanKey(id {})", self.key_id())
    }
}

impl PlanKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> PlanKey {
        PlanKey { bytes }
    }

    /// A new key from the operating system's random source.
    pub fn generate() -> Result<PlanKey, ArtifactError> {
        let mut bytes = [0u8; KEY_LEN];
        super::random(&mut bytes)?;
        Ok(PlanKey { bytes })
    }

    /// The first 16 hex characters of sha256(key): names the key in messages and in artifacts
    /// without revealing it.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.bytes);
        hex::encode(&digest[..8])
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// The key from `BLUEGREEN_PLAN_KEY` when it is set, else from `default_file` (created when
    /// missing). See [`PlanKey::load_from`].
    pub fn load(default_file: &Path) -> Result<(PlanKey, KeySource), ArtifactError> {
        let env = match std::env::var(KEY_ENV) {
            Ok(value) => Some(value),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(env_error("it is not valid UTF-8".into()))
            }
        };
        PlanKey::load_from(env.as_deref(), default_file)
    }

    /// [`PlanKey::load`] with the variable's value passed in (tests must not set process env).
    ///
    /// `env` wins when it is `Some`, even when empty: CI systems pass a missing secret as an
    /// empty string, and falling back to a fresh key file there would seal plans nobody else
    /// can open. Otherwise `default_file` is read; if it does not exist, it is created (mode
    /// 0600, directories 0700) holding a new random key. Two processes creating it at once end
    /// up with the same key: the file appears atomically (written to a temporary file, then
    /// hard-linked into place, which fails if the name exists) and the loser reads the winner's.
    pub fn load_from(
        env: Option<&str>,
        default_file: &Path,
    ) -> Result<(PlanKey, KeySource), ArtifactError> {
        if let Some(value) = env {
            let key = parse(value).map_err(env_error)?;
            return Ok((key, KeySource::Env));
        }
        if let Some(key) = read_key_file(default_file)? {
            return Ok((key, KeySource::File(default_file.to_path_buf())));
        }
        create_key_file(default_file)
    }
}

/// Hex (64 characters, either case) or standard padded base64 (44 characters), surrounding
/// whitespace ignored. The reason never quotes the value.
fn parse(text: &str) -> Result<PlanKey, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty".into());
    }
    let decoded = if text.len() == 2 * KEY_LEN {
        hex::decode(text).ok()
    } else {
        base64::engine::general_purpose::STANDARD.decode(text).ok()
    };
    match decoded.map(<[u8; KEY_LEN]>::try_from) {
        Some(Ok(bytes)) => Ok(PlanKey { bytes }),
        _ => Err(format!(
            "it is not a 32-byte key: expected 64 hex characters or 44 characters of base64, \
             found {} characters that are neither",
            text.chars().count()
        )),
    }
}

fn env_error(reason: String) -> ArtifactError {
    ArtifactError::Key {
        source_desc: KEY_ENV.into(),
        reason,
        fix: format!(
            "set {KEY_ENV} to the plan key, 64 hex characters (make one with `openssl rand -hex 32`), \
             or unset it to use the key file"
        ),
    }
}

fn file_desc(path: &Path) -> String {
    format!("the key file {}", path.display())
}

/// `None` when the file does not exist.
fn read_key_file(path: &Path) -> Result<Option<PlanKey>, ArtifactError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error("read the plan key file", path, source)),
    };
    let metadata = file
        .metadata()
        .map_err(|e| io_error("read the plan key file", path, e))?;
    check_private(&metadata, path)?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE)
        .read_to_string(&mut text)
        .map_err(|e| io_error("read the plan key file", path, e))?;
    let key = parse(&text).map_err(|reason| ArtifactError::Key {
        source_desc: file_desc(path),
        reason,
        fix: format!(
            "restore the file from where the key is kept (plans sealed with it need it), or delete \
             it so that bluegreen makes a new key (plans sealed with the old key can then no longer \
             be applied), or set {KEY_ENV}"
        ),
    })?;
    Ok(Some(key))
}

#[cfg(unix)]
fn check_private(metadata: &fs::Metadata, path: &Path) -> Result<(), ArtifactError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    Err(ArtifactError::Key {
        source_desc: file_desc(path),
        reason: format!(
            "its permissions ({mode:03o}) let other users read or change it, and anyone who reads \
             it can decrypt every plan sealed with it"
        ),
        fix: format!(
            "`chmod 600 {}`; if other users could read it, also replace the key",
            path.display()
        ),
    })
}

#[cfg(not(unix))]
fn check_private(_metadata: &fs::Metadata, _path: &Path) -> Result<(), ArtifactError> {
    Ok(())
}

fn create_key_file(path: &Path) -> Result<(PlanKey, KeySource), ArtifactError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    create_private_dir(dir).map_err(|e| io_error("create the directory", dir, e))?;
    let key = PlanKey::generate()?;
    let tmp = temp_path(path)?;
    let written = write_private(&tmp, &key).and_then(|()| fs::hard_link(&tmp, path));
    // The temporary name is only a staging name; the key lives on under `path` (or not at all).
    let _ = fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            let _ = File::open(dir).and_then(|d| d.sync_all());
            Ok((key, KeySource::Created(path.to_path_buf())))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Another process created it first: its key is the key.
            let key = read_key_file(path)?.ok_or_else(|| {
                io_error(
                    "read the plan key file",
                    path,
                    io::Error::other("it was created and removed again by another process"),
                )
            })?;
            Ok((key, KeySource::File(path.to_path_buf())))
        }
        Err(e) => Err(io_error("create the plan key file", path, e)),
    }
}

fn temp_path(path: &Path) -> Result<PathBuf, ArtifactError> {
    let mut suffix = [0u8; 8];
    super::random(&mut suffix)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan-key".into());
    Ok(path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        hex::encode(suffix)
    )))
}

fn write_private(tmp: &Path, key: &PlanKey) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(tmp)?;
    file.write_all(format!("{}\n", hex::encode(key.bytes)).as_bytes())?;
    file.sync_all()
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> ArtifactError {
    ArtifactError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(all(test, unix))]
mod tests;
