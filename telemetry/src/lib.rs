//! Tracing and OpenTelemetry setup shared by every binary of the stack.
//!
//! * [`init`] installs the global `tracing` subscriber: an `EnvFilter` (`RUST_LOG`,
//!   default `info`), a human or JSON log formatter ([`LogFormat`]), and, when an OTLP
//!   endpoint is configured through the standard `OTEL_*` variables, a span layer
//!   exporting over OTLP/gRPC in batches ([`traces`]). It returns a [`TelemetryGuard`]
//!   that flushes and shuts the exporter down when dropped.
//! * [`propagation`] carries W3C trace context across gRPC metadata and HTTP headers.
//! * [`grpc`] holds the span factory every tonic server uses, so the context of an
//!   incoming call is picked up in one place rather than in handlers.

pub mod grpc;
pub mod log_fields;
pub mod metrics;
pub mod propagation;
pub mod traces;

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Compact human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the current span's fields.
    Json,
}

/// Logging flags every binary accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TelemetryArgs {
    /// Log line format.
    #[arg(long = "log-format", env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports spans and metrics over OTLP: [`init`] found an endpoint.
///
/// Without one, trace context and metrics have nowhere to go, and the per-request work
/// of propagating, reading and recording them is skipped (docs/PERFORMANCE.md).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Flushes and shuts down the span and metric exporters when dropped.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    spans: Option<traces::Exporting>,
    meters: Option<opentelemetry_sdk::metrics::SdkMeterProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.spans.is_some()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(mut spans) = self.spans.take() {
            // The export thread drives the tonic exporter on the runtime: shutting down
            // here (before the runtime drops) delivers what is still queued.
            spans.shutdown();
        }
        if let Some(meters) = self.meters.take() {
            let _ = meters.shutdown();
        }
    }
}

/// The OTLP endpoint configured through the standard variables, if any.
fn otlp_endpoint() -> Option<String> {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok())
    .find(|v| !v.trim().is_empty())
}

/// Errors that prevent telemetry from starting.
#[derive(Debug)]
pub struct InitError(String);

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "telemetry setup failed: {}", self.0)
    }
}

impl std::error::Error for InitError {}

/// Starts the span export pipeline to the configured OTLP endpoint: the layer that
/// records spans, and the thread that exports them.
///
/// Must run inside a multi-threaded Tokio runtime: the tonic exporter's connection
/// lives there.
fn otlp_spans(
    service_name: &str,
) -> Result<Option<(traces::SpanLayer, traces::Exporting)>, InitError> {
    if otlp_endpoint().is_none() {
        return Ok(None);
    }
    // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)* itself: endpoint, headers and
    // timeout (TLS and compression are opentelemetry-otlp features this build leaves
    // off).
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|e| InitError(e.to_string()))?;
    opentelemetry_sdk::trace::SpanExporter::set_resource(&mut exporter, &resource(service_name));
    let sampler = traces::Sampler::from_env().unwrap_or_else(|e| {
        // Logging is not up yet; this is the one line an operator needs.
        eprintln!("{e}");
        traces::Sampler::default()
    });
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| InitError(e.to_string()))?;
    // The export thread drives the exporter with `Handle::block_on`, which on a
    // current-thread runtime makes no progress on I/O while that thread is busy, as it
    // is when the guard's drop waits for the last batch.
    if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Err(InitError(
            "exporting spans needs Tokio's multi-threaded runtime".into(),
        ));
    }
    let (batcher, exporting) =
        traces::start_export(exporter, traces::BatchConfig::from_env(), runtime)
            .map_err(|e| InitError(e.to_string()))?;
    Ok(Some((
        traces::SpanLayer::new(sampler, batcher, service_name),
        exporting,
    )))
}

/// The service's OpenTelemetry resource: `OTEL_SERVICE_NAME` wins over the binary's own
/// name, and `OTEL_RESOURCE_ATTRIBUTES` is read by the SDK.
fn resource(service_name: &str) -> opentelemetry_sdk::Resource {
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service_name.to_owned());
    }
    resource.build()
}

/// Builds the meter provider that exports to the configured OTLP endpoint.
fn otlp_meters(
    service_name: &str,
) -> Result<Option<opentelemetry_sdk::metrics::SdkMeterProvider>, InitError> {
    if otlp_endpoint().is_none() {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .build()
        .map_err(|e| InitError(e.to_string()))?;
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter).build();
    Ok(Some(
        opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_resource(resource(service_name))
            .with_reader(reader)
            .build(),
    ))
}

/// The spans log lines carry: the request's own span (`http.server` in the gateway,
/// `grpc.server` in the services), which holds the trace id and the request's outcome.
///
/// The inner spans (gRPC client, database, per-operation) go to traces only: the log
/// layer formats every field of every span it sees into a string when the span opens,
/// and for those inner spans that cost about a tenth of a lookup's CPU in the gateway
/// for fields nobody reads in a log line (docs/PERFORMANCE.md).
pub const LOGGED_SPANS: [&str; 2] = ["http.server", "grpc.server"];

/// The log layer's filter by kind: events, and the spans in [`LOGGED_SPANS`].
///
/// Decided once per callsite (metadata is static), and with no level opinion of its
/// own, so that the level filter it is combined with still sets the global maximum
/// level: without that, every `trace_span!` inside h2 would be evaluated per request.
struct RequestSpansOnly;

impl RequestSpansOnly {
    fn wants(meta: &tracing::Metadata<'_>) -> bool {
        meta.is_event() || LOGGED_SPANS.contains(&meta.name())
    }
}

impl<S> tracing_subscriber::layer::Filter<S> for RequestSpansOnly {
    fn enabled(
        &self,
        meta: &tracing::Metadata<'_>,
        _: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        Self::wants(meta)
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if Self::wants(meta) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
}

/// Installs the global subscriber and propagator for a service.
///
/// Call once, early in `main`, inside the Tokio runtime (multi-threaded, when an OTLP
/// endpoint is configured).
pub fn init(service_name: &str, args: &TelemetryArgs) -> Result<TelemetryGuard, InitError> {
    opentelemetry::global::set_text_map_propagator(propagation::propagator());
    let spans = otlp_spans(service_name)?;
    let meters = otlp_meters(service_name)?;

    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info"))
            .and(RequestSpansOnly)
    };
    let ansi = std::io::stderr().is_terminal();
    let fmt_layer = match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .compact()
            .fmt_fields(log_fields::TextFields)
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
    };
    // The span layer leaves out the exporter's own transport by itself
    // (`traces::SpanLayer`), without a per-layer filter.
    let (span_layer, spans) = spans.unzip();
    tracing_subscriber::registry()
        .with(fmt_layer)
        .with(span_layer)
        .try_init()
        .map_err(|e| InitError(e.to_string()))?;
    EXPORTING.store(spans.is_some(), Ordering::Relaxed);
    if let Some(m) = &meters {
        opentelemetry::global::set_meter_provider(m.clone());
    }
    Ok(TelemetryGuard { spans, meters })
}

/// Installs a quiet subscriber for tests: output goes through the test harness and only
/// shows with `TEST_LOG=1`. Safe to call many times.
pub fn init_for_tests() {
    opentelemetry::global::set_text_map_propagator(propagation::propagator());
    let level = if std::env::var_os("TEST_LOG").is_some() {
        "debug"
    } else {
        "off"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(level))
        .with_test_writer()
        .try_init();
}

/// Resolves when the process receives Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio_signal_ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn tokio_signal_ctrl_c() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
