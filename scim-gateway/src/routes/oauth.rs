//! OAuth 2.0 endpoints: token (RFC 6749 §4.4), introspection (RFC 7662), revocation
//! (RFC 7009), authorization-server metadata (RFC 8414) and the JWKS.
//!
//! They are thin translations to auth.v1; errors use the OAuth JSON shape of RFC 6749
//! §5.2, never SCIM's.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use scim_proto::auth::v1 as pb;
use serde_json::json;

use crate::state::AppState;
use crate::upstream::with_token;

/// An OAuth error response.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Set when the client authenticated with HTTP Basic (RFC 6749 §5.2).
    basic_challenge: bool,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(basic: bool) -> Self {
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
fn from_status(s: &tonic::Status, basic: bool) -> OAuthError {
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

/// A request body for the OAuth endpoints, refused as an OAuth error (not axum's
/// plain-text rejection) when it is too large or cannot be read.
#[derive(Debug)]
pub struct FormBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for FormBody {
    type Rejection = OAuthError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, OAuthError> {
        Bytes::from_request(req, state)
            .await
            .map(FormBody)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    OAuthError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "invalid_request",
                        "the request body is larger than this server accepts",
                    )
                } else {
                    OAuthError::invalid_request("the request body could not be read")
                }
            })
    }
}

/// A form body as pairs; each parameter at most once (RFC 6749 §3.2).
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("the form body is malformed"))?;
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{k}` appears more than once"
                )));
            }
        }
        Ok(Form(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Client credentials and how they were presented.
struct ClientCredentials {
    id: String,
    secret: String,
    basic: bool,
}

/// Decodes HTTP Basic credentials; both parts are form-urlencoded before base64
/// (RFC 6749 §2.3.1), so they are percent-decoded after.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default().trim();
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}"))
            .map_err(|_| OAuthError::invalid_client(true))?;
        Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
    };
    let (id, secret) = (unescape(id)?, unescape(secret)?);
    // As in the body, where an empty parameter is an absent one: credentials with no
    // client id or no secret name no client (found by fuzzing).
    if id.is_empty() || secret.is_empty() {
        return Err(OAuthError::invalid_client(true));
    }
    Ok(Some((id, secret)))
}

/// Client authentication by Basic or by body parameters, never both.
fn client_credentials(
    headers: &HeaderMap,
    form: &Form,
) -> Result<Option<ClientCredentials>, OAuthError> {
    let basic = basic_credentials(headers)?;
    let body_id = form.get("client_id");
    let body_secret = form.get("client_secret");
    match (basic, body_id, body_secret) {
        (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "use one client authentication method, not both",
        )),
        (Some((id, secret)), body_id, None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            Ok(Some(ClientCredentials {
                id,
                secret,
                basic: true,
            }))
        }
        (None, Some(id), Some(secret)) => Ok(Some(ClientCredentials {
            id: id.to_owned(),
            secret: secret.to_owned(),
            basic: false,
        })),
        _ => Ok(None),
    }
}

/// Parses `ttl`: a bare number is minutes; `s`, `m`, `h`, `d` suffixes are accepted.
pub fn parse_ttl(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (digits, unit) = match raw.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&raw[..i], c.to_ascii_lowercase()),
        _ => (raw, 'm'),
    };
    let n: i64 = digits.trim().parse().ok().filter(|n| *n > 0)?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// A token request (RFC 6749 §4.4), read and checked before the token service is asked.
pub struct TokenRequest {
    /// What the token service is asked.
    pub issue: pb::IssueTokenRequest,
    /// Whether the client authenticated with HTTP Basic (its 401 then carries the
    /// `Basic` challenge).
    pub basic: bool,
}

impl TokenRequest {
    /// Reads the form body and the client's credentials (Basic or in the body, never
    /// both); every problem is the OAuth error the endpoint answers.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let form = Form::parse(headers, body)?;
        let grant = form
            .get("grant_type")
            .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
        let creds = client_credentials(headers, &form)?;
        if grant != "client_credentials" {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is supported",
            ));
        }
        let creds = creds.ok_or_else(|| OAuthError::invalid_client(false))?;
        let ttl_seconds = match form.get("ttl") {
            Some(raw) => parse_ttl(raw).ok_or_else(|| {
                OAuthError::invalid_request(
                    "ttl must be a positive number of minutes or use s, m, h, d",
                )
            })?,
            None => 0,
        };
        Ok(TokenRequest {
            issue: pb::IssueTokenRequest {
                client_id: creds.id,
                client_secret: creds.secret,
                scope: form.get("scope").unwrap_or_default().to_owned(),
                ttl_seconds,
            },
            basic: creds.basic,
        })
    }
}

/// An introspection (RFC 7662) or revocation (RFC 7009) request: the token it is about
/// and how its caller authenticated.
pub struct TokenQuestion {
    /// The token the request is about.
    pub token: String,
    /// The caller's own bearer token, when it authenticated with one.
    pub bearer: Option<String>,
    /// The caller's client id and secret, when it authenticated with them.
    pub client: Option<(String, String)>,
    /// Whether those came as HTTP Basic.
    pub basic: bool,
}

impl TokenQuestion {
    /// Reads the form body and the caller's authentication (a bearer token, or client
    /// credentials by Basic or in the body).
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let form = Form::parse(headers, body)?;
        let token = form
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?
            .to_owned();
        let (bearer, creds) = caller_auth(headers, &form)?;
        Ok(TokenQuestion {
            token,
            bearer,
            basic: creds.as_ref().is_some_and(|c| c.basic),
            client: creds.map(|c| (c.id, c.secret)),
        })
    }

    /// The gRPC request carrying `msg`, with the caller's bearer token when it used one.
    fn request<T>(&self, msg: T) -> tonic::Request<T> {
        match &self.bearer {
            Some(t) => with_token(msg, t),
            None => tonic::Request::new(msg),
        }
    }
}

// Secrets and tokens stay out of debug output.
impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("client_id", &self.issue.client_id)
            .field("scope", &self.issue.scope)
            .field("ttl_seconds", &self.issue.ttl_seconds)
            .field("basic", &self.basic)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TokenQuestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenQuestion")
            .field("bearer", &self.bearer.is_some())
            .field("client_id", &self.client.as_ref().map(|(id, _)| id))
            .field("basic", &self.basic)
            .finish_non_exhaustive()
    }
}

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

/// Caller authentication for introspection and revocation: a bearer token, or client
/// credentials (Basic or body).
fn caller_auth(
    headers: &HeaderMap,
    form: &Form,
) -> Result<(Option<String>, Option<ClientCredentials>), OAuthError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(scim_authn::grpc::bearer_token)
        .map(str::to_owned);
    if bearer.is_some() {
        return Ok((bearer, None));
    }
    match client_credentials(headers, form)? {
        Some(c) => Ok((None, Some(c))),
        None => Err(OAuthError::invalid_client(false)),
    }
}

/// `POST /oauth2/introspect` (RFC 7662).
#[tracing::instrument(name = "oauth.introspect", skip_all)]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, OAuthError> {
    let q = TokenQuestion::parse(&headers, &body)?;
    let (client_id, client_secret) = q.client.clone().unwrap_or_default();
    let req = q.request(pb::IntrospectRequest {
        token: q.token.clone(),
        client_id,
        client_secret,
    });
    let r = state
        .auth
        .clone()
        .introspect(req)
        .await
        .map_err(|s| from_status(&s, q.basic))?
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
    let q = TokenQuestion::parse(&headers, &body)?;
    let (client_id, client_secret) = q.client.clone().unwrap_or_default();
    let req = q.request(pb::RevokeRequest {
        token: q.token.clone(),
        jti: String::new(),
        client_id,
        client_secret,
    });
    state
        .auth
        .clone()
        .revoke(req)
        .await
        .map_err(|s| from_status(&s, q.basic))?;
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

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("60"), Some(3600));
        assert_eq!(parse_ttl("30s"), Some(30));
        assert_eq!(parse_ttl("15m"), Some(900));
        assert_eq!(parse_ttl("12h"), Some(43_200));
        assert_eq!(parse_ttl("90d"), Some(90 * 86_400));
        assert_eq!(parse_ttl("90D"), Some(90 * 86_400));
        assert_eq!(parse_ttl("0"), None);
        assert_eq!(parse_ttl("-5"), None);
        assert_eq!(parse_ttl("5w"), None);
        assert_eq!(parse_ttl("abc"), None);
        assert_eq!(parse_ttl(""), None);
        assert_eq!(parse_ttl("99999999999999999999d"), None);
    }

    #[test]
    fn basic_credentials_without_an_id_or_a_secret_are_refused() {
        // From the oauth_form fuzz target: `Basic` of ":s3cr%2Bt` was a token request
        // for the client with the empty id.
        let form = "application/x-www-form-urlencoded";
        for creds in [":s3cr%2Bt", "abc:", ":"] {
            let enc = base64::engine::general_purpose::STANDARD.encode(creds);
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, form.parse().unwrap());
            h.insert(
                header::AUTHORIZATION,
                format!("Basic \t{enc}").parse().unwrap(),
            );
            let err = TokenRequest::parse(&h, b"grant_type=client_credentials").expect_err(creds);
            assert_eq!(err.status, StatusCode::UNAUTHORIZED, "{creds}");
            assert_eq!(err.error, "invalid_client", "{creds}");
            assert!(err.basic_challenge, "{creds}");
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        // id "a b", secret "p:%&" -> form-encoded "a+b" : "p%3A%25%26"
        let enc = base64::engine::general_purpose::STANDARD.encode("a+b:p%3A%25%26");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {enc}").parse().unwrap(),
        );
        let (id, secret) = basic_credentials(&h).unwrap().unwrap();
        assert_eq!(id, "a b");
        assert_eq!(secret, "p:%&");
    }
}
