//! Spans to OTLP through the ecosystem's pipeline: `tracing-opentelemetry`'s layer turns
//! `tracing` spans into spans of `opentelemetry_sdk`'s tracer provider, whose batch span
//! processor hands them to `opentelemetry-otlp`'s exporter.
//!
//! What stays ours is configuration: which spans reach the layer ([`traced`]), the
//! layer's options (no per-span code location, target, thread or busy-time attributes: none of
//! them is read by anyone looking at a SCIM request, and each costs work per span; no
//! thread-local context activation, which nothing reads), and
//! a start-up check of the sampler name, which the SDK otherwise replaces silently.
//!
//! The mapping of `tracing` to OpenTelemetry is the layer's: the span's name (or an
//! `otel.name` field) is its name; `otel.kind` and `otel.status_code` set its kind and
//! status; every other field is an attribute; an event inside a span becomes a span
//! event. A span's parent is its `tracing` parent, or the remote caller's context set
//! with [`set_remote_parent`] right after the span is created.

use opentelemetry::trace::{SpanContext, TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt as _};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::registry::LookupSpan;

use crate::InitError;
use crate::callsite_filter::ByCallsite;

/// The sampler names `OTEL_TRACES_SAMPLER` may hold that the SDK implements.
pub const SAMPLERS: [&str; 6] = [
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
];

/// What is wrong with the sampler the environment names, if anything.
///
/// The SDK reads `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` itself and falls
/// back to `parentbased_always_on` (or a ratio of 1.0) on a value it does not know,
/// through its internal log, which this build does not enable. An operator who asked
/// for 10% and gets 100% must hear about it at start-up.
pub fn sampler_problem(name: Option<&str>, arg: Option<&str>) -> Option<String> {
    let name = name?.trim();
    if name.is_empty() {
        return None;
    }
    if !SAMPLERS.contains(&name) {
        return Some(format!(
            "unknown OTEL_TRACES_SAMPLER {name:?} (known: {}); sampling every trace",
            SAMPLERS.join(", ")
        ));
    }
    if name.ends_with("traceidratio") {
        let ratio = arg.and_then(|a| a.trim().parse::<f64>().ok());
        if !ratio.is_some_and(|r| (0.0..=1.0).contains(&r)) {
            return Some(format!(
                "OTEL_TRACES_SAMPLER {name} needs OTEL_TRACES_SAMPLER_ARG between 0 and 1, \
                 got {arg:?}; sampling every trace"
            ));
        }
    }
    None
}

/// The tracer provider exporting to the configured OTLP endpoint under
/// `service_name`: OTLP/gRPC exporter (endpoint, headers and timeout from
/// `OTEL_EXPORTER_OTLP_*`), the SDK's batch span processor (`OTEL_BSP_*`), and the
/// sampler the standard variables name.
///
/// Must run inside a Tokio runtime: the exporter's connection lives there.
pub fn provider(service_name: &str) -> Result<SdkTracerProvider, InitError> {
    if let Some(problem) = sampler_problem(
        std::env::var("OTEL_TRACES_SAMPLER").ok().as_deref(),
        std::env::var("OTEL_TRACES_SAMPLER_ARG").ok().as_deref(),
    ) {
        // Logging is not up yet; this is the one line an operator needs.
        eprintln!("{service_name}: {problem}");
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|e| InitError(e.to_string()))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(crate::resource(service_name))
        .build())
}

/// Targets whose spans and events never reach the OpenTelemetry layer: the transport's
/// internals. The exporter's own calls must not be traced back into itself, and a
/// connection-long h2 span would grow without bound. Prefixes, as in `RUST_LOG`.
const UNTRACED_TARGETS: [&str; 5] = ["h2", "hyper", "tonic", "tower", "opentelemetry"];

/// Whether spans and events of this callsite reach the OpenTelemetry layer: `INFO` and
/// above, outside [`UNTRACED_TARGETS`].
pub fn traced(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() <= tracing::Level::INFO
        && !UNTRACED_TARGETS
            .iter()
            .any(|t| meta.target().starts_with(t))
}

/// The OpenTelemetry layer's filter: [`traced`], decided once per callsite.
const TRACED: ByCallsite = ByCallsite::new(traced, tracing::level_filters::LevelFilter::INFO);

/// The OpenTelemetry layer of a subscriber, as this stack configures it.
pub type SpanLayer<S> = Filtered<OpenTelemetryLayer<S, SdkTracer>, ByCallsite, S>;

/// The layer that records spans into `provider`'s tracer, named after `service_name`.
pub fn layer<S>(provider: &SdkTracerProvider, service_name: &str) -> SpanLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service_name.to_owned()))
        .with_location(false)
        .with_target(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        // Nothing here reads OpenTelemetry's thread-local current context: propagation
        // takes the context from the span itself, so attaching it at every poll of
        // every span is work for nobody.
        .with_context_activation(false)
        .with_filter(TRACED)
}

/// The OpenTelemetry context (trace id, span id, sampled flag, trace state) of `span`,
/// when spans are being recorded for export.
pub fn span_context(span: &tracing::Span) -> Option<SpanContext> {
    if span.is_disabled() {
        return None;
    }
    let sc = span.context().span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// Whether `span` belongs to a trace the sampler decided not to export.
///
/// False when nothing is exported or `span` has no OpenTelemetry context: the caller
/// then makes its spans as usual, and the subscriber's filters decide what they cost.
pub fn is_unsampled(span: &tracing::Span) -> bool {
    crate::exporting() && span_context(span).is_some_and(|sc| !sc.is_sampled())
}

/// The span `make` builds, as a child of the current span; or, when the current trace
/// is not sampled, the current span itself.
///
/// Every span costs `tracing-opentelemetry` a span builder, its attributes and a lock,
/// whether or not its trace is sampled (the sampler runs when the span starts, after
/// all of that), and an unsampled span is never exported. Below an unsampled request
/// span its children are therefore not made at all. The current span stands in for
/// them, so log lines inside still carry the request's trace and span ids, also on
/// another thread where the returned span is entered.
pub fn child_span(make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    unsampled_current().unwrap_or_else(make)
}

/// The current span, when it belongs to a trace the sampler decided not to export:
/// what stands in for the spans that are not made below it ([`child_span`], and the
/// gRPC client span of `crate::grpc::ClientLayer`).
pub fn unsampled_current() -> Option<tracing::Span> {
    if !crate::exporting() {
        return None;
    }
    let current = tracing::Span::current();
    is_unsampled(&current).then_some(current)
}

/// Continues the caller's trace: `span` becomes a child of the remote context `parent`,
/// and is sampled if the configured sampler says so given the caller's decision.
///
/// Call it right after creating `span`, before any child span exists and before it is
/// first entered: children take their trace from their parent when they are created.
pub fn set_remote_parent(span: &tracing::Span, parent: opentelemetry::Context) {
    if span.is_disabled() {
        return;
    }
    // The only failure is a subscriber without the layer, which is "not tracing".
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{Traced, request_span, subscriber};

    const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

    #[test]
    fn below_an_unsampled_request_no_child_span_is_made_and_the_request_span_stands_in() {
        let Traced {
            dispatch,
            provider,
            collected,
            guard: _guard,
        } = subscriber();
        tracing::dispatcher::with_default(&dispatch, || {
            let request = request_span(UNSAMPLED);
            assert!(is_unsampled(&request));
            let child = request.in_scope(|| child_span(|| tracing::info_span!("db.query")));
            assert_eq!(child.id(), request.id(), "the request span itself");
            // Entered elsewhere (a blocking-pool thread), it is still the request's span.
            let elsewhere = std::thread::spawn({
                let dispatch = dispatch.clone();
                move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let _entered = child.enter();
                        tracing::Span::current().id()
                    })
                }
            });
            assert_eq!(elsewhere.join().unwrap(), request.id());
        });
        provider.force_flush().unwrap();
        assert!(collected.names().is_empty(), "{:?}", collected.names());
    }

    #[test]
    fn below_a_sampled_request_the_child_span_is_made_and_exported() {
        let Traced {
            dispatch,
            provider,
            collected,
            guard: _guard,
        } = subscriber();
        tracing::dispatcher::with_default(&dispatch, || {
            let request = request_span(SAMPLED);
            assert!(!is_unsampled(&request));
            let child = request.in_scope(|| child_span(|| tracing::info_span!("db.query")));
            assert_ne!(child.id(), request.id());
            let child_cx = span_context(&child).expect("exported child");
            let request_cx = span_context(&request).unwrap();
            assert_eq!(child_cx.trace_id(), request_cx.trace_id());
            assert!(child_cx.is_sampled());
        });
        provider.force_flush().unwrap();
        let mut names = collected.names();
        names.sort();
        assert_eq!(names, ["db.query", "grpc.server"]);
    }

    #[test]
    fn without_a_trace_context_child_spans_are_made_as_usual() {
        // A span the OpenTelemetry layer never saw (here: no subscriber at all) has no
        // context, so nothing is known to be unsampled.
        let span = tracing::info_span!("grpc.server");
        assert!(!is_unsampled(&span));
    }

    #[test]
    fn unknown_samplers_and_bad_ratios_are_reported() {
        assert_eq!(sampler_problem(None, None), None);
        assert_eq!(sampler_problem(Some(""), None), None);
        assert_eq!(sampler_problem(Some("always_off"), None), None);
        assert_eq!(
            sampler_problem(Some("parentbased_traceidratio"), Some("0.1")),
            None
        );
        let unknown = sampler_problem(Some("sometimes"), None).unwrap();
        assert!(unknown.contains("\"sometimes\""), "{unknown}");
        for arg in [None, Some("ten"), Some("1.5"), Some("-0.1")] {
            assert!(
                sampler_problem(Some("traceidratio"), arg).is_some(),
                "{arg:?}"
            );
        }
    }

    #[test]
    fn transport_internals_are_not_traced() {
        use tracing::Level;
        use tracing::callsite::Identifier;
        use tracing::metadata::Kind;
        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &tracing::Metadata<'_> {
                unreachable!()
            }
        }
        static SITE: Site = Site;
        let meta = |target: &'static str, level| {
            tracing::Metadata::new(
                "span",
                target,
                level,
                None,
                None,
                None,
                tracing::field::FieldSet::new(&[], Identifier(&SITE)),
                Kind::SPAN,
            )
        };
        assert!(traced(&meta("scim_gateway::routes", Level::INFO)));
        assert!(!traced(&meta("scim_gateway::routes", Level::DEBUG)));
        for target in [
            "h2::proto",
            "hyper::client",
            "tonic::transport",
            "tower::buffer",
        ] {
            assert!(!traced(&meta(target, Level::INFO)), "{target}");
        }
    }
}
