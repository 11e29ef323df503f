//! A subscriber like a service's, exporting into memory, for the crate's own tests.

use std::sync::{Arc, Mutex};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};

/// Keeps every span it is given.
#[derive(Debug, Clone, Default)]
pub struct Collected(Arc<Mutex<Vec<SpanData>>>);

impl Collected {
    /// The names of the spans exported so far.
    pub fn names(&self) -> Vec<String> {
        let spans = self.0.lock().unwrap();
        spans.iter().map(|s| s.name.to_string()).collect()
    }
}

impl SpanExporter for Collected {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

/// A subscriber with the services' layers over a provider that samples what the
/// caller sampled (roots always), and what it exports.
pub struct Traced {
    /// The services' subscriber.
    pub dispatch: tracing::Dispatch,
    /// Its tracer provider, to flush before reading [`Traced::collected`].
    pub provider: SdkTracerProvider,
    /// What was exported.
    pub collected: Collected,
    /// Shuts the provider down when dropped: keep it to the end of the test.
    pub guard: crate::TelemetryGuard,
}

/// A [`Traced`] subscriber. Marks the process as exporting, which only turns on work
/// the stack skips otherwise. The log layer is the services' own (events to standard
/// error; the tests log none).
pub fn subscriber() -> Traced {
    let collected = Collected::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        .with_simple_exporter(collected.clone())
        .build();
    let (dispatch, guard) = crate::dispatch_over(
        "test-service",
        &crate::TelemetryArgs::default(),
        Some(provider.clone()),
    );
    Traced {
        dispatch,
        provider,
        collected,
        guard,
    }
}

/// A request span continuing the remote caller `traceparent`, as the services open
/// theirs, with its trace context read (which starts it and runs the sampler).
pub fn request_span(traceparent: &str) -> tracing::Span {
    let span = tracing::info_span!("grpc.server", trace_id = tracing::field::Empty);
    let mut headers = http::HeaderMap::new();
    headers.insert("traceparent", traceparent.parse().unwrap());
    crate::propagation::set_parent_from_headers(&span, &headers);
    crate::grpc::record_trace_id(&span);
    span
}
