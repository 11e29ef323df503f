//! What the OAuth endpoints read from a request before the token service is asked: the
//! form body, the client's credentials (HTTP Basic, body parameters or a bearer token)
//! and the token lifetime. Pure functions of the headers and body, so the fuzzer
//! (`fuzz/fuzz_targets/oauth_form.rs`) drives exactly what the handlers run.

use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use scim_proto::auth::v1 as pb;

use super::error::OAuthError;
use crate::upstream::with_token;

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

    /// The gRPC request `build` makes of `(token, client_id, client_secret)` (the last two
    /// empty for a bearer caller), carrying the caller's bearer token when it used one;
    /// and whether the caller used Basic, for the error's challenge.
    pub(super) fn into_call<T>(
        self,
        build: impl FnOnce(String, String, String) -> T,
    ) -> (tonic::Request<T>, bool) {
        let (client_id, client_secret) = self.client.unwrap_or_default();
        let msg = build(self.token, client_id, client_secret);
        let request = match &self.bearer {
            Some(t) => with_token(msg, t),
            None => tonic::Request::new(msg),
        };
        (request, self.basic)
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // From the oauth_form fuzz target: `Basic` of `:s3cr%2Bt` was a token request
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
