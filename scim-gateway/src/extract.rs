//! Request extractors that fail with SCIM errors instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde_json::Value;

use crate::error::ScimError;

/// A JSON request body, accepted as `application/scim+json` or `application/json` (with
/// or without parameters such as `charset`), or with no `Content-Type` at all.
#[derive(Debug)]
pub struct ScimJson(pub Value);

/// Whether a `Content-Type` names JSON: `application/json` or any `+json` type.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default();
            if !is_json(ct) {
                return Err(ScimError::UnsupportedMediaType(
                    "request bodies must be application/scim+json or application/json".into(),
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::PayloadTooLarge(
                    "the request body is larger than this server accepts".into(),
                )
            } else {
                ScimError::invalid_syntax("the request body could not be read")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ScimError::invalid_syntax("a JSON request body is required"));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ScimError::invalid_syntax(format!(
                "the request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if !value.is_object() {
            return Err(ScimError::invalid_syntax(
                "the request body must be a JSON object",
            ));
        }
        Ok(ScimJson(value))
    }
}

/// The `{id}` segment of a resource's path, percent-decoded.
///
/// An id that does not decode to UTF-8 names no resource: 404 as a SCIM error, where
/// axum's own `Path` would answer a plain-text 400.
#[derive(Debug)]
pub struct ResourceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| ResourceId(id))
            .map_err(|_| {
                ScimError::NotFound("no resource has this id: it is not valid UTF-8".into())
            })
    }
}

/// The query string as decoded pairs (`+` and `%20` both become spaces).
#[derive(Debug, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(query) = parts.uri.query() else {
            return Ok(QueryPairs::default());
        };
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map(QueryPairs)
            .map_err(|_| ScimError::invalid_value("the query string is malformed"))
    }
}

/// A request's `If-Match` and `If-None-Match` headers, parsed into [`Preconditions`] by
/// the handler once it has checked the caller's scope.
///
/// Its own extractor so that a handler does not copy the whole header map (axum's
/// `HeaderMap` extractor clones it) to read two headers that are usually absent.
#[derive(Debug, Default)]
pub struct ConditionalHeaders(HeaderMap);

impl ConditionalHeaders {
    /// The preconditions these headers state; see [`Preconditions::from_headers`].
    pub fn preconditions(&self) -> Result<Preconditions, ScimError> {
        Preconditions::from_headers(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ConditionalHeaders {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut headers = HeaderMap::new();
        for name in [header::IF_MATCH, header::IF_NONE_MATCH] {
            for value in parts.headers.get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        Ok(ConditionalHeaders(headers))
    }
}

/// The precondition headers of a request.
#[derive(Debug, Default, Clone)]
pub struct Preconditions {
    /// Version required by `If-Match` (`None`: no header or `*`).
    pub if_match: Option<i64>,
    /// Versions named by `If-None-Match`; `any` is true for `*`.
    pub if_none_match: Vec<i64>,
    /// `If-None-Match: *`.
    pub if_none_match_any: bool,
}

/// Parses one entity tag such as `W/"3"` or `"3"` into a version.
pub fn parse_etag(tag: &str) -> Option<i64> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// The weak entity tag of a version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

impl Preconditions {
    /// Reads `If-Match` and `If-None-Match`. An `If-Match` naming no version this server
    /// could have issued can never match: it is answered with 412 by the caller.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ScimError> {
        let mut p = Preconditions::default();
        if let Some(v) = headers.get(header::IF_MATCH) {
            let v = v.to_str().unwrap_or_default().trim();
            if v != "*" {
                let version = v.split(',').find_map(parse_etag).ok_or_else(|| {
                    ScimError::PreconditionFailed(
                        "If-Match does not name a current version of this resource".into(),
                    )
                })?;
                p.if_match = Some(version);
            }
        }
        if let Some(v) = headers.get(header::IF_NONE_MATCH) {
            let v = v.to_str().unwrap_or_default().trim();
            if v == "*" {
                p.if_none_match_any = true;
            } else {
                p.if_none_match = v.split(',').filter_map(parse_etag).collect();
            }
        }
        Ok(p)
    }

    /// The `expected_version` to send upstream (0: no check).
    pub fn expected_version(&self) -> i64 {
        self.if_match.unwrap_or(0)
    }

    /// Whether a GET of a resource at `version` should answer 304.
    pub fn not_modified(&self, version: i64) -> bool {
        self.if_none_match_any || self.if_none_match.contains(&version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json("application/scim+json"));
        assert!(is_json("application/scim+json; charset=utf-8"));
        assert!(is_json("Application/JSON;charset=UTF-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn etags_round_trip() {
        assert_eq!(parse_etag(&etag(7)), Some(7));
        assert_eq!(parse_etag("\"3\""), Some(3));
        assert_eq!(parse_etag("W/\"x\""), None);
        assert_eq!(parse_etag("3"), None);
    }
}
