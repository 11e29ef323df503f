//! The OAuth error body (RFC 6749 §5.2) every failure of the OAuth endpoints becomes,
//! and the one mapping from an auth.v1 status to it.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An OAuth error response.
#[derive(Debug)]
pub struct OAuthError {
    pub(super) status: StatusCode,
    /// The RFC 6749 §5.2 `error` code.
    pub(super) error: &'static str,
    description: String,
    /// Set when the client authenticated with HTTP Basic (RFC 6749 §5.2).
    pub(super) basic_challenge: bool,
    retry_after: Option<u64>,
}

impl OAuthError {
    pub(super) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    pub(super) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(super) fn invalid_client(basic: bool) -> Self {
        OAuthError {
            basic_challenge: basic,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut resp = (self.status, Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.basic_challenge {
                "Basic realm=\"oauth\""
            } else {
                "Bearer realm=\"oauth\""
            };
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// Maps an auth.v1 status to an OAuth error.
pub(super) fn from_status(s: &tonic::Status, basic: bool) -> OAuthError {
    use tonic::Code;
    if crate::upstream::unavailable(s) {
        tracing::warn!(code = ?s.code(), error = %s.message(), "token service call failed");
        return OAuthError {
            retry_after: Some(5),
            ..OAuthError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token service is unavailable; retry later",
            )
        };
    }
    match s.code() {
        Code::Unauthenticated => OAuthError::invalid_client(basic),
        Code::InvalidArgument if s.message().starts_with("invalid_scope") => OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            s.message().trim_start_matches("invalid_scope:").trim(),
        ),
        Code::InvalidArgument => OAuthError::invalid_request(s.message()),
        Code::ResourceExhausted => {
            let secs = s
                .metadata()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            OAuthError {
                retry_after: Some(secs),
                ..OAuthError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "invalid_client",
                    format!("too many failed authentications; retry after {secs} seconds"),
                )
            }
        }
        Code::PermissionDenied => {
            OAuthError::new(StatusCode::BAD_REQUEST, "unauthorized_client", s.message())
        }
        code => {
            // The only place an OAuth 5xx is made: its cause goes to the log, the
            // client gets the generic answer.
            tracing::error!(
                code = ?code,
                message = %s.message(),
                "the token service failed a call"
            );
            OAuthError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token service failed",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_service_that_is_away_is_temporarily_unavailable_not_a_server_error() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        for s in [
            tonic::Status::unavailable("tcp connect error"),
            tonic::Status::cancelled("Timeout expired"),
            tonic::Status::internal("h2 protocol error: connection reset"),
            tonic::Status::from_error(Box::new(io)),
        ] {
            let shown = format!("{s:?}");
            let e = from_status(&s, false);
            assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE, "{shown}");
            assert_eq!(e.error, "temporarily_unavailable", "{shown}");
            assert!(e.retry_after.is_some(), "{shown}");
        }
        let failed = from_status(&tonic::Status::internal("signing key unreadable"), false);
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
        let refused = from_status(&tonic::Status::permission_denied("not yours"), false);
        assert_eq!(
            (refused.status, refused.error),
            (StatusCode::BAD_REQUEST, "unauthorized_client")
        );
    }
}
