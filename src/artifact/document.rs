//! The artifact document: reading it from parsed JSON, writing its one canonical byte form, and
//! the two hashes over it (the checksum and the AEAD associated data).

use serde::Serialize;
use serde_json::{Map, Value};

use super::crypto::sha256;
use super::error::ArtifactError;

/// The `format` of every plan artifact.
pub const FORMAT: &str = "bluegreen-plan";
/// The format version `seal` writes.
pub const VERSION: u32 = 1;
/// The format versions `inspect` and `open` read.
pub const SUPPORTED_VERSIONS: &[u32] = &[VERSION];
/// The only `terraform_plan.encryption` of version 1.
pub const ENCRYPTION: &str = "AES-256-GCM";

/// Fields in file order: a reviewer reading the top of the file sees what it is first.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Document {
    pub format: String,
    pub version: u32,
    pub body: Value,
    pub terraform_plan: SealedPlan,
    pub checksum: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SealedPlan {
    pub encryption: String,
    pub key_id: String,
    pub nonce: String,
    pub ciphertext: String,
}

impl Document {
    /// The file bytes: pretty-printed (two-space indent), fields in the order above, every
    /// object inside the body with sorted keys, a trailing newline. Deterministic, so a reader
    /// can demand that a file is exactly this.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let doc = Document {
            body: sorted(&self.body),
            ..self.clone()
        };
        let mut bytes = serde_json::to_vec_pretty(&doc).expect("JSON values always serialize");
        bytes.push(b'\n');
        bytes
    }

    /// `sha256:<hex>` of the canonical form (sorted keys, compact) of everything but `checksum`.
    pub(crate) fn compute_checksum(&self) -> String {
        let plan = &self.terraform_plan;
        let content = serde_json::json!({
            "format": self.format,
            "version": self.version,
            "body": self.body,
            "terraform_plan": {
                "encryption": plan.encryption,
                "key_id": plan.key_id,
                "nonce": plan.nonce,
                "ciphertext": plan.ciphertext,
            },
        });
        format!("sha256:{}", hex::encode(sha256(&canonical(&content))))
    }

    /// Checks, in this order, that it is a plan artifact (`format`), of a version this build
    /// reads, with every field present, of the right type, and no other field.
    pub(crate) fn from_value(value: Value) -> Result<Document, ArtifactError> {
        let Value::Object(mut map) = value else {
            return Err(ArtifactError::UnknownFormat {
                found: format!("it is a JSON {}, not an object", kind(&value)),
            });
        };
        let format = match map.remove("format") {
            Some(Value::String(s)) if s == FORMAT => s,
            Some(other) => {
                return Err(ArtifactError::UnknownFormat {
                    found: format!("its \"format\" is {}", excerpt(&other)),
                })
            }
            None => {
                return Err(ArtifactError::UnknownFormat {
                    found: "it has no \"format\"".into(),
                })
            }
        };
        let version = take(&mut map, "version")?;
        let version = match version.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(v) if SUPPORTED_VERSIONS.contains(&v) => v,
            _ => {
                return Err(ArtifactError::UnsupportedVersion {
                    found: excerpt(&version),
                    supported: SUPPORTED_VERSIONS,
                })
            }
        };
        let body = take(&mut map, "body")?;
        let terraform_plan = SealedPlan::from_value(take(&mut map, "terraform_plan")?)?;
        let checksum = string(take(&mut map, "checksum")?, "checksum")?;
        no_other_fields(&map, "")?;
        Ok(Document {
            format,
            version,
            body,
            terraform_plan,
            checksum,
        })
    }
}

impl SealedPlan {
    fn from_value(value: Value) -> Result<SealedPlan, ArtifactError> {
        let Value::Object(mut map) = value else {
            return Err(invalid("terraform_plan", "it is not an object"));
        };
        let mut field = |name: &'static str, path: &'static str| {
            map.remove(name)
                .ok_or(ArtifactError::Missing { field: path })
                .and_then(|v| string(v, path))
        };
        let plan = SealedPlan {
            encryption: field("encryption", "terraform_plan.encryption")?,
            key_id: field("key_id", "terraform_plan.key_id")?,
            nonce: field("nonce", "terraform_plan.nonce")?,
            ciphertext: field("ciphertext", "terraform_plan.ciphertext")?,
        };
        no_other_fields(&map, "terraform_plan.")?;
        Ok(plan)
    }
}

/// The AEAD associated data: sha256 of the canonical `{format, version, body}`. It binds the
/// encrypted plan to the body a person reviewed, so a body edited by anyone without the key
/// (even with a recomputed checksum) no longer decrypts.
pub(crate) fn associated_data(format: &str, version: u32, body: &Value) -> [u8; 32] {
    let content = serde_json::json!({ "format": format, "version": version, "body": body });
    sha256(&canonical(&content))
}

/// Compact JSON with every object's keys sorted.
pub(crate) fn canonical(value: &Value) -> Vec<u8> {
    serde_json::to_vec(&sorted(value)).expect("JSON values always serialize")
}

/// `value` with every object's keys in sorted order. serde_json's `Map` is sorted already
/// unless some crate in the build turns on its `preserve_order` feature (then it keeps
/// insertion order); rebuilding each map in sorted order gives sorted output either way.
pub(crate) fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn take(map: &mut Map<String, Value>, field: &'static str) -> Result<Value, ArtifactError> {
    map.remove(field).ok_or(ArtifactError::Missing { field })
}

fn string(value: Value, path: &str) -> Result<String, ArtifactError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(invalid(path, format!("a {}, not a string", kind(&other)))),
    }
}

fn no_other_fields(map: &Map<String, Value>, prefix: &str) -> Result<(), ArtifactError> {
    match map.keys().next() {
        Some(key) => Err(invalid(
            &format!("{prefix}{key}"),
            "no such field in this format version",
        )),
        None => Ok(()),
    }
}

pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> ArtifactError {
    ArtifactError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as JSON, cut short: it goes into a one-line message.
fn excerpt(value: &Value) -> String {
    const MAX: usize = 60;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
