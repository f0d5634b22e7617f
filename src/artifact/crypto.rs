//! The cryptography of an artifact: randomness, hashes and AES-256-GCM. Nothing else in the
//! module touches a cipher.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};

use super::error::ArtifactError;
use super::key::PlanKey;

/// AES-GCM's standard nonce: 96 bits, fresh and random for every artifact. Random nonces are
/// safe for far more artifacts than one key will ever seal (the bound is about 2^32).
pub(crate) const NONCE_LEN: usize = 12;

/// The authentication tag AES-GCM appends to the ciphertext.
pub(crate) const TAG_LEN: usize = 16;

/// Fills `buf` from the operating system's random source.
pub(crate) fn random(buf: &mut [u8]) -> Result<(), ArtifactError> {
    getrandom::getrandom(buf).map_err(|e| ArtifactError::Random {
        reason: e.to_string(),
    })
}

#[cfg(test)]
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}

pub(crate) fn encrypt(
    key: &PlanKey,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, ArtifactError> {
    cipher(key)
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Only a plaintext beyond AES-GCM's limit (64 GiB) fails.
        .map_err(|_| ArtifactError::Seal {
            reason: format!(
                "AES-256-GCM cannot encrypt a Terraform plan of {} bytes",
                plaintext.len()
            ),
        })
}

/// `None` when the tag does not verify: the ciphertext, nonce or associated data changed, or
/// the key is wrong.
pub(crate) fn decrypt(
    key: &PlanKey,
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
    aad: &[u8],
) -> Option<Vec<u8>> {
    cipher(key)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
}

fn cipher(key: &PlanKey) -> Aes256Gcm {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes()))
}
