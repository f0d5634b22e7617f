//! `seal`, `inspect` and `open`: the whole life of an artifact, as bytes in and bytes out.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;

use super::crypto::{self, NONCE_LEN, TAG_LEN};
use super::document::{self, invalid, Document, SealedPlan, ENCRYPTION, FORMAT, VERSION};
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
/// bound to `body`. The result is read back before it is returned, so what `seal` hands out
/// always opens.
pub fn seal(body: &Value, terraform_plan: &[u8], key: &PlanKey) -> Result<Sealed, ArtifactError> {
    // Through JSON once, so the body is what every reader will parse (a float's last digit).
    let body: Value = serde_json::from_slice(&document::canonical(body))
        .map_err(|e| seal_error(format!("the body does not read back as JSON: {e}")))?;
    let mut nonce = [0u8; NONCE_LEN];
    crypto::random(&mut nonce)?;
    let aad = document::associated_data(FORMAT, VERSION, &body);
    let ciphertext = crypto::encrypt(key, &nonce, terraform_plan, &aad)?;
    let mut doc = Document {
        format: FORMAT.into(),
        version: VERSION,
        body,
        terraform_plan: SealedPlan {
            encryption: ENCRYPTION.into(),
            key_id: key.key_id(),
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(ciphertext),
        },
        checksum: String::new(),
    };
    doc.checksum = doc.compute_checksum();
    let bytes = doc.to_bytes();
    match open(&bytes, key) {
        Ok((opened, plan)) if opened.body == doc.body && plan == terraform_plan => Ok(Sealed {
            bytes,
            checksum: opened.checksum,
        }),
        Ok(_) => Err(seal_error("it reads back different from what was sealed")),
        Err(e) => Err(seal_error(format!(
            "it does not read back: {}",
            e.to_string().lines().next().unwrap_or_default()
        ))),
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
    let aad = document::associated_data(&doc.format, doc.version, &doc.body);
    let plan = crypto::decrypt(key, &sealed.nonce, &sealed.ciphertext, &aad)
        .ok_or(ArtifactError::Tampered { key_id: our_key_id })?;
    Ok((opened(doc), plan))
}

/// The decoded encrypted part.
struct Decoded {
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

fn check(bytes: &[u8]) -> Result<(Document, Decoded), ArtifactError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ArtifactError::NotJson {
        reason: e.to_string(),
    })?;
    let doc = Document::from_value(value)?;
    // Re-writing what was read must give the same bytes: this catches any change that keeps
    // the content (whitespace, escapes, key order, number spelling) the checksum cannot see.
    if let Some(byte) = first_difference(bytes, &doc.to_bytes()) {
        let (line, column) = line_column(bytes, byte);
        return Err(ArtifactError::NotCanonical { byte, line, column });
    }
    let computed = doc.compute_checksum();
    if computed != doc.checksum {
        return Err(ArtifactError::ChecksumMismatch {
            recorded: doc.checksum,
            computed,
        });
    }
    let sealed = decode(&doc.terraform_plan)?;
    Ok((doc, sealed))
}

/// Past the checksum, a field can only be wrong if whoever wrote the file recomputed it.
fn decode(plan: &SealedPlan) -> Result<Decoded, ArtifactError> {
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
    Ok(Decoded { nonce, ciphertext })
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

/// The offset of the first byte where `a` and `b` differ (a length difference counts).
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => Some(i),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
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
