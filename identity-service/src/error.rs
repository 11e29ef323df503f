//! The service's error type and its one mapping to gRPC status codes.
//!
//! Messages name attributes and fields, never their values: they reach logs and span
//! events, and values such as user names and e-mails are personal data.

use diesel::result::Error as DieselError;
use scim_model::{ERROR_INFO_DOMAIN, ScimType};
use tonic_types::{ErrorDetails, StatusExt as _};

/// A status whose `google.rpc.ErrorInfo` names the SCIM error type.
fn typed_status(code: tonic::Code, message: String, scim_type: ScimType) -> tonic::Status {
    let details = ErrorDetails::with_error_info(
        scim_type.as_str(),
        ERROR_INFO_DOMAIN,
        std::collections::HashMap::new(),
    );
    tonic::Status::with_error_details(code, message, details)
}

/// Everything a directory operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The resource does not exist in the caller's tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule is violated; `attribute` is its SCIM name.
    #[error("{attribute} is already taken in this tenant")]
    AlreadyExists {
        /// The attribute whose value is taken, e.g. `userName`.
        attribute: &'static str,
    },
    /// `expected_version` does not match the stored version.
    #[error("version mismatch: expected {expected}, current version is {current}")]
    VersionMismatch {
        /// The version the caller expected.
        expected: i64,
        /// The version the resource has.
        current: i64,
    },
    /// The request is malformed; the message names the offending field.
    #[error("{0}")]
    InvalidArgument(String),
    /// The request breaks a SCIM rule whose RFC 7644 §3.12 error type the caller is
    /// owed (a filter that does not compile, a PATCH without a target, ...).
    #[error("{message}")]
    Refused {
        /// The `scimType`.
        scim_type: ScimType,
        /// What is wrong, naming attributes, never values.
        message: String,
    },
    /// Storage is temporarily unavailable (pool exhausted, database busy); retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The disk the database writes to is full: nothing was written, and the same write
    /// succeeds once an operator frees space.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// A concurrent write won (a PostgreSQL deadlock or serialization failure); the
    /// write may succeed when sent again. Writes retry this themselves a few times.
    #[error("write conflict: {0}")]
    Contended(String),
    /// A bug or an unexpected storage failure. The detail is logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IdentityError {
    /// Shorthand for [`IdentityError::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        IdentityError::InvalidArgument(message.into())
    }

    /// Shorthand for [`IdentityError::Refused`].
    pub fn refused(scim_type: ScimType, message: impl Into<String>) -> Self {
        IdentityError::Refused {
            scim_type,
            message: message.into(),
        }
    }

    /// Fails with [`IdentityError::VersionMismatch`] unless `expected` is 0 or `current`.
    pub fn check_version(expected: i64, current: i64) -> Result<(), Self> {
        if expected == 0 || expected == current {
            Ok(())
        } else {
            Err(IdentityError::VersionMismatch { expected, current })
        }
    }
}

impl From<DieselError> for IdentityError {
    fn from(err: DieselError) -> Self {
        if let Some(rule) = scim_storage::errors::unique_violation(&err) {
            // Uniqueness is checked before every write, so reaching the index means a
            // concurrent write (another replica, on PostgreSQL) took the value first;
            // say which rule, not which value.
            return IdentityError::AlreadyExists {
                attribute: unique_attribute(&rule),
            };
        }
        if scim_storage::errors::is_retryable(&err) {
            return IdentityError::Contended(err.to_string());
        }
        if scim_storage::errors::is_storage_full(&err) {
            return IdentityError::StorageFull(err.to_string());
        }
        if scim_storage::errors::is_unavailable(&err) {
            return IdentityError::Unavailable(err.to_string());
        }
        match err {
            DieselError::NotFound => IdentityError::NotFound("resource"),
            other => IdentityError::Internal(other.to_string()),
        }
    }
}

/// The SCIM attribute a unique index enforces, from its PostgreSQL name or the columns
/// SQLite names.
fn unique_attribute(rule: &str) -> &'static str {
    if rule.contains("user_name") {
        "userName"
    } else if rule.contains("groups_tenant_display_name") || rule.contains("groups.display_name") {
        "displayName"
    } else {
        "a unique attribute"
    }
}

impl From<diesel::r2d2::PoolError> for IdentityError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        IdentityError::Unavailable(err.to_string())
    }
}

impl From<tokio::task::JoinError> for IdentityError {
    fn from(err: tokio::task::JoinError) -> Self {
        IdentityError::Internal(format!("blocking task failed: {err}"))
    }
}

/// SQLite reports lock contention that outlasted `busy_timeout` this way.
impl From<IdentityError> for tonic::Status {
    fn from(err: IdentityError) -> Self {
        match err {
            IdentityError::NotFound(_) => tonic::Status::not_found(err.to_string()),
            IdentityError::AlreadyExists { .. } => typed_status(
                tonic::Code::AlreadyExists,
                err.to_string(),
                ScimType::Uniqueness,
            ),
            IdentityError::VersionMismatch { .. } => {
                tonic::Status::failed_precondition(err.to_string())
            }
            IdentityError::InvalidArgument(msg) => tonic::Status::invalid_argument(msg),
            IdentityError::Refused { scim_type, message } => {
                typed_status(tonic::Code::InvalidArgument, message, scim_type)
            }
            IdentityError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "storage unavailable");
                tonic::Status::unavailable("storage is temporarily unavailable; retry")
            }
            IdentityError::StorageFull(detail) => {
                // Only an operator can fix this, so it is an error, not a warning.
                tracing::error!(error = %detail, "storage is full; writes are refused until space is freed");
                tonic::Status::unavailable("storage is full; retry later")
            }
            IdentityError::Contended(detail) => {
                tracing::warn!(error = %detail, "write conflict persisted");
                tonic::Status::aborted("the write met concurrent writes; retry")
            }
            IdentityError::Internal(detail) => {
                // Logged once here, at the edge; the client learns nothing internal.
                tracing::error!(error = %detail, "internal error");
                tonic::Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_mapped_once_and_never_unknown() {
        let cases = [
            (IdentityError::NotFound("user"), tonic::Code::NotFound),
            (
                IdentityError::AlreadyExists {
                    attribute: "userName",
                },
                tonic::Code::AlreadyExists,
            ),
            (
                IdentityError::VersionMismatch {
                    expected: 1,
                    current: 2,
                },
                tonic::Code::FailedPrecondition,
            ),
            (IdentityError::invalid("x"), tonic::Code::InvalidArgument),
            (
                IdentityError::Unavailable("busy".into()),
                tonic::Code::Unavailable,
            ),
            (IdentityError::Internal("bug".into()), tonic::Code::Internal),
        ];
        for (err, code) in cases {
            assert_eq!(tonic::Status::from(err).code(), code);
        }
    }

    #[test]
    fn internal_detail_is_not_returned() {
        let status = tonic::Status::from(IdentityError::Internal("secret detail".into()));
        assert!(!status.message().contains("secret"));
    }

    #[test]
    fn version_zero_skips_the_check() {
        assert!(IdentityError::check_version(0, 7).is_ok());
        assert!(IdentityError::check_version(7, 7).is_ok());
        assert!(matches!(
            IdentityError::check_version(6, 7),
            Err(IdentityError::VersionMismatch {
                expected: 6,
                current: 7
            })
        ));
    }
}
