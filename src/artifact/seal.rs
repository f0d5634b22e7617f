//! `seal`, `inspect` and `open`: the whole life of an artifact, as bytes in and bytes out.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use std::borrow::Cow;
use std::io::Write;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::canonical::{has_unstable_float, settle, Pretty};

use super::crypto::{self, NONCE_LEN, TAG_LEN};
use super::document::{
    invalid, BodyDigests, Document, SealedPlan, Splice, ENCRYPTION, FORMAT, VERSION,
};
use super::error::ArtifactError;
use super::key::PlanKey;

/// What a reader learns from an artifact that passed its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    /// The caller's JSON, exactly as sealed.
    pub body: Value,
    /// `sha256:<hex>`: names this exact artifact (show it at review and at apply).
    pub checksum: String,
    /// The id of the key it was sealed with.
    pub key_id: String,
}

/// A sealed artifact: the file bytes and the checksum that names them.
#[derive(Debug, Clone, PartialEq)]
pub struct Sealed {
    pub bytes: Vec<u8>,
    /// `sha256:<hex>`, as [`inspect`] would report it.
    pub checksum: String,
}

/// The artifact's file bytes: `body` in the clear, `terraform_plan` encrypted with `key` and
/// bound to `body`. [`seal_to`] into memory.
pub fn seal(body: &Value, terraform_plan: &[u8], key: &PlanKey) -> Result<Sealed, ArtifactError> {
    let mut bytes = Vec::new();
    let checksum = seal_to(body, None, terraform_plan, key, &mut bytes)?;
    Ok(Sealed { bytes, checksum })
}

/// Canonical JSON text standing in for one value of a body: `pointer` (a JSON pointer, e.g.
/// `/terraform/redacted_plan`) names a placeholder in the body, `raw` is the canonical compact
/// text (keys sorted, floats that read back as themselves) of what belongs there. The sealed
/// artifact is the one `body` with that value in place would give, but the value is never
/// parsed whole: it is copied into the hashes and re-indented piece by piece into the file.
#[derive(Clone, Copy)]
pub struct Spliced<'a> {
    pub pointer: &'a str,
    pub raw: &'a RawValue,
}

/// Seals `body` (with `splice` in place) and `terraform_plan` into `out`, written once as it is
/// produced; returns the checksum (`sha256:<hex>`, as [`inspect`] would report it).
///
/// Sealed once, and not read back: what `seal` hands out opens by construction. The file is
/// laid out as the one writer readers re-write it with (`FileForm`); the checksum
/// and the associated data come from the one function readers recompute them with
/// ([`BodyDigests`]), over one pass of the canonical body that is never held in memory; and the
/// body is what every reader will parse, because every number in it is already a fixed point of
/// writing and reading JSON ([`readable`]). The tamper and golden-file tests hold it to that.
pub fn seal_to(
    body: &Value,
    splice: Option<Spliced<'_>>,
    terraform_plan: &[u8],
    key: &PlanKey,
    out: &mut impl Write,
) -> Result<String, ArtifactError> {
    let body = readable(body)?;
    let splice = match splice {
        None => None,
        Some(s) => Some(Splice {
            at: body
                .pointer(s.pointer)
                .ok_or_else(|| seal_error(format!("the body has no {}", s.pointer)))?,
            raw: s.raw,
        }),
    };
    let mut nonce = [0u8; NONCE_LEN];
    crypto::random(&mut nonce)?;
    let cannot_write = |e: std::io::Error| seal_error(format!("cannot write the artifact: {e}"));
    // The file is the pretty form of the compact document `{"format":…,"version":…,"body":…,
    // "terraform_plan":…,"checksum":…}` ([`FileForm`]'s layout): the compact text goes through
    // the re-indenter, and the body's part of it through both hashers on the way.
    let mut file = Pretty::new(out);
    let header = format!(
        "{{\"format\":{},\"version\":{VERSION},\"body\":",
        json(FORMAT)
    );
    file.write_all(header.as_bytes()).map_err(cannot_write)?;
    let digests =
        BodyDigests::writing(FORMAT, VERSION, &body, splice, &mut file).map_err(cannot_write)?;
    let ciphertext = crypto::encrypt(key, &nonce, terraform_plan, &digests.associated_data)?;
    let terraform_plan = SealedPlan {
        encryption: ENCRYPTION.into(),
        key_id: key.key_id(),
        nonce: BASE64.encode(nonce),
        ciphertext: BASE64.encode(ciphertext),
    };
    let checksum = digests.checksum(&terraform_plan);
    // Written straight to the file: the ciphertext is not copied again.
    (|| {
        file.write_all(b",\"terraform_plan\":")?;
        serde_json::to_writer(&mut file, &terraform_plan)?;
        file.write_all(b",\"checksum\":")?;
        serde_json::to_writer(&mut file, &checksum)?;
        file.write_all(b"}")
    })()
    .map_err(cannot_write)?;
    let out = file.finish().map_err(cannot_write)?;
    out.write_all(b"\n").map_err(cannot_write)?;
    Ok(checksum)
}

/// Compact JSON of a field of the file.
fn json(value: &(impl serde::Serialize + ?Sized)) -> String {
    serde_json::to_string(value).expect("strings and plain structs always serialize")
}

/// `body` as a reader will parse it. Strings and integers read back exactly; a float may not
/// (serde_json's default float parsing is not always correctly rounded), so each float is
/// replaced by what it reads back as, until it reads back as itself. Borrowed when nothing
/// changes (no copy of the body in the common case), copied once otherwise.
fn readable(body: &Value) -> Result<Cow<'_, Value>, ArtifactError> {
    if !has_unstable_float(body) {
        return Ok(Cow::Borrowed(body));
    }
    let mut owned = body.clone();
    match settle(&mut owned) {
        true => Ok(Cow::Owned(owned)),
        false => Err(seal_error(
            "a number in the body does not read back as itself",
        )),
    }
}

/// Format and integrity checks, no key needed: for showing a plan, and for refusing a damaged
/// or edited one before anything else happens. Refuses any file that is not byte for byte what
/// [`seal`] writes. Passing does not prove who wrote it (anyone can recompute a checksum);
/// only [`open`] does, with the key.
pub fn inspect(bytes: &[u8]) -> Result<Opened, ArtifactError> {
    let (doc, _) = check(bytes)?;
    Ok(opened(doc))
}

/// [`inspect`], then decrypt the Terraform plan. Succeeds only for an artifact sealed with
/// `key` whose body is the one it was sealed with.
pub fn open(bytes: &[u8], key: &PlanKey) -> Result<(Opened, Vec<u8>), ArtifactError> {
    let (doc, sealed) = check(bytes)?;
    let our_key_id = key.key_id();
    if doc.terraform_plan.key_id != our_key_id {
        return Err(ArtifactError::WrongKey {
            artifact_key_id: doc.terraform_plan.key_id,
            our_key_id,
        });
    }
    let plan = crypto::decrypt(key, &sealed.nonce, &sealed.ciphertext, &sealed.aad)
        .ok_or(ArtifactError::Tampered { key_id: our_key_id })?;
    Ok((opened(doc), plan))
}

/// The decoded encrypted part, and the associated data it must decrypt with.
struct Decoded {
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
    aad: [u8; 32],
}

fn check(bytes: &[u8]) -> Result<(Document, Decoded), ArtifactError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ArtifactError::NotJson {
        reason: e.to_string(),
    })?;
    let doc = Document::from_value(value)?;
    // Re-writing what was read must give the same bytes: this catches any change that keeps
    // the content (whitespace, escapes, key order, number spelling) the checksum cannot see.
    // It is compared as it is written: no second copy of the file.
    let mut same = SameBytes::new(bytes);
    let written = doc.write_to(&mut same);
    if let Some(byte) = same.first_difference(written.is_ok()) {
        let (line, column) = line_column(bytes, byte);
        return Err(ArtifactError::NotCanonical { byte, line, column });
    }
    let (computed, aad) = doc.digests();
    if computed != doc.checksum {
        return Err(ArtifactError::ChecksumMismatch {
            recorded: doc.checksum,
            computed,
        });
    }
    let (nonce, ciphertext) = decode(&doc.terraform_plan)?;
    Ok((
        doc,
        Decoded {
            nonce,
            ciphertext,
            aad,
        },
    ))
}

/// Past the checksum, a field can only be wrong if whoever wrote the file recomputed it.
fn decode(plan: &SealedPlan) -> Result<([u8; NONCE_LEN], Vec<u8>), ArtifactError> {
    if plan.encryption != ENCRYPTION {
        return Err(invalid(
            "terraform_plan.encryption",
            format!("version 1 uses \"{ENCRYPTION}\" only"),
        ));
    }
    let is_key_id = plan.key_id.len() == 16
        && plan
            .key_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !is_key_id {
        return Err(invalid(
            "terraform_plan.key_id",
            "not 16 lowercase hex characters",
        ));
    }
    let nonce = BASE64
        .decode(&plan.nonce)
        .ok()
        .and_then(|n| <[u8; NONCE_LEN]>::try_from(n).ok())
        .ok_or_else(|| {
            invalid(
                "terraform_plan.nonce",
                format!("not the base64 of {NONCE_LEN} bytes"),
            )
        })?;
    let ciphertext = BASE64
        .decode(&plan.ciphertext)
        .ok()
        .filter(|c| c.len() >= TAG_LEN)
        .ok_or_else(|| {
            invalid(
                "terraform_plan.ciphertext",
                "not base64 of an AES-GCM ciphertext",
            )
        })?;
    Ok((nonce, ciphertext))
}

fn opened(doc: Document) -> Opened {
    Opened {
        body: doc.body,
        checksum: doc.checksum,
        key_id: doc.terraform_plan.key_id,
    }
}

fn seal_error(reason: impl Into<String>) -> ArtifactError {
    ArtifactError::Seal {
        reason: reason.into(),
    }
}

/// A writer that compares what is written with `expected` and remembers the first offset where
/// they differ; it stops the writing there.
struct SameBytes<'a> {
    expected: &'a [u8],
    written: usize,
    differs_at: Option<usize>,
}

impl<'a> SameBytes<'a> {
    fn new(expected: &'a [u8]) -> SameBytes<'a> {
        SameBytes {
            expected,
            written: 0,
            differs_at: None,
        }
    }

    /// The offset of the first byte where the writing and `expected` differ (a length
    /// difference counts), once the writing ended (`complete`) or was stopped.
    fn first_difference(&self, complete: bool) -> Option<usize> {
        match self.differs_at {
            Some(at) => Some(at),
            None if complete && self.written != self.expected.len() => Some(self.written),
            None if complete => None,
            // Stopped by something other than a difference (never, in memory): not the same.
            None => Some(self.written),
        }
    }
}

impl Write for SameBytes<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let rest = &self.expected[self.written..];
        let common = buf.len().min(rest.len());
        let mismatch = buf[..common].iter().zip(rest).position(|(a, b)| a != b);
        let at = match mismatch {
            Some(i) => Some(self.written + i),
            None if buf.len() > rest.len() => Some(self.expected.len()),
            None => None,
        };
        if let Some(at) = at {
            self.differs_at = Some(at);
            return Err(std::io::Error::other("not the same bytes"));
        }
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// 1-based line and column (in bytes) of `offset`.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, 1 + before.len() - line_start)
}
