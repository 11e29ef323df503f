//! The OAuth endpoints' input: a form body and an `Authorization` header (Basic
//! credentials or a bearer token). The first line of the input is the header's value,
//! the rest the body.

#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use scim_gateway::routes::oauth::{TokenQuestion, TokenRequest};

fuzz_target!(|data: &[u8]| {
    let (auth, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    if !auth.is_empty() {
        // Only what HTTP could have carried reaches the handler.
        let Ok(value) = HeaderValue::from_bytes(auth) else {
            return;
        };
        headers.insert(header::AUTHORIZATION, value);
    }
    if let Ok(req) = TokenRequest::parse(&headers, body) {
        assert!(
            !req.issue.client_id.is_empty(),
            "a token request without a client"
        );
    }
    if let Ok(q) = TokenQuestion::parse(&headers, body) {
        assert!(!q.token.is_empty(), "a question about no token");
        assert!(
            q.bearer.is_some() || q.client.is_some(),
            "an unauthenticated caller"
        );
    }
});
