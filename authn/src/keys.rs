//! Ed25519 signing keys and their public JWK form.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::verifier::{KeySource, KeySourceError};
use crate::{Claims, TOKEN_TYPE};

/// An Ed25519 private key with its key id.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
    encoding: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Errors building a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),
    /// The stored key bytes are not a valid key.
    #[error("invalid key material: {0}")]
    Invalid(String),
}

impl SigningKey {
    /// Generates a new key with a random 32-byte seed and a fresh key id.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let kid = uuid::Uuid::new_v4().simple().to_string();
        Self::from_seed(kid, &seed)
    }

    /// Rebuilds a key from its stored seed.
    pub fn from_seed(kid: impl Into<String>, seed: &[u8]) -> Result<Self, KeyError> {
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| KeyError::Invalid("an Ed25519 seed has 32 bytes".into()))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let der = key
            .to_pkcs8_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        Ok(SigningKey {
            kid: kid.into(),
            key,
            encoding,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The 32-byte seed, for storage.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public half, as a JWK.
    pub fn public(&self) -> PublicJwk {
        PublicJwk {
            kid: self.kid.clone(),
            x: URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes()),
        }
    }

    /// Signs `claims` as an `at+jwt` access token.
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}

/// An Ed25519 public key in JWK terms (RFC 8037): `kty: OKP`, `crv: Ed25519`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Key id.
    pub kid: String,
    /// The public key, base64url without padding.
    pub x: String,
}

/// A fixed set of public keys: for tests, and for deployments that pin keys.
#[derive(Debug, Clone, Default)]
pub struct StaticKeySource(pub Vec<PublicJwk>);

impl KeySource for StaticKeySource {
    fn fetch(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Vec<PublicJwk>, KeySourceError>> + Send + '_>,
    > {
        let keys = self.0.clone();
        Box::pin(async move { Ok(keys) })
    }
}
