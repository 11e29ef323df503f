//! W3C trace context from a request's headers: `traceparent`, then `tracestate` after
//! the first newline.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use scim_telemetry::propagation;

fuzz_target!(|data: &[u8]| {
    let (parent, state) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut headers = HeaderMap::new();
    let Ok(parent) = HeaderValue::from_bytes(parent) else {
        return;
    };
    headers.insert("traceparent", parent);
    if let Some(state) = state.and_then(|s| HeaderValue::from_bytes(s).ok()) {
        headers.insert("tracestate", state);
    }
    let _ = propagation::extract(&headers);
});
