//! SCIM success responses: media type, `ETag`, `Location`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::SCIM_CONTENT_TYPE;
use crate::extract::etag;

/// A SCIM JSON response.
pub fn scim(status: StatusCode, body: &impl Serialize) -> Response {
    // A user is about a kilobyte; starting there saves the first few regrowths.
    let mut bytes = Vec::with_capacity(1024);
    if let Err(e) = serde_json::to_writer(&mut bytes, body) {
        // Our documents are strings, numbers and maps with string keys; this is a bug.
        tracing::error!(error = %e, "response body does not serialise");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    resp
}

/// A resource response with its `ETag` (and `Location` for 201).
pub fn resource(
    status: StatusCode,
    body: &impl Serialize,
    version: i64,
    location: Option<&str>,
) -> Response {
    let mut resp = scim(status, body);
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if let Some(loc) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

/// 304 for a matching `If-None-Match`.
pub fn not_modified(version: i64) -> Response {
    let mut resp = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}
