//! Why a plan artifact could not be written, read or opened, or a plan key could not be loaded.
//! Every message says what to do next. None of them ever holds key material or plan content.
//!
//! The artifact functions do no I/O, so these messages do not name the artifact's file: the
//! caller that read it adds the path.

use std::fmt;
use std::path::PathBuf;

use super::key::KEY_ENV;

const NEW_PLAN: &str = "make a new plan with `bluegreen plan`";

/// Each variant has a message ([`ArtifactError::message`]) and the fix ([`ArtifactError::fix`]);
/// it displays as `MESSAGE\n  fix: FIX`.
#[derive(Debug)]
pub enum ArtifactError {
    /// The bytes are not JSON (a truncated or damaged file, or not an artifact at all).
    NotJson { reason: String },

    /// The JSON is not byte for byte what `seal` writes: someone edited or reformatted it.
    /// `byte` is the 0-based offset of the first difference; `line`/`column` are 1-based.
    NotCanonical {
        byte: usize,
        line: usize,
        column: usize,
    },

    /// The content does not hash to the recorded checksum.
    ChecksumMismatch { recorded: String, computed: String },

    /// Not a bluegreen plan artifact. `found` says what the file holds instead.
    UnknownFormat { found: String },

    /// A plan artifact of a format version this bluegreen does not read.
    UnsupportedVersion {
        /// The `version` value as it appears in the file.
        found: String,
        supported: &'static [u32],
    },

    /// A required field is absent; `field` is its path, e.g. `terraform_plan.nonce`.
    Missing { field: &'static str },

    /// A field has the wrong type or value, or is unknown.
    Invalid { field: String, reason: String },

    /// The artifact was sealed with a different plan key than the one loaded here.
    WrongKey {
        artifact_key_id: String,
        our_key_id: String,
    },

    /// The key is the right one, yet the encrypted plan does not authenticate against the body:
    /// the body (or the nonce or ciphertext) was changed and the checksum recomputed.
    Tampered { key_id: String },

    /// The plan key could not be used. `source_desc` names where it came from.
    Key {
        source_desc: String,
        reason: String,
        fix: String,
    },

    /// The key file or its directory could not be read or written; the cause is the `source`.
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// The operating system gave no random bytes (for a key or a nonce).
    Random { reason: String },

    /// The artifact `seal` wrote did not read back as written (a bug, or a body whose
    /// floating-point numbers do not survive a JSON round trip).
    Seal { reason: String },
}

impl ArtifactError {
    /// What went wrong.
    pub fn message(&self) -> String {
        use ArtifactError::*;
        match self {
            NotJson { reason } => format!(
                "the plan artifact is not valid JSON ({reason}): it was damaged or truncated, or it is not a plan artifact"
            ),
            NotCanonical { byte, line, column } => format!(
                "the plan artifact was modified after it was written (byte {byte}, line {line}, column {column}, \
                 differs from how bluegreen writes it)"
            ),
            ChecksumMismatch { recorded, computed } => format!(
                "the plan artifact was modified after it was written: its checksum is {recorded}, but its content \
                 hashes to {computed}"
            ),
            UnknownFormat { found } => format!(
                "this file is not a bluegreen plan artifact ({found}; an artifact's \"format\" is \"{}\")",
                super::FORMAT
            ),
            UnsupportedVersion { found, supported } => format!(
                "the plan artifact has format version {found}; this bluegreen reads version {} only",
                Versions(supported)
            ),
            Missing { field } => format!(
                "the plan artifact has no `{field}`: it was modified after it was written, or not written by \
                 bluegreen"
            ),
            Invalid { field, reason } => format!(
                "the plan artifact's `{field}` is invalid ({reason}): it was modified after it was written, or not \
                 written by bluegreen"
            ),
            WrongKey {
                artifact_key_id,
                our_key_id,
            } => format!(
                "the plan artifact was sealed with plan key {artifact_key_id}, but the key here is {our_key_id}, so \
                 its Terraform plan cannot be decrypted"
            ),
            Tampered { key_id } => format!(
                "the plan artifact was modified after it was written: its encrypted Terraform plan does not match \
                 its body (the key, {key_id}, is the right one, so the body or the encrypted plan was changed and \
                 the checksum recomputed)"
            ),
            Key {
                source_desc,
                reason,
                ..
            } => format!("plan key from {source_desc}: {reason}"),
            Io { action, path, .. } => format!("cannot {action} {}", path.display()),
            Random { reason } => {
                format!("the operating system's random source failed: {reason}")
            }
            Seal { reason } => format!("cannot seal the plan artifact: {reason}"),
        }
    }

    /// What to do next.
    pub fn fix(&self) -> String {
        use ArtifactError::*;
        match self {
            NotJson { .. } => format!(
                "pass the file written by `bluegreen plan --out FILE`; if it is that file, {NEW_PLAN}"
            ),
            NotCanonical { .. } => format!("{NEW_PLAN}; do not edit or reformat an artifact"),
            ChecksumMismatch { .. } | Missing { .. } | Invalid { .. } => NEW_PLAN.to_string(),
            UnknownFormat { .. } => "pass the file written by `bluegreen plan --out FILE`".into(),
            UnsupportedVersion { .. } => format!(
                "apply it with the bluegreen release that wrote it, or {NEW_PLAN} with this one"
            ),
            WrongKey {
                artifact_key_id, ..
            } => format!(
                "set {KEY_ENV} to the key `bluegreen plan` used \
                 (key id {artifact_key_id}; in CI, give the plan job and the apply job the same secret), or \
                 {NEW_PLAN} here"
            ),
            Tampered { .. } => {
                format!("do not apply it; {NEW_PLAN}, and find out who changed the file")
            }
            Key { fix, .. } => fix.clone(),
            Io { .. } => format!(
                "check that path and its permissions, or set {KEY_ENV} (64 hex \
                 characters) so that no key file is needed"
            ),
            Random { .. } => "retry; if it keeps failing, check the system's entropy source (getrandom(2), /dev/urandom)".into(),
            Seal { .. } => "retry; if it keeps failing, report it as a bug".into(),
        }
    }
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  fix: {}", self.message(), self.fix())
    }
}

impl std::error::Error for ArtifactError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ArtifactError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

struct Versions(&'static [u32]);

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&list.join(", "))
    }
}
