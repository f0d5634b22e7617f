//! The artifact document: reading it from parsed JSON, writing its one canonical byte form, and
//! the two hashes over it (the checksum and the AEAD associated data).

use std::io::Write;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::ArtifactError;
pub(crate) use crate::canonical::{Sorted, Splice};

/// The `format` of every plan artifact.
pub const FORMAT: &str = "bluegreen-plan";
/// The format version `seal` writes.
pub const VERSION: u32 = 1;
/// The format versions `inspect` and `open` read.
pub const SUPPORTED_VERSIONS: &[u32] = &[VERSION];
/// The only `terraform_plan.encryption` of version 1.
pub const ENCRYPTION: &str = "AES-256-GCM";

/// Fields in file order: a reviewer reading the top of the file sees what it is first.
#[derive(Debug, Clone)]
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

/// The file's form of a [`Document`], borrowed: serializing it writes the file bytes without
/// copying the body. [`Document::write_to`] and `seal` both write through it.
#[derive(Serialize)]
pub(crate) struct FileForm<'a> {
    pub format: &'a str,
    pub version: u32,
    pub body: Sorted<'a>,
    pub terraform_plan: &'a SealedPlan,
    pub checksum: &'a str,
}

impl FileForm<'_> {
    /// Pretty-printed (two-space indent) and a trailing newline.
    pub(crate) fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        out.write_all(b"\n")
    }
}

impl Document {
    /// The file bytes: pretty-printed (two-space indent), fields in the order above, every
    /// object inside the body with sorted keys, a trailing newline. Deterministic, so a reader
    /// can demand that a file is exactly this.
    #[cfg(test)]
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.write_to(&mut bytes)
            .expect("JSON values always serialize into memory");
        bytes
    }

    /// [`Document::to_bytes`], written to `out` as it is produced (a reader compares it with
    /// the file without holding a second copy).
    pub(crate) fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        let form = FileForm {
            format: &self.format,
            version: self.version,
            body: Sorted(&self.body, None),
            terraform_plan: &self.terraform_plan,
            checksum: &self.checksum,
        };
        form.write_to(out)
    }

    /// `sha256:<hex>` of the canonical form (sorted keys, compact) of everything but `checksum`.
    #[cfg(test)]
    pub(crate) fn compute_checksum(&self) -> String {
        self.digests().0
    }

    /// The checksum and the AEAD associated data, from one pass over the body.
    pub(crate) fn digests(&self) -> (String, [u8; 32]) {
        let body = BodyDigests::of(&self.format, self.version, &self.body);
        let checksum = body.checksum(&self.terraform_plan);
        (checksum, body.associated_data)
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

/// The two hashes over the body, which both begin with the canonical body: its canonical bytes
/// are produced once, streamed into both hashers, and never held in memory.
///
/// The canonical form of `{format, version, body}` (keys sorted: `body`, `format`, `version`)
/// is `{"body":` + canonical body + `,"format":` + format + `,"version":` + version + `}`, and
/// that of the checksummed content continues after the body with `,"format":…` and the
/// `terraform_plan` fields (keys sorted) before `,"version":…}`. A test compares both with the
/// canonical form of the whole value.
pub(crate) struct BodyDigests {
    /// The checksum's hasher, fed up to the end of the body.
    checksum: Sha256,
    /// The AEAD associated data: sha256 of the canonical `{format, version, body}`. It binds
    /// the encrypted plan to the body a person reviewed, so a body edited by anyone without
    /// the key (even with a recomputed checksum) no longer decrypts.
    pub associated_data: [u8; 32],
    format: String,
    version: u32,
}

impl BodyDigests {
    /// `splice`: canonical text standing in for one value of `body` ([`Sorted`]).
    pub(crate) fn of(format: &str, version: u32, body: &Value) -> BodyDigests {
        BodyDigests::writing(format, version, body, None, &mut std::io::sink())
            .expect("hashing never fails")
    }

    /// [`BodyDigests::of`], the canonical body written to `also` as it is hashed (the one
    /// serialization of the body `seal` makes); `splice`: canonical text standing in for one
    /// value of `body` ([`Sorted`]).
    pub(crate) fn writing(
        format: &str,
        version: u32,
        body: &Value,
        splice: Option<Splice<'_>>,
        also: &mut impl Write,
    ) -> std::io::Result<BodyDigests> {
        let (mut checksum, mut aad) = (Sha256::new(), Sha256::new());
        checksum.update(b"{\"body\":");
        aad.update(b"{\"body\":");
        let mut all = Tee(&mut checksum, &mut aad, also);
        serde_json::to_writer(&mut all, &Sorted(body, splice))?;
        aad.update(b",\"format\":");
        json_into(&mut aad, format);
        aad.update(b",\"version\":");
        json_into(&mut aad, &version);
        aad.update(b"}");
        Ok(BodyDigests {
            checksum,
            associated_data: aad.finalize().into(),
            format: format.to_owned(),
            version,
        })
    }

    /// `sha256:<hex>` of the canonical document without `checksum`.
    pub(crate) fn checksum(&self, plan: &SealedPlan) -> String {
        let mut h = self.checksum.clone();
        h.update(b",\"format\":");
        json_into(&mut h, &self.format);
        h.update(b",\"terraform_plan\":{\"ciphertext\":");
        json_into(&mut h, &plan.ciphertext);
        h.update(b",\"encryption\":");
        json_into(&mut h, &plan.encryption);
        h.update(b",\"key_id\":");
        json_into(&mut h, &plan.key_id);
        h.update(b",\"nonce\":");
        json_into(&mut h, &plan.nonce);
        h.update(b"},\"version\":");
        json_into(&mut h, &self.version);
        h.update(b"}");
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

/// Compact JSON of `value` into `hasher`.
fn json_into(hasher: &mut Sha256, value: &(impl Serialize + ?Sized)) {
    serde_json::to_writer(HashWriter(hasher), value).expect("JSON values always serialize");
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Feeds two hashers and a writer at once.
struct Tee<'a, W: Write>(&'a mut Sha256, &'a mut Sha256, &'a mut W);

impl<W: Write> Write for Tee<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.2.write_all(buf)?;
        self.0.update(buf);
        self.1.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.2.flush()
    }
}

/// Compact JSON with every object's keys sorted.
#[cfg(test)]
pub(crate) fn canonical(value: &Value) -> Vec<u8> {
    serde_json::to_vec(&Sorted(value, None)).expect("JSON values always serialize")
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
