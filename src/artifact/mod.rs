//! Plan artifacts: what `bluegreen plan --out FILE` writes and `bluegreen apply FILE` executes,
//! possibly on another machine. No I/O here except the key file; callers read and write the
//! artifact and name its path in messages.
//!
//! An artifact (format version 1) is this JSON document, pretty-printed with two-space indents,
//! in this field order, every object inside `body` with sorted keys, and a trailing newline:
//!
//! ```text
//! {
//!   "format": "bluegreen-plan",
//!   "version": 1,
//!   "body": { ...the caller's JSON, in the clear, for review... },
//!   "terraform_plan": {
//!     "encryption": "AES-256-GCM",
//!     "key_id": "<first 16 hex characters of sha256(key)>",
//!     "nonce": "<base64 of 12 random bytes>",
//!     "ciphertext": "<base64 of the encrypted plan file and its 16-byte tag>"
//!   },
//!   "checksum": "sha256:<hex>"
//! }
//! ```
//!
//! - `checksum` is sha256 over the canonical form (keys sorted, compact) of the document
//!   without `checksum`. It catches damage and edits by anyone who does not recompute it.
//! - The Terraform plan file holds every variable and planned value in plain text, sensitive
//!   ones included, so it is only ever stored encrypted. The AEAD associated data is sha256 of
//!   the canonical `{format, version, body}`: the plan decrypts only together with the body it
//!   was sealed with, so a body edited by someone without the key (checksum recomputed or not)
//!   is refused by [`open`].
//! - There is no hash of the plaintext: it would let anyone holding the artifact confirm a
//!   guess of the plan (and of the secrets in it), and the GCM tag already authenticates it.
//! - Readers re-write what they parsed and demand the same bytes, so any one-byte change is
//!   refused: it breaks the JSON, changes the content (checksum), or the form (not canonical).

mod crypto;
mod document;
mod error;
mod key;
mod seal;

pub(crate) use crypto::random;
pub use document::{ENCRYPTION, FORMAT, SUPPORTED_VERSIONS, VERSION};
pub use error::ArtifactError;
pub use key::{KeySource, PlanKey, KEY_ENV, KEY_LEN};
pub use seal::{inspect, open, seal, seal_to, Opened, Sealed, Spliced};

#[cfg(test)]
mod tests;
