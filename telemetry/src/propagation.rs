//! W3C trace context from incoming HTTP headers.
//!
//! gRPC metadata travels as HTTP/2 headers, so one extractor serves HTTP requests and gRPC
//! calls alike; outgoing calls are injected by [`crate::grpc::ClientLayer`].

use opentelemetry::propagation::Extractor;
use tracing_opentelemetry::OpenTelemetrySpanExt;

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
    let cx =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    // Fails only when the span is disabled; nothing to do then.
    let _ = span.set_parent(cx);
}
