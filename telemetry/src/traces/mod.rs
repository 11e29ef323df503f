//! Spans to OTLP: a `tracing` layer that builds each exported span's data as the span
//! runs, and hands it to a batching export thread when the span closes.
//!
//! It replaces tracing-opentelemetry and the SDK's tracer for this stack's spans. Those
//! build every span three times (a span builder while it runs, an SDK span when it
//! closes, the exported span data after), keep an OpenTelemetry `Context` per span and
//! send each finished span through a channel; here a span's ids, attributes and events
//! are written once into the data the exporter takes (docs/PERFORMANCE.md). The OTLP
//! exporter itself is still opentelemetry-otlp's, so its endpoint, headers and timeout
//! come from the same `OTEL_EXPORTER_OTLP_*` variables.
//!
//! The mapping of `tracing` to OpenTelemetry is the usual one: the span's name (or an
//! `otel.name` field) is its name; `otel.kind` and `otel.status_code` (`ok`/`error`)
//! set its kind and status; every other field is an attribute; an event inside a
//! span becomes a span event named by its message, and an `ERROR` event marks the span
//! failed. A span's parent is its `tracing` parent, or the remote caller's context set
//! with [`set_remote_parent`] right after the span is created.

mod batch;
mod sampler;

pub use batch::{BatchConfig, Batcher, Exporting, start as start_export};
pub use sampler::{Sampler, UnknownSampler};

use std::borrow::Cow;
use std::cell::Cell;
use std::time::SystemTime;

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event as TracingEvent, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// What the layer keeps in a span's extensions while it is open.
#[derive(Debug)]
struct OpenSpan {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    sampled: bool,
    trace_state: TraceState,
    /// Everything else is only filled in for sampled spans.
    data: Option<Box<Recorded>>,
}

#[derive(Debug)]
struct Recorded {
    name: Cow<'static, str>,
    kind: SpanKind,
    start: SystemTime,
    attributes: Vec<KeyValue>,
    events: Vec<Event>,
    status: Status,
}

impl OpenSpan {
    fn context(&self) -> SpanContext {
        let flags = if self.sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            self.trace_id,
            self.span_id,
            flags,
            false,
            self.trace_state.clone(),
        )
    }
}

/// The layer that records spans for export; see the module documentation.
#[derive(Debug)]
pub struct SpanLayer {
    sampler: Sampler,
    batcher: Batcher,
    scope: InstrumentationScope,
}

/// Targets whose spans and events are not recorded: the exporter's own transport must
/// not be traced back into itself. Prefixes, as in `RUST_LOG` directives.
const UNTRACED_TARGETS: [&str; 4] = ["h2", "hyper", "tonic", "tower"];

impl SpanLayer {
    /// Whether spans and events of this callsite are recorded: `INFO` and above, outside
    /// [`UNTRACED_TARGETS`].
    ///
    /// The layer filters by itself instead of through a per-layer filter: a per-layer
    /// filter looks the span up again on every enter and exit (every poll of every
    /// instrumented future) to ask whether it passed (docs/PERFORMANCE.md). It cannot
    /// turn a callsite off for the whole subscriber either, which is why it answers
    /// here, per span, rather than in `register_callsite`.
    fn wants(meta: &tracing::Metadata<'_>) -> bool {
        *meta.level() <= tracing::Level::INFO
            && !UNTRACED_TARGETS
                .iter()
                .any(|t| meta.target().starts_with(t))
    }

    /// A layer whose sampled spans go to `batcher`, under the instrumentation scope
    /// `scope_name` (the service's name).
    pub fn new(sampler: Sampler, batcher: Batcher, scope_name: &str) -> Self {
        SpanLayer {
            sampler,
            batcher,
            scope: InstrumentationScope::builder(scope_name.to_owned()).build(),
        }
    }
}

thread_local! {
    /// xorshift64* state per thread, seeded from the OS: ids need to be unique and
    /// unpredictable enough not to collide across services, not secret.
    static RNG: Cell<u64> = Cell::new({
        let mut seed = [0u8; 8];
        // Falls back to the time and the thread only if the OS has no randomness.
        if getrandom::fill(&mut seed).is_err() {
            let t = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64;
            seed = (t.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15).to_le_bytes();
        }
        u64::from_le_bytes(seed) | 1
    });
}

fn next_random() -> u64 {
    RNG.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

fn new_span_id() -> SpanId {
    loop {
        let id = next_random();
        if id != 0 {
            return SpanId::from(id);
        }
    }
}

fn new_trace_id() -> TraceId {
    loop {
        let id = (u128::from(next_random()) << 64) | u128::from(next_random());
        if id != 0 {
            return TraceId::from(id);
        }
    }
}

fn span_kind(value: &str) -> Option<SpanKind> {
    Some(match value.to_ascii_lowercase().as_str() {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        "internal" => SpanKind::Internal,
        _ => return None,
    })
}

/// OTLP has no unsigned integers; values beyond `i64` keep their digits as text.
fn unsigned(value: u64) -> Value {
    i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::I64)
}

/// Writes a span's fields into its recorded data.
struct FieldVisitor<'a>(&'a mut Recorded);

impl FieldVisitor<'_> {
    fn set(&mut self, name: &'static str, value: Value) {
        // A field recorded again replaces its earlier value.
        match self
            .0
            .attributes
            .iter_mut()
            .find(|kv| kv.key.as_str() == name)
        {
            Some(kv) => kv.value = value,
            None => self.0.attributes.push(KeyValue::new(name, value)),
        }
    }

    fn special(&mut self, field: &Field, value: &str) -> bool {
        let name = field.name();
        if !name.starts_with("otel.") {
            return false;
        }
        match name {
            "otel.name" => self.0.name = value.to_owned().into(),
            "otel.kind" => {
                if let Some(kind) = span_kind(value) {
                    self.0.kind = kind;
                }
            }
            "otel.status_code" => {
                self.0.status = match value.to_ascii_lowercase().as_str() {
                    "ok" => Status::Ok,
                    "error" => Status::error(match &self.0.status {
                        Status::Error { description } => description.clone(),
                        _ => "".into(),
                    }),
                    _ => Status::Unset,
                }
            }
            "otel.status_description" => {
                if let Status::Error { description } = &mut self.0.status {
                    *description = value.to_owned().into();
                }
            }
            _ => return false,
        }
        true
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.special(field, value) {
            self.set(field.name(), Value::from(value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if !self.special(field, &text) {
            self.set(field.name(), Value::from(text));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), unsigned(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), Value::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), Value::F64(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), Value::from(value.to_string()));
    }
}

/// Collects an event's message and fields.
struct EventVisitor {
    message: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Visit for EventVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_owned()),
            name => self.attributes.push(KeyValue::new(name, value.to_owned())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = Some(text),
            name => self.attributes.push(KeyValue::new(name, text)),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.attributes
            .push(KeyValue::new(field.name(), unsigned(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
}

impl<S> tracing_subscriber::Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !Self::wants(attrs.metadata()) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        // The nearest ancestor this layer records.
        let parent = span.scope().skip(1).find_map(|p| {
            p.extensions()
                .get::<OpenSpan>()
                .map(|o| (o.trace_id, o.span_id, o.sampled, o.trace_state.clone()))
        });
        let (trace_id, parent_span_id, parent_sampled, trace_state) = match parent {
            Some((trace, span, sampled, state)) => (trace, span, Some(sampled), state),
            None => (new_trace_id(), SpanId::INVALID, None, TraceState::NONE),
        };
        let sampled = self.sampler.should_sample(parent_sampled, trace_id);
        // A root is recorded even when unsampled: a remote caller's sampled context may
        // still be set on it (`set_remote_parent`), and its fields exist only now.
        let data = (sampled || parent_sampled.is_none()).then(|| {
            let meta = attrs.metadata();
            let mut recorded = Recorded {
                name: Cow::Borrowed(meta.name()),
                kind: SpanKind::Internal,
                start: SystemTime::now(),
                attributes: Vec::with_capacity(meta.fields().len()),
                events: Vec::new(),
                status: Status::Unset,
            };
            attrs.record(&mut FieldVisitor(&mut recorded));
            Box::new(recorded)
        });
        span.extensions_mut().insert(OpenSpan {
            trace_id,
            span_id: new_span_id(),
            parent_span_id,
            parent_is_remote: false,
            sampled,
            trace_state,
            data,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(data) = ext.get_mut::<OpenSpan>().and_then(|o| o.data.as_mut()) {
            values.record(&mut FieldVisitor(data));
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: Context<'_, S>) {
        if !Self::wants(event.metadata()) {
            return;
        }
        let Some(span) = ctx.event_span(event).and_then(|s| {
            s.scope()
                .find(|s| s.extensions().get::<OpenSpan>().is_some())
        }) else {
            return;
        };
        let mut ext = span.extensions_mut();
        let Some(data) = ext.get_mut::<OpenSpan>().and_then(|o| o.data.as_mut()) else {
            return;
        };
        let mut visitor = EventVisitor {
            message: None,
            attributes: Vec::new(),
        };
        event.record(&mut visitor);
        let meta = event.metadata();
        if *meta.level() == tracing::Level::ERROR && data.status == Status::Unset {
            data.status = Status::error("");
        }
        let name = visitor
            .message
            .map_or(Cow::Borrowed(meta.name()), Cow::Owned);
        data.events
            .push(Event::new(name, SystemTime::now(), visitor.attributes, 0));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<OpenSpan>() else {
            return;
        };
        let Some(data) = open.data.filter(|_| open.sampled) else {
            return;
        };
        let Recorded {
            name,
            kind,
            start,
            attributes,
            events,
            status,
        } = *data;
        let mut span_events = opentelemetry_sdk::trace::SpanEvents::default();
        span_events.events = events;
        self.batcher.push(SpanData {
            span_context: SpanContext::new(
                open.trace_id,
                open.span_id,
                TraceFlags::SAMPLED,
                false,
                open.trace_state,
            ),
            parent_span_id: open.parent_span_id,
            parent_span_is_remote: open.parent_is_remote,
            span_kind: kind,
            name,
            start_time: start,
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events: span_events,
            links: Default::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        });
    }
}

/// Runs `f` on the layer's state of `span` (or of its nearest recorded ancestor) and
/// the layer's sampler.
fn with_open_span<T>(
    span: &tracing::Span,
    f: impl FnOnce(&mut OpenSpan, &Sampler) -> T,
) -> Option<T> {
    let mut f = Some(f);
    span.with_subscriber(|(id, dispatch)| {
        let layer = dispatch.downcast_ref::<SpanLayer>()?;
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        for s in span.scope() {
            let mut ext = s.extensions_mut();
            if let Some(open) = ext.get_mut::<OpenSpan>() {
                return f.take().map(|f| f(open, &layer.sampler));
            }
        }
        None
    })
    .flatten()
}

/// The OpenTelemetry context (trace id, span id, sampled flag, trace state) of `span`,
/// when spans are being recorded for export.
pub fn span_context(span: &tracing::Span) -> Option<SpanContext> {
    with_open_span(span, |open, _| open.context())
}

/// Continues the caller's trace: `span` becomes a child of the remote span `parent`,
/// and is sampled if the configured sampler says so given the caller's decision.
///
/// Call it right after creating `span`, before any child span exists: children take
/// their trace from their parent when they are created.
pub fn set_remote_parent(span: &tracing::Span, parent: &SpanContext) {
    if !parent.is_valid() {
        return;
    }
    with_open_span(span, |open, sampler| {
        open.trace_id = parent.trace_id();
        open.parent_span_id = parent.span_id();
        open.parent_is_remote = true;
        open.trace_state = parent.trace_state().clone();
        let sampled = sampler.should_sample(Some(parent.is_sampled()), open.trace_id);
        if !sampled {
            open.data = None;
        }
        // Only a root keeps its fields while unsampled; any other span the sampler
        // dropped stays unsampled, and says so to the services it calls.
        open.sampled = sampled && open.data.is_some();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    fn recording(sampler: Sampler) -> (Batcher, tracing::Dispatch) {
        let batcher = Batcher::unstarted();
        let subscriber = tracing_subscriber::registry().with(SpanLayer::new(
            sampler,
            batcher.clone(),
            "test-service",
        ));
        (batcher, tracing::Dispatch::new(subscriber))
    }

    /// A caller's span context, as `traceparent` would carry it.
    fn remote(trace_id: TraceId, span_id: SpanId, sampled: bool) -> SpanContext {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(trace_id, span_id, flags, true, TraceState::NONE)
    }

    fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    #[test]
    fn a_child_span_shares_the_trace_and_points_at_its_parent() {
        let (batcher, dispatch) = recording(Sampler::default());
        tracing::dispatcher::with_default(&dispatch, || {
            let outer = tracing::info_span!(
                "http.server",
                otel.name = "GET /Users/{id}",
                otel.kind = "server",
                http.response.status_code = tracing::field::Empty,
                tenant = "default",
            );
            outer.in_scope(|| {
                let inner = tracing::info_span!("db", db.system.name = "sqlite", rows = 3u64);
                inner.in_scope(|| tracing::info!(reason = "why", "looked up"));
            });
            outer.record("http.response.status_code", 200u16);
            outer.record("tenant", "other");
        });
        let spans = batcher.take();
        assert_eq!(spans.len(), 2, "{spans:?}");
        let (inner, outer) = (&spans[0], &spans[1]);

        assert_eq!(outer.name, "GET /Users/{id}");
        assert_eq!(outer.span_kind, SpanKind::Server);
        assert_eq!(outer.parent_span_id, SpanId::INVALID);
        assert_eq!(
            attr(outer, "http.response.status_code"),
            Some(&Value::I64(200))
        );
        // Recorded again: replaced, not repeated.
        assert_eq!(attr(outer, "tenant"), Some(&Value::from("other")));
        assert_eq!(
            outer
                .attributes
                .iter()
                .filter(|kv| kv.key.as_str() == "tenant")
                .count(),
            1
        );
        assert!(attr(outer, "otel.name").is_none() && attr(outer, "otel.kind").is_none());
        assert!(outer.span_context.is_sampled());
        assert_eq!(outer.instrumentation_scope.name(), "test-service");

        assert_eq!(inner.name, "db");
        assert_eq!(inner.span_kind, SpanKind::Internal);
        assert_eq!(inner.span_context.trace_id(), outer.span_context.trace_id());
        assert_eq!(inner.parent_span_id, outer.span_context.span_id());
        assert_ne!(inner.span_context.span_id(), outer.span_context.span_id());
        assert_eq!(attr(inner, "rows"), Some(&Value::I64(3)));
        assert_eq!(inner.events.len(), 1);
        assert_eq!(inner.events[0].name, "looked up");
        assert_eq!(
            inner.events[0].attributes,
            vec![KeyValue::new("reason", "why")]
        );
        assert!(outer.start_time <= inner.start_time && inner.end_time <= outer.end_time);
    }

    #[test]
    fn status_comes_from_otel_status_code_and_from_error_events() {
        let (batcher, dispatch) = recording(Sampler::default());
        tracing::dispatcher::with_default(&dispatch, || {
            let a = tracing::info_span!("a", otel.status_code = tracing::field::Empty);
            a.record("otel.status_code", "ERROR");
            drop(a);
            tracing::info_span!("b").in_scope(|| tracing::error!("broke"));
            tracing::info_span!("c", otel.status_code = "ok").in_scope(|| {});
            tracing::info_span!("d").in_scope(|| tracing::warn!("only a warning"));
        });
        let status: Vec<(String, Status)> = batcher
            .take()
            .into_iter()
            .map(|s| (s.name.into_owned(), s.status))
            .collect();
        assert_eq!(
            status,
            [
                ("a".to_owned(), Status::error("")),
                ("b".to_owned(), Status::error("")),
                ("c".to_owned(), Status::Ok),
                ("d".to_owned(), Status::Unset),
            ]
        );
    }

    #[test]
    fn a_remote_parent_is_continued_and_given_to_children_and_callees() {
        let (batcher, dispatch) = recording(Sampler::default());
        let remote = remote(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            true,
        );
        let mut seen = None;
        tracing::dispatcher::with_default(&dispatch, || {
            let server = tracing::info_span!("grpc.server");
            set_remote_parent(&server, &remote);
            server.in_scope(|| {
                let client = tracing::info_span!("grpc.client");
                seen = span_context(&client);
            });
        });
        let spans = batcher.take();
        let (client, server) = (&spans[0], &spans[1]);
        assert_eq!(server.span_context.trace_id(), remote.trace_id());
        assert_eq!(server.parent_span_id, remote.span_id());
        assert!(server.parent_span_is_remote);
        assert_eq!(client.parent_span_id, server.span_context.span_id());
        let seen = seen.expect("the client span has a context");
        assert_eq!(seen.trace_id(), remote.trace_id());
        assert_eq!(seen.span_id(), client.span_context.span_id());
        assert!(seen.is_sampled());
    }

    #[test]
    fn an_unsampled_caller_makes_an_unsampled_trace_that_still_propagates() {
        let (batcher, dispatch) = recording(Sampler::default());
        let remote = remote(TraceId::from(7), SpanId::from(9), false);
        let mut seen = None;
        tracing::dispatcher::with_default(&dispatch, || {
            let server = tracing::info_span!("grpc.server");
            set_remote_parent(&server, &remote);
            server.in_scope(|| seen = span_context(&tracing::info_span!("grpc.client")));
        });
        assert!(
            batcher.take().is_empty(),
            "nothing of the trace is exported"
        );
        let seen = seen.unwrap();
        assert_eq!(seen.trace_id(), TraceId::from(7));
        assert!(!seen.is_sampled());
    }

    #[test]
    fn a_sampled_caller_is_followed_even_when_roots_are_not_sampled() {
        let (batcher, dispatch) = recording(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
        let remote = remote(TraceId::from(7), SpanId::from(9), true);
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("own root", tenant = "t").in_scope(|| {});
            let server = tracing::info_span!("grpc.server", tenant = "t");
            set_remote_parent(&server, &remote);
            server.in_scope(|| tracing::info_span!("db").in_scope(|| {}));
        });
        let names: Vec<_> = batcher.take().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["db", "grpc.server"]);
    }

    #[test]
    fn transport_and_debug_spans_are_left_out_and_skipped_over() {
        let (batcher, dispatch) = recording(Sampler::default());
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("server").in_scope(|| {
                tracing::info_span!(target: "h2::proto", "h2 stream").in_scope(|| {
                    tracing::debug_span!("detail").in_scope(|| {
                        tracing::info_span!("db").in_scope(|| {});
                        tracing::info!("inside the debug span");
                    });
                    tracing::info!(target: "hyper::client", "transport event");
                });
            });
        });
        let spans = batcher.take();
        let names: Vec<_> = spans.iter().map(|s| s.name.as_ref()).collect();
        assert_eq!(names, ["db", "server"]);
        assert_eq!(spans[0].parent_span_id, spans[1].span_context.span_id());
        // The event inside the debug span lands on the nearest recorded span; the
        // transport's own event is not recorded.
        let events: Vec<_> = spans[1].events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(events, ["inside the debug span"]);
    }

    #[test]
    fn without_the_layer_there_is_no_context() {
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry());
        tracing::dispatcher::with_default(&dispatch, || {
            assert!(span_context(&tracing::info_span!("x")).is_none());
        });
    }
}
