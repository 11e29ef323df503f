//! OAuth 2.0 endpoints: token (RFC 6749 §4.4), introspection (RFC 7662), revocation
//! (RFC 7009), authorization-server metadata (RFC 8414) and the JWKS.
//!
//! They are thin translations to auth.v1; errors use the OAuth JSON shape of RFC 6749
//! §5.2, never SCIM's.
//!
//! * [`request`]: what a request carries (form, credentials, lifetime), read before any
//!   upstream call.
//! * `error`: the OAuth error body and the mapping from auth.v1 statuses.

mod error;
pub mod request;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scim_proto::auth::v1 as pb;
use serde_json::json;

pub use error::OAuthError;
pub use request::{FormBody, TokenQuestion, TokenRequest, parse_ttl};

use crate::state::AppState;
use error::from_status;

/// `POST /oauth2/token` (and `/iso/oauth2/token`): the client_credentials grant.
#[tracing::instrument(name = "oauth.token", skip_all, fields(client_id = tracing::field::Empty))]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, OAuthError> {
    let TokenRequest { issue, basic } = TokenRequest::parse(&headers, &body)?;
    tracing::Span::current().record("client_id", issue.client_id.as_str());
    let issued = state
        .auth
        .clone()
        .issue_token(issue)
        .await
        .map_err(|s| from_status(&s, basic))?
        .into_inner();
    let body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    });
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// `POST /oauth2/introspect` (RFC 7662).
#[tracing::instrument(name = "oauth.introspect", skip_all)]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, OAuthError> {
    let (req, basic) =
        TokenQuestion::parse(&headers, &body)?.into_call(|token, client_id, client_secret| {
            pb::IntrospectRequest {
                token,
                client_id,
                client_secret,
            }
        });
    let r = state
        .auth
        .clone()
        .introspect(req)
        .await
        .map_err(|s| from_status(&s, basic))?
        .into_inner();
    let body = if r.active {
        json!({
            "active": true, "scope": r.scope, "client_id": r.client_id, "sub": r.sub,
            "tenant": r.tenant, "iss": r.iss, "aud": r.aud, "jti": r.jti, "iat": r.iat,
            "exp": r.exp, "token_type": r.token_type,
        })
    } else {
        json!({"active": false})
    };
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `POST /oauth2/revoke` (RFC 7009): 200 even for unknown tokens.
#[tracing::instrument(name = "oauth.revoke", skip_all)]
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, OAuthError> {
    let (req, basic) =
        TokenQuestion::parse(&headers, &body)?.into_call(|token, client_id, client_secret| {
            pb::RevokeRequest {
                token,
                jti: String::new(),
                client_id,
                client_secret,
            }
        });
    state
        .auth
        .clone()
        .revoke(req)
        .await
        .map_err(|s| from_status(&s, basic))?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub async fn metadata(State(state): State<AppState>) -> Response {
    let base = &state.settings.public_url;
    Json(json!({
        "issuer": state.verifier.issuer(),
        "token_endpoint": format!("{base}/oauth2/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{base}/oauth2/introspect"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "bearer"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "bearer"],
        "scopes_supported": [scim_authn::scopes::SCIM_READ, scim_authn::scopes::SCIM_WRITE, scim_authn::scopes::ADMIN],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
    }))
    .into_response()
}

/// `GET /.well-known/jwks.json`: the public keys (RFC 7517, OKP keys per RFC 8037).
pub async fn jwks(State(state): State<AppState>) -> Result<Response, OAuthError> {
    let keys = state
        .auth
        .clone()
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .map_err(|s| from_status(&s, false))?
        .into_inner();
    let keys: Vec<_> = keys
        .keys
        .into_iter()
        .map(|k| json!({"kty": "OKP", "crv": "Ed25519", "x": k.x, "kid": k.kid, "alg": "EdDSA", "use": "sig"}))
        .collect();
    let mut resp = Json(json!({ "keys": keys })).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(resp)
}
