//! The service's error type and its one mapping to gRPC status codes.
//!
//! Internal failures (database, signing) are logged once, here, and reach the client as
//! an opaque `INTERNAL`; everything the client can act on keeps its message. No variant
//! ever carries a secret, a token or a hash.

use tonic::{Code, Status};

/// Everything that can go wrong in the auth-service.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Bad client credentials, unknown client id or disabled provider (OAuth
    /// `invalid_client`); deliberately indistinguishable.
    #[error("invalid_client: client authentication failed")]
    InvalidClient,
    /// The client id is locked out after repeated failures.
    #[error("retry after {retry_after_secs} seconds")]
    LockedOut {
        /// Seconds until the lockout ends.
        retry_after_secs: u64,
    },
    /// A requested scope the provider may not have (OAuth `invalid_scope`).
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// A malformed or out-of-range request field.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such provider.
    #[error("{0}")]
    NotFound(String),
    /// The call needs a caller identity and has none.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// A dependency (the database pool) is unavailable; retrying may help.
    #[error("{0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// Migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// Key generation or decoding failed.
    #[error("signing key error: {0}")]
    Key(#[from] scim_authn::KeyError),
    /// Token signing failed.
    #[error("token signing failed: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The configuration is unusable.
    #[error("configuration error: {0}")]
    Config(String),
    /// The OS random source failed.
    #[error("random source failed: {0}")]
    Random(String),
    /// Anything else that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<AuthError> for Status {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::InvalidClient => Status::unauthenticated(err.to_string()),
            AuthError::LockedOut { retry_after_secs } => {
                let mut status = Status::resource_exhausted(err.to_string());
                status
                    .metadata_mut()
                    .insert("retry-after", retry_after_secs.into());
                status
            }
            AuthError::InvalidScope(_) | AuthError::InvalidArgument(_) => {
                Status::invalid_argument(err.to_string())
            }
            AuthError::NotFound(m) => Status::not_found(m),
            AuthError::Unauthenticated(m) => Status::unauthenticated(m),
            AuthError::PermissionDenied(m) => Status::permission_denied(m),
            AuthError::Unavailable(m) => {
                tracing::warn!(error = %m, "dependency unavailable");
                Status::unavailable("the auth-service is temporarily unavailable; retry")
            }
            AuthError::Database(e) if scim_storage::errors::is_storage_full(&e) => {
                tracing::error!(error = %e, "storage is full; writes are refused until space is freed");
                Status::unavailable("the auth-service's storage is full; retry later")
            }
            AuthError::Database(e)
                if scim_storage::errors::is_unavailable(&e)
                    || scim_storage::errors::is_retryable(&e) =>
            {
                tracing::warn!(error = %e, "database busy or unreachable");
                Status::unavailable("the auth-service is temporarily unavailable; retry")
            }
            other => {
                tracing::error!(error = %other, "request failed");
                Status::new(Code::Internal, "internal error")
            }
        }
    }
}

impl AuthError {
    /// Whether a concurrent transaction won (PostgreSQL serialization failure or
    /// deadlock), so that running the transaction again may succeed.
    pub fn is_contended(&self) -> bool {
        matches!(self, AuthError::Database(e) if scim_storage::errors::is_retryable(e))
    }
}
