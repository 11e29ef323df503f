//! W3C trace context from incoming HTTP headers, and into outgoing ones.
//!
//! gRPC metadata travels as HTTP/2 headers, so one extractor serves HTTP requests and gRPC
//! calls alike; outgoing calls are injected by [`crate::grpc::ClientLayer`].

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// The stack's one propagation format, W3C Trace Context.
///
/// Used directly rather than through OpenTelemetry's global propagator, which takes a
/// lock and a dynamic call on every request (measured in docs/PERFORMANCE.md); `init`
/// still installs the same propagator globally for any library that asks.
pub fn propagator() -> TraceContextPropagator {
    TraceContextPropagator::new()
}

/// The remote span context `headers` carry, if they carry a valid one.
///
/// Parses `traceparent` by the W3C rules itself: OpenTelemetry's propagator splits the
/// header into owned strings and builds a `Context` to get there, about 4,000
/// instructions per call against a few hundred here (docs/PERFORMANCE.md).
pub fn extract(headers: &http::HeaderMap) -> Option<SpanContext> {
    let parent = headers.get("traceparent")?.to_str().ok()?;
    let (trace_id, span_id, flags) = parse_traceparent(parent)?;
    let state = headers
        .get("tracestate")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<TraceState>().ok())
        .unwrap_or_default();
    Some(SpanContext::new(trace_id, span_id, flags, true, state))
}

/// `version-traceid-parentid-flags`, with the version's length rules, lower-case hex and
/// no all-zero id; only the sampled bit of the flags is kept.
fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let value = value.trim().as_bytes();
    let version = hex_u8(value.get(0..2)?)?;
    // Version 00 is exactly 55 characters; a later version may append fields after a
    // dash, and ff is forbidden.
    let well_sized = match version {
        0 => value.len() == 55,
        0xff => false,
        _ => value.len() == 55 || (value.len() > 55 && value[55] == b'-'),
    };
    if !well_sized || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let trace_id = u128::from_str_radix(lower_hex(&value[3..35])?, 16).ok()?;
    let span_id = u64::from_str_radix(lower_hex(&value[36..52])?, 16).ok()?;
    let flags = hex_u8(&value[53..55])?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some((
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
    ))
}

/// The bytes as a `str` if they are all lower-case hex digits.
fn lower_hex(bytes: &[u8]) -> Option<&str> {
    bytes
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        .then(|| std::str::from_utf8(bytes).ok())
        .flatten()
}

fn hex_u8(bytes: &[u8]) -> Option<u8> {
    u8::from_str_radix(lower_hex(bytes)?, 16).ok()
}

/// Writes `sc` as `traceparent` (and `tracestate`, when it has entries) into `headers`.
pub fn inject(sc: &SpanContext, headers: &mut http::HeaderMap) {
    if !sc.is_valid() {
        return;
    }
    let flags = sc.trace_flags() & TraceFlags::SAMPLED;
    let parent = format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        flags.to_u8()
    );
    if let Ok(v) = http::HeaderValue::from_str(&parent) {
        headers.insert("traceparent", v);
    }
    let state = sc.trace_state().header();
    if !state.is_empty()
        && let Ok(v) = http::HeaderValue::from_str(&state)
    {
        headers.insert("tracestate", v);
    }
}

/// Makes `span` a child of the context carried by `headers`, if they carry one.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if !crate::exporting() {
        return;
    }
    if let Some(parent) = extract(headers) {
        crate::traces::set_remote_parent(span, &parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
    use opentelemetry::trace::TraceContextExt as _;

    /// Lets the SDK's propagator read HTTP headers.
    struct HeaderExtractor<'a>(&'a http::HeaderMap);

    impl Extractor for HeaderExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }

    /// What OpenTelemetry's own propagator makes of the same headers.
    fn by_the_sdk(headers: &http::HeaderMap) -> Option<SpanContext> {
        let cx = propagator().extract(&HeaderExtractor(headers));
        let sc = cx.span().span_context().clone();
        sc.is_valid().then_some(sc)
    }

    #[test]
    fn traceparent_is_read_as_the_sdk_reads_it() {
        let cases = [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            // Only the sampled bit is kept.
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
            // A later version may carry more fields.
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "",
            "é",
        ];
        for case in cases {
            let mut headers = http::HeaderMap::new();
            headers.insert("traceparent", case.parse().unwrap());
            headers.insert("tracestate", "a=1,b=2".parse().unwrap());
            assert_eq!(extract(&headers), by_the_sdk(&headers), "{case:?}");
        }
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        headers.insert("tracestate", "not a list entry".parse().unwrap());
        assert_eq!(extract(&headers), by_the_sdk(&headers));
        // Stricter than the SDK, which takes a one-digit version and lets Rust's
        // integer parser accept a sign: the W3C grammar has two-digit versions and hex
        // digits only.
        for case in [
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            headers.insert("traceparent", case.parse().unwrap());
            assert_eq!(extract(&headers), None, "{case:?}");
        }
    }

    #[test]
    fn an_injected_context_is_extracted_unchanged() {
        let state = TraceState::from_key_value([("vendor", "v1")]).unwrap();
        let sc = SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::SAMPLED,
            true,
            state,
        );
        let mut headers = http::HeaderMap::new();
        inject(&sc, &mut headers);
        assert_eq!(
            headers["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(headers["tracestate"], "vendor=v1");
        assert_eq!(extract(&headers), Some(sc));
    }

    #[test]
    fn no_or_a_malformed_traceparent_is_no_parent() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(extract(&headers), None);
        headers.insert("traceparent", "00-zz-00f067aa0ba902b7-01".parse().unwrap());
        assert_eq!(extract(&headers), None);
        let mut out = http::HeaderMap::new();
        inject(&SpanContext::NONE, &mut out);
        assert!(out.is_empty());
    }
}
