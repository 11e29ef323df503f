//! The one error type of the SCIM routes, rendered as an RFC 7644 §3.12 error body.
//!
//! Every failure on a SCIM route becomes a [`ScimError`]; `IntoResponse` writes
//! `{"schemas":[Error URN],"status":"<code>","scimType":…,"detail":…}` with
//! `Content-Type: application/scim+json`. Upstream gRPC statuses are mapped once, in
//! `From<tonic::Status>`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The error message schema URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The SCIM media type every response carries.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

pub use scim_model::ScimType;

/// A failure on a SCIM route.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScimError {
    /// 400, with an optional `scimType`.
    #[error("{detail}")]
    BadRequest {
        /// The RFC 7644 error keyword.
        scim_type: Option<ScimType>,
        /// Human-readable explanation, shown to IdP administrators.
        detail: String,
    },
    /// 401.
    #[error("{0}")]
    Unauthorized(String),
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409 `uniqueness`.
    #[error("{0}")]
    Conflict(String),
    /// 409 without a `scimType`: a `/Bulk` operation whose `bulkId` reference cannot be
    /// resolved (a circular reference, or the operation that creates it failed).
    #[error("{0}")]
    Unresolved(String),
    /// 412.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 with `Retry-After` in whole seconds.
    #[error("too many requests; retry after {retry_after} seconds")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 500; the detail shown to clients is generic.
    #[error("{0}")]
    Internal(String),
    /// 501.
    #[error("{0}")]
    NotImplemented(String),
    /// 503 with `Retry-After` in whole seconds.
    #[error("{detail}")]
    Unavailable {
        /// Human-readable explanation.
        detail: String,
        /// Seconds to wait.
        retry_after: u64,
    },
}

impl ScimError {
    fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError::BadRequest {
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidFilter, detail)
    }

    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidPath, detail)
    }

    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidValue, detail)
    }

    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidSyntax, detail)
    }

    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::NoTarget, detail)
    }

    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::Mutability, detail)
    }

    /// 400 `tooMany`.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::TooMany, detail)
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ScimError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ScimError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ScimError::Forbidden(_) => StatusCode::FORBIDDEN,
            ScimError::NotFound(_) => StatusCode::NOT_FOUND,
            ScimError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ScimError::Conflict(_) | ScimError::Unresolved(_) => StatusCode::CONFLICT,
            ScimError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ScimError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ScimError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ScimError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ScimError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ScimError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ScimError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `scimType` keyword, if any.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            ScimError::BadRequest { scim_type, .. } => *scim_type,
            ScimError::Conflict(_) => Some(ScimType::Uniqueness),
            _ => None,
        }
    }

    /// The text shown to the client. Internal errors stay opaque. When the request is
    /// traced, the trace id is appended, so the text an administrator sees in the IdP's
    /// task list leads straight to the trace.
    pub fn detail(&self) -> String {
        let text = match self {
            ScimError::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        };
        match current_trace_id() {
            Some(id) => format!("{text} (trace id {id})"),
            None => text,
        }
    }

    /// The SCIM error body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status().as_u16().to_string(),
            "detail": self.detail(),
        });
        if let Some(t) = self.scim_type() {
            body["scimType"] = t.as_str().into();
        }
        body
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        if let ScimError::Internal(cause) = &self {
            tracing::error!(error = %cause, "internal error on a SCIM route");
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
        match &self {
            ScimError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"scim\""),
                );
            }
            ScimError::TooManyRequests { retry_after }
            | ScimError::Unavailable { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response.extensions_mut().insert(ErrorKind(self.kind()));
        response
    }
}

/// The OpenTelemetry trace id of the current span, when there is one.
fn current_trace_id() -> Option<String> {
    scim_telemetry::traces::span_context(&tracing::Span::current())
        .map(|sc| sc.trace_id().to_string())
}

/// A short, data-free name of an error, left in response extensions for telemetry.
#[derive(Debug, Clone, Copy)]
pub struct ErrorKind(pub &'static str);

impl ScimError {
    /// A short, data-free name for logs and spans.
    pub fn kind(&self) -> &'static str {
        match self {
            ScimError::BadRequest { scim_type, .. } => {
                scim_type.map_or("badRequest", |t| t.as_str())
            }
            ScimError::Unauthorized(_) => "unauthorized",
            ScimError::Forbidden(_) => "forbidden",
            ScimError::NotFound(_) => "notFound",
            ScimError::MethodNotAllowed(_) => "methodNotAllowed",
            ScimError::Conflict(_) => "uniqueness",
            ScimError::Unresolved(_) => "unresolvedBulkId",
            ScimError::PreconditionFailed(_) => "preconditionFailed",
            ScimError::PayloadTooLarge(_) => "payloadTooLarge",
            ScimError::UnsupportedMediaType(_) => "unsupportedMediaType",
            ScimError::TooManyRequests { .. } => "tooManyRequests",
            ScimError::Internal(_) => "internal",
            ScimError::NotImplemented(_) => "notImplemented",
            ScimError::Unavailable { .. } => "unavailable",
        }
    }
}

/// The `scimType` an upstream status carries in its `google.rpc.ErrorInfo`.
fn scim_type_of(s: &tonic::Status) -> Option<ScimType> {
    use tonic_types::StatusExt as _;
    let info = s.get_details_error_info()?;
    if info.domain != scim_model::ERROR_INFO_DOMAIN {
        return None;
    }
    ScimType::parse(&info.reason)
}

impl From<tonic::Status> for ScimError {
    fn from(s: tonic::Status) -> Self {
        use tonic::Code;
        let msg = s.message().to_owned();
        // The upstream is away (the replica died mid-call, the connection broke, the
        // call passed its deadline) rather than saying no: the request may succeed on
        // another replica or in a moment, so it is a 503.
        if crate::upstream::unavailable(&s) {
            tracing::warn!(
                code = ?s.code(),
                error = %msg,
                source = ?std::error::Error::source(&s),
                "upstream call failed"
            );
            return ScimError::Unavailable {
                detail: "the directory is temporarily unavailable; retry later".into(),
                retry_after: 5,
            };
        }
        match s.code() {
            Code::NotFound => ScimError::NotFound(msg),
            Code::AlreadyExists => ScimError::Conflict(msg),
            Code::FailedPrecondition => ScimError::PreconditionFailed(msg),
            // identity-service names the SCIM type of what it refused; a bare
            // INVALID_ARGUMENT is a value the directory would not take.
            Code::InvalidArgument => ScimError::BadRequest {
                scim_type: Some(scim_type_of(&s).unwrap_or(ScimType::InvalidValue)),
                detail: msg,
            },
            Code::Unauthenticated => ScimError::Unauthorized(msg),
            Code::PermissionDenied => ScimError::Forbidden(msg),
            Code::ResourceExhausted => ScimError::TooManyRequests { retry_after: 1 },
            // A write that kept meeting concurrent writes (identity-service retried it).
            Code::Aborted => ScimError::Unavailable {
                detail: "the write met concurrent changes; retry".into(),
                retry_after: 1,
            },
            Code::Unimplemented => ScimError::NotImplemented(msg),
            _ => ScimError::Internal(format!("upstream {:?}: {msg}", s.code())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_failure_is_a_503_whatever_stage_the_call_was_at() {
        // As tonic makes them: a reset stream or connection mid-call (no source), a
        // broken connection (with its source), a deadline that passed.
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let with_source = tonic::Status::from_error(Box::new(io));
        for s in [
            tonic::Status::internal("h2 protocol error: error reading a body from connection"),
            tonic::Status::unknown("h2 protocol error: connection reset"),
            with_source,
            tonic::Status::cancelled("Timeout expired"),
            tonic::Status::unavailable("tcp connect error"),
        ] {
            let shown = format!("{s:?}");
            match ScimError::from(s) {
                ScimError::Unavailable { retry_after, .. } => assert!(retry_after > 0),
                other => panic!("{shown} became {other:?}"),
            }
        }
    }

    #[test]
    fn the_scim_type_of_an_upstream_refusal_survives_the_hop() {
        use tonic_types::{ErrorDetails, StatusExt as _};
        let typed = |reason: &str, domain: &str| {
            tonic::Status::with_error_details(
                tonic::Code::InvalidArgument,
                "refused",
                ErrorDetails::with_error_info(reason, domain, std::collections::HashMap::new()),
            )
        };
        for t in [
            ScimType::InvalidFilter,
            ScimType::InvalidPath,
            ScimType::NoTarget,
            ScimType::Mutability,
            ScimType::InvalidVers,
        ] {
            let e = ScimError::from(typed(t.as_str(), scim_model::ERROR_INFO_DOMAIN));
            assert_eq!(e.scim_type(), Some(t));
        }
        // No detail, another domain's reason or an unknown keyword: invalidValue.
        for s in [
            tonic::Status::invalid_argument("bad"),
            typed("invalidFilter", "example.com"),
            typed("noSuchType", scim_model::ERROR_INFO_DOMAIN),
        ] {
            assert_eq!(ScimError::from(s).scim_type(), Some(ScimType::InvalidValue));
        }
    }

    #[test]
    fn an_internal_error_the_upstream_sent_stays_a_500() {
        let sent = tonic::Status::internal("database is corrupt");
        assert!(matches!(ScimError::from(sent), ScimError::Internal(_)));
    }
}
