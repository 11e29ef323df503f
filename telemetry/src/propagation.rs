//! W3C trace context from incoming HTTP headers.
//!
//! gRPC metadata travels as HTTP/2 headers, so one extractor serves HTTP requests and gRPC
//! calls alike; outgoing calls are injected by [`crate::grpc::ClientLayer`].

use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The stack's one propagation format, W3C Trace Context.
///
/// Used directly rather than through OpenTelemetry's global propagator, which takes a
/// lock and a dynamic call on every request (measured in docs/PERFORMANCE.md); `init`
/// still installs the same propagator globally for any library that asks.
pub fn propagator() -> TraceContextPropagator {
    TraceContextPropagator::new()
}

/// Reads propagation fields from HTTP headers.
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` a child of the context carried by `headers`, if they carry one.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if !crate::exporting() {
        return;
    }
    let cx = propagator().extract(&HeaderExtractor(headers));
    // Fails only when the span is disabled; nothing to do then.
    let _ = span.set_parent(cx);
}
