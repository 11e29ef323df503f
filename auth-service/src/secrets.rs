//! Client ids and secrets: generation, keyed hashing and constant-time comparison.
//!
//! Secrets are 32 bytes from the operating system's random source (256 bits), shown to
//! the operator once as 43 base64url characters. Only an HMAC-SHA256 of the secret,
//! keyed with a server key kept in the database, is stored. A slow password hash would
//! add nothing for secrets of that strength (nobody can enumerate 2^256 candidates) and
//! would make the token endpoint slow; the key means a leaked `providers` table alone
//! does not even allow offline guessing. Hashes are compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::AuthError;

/// Length of the hash key and of a secret's random part, in bytes.
pub const SECRET_BYTES: usize = 32;

/// Random bytes of a client id: 128 bits, 22 base64url characters.
const CLIENT_ID_BYTES: usize = 16;

/// `n` bytes from the OS random source.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, AuthError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(bytes)
}

/// A new client id: 22 URL-safe characters.
pub fn new_client_id() -> Result<String, AuthError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(CLIENT_ID_BYTES)?))
}

/// A new client secret: 256 random bits as 43 base64url characters.
pub fn new_client_secret() -> Result<String, AuthError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(SECRET_BYTES)?))
}

/// Hashes secrets with the server's key.
#[derive(Clone)]
pub struct SecretHasher {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher(..)")
    }
}

impl SecretHasher {
    /// A hasher keyed with `key` (the stored server key).
    pub fn new(key: &[u8]) -> Result<Self, AuthError> {
        if key.len() < SECRET_BYTES {
            return Err(AuthError::Config(
                "the stored secret-hash key is too short".into(),
            ));
        }
        let key = Hmac::<Sha256>::new_from_slice(key)
            .map_err(|e| AuthError::Config(format!("unusable secret-hash key: {e}")))?;
        Ok(SecretHasher { key })
    }

    /// The keyed hash of `secret`.
    pub fn hash(&self, secret: &str) -> Vec<u8> {
        let mut mac = self.key.clone();
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether `secret` hashes to `expected`, compared in constant time.
    pub fn matches(&self, secret: &str, expected: &[u8]) -> bool {
        self.hash(secret).ct_eq(expected).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_43_url_safe_characters_and_differ() {
        let a = new_client_secret().unwrap();
        let b = new_client_secret().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), SECRET_BYTES);
    }

    #[test]
    fn client_ids_are_22_url_safe_characters() {
        let id = new_client_id().unwrap();
        assert_eq!(id.len(), 22);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn hashes_depend_on_secret_and_key() {
        let h1 = SecretHasher::new(&[1u8; 32]).unwrap();
        let h2 = SecretHasher::new(&[2u8; 32]).unwrap();
        let stored = h1.hash("s3cret");
        assert!(h1.matches("s3cret", &stored));
        assert!(!h1.matches("s3cret!", &stored));
        assert!(!h2.matches("s3cret", &stored));
        assert!(!h1.matches("s3cret", &stored[..16]));
        assert_ne!(stored, b"s3cret".to_vec());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(SecretHasher::new(&[0u8; 8]).is_err());
    }
}
