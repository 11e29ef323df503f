//! W3C trace context from incoming HTTP headers, and into outgoing ones, through the
//! SDK's `TraceContextPropagator` and the `TextMapPropagator` API.
//!
//! gRPC metadata travels as HTTP/2 headers, so one carrier serves HTTP requests and
//! gRPC calls alike; outgoing calls are injected by [`crate::grpc::ClientLayer`].

use std::sync::OnceLock;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// The stack's one propagation format, W3C Trace Context.
///
/// Held here and called directly rather than through OpenTelemetry's global
/// propagator, which takes a lock and a dynamic call on every request; `init` still
/// installs the same propagator globally for any library that asks.
pub fn propagator() -> &'static TraceContextPropagator {
    static P: OnceLock<TraceContextPropagator> = OnceLock::new();
    P.get_or_init(TraceContextPropagator::new)
}

/// The remote context `headers` carry, if they carry a valid `traceparent`.
pub fn extract(headers: &http::HeaderMap) -> Option<opentelemetry::Context> {
    if !headers.contains_key("traceparent") {
        return None;
    }
    let cx = propagator().extract(&HeaderExtractor(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Writes the context of `span` as `traceparent` (and `tracestate`, when it has
/// entries) into `headers`, when spans are exported.
pub fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    if !crate::exporting() {
        return;
    }
    if let Some(sc) = crate::traces::span_context(span) {
        let cx = opentelemetry::Context::new().with_remote_span_context(sc);
        propagator().inject_context(&cx, &mut HeaderInjector(headers));
    }
}

/// Makes `span` a child of the context carried by `headers`, if they carry one.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if !crate::exporting() {
        return;
    }
    if let Some(parent) = extract(headers) {
        crate::traces::set_remote_parent(span, parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    fn headers(traceparent: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", traceparent.parse().unwrap());
        headers.insert("tracestate", "vendor=v1".parse().unwrap());
        headers
    }

    #[test]
    fn a_traceparent_gives_the_remote_context() {
        let cx = extract(&headers(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .expect("a context");
        let sc = cx.span().span_context().clone();
        assert_eq!(
            sc.trace_id(),
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
        assert_eq!(sc.span_id(), SpanId::from(0x00f0_67aa_0ba9_02b7));
        assert!(sc.is_sampled() && sc.is_remote());
        assert_eq!(sc.trace_state().header(), "vendor=v1");
    }

    #[test]
    fn no_or_a_malformed_traceparent_is_no_parent() {
        assert!(extract(&http::HeaderMap::new()).is_none());
        for bad in [
            "00-zz-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(extract(&headers(bad)).is_none(), "{bad}");
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
        let mut out = http::HeaderMap::new();
        let cx = opentelemetry::Context::new().with_remote_span_context(sc.clone());
        propagator().inject_context(&cx, &mut HeaderInjector(&mut out));
        assert_eq!(
            out["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(out["tracestate"], "vendor=v1");
        let back = extract(&out).unwrap();
        assert_eq!(back.span().span_context(), &sc);
    }
}
