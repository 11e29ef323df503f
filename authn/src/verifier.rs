//! Local verification of access tokens.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::keys::PublicJwk;
use crate::{Claims, Revocations, TOKEN_TYPE};

/// Clock skew tolerated on `exp`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// The smallest interval between two key refreshes triggered by unknown `kid`s, so a
/// stream of forged tokens cannot turn into a stream of key fetches.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Where a verifier gets the public keys from.
pub trait KeySource: Send + Sync + 'static {
    /// Returns every currently valid public key.
    #[allow(clippy::type_complexity)]
    fn fetch(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<PublicJwk>, KeySourceError>> + Send + '_>>;
}

/// The key source could not be reached or answered nonsense.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot fetch verification keys: {0}")]
pub struct KeySourceError(pub String);

/// Why a token was refused. The variants are for logs and metrics; clients only learn
/// that the token is invalid.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VerifyError {
    /// The token is not a well-formed JWT.
    #[error("malformed token")]
    Malformed,
    /// `typ` is not `at+jwt`.
    #[error("wrong token type")]
    WrongType,
    /// `alg` is not EdDSA (including `none`).
    #[error("unsupported algorithm")]
    WrongAlgorithm,
    /// No key with the token's `kid`, even after a refresh.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `iss` or `aud` is not ours.
    #[error("wrong issuer or audience")]
    WrongIssuerOrAudience,
    /// Claims missing or of the wrong type.
    #[error("invalid claims")]
    InvalidClaims,
    /// The token or its provider was revoked.
    #[error("token revoked")]
    Revoked,
    /// Keys could not be fetched; the caller should answer "unavailable", not "invalid".
    #[error(transparent)]
    KeysUnavailable(#[from] KeySourceError),
}

/// Classifies a header that `jsonwebtoken` refused: an `alg` it does not know (`none`
/// above all) is an algorithm problem, anything else a malformed token.
fn header_error(token: &str) -> VerifyError {
    use base64::Engine as _;
    let alg = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|v| v.get("alg").and_then(|a| a.as_str().map(str::to_owned)));
    match alg {
        Some(alg) if alg != "EdDSA" => VerifyError::WrongAlgorithm,
        _ => VerifyError::Malformed,
    }
}

/// Verifies access tokens locally with cached public keys.
pub struct Verifier {
    issuer: String,
    audience: String,
    source: Arc<dyn KeySource>,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    /// When keys were last fetched for an unknown `kid`, and the error if that failed.
    last_refresh: tokio::sync::Mutex<Option<(Instant, Option<KeySourceError>)>>,
    revocations: Arc<Revocations>,
    validation: Validation,
    /// Tokens whose signature and claims were already checked, by their exact text.
    /// IdPs send the same token for hours, so this turns the Ed25519 verification of
    /// nearly every request into a map lookup. Expiry and revocation are still checked
    /// on every use.
    verified: RwLock<HashMap<String, Claims>>,
}

/// Most tokens [`Verifier`] remembers; beyond this the memory is cleared and refilled.
const VERIFIED_CACHE_SIZE: usize = 10_000;

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier that accepts tokens of `issuer` for `audience`, signed by keys from
    /// `source`.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        source: Arc<dyn KeySource>,
    ) -> Self {
        let issuer = issuer.into();
        let audience = audience.into();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[issuer.as_str()]);
        validation.set_audience(&[audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Verifier {
            issuer,
            audience,
            source,
            keys: RwLock::new(HashMap::new()),
            last_refresh: tokio::sync::Mutex::new(None),
            revocations: Arc::new(Revocations::default()),
            validation,
            verified: RwLock::new(HashMap::new()),
        }
    }

    /// The issuer this verifier expects.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience this verifier expects.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The revocation list this verifier consults.
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revocations
    }

    /// Replaces the cached keys with what the source returns now.
    #[tracing::instrument(name = "authn.refresh_keys", skip_all, err)]
    pub async fn refresh_keys(&self) -> Result<(), KeySourceError> {
        self.load_keys().await
    }

    /// Whether any verification key is held.
    pub fn has_keys(&self) -> bool {
        !self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// [`Verifier::refresh_keys`] without its span and error event, for a background
    /// task that retries quietly while the source is away.
    pub(crate) async fn load_keys(&self) -> Result<(), KeySourceError> {
        let fetched = self.source.fetch().await?;
        let mut map = HashMap::with_capacity(fetched.len());
        for jwk in fetched {
            match DecodingKey::from_ed_components(&jwk.x) {
                Ok(key) => {
                    map.insert(jwk.kid, Arc::new(key));
                }
                Err(e) => {
                    tracing::warn!(kid = %jwk.kid, error = %e, "ignoring malformed public key")
                }
            }
        }
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = map;
        Ok(())
    }

    fn cached_key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }

    async fn key_for(&self, kid: &str) -> Result<Arc<DecodingKey>, VerifyError> {
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        let mut last = self.last_refresh.lock().await;
        // Another task may have refreshed while this one waited for the lock.
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        if let Some((at, failed)) = last.as_ref()
            && at.elapsed() < MIN_REFRESH_INTERVAL
        {
            // A key the source did not have a moment ago is unknown; a key nobody could
            // ask the source about is not (yet) known to be bad, so the caller is told
            // to retry rather than that the token is invalid.
            return Err(match failed {
                Some(e) => VerifyError::KeysUnavailable(e.clone()),
                None => VerifyError::UnknownKey,
            });
        }
        let mut result = self.refresh_keys().await;
        if result.is_err() {
            // Behind a balancing channel a second attempt may reach another replica.
            result = self.refresh_keys().await;
        }
        *last = Some((Instant::now(), result.clone().err()));
        result?;
        self.cached_key(kid).ok_or(VerifyError::UnknownKey)
    }

    /// Verifies signature, `typ`, `alg`, `iss`, `aud`, `exp` and revocation.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let known = self
            .verified
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned();
        let claims = match known {
            Some(claims) => {
                if claims.exp + (LEEWAY_SECS as i64) < crate::now_secs() {
                    return Err(VerifyError::Expired);
                }
                claims
            }
            None => {
                let claims = self.verify_signature(token).await?;
                let mut cache = self.verified.write().unwrap_or_else(|e| e.into_inner());
                if cache.len() >= VERIFIED_CACHE_SIZE {
                    cache.clear();
                }
                cache.insert(token.to_owned(), claims.clone());
                claims
            }
        };
        if self
            .revocations
            .is_revoked(&claims.jti, &claims.client_id, claims.iat)
        {
            return Err(VerifyError::Revoked);
        }
        Ok(claims)
    }

    /// The full check: header, key, signature, `iss`, `aud`, `exp`.
    async fn verify_signature(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::WrongAlgorithm);
        }
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(TOKEN_TYPE) || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let key = self.key_for(&kid).await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                    VerifyError::WrongIssuerOrAudience
                }
                ErrorKind::InvalidSignature => VerifyError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    VerifyError::WrongAlgorithm
                }
                ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => {
                    VerifyError::InvalidClaims
                }
                _ => VerifyError::Malformed,
            }
        })?;
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests;
