//! Bearer-token authentication of the SCIM routes.
//!
//! Accepts `Authorization: Bearer <jwt>` with the scheme in any case, and the bare token
//! that Okta's "HTTP Header" mode may send. The token is verified locally (signature,
//! `typ`, `iss`, `aud`, `exp`, revocation); failures are 401 with a SCIM error body and
//! `WWW-Authenticate: Bearer`. The verified caller and its token travel in the request
//! extensions; handlers forward the token to the identity-service, which verifies it
//! again (it never trusts the network).

use axum::extract::{FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use scim_authn::{Caller, VerifyError};

use crate::error::ScimError;
use crate::state::AppState;

/// A verified caller plus the token it presented.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who is calling.
    pub caller: Caller,
    /// The raw token, forwarded upstream.
    pub token: String,
}

impl Authenticated {
    /// 403 unless the token grants `scope`.
    pub fn require(&self, scope: &str) -> Result<(), ScimError> {
        if self.caller.has_scope(scope) {
            Ok(())
        } else {
            Err(ScimError::Forbidden(format!(
                "the access token lacks the `{scope}` scope"
            )))
        }
    }
}

/// Handlers take the verified caller out of the request: moved rather than cloned (its
/// token alone is hundreds of bytes), since one handler runs per request.
impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .remove::<Authenticated>()
            .ok_or_else(|| ScimError::Unauthorized("a bearer access token is required".into()))
    }
}

/// Extracts the token from an `Authorization` value.
fn token_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    if let Some(t) = scim_authn::grpc::bearer_token(value) {
        return Some(t);
    }
    // A bare JWT (three base64url parts) without a scheme.
    let bare = !value.contains(' ') && value.split('.').count() == 3;
    bare.then_some(value)
}

/// Verifies the request's bearer token and applies the per-provider rate limit, then
/// runs `next` with the verified caller in the request extensions ([`Authenticated`]).
///
/// Called by the SCIM routes' route layer ([`crate::request_layer::scim_route_span`]) inside
/// the request span, so the caller's tenant and a rejection both land on that span.
pub async fn authenticated(state: AppState, mut req: Request, next: Next) -> Response {
    match authenticate(&state, &mut req).await {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn authenticate(state: &AppState, req: &mut Request) -> Result<(), ScimError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(token_from_header)
        .map(str::to_owned)
        .ok_or_else(|| ScimError::Unauthorized("a bearer access token is required".into()))?;
    let claims = state.verifier.verify(&token).await.map_err(|e| match e {
        VerifyError::KeysUnavailable(_) => ScimError::Unavailable {
            detail: "token verification keys are unavailable; retry later".into(),
            retry_after: 5,
        },
        VerifyError::Expired => ScimError::Unauthorized("the access token has expired".into()),
        VerifyError::Revoked => ScimError::Unauthorized("the access token has been revoked".into()),
        other => {
            tracing::info!(reason = %other, "rejected access token");
            ScimError::Unauthorized("the access token is not valid".into())
        }
    })?;
    let span = tracing::Span::current();
    tracing::record_all!(
        span,
        tenant = claims.tenant.as_str(),
        client_id = claims.client_id.as_str()
    );
    if let Err(retry_after) = state.rate_limiter.check(&claims.client_id) {
        return Err(ScimError::TooManyRequests { retry_after });
    }
    req.extensions_mut().insert(Authenticated {
        caller: claims.into(),
        token,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::token_from_header;

    #[test]
    fn scheme_is_case_insensitive_and_bare_jwts_are_accepted() {
        assert_eq!(token_from_header("Bearer a.b.c"), Some("a.b.c"));
        assert_eq!(token_from_header("bearer a.b.c"), Some("a.b.c"));
        assert_eq!(token_from_header("BEARER  a.b.c "), Some("a.b.c"));
        assert_eq!(token_from_header("a.b.c"), Some("a.b.c"));
        assert_eq!(token_from_header("non-token"), None);
        assert_eq!(token_from_header("Basic abc"), None);
        assert_eq!(token_from_header(""), None);
    }
}
