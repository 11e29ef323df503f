//! Access tokens of the stack: claims, Ed25519 signing keys, and local verification.
//!
//! Tokens are RFC 9068 JWT access tokens (`typ: at+jwt`, `alg: EdDSA`, `kid`). The
//! auth-service signs them ([`SigningKey`]); every other service verifies them locally
//! with a [`Verifier`], which caches public keys from a [`KeySource`] and refreshes
//! them when it meets an unknown `kid`, and consults a [`Revocations`] list that a
//! poller keeps current. [`grpc::AuthLayer`] puts the verified [`Caller`] into the
//! request extensions of every gRPC call. [`remote`] fetches keys and revocations from
//! the auth-service over gRPC.

pub mod grpc;
mod keys;
pub mod remote;
mod revocations;
pub mod test_support;
mod verifier;

pub use keys::{KeyError, PublicJwk, SigningKey, StaticKeySource};
pub use revocations::Revocations;
pub use verifier::{KeySource, KeySourceError, Verifier, VerifyError};

use serde::{Deserialize, Serialize};

/// The `typ` header of every access token (RFC 9068 §2.1).
pub const TOKEN_TYPE: &str = "at+jwt";

/// Scope names.
pub mod scopes {
    /// Read the directory.
    pub const SCIM_READ: &str = "scim:read";
    /// Change the directory.
    pub const SCIM_WRITE: &str = "scim:write";
    /// Operator actions: providers, keys, any revocation.
    pub const ADMIN: &str = "admin";
}

/// The claims of an access token (RFC 9068 §2.2 plus `tenant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject: the client id for client_credentials tokens.
    pub sub: String,
    /// The OAuth client that obtained the token.
    pub client_id: String,
    /// The tenant every call made with this token acts in.
    pub tenant: String,
    /// Space-separated scopes.
    pub scope: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique token id, used for revocation.
    pub jti: String,
}

/// A verified caller, as handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant the caller acts in.
    pub tenant: String,
    /// The OAuth client id behind the token.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The token's id.
    pub jti: String,
    /// When the token expires, seconds since the epoch.
    pub expires_at: i64,
}

impl Caller {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `PERMISSION_DENIED` unless the token grants `scope`.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, scope: &str) -> Result<(), tonic::Status> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(tonic::Status::permission_denied(format!(
                "this call needs the `{scope}` scope"
            )))
        }
    }
}

impl From<Claims> for Caller {
    fn from(c: Claims) -> Self {
        Caller {
            tenant: c.tenant,
            client_id: c.client_id,
            scopes: c.scope.split_whitespace().map(str::to_owned).collect(),
            jti: c.jti,
            expires_at: c.exp,
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
