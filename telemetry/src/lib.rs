//! Tracing and OpenTelemetry setup shared by every binary of the stack.
//!
//! * [`init`] installs the global `tracing` subscriber: an `EnvFilter` (`RUST_LOG`,
//!   default `info`), a human or JSON log formatter ([`LogFormat`]), and, when an OTLP
//!   endpoint is configured through the standard `OTEL_*` variables,
//!   `tracing-opentelemetry`'s layer over the SDK's tracer provider ([`traces`]). It
//!   returns a [`TelemetryGuard`] that flushes and shuts the exporters down when dropped.
//!   [`dispatch`] builds the same subscriber without installing it, for a process that
//!   runs several services, each under its own name (`scimctl up`).
//! * [`propagation`] carries W3C trace context across gRPC metadata and HTTP headers.
//! * [`grpc`] holds the span factory every tonic server uses, so the context of an
//!   incoming call is picked up in one place rather than in handlers.

mod callsite_filter;
pub mod grpc;
pub mod metrics;
pub mod propagation;
#[cfg(test)]
mod test_support;
pub mod traces;

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt as _;
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
static METERING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports spans over OTLP: an endpoint is configured and
/// `OTEL_TRACES_EXPORTER` is not `none`.
///
/// Without it, trace context has nowhere to go, and the per-request work of
/// propagating and reading it is skipped (docs/PERFORMANCE.md).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Whether this process exports metrics over OTLP: [`init`] installed a meter provider
/// (an endpoint is configured and `OTEL_METRICS_EXPORTER` is not `none`). Without it
/// no measurement is recorded at all, not even its attributes built.
pub fn metering() -> bool {
    METERING.load(Ordering::Relaxed)
}

/// Whether the standard variable `var` (`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`)
/// asks for the OTLP exporter ([`otlp_chosen`]); a name that is not built in is
/// reported on standard error and OTLP is used.
fn otlp_wanted(service_name: &str, var: &str) -> bool {
    let value = std::env::var(var).unwrap_or_default();
    otlp_chosen(&value).unwrap_or_else(|problem| {
        // Logging is not up yet; this is the one line an operator needs.
        eprintln!("{service_name}: {var}: {problem}");
        true
    })
}

/// What an `OTEL_*_EXPORTER` value asks for: empty or `otlp` the OTLP exporter, `none`
/// no export of that signal; other exporters (`console`, `zipkin`, …) are not built in.
fn otlp_chosen(value: &str) -> Result<bool, String> {
    match value.trim() {
        "" | "otlp" => Ok(true),
        "none" => Ok(false),
        other => Err(format!(
            "exporter {other:?} is not supported (otlp, none); using otlp"
        )),
    }
}

/// Flushes and shuts down the span and metric exporters when dropped.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    spans: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
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
        if let Some(spans) = self.spans.take() {
            // The exporter's connection lives on the runtime it was built in: shutting
            // down here, before that runtime drops, delivers what is still queued.
            let _ = spans.shutdown();
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
    if otlp_endpoint().is_none() || !otlp_wanted(service_name, "OTEL_METRICS_EXPORTER") {
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

/// The log layer's filter by kind: events, and the spans in [`LOGGED_SPANS`]; with no
/// level opinion of its own, so that the level filter it is combined with still sets
/// the global maximum level.
const REQUEST_SPANS_ONLY: callsite_filter::ByCallsite = callsite_filter::ByCallsite::new(
    |meta| meta.is_event() || LOGGED_SPANS.contains(&meta.name()),
    tracing::level_filters::LevelFilter::TRACE,
);

/// The log layer: text or JSON lines on standard error, for events and the request
/// spans.
fn log_layer<S>(args: &TelemetryArgs) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info"))
            .and(REQUEST_SPANS_ONLY)
    };
    let ansi = std::io::stderr().is_terminal();
    match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .compact()
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
    }
}

/// Builds the subscriber of the service `service_name` without installing it: the log
/// layer, and the OpenTelemetry layer over a tracer provider of its own when an OTLP
/// endpoint is configured.
///
/// A process running several services gives each its own dispatcher (as the default
/// of the threads that run it), so each service's spans are exported under its own
/// `service.name`. Must run inside a multi-threaded Tokio runtime when an endpoint is
/// configured: the exporter's connection lives there.
pub fn dispatch(
    service_name: &str,
    args: &TelemetryArgs,
) -> Result<(tracing::Dispatch, TelemetryGuard), InitError> {
    let wanted = otlp_endpoint().is_some() && otlp_wanted(service_name, "OTEL_TRACES_EXPORTER");
    let provider = match wanted {
        true => {
            let runtime =
                tokio::runtime::Handle::try_current().map_err(|e| InitError(e.to_string()))?;
            // The batch processor's thread waits on the exporter's futures, whose I/O a
            // current-thread runtime drives only while its one thread is free, which it
            // is not while the guard's drop waits for the last batch.
            if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
                return Err(InitError(
                    "exporting spans needs Tokio's multi-threaded runtime".into(),
                ));
            }
            Some(traces::provider(service_name)?)
        }
        false => None,
    };
    Ok(dispatch_over(service_name, args, provider))
}

/// The subscriber [`dispatch`] builds, over a tracer provider the caller made (or none:
/// no span export), for a benchmark or test that needs the services' exact layers with
/// an exporter of its own. A provider marks the process as [`exporting`].
pub fn dispatch_over(
    service_name: &str,
    args: &TelemetryArgs,
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
) -> (tracing::Dispatch, TelemetryGuard) {
    let span_layer = provider.as_ref().map(|p| traces::layer(p, service_name));
    let subscriber = tracing_subscriber::registry()
        .with(log_layer(args))
        .with(span_layer);
    EXPORTING.fetch_or(provider.is_some(), Ordering::Relaxed);
    (
        tracing::Dispatch::new(subscriber),
        TelemetryGuard {
            spans: provider,
            meters: None,
        },
    )
}

/// Installs the global subscriber, propagator and meter provider for a service.
///
/// Call once, early in `main`, inside the Tokio runtime (multi-threaded, when an OTLP
/// endpoint is configured).
pub fn init(service_name: &str, args: &TelemetryArgs) -> Result<TelemetryGuard, InitError> {
    // For any library that asks the global API; the stack's own code uses
    // `propagation::propagator` directly.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let (dispatch, mut guard) = dispatch(service_name, args)?;
    // Also routes the `log` crate's records into `tracing`.
    dispatch.try_init().map_err(|e| InitError(e.to_string()))?;
    guard.meters = otlp_meters(service_name)?;
    if let Some(m) = &guard.meters {
        opentelemetry::global::set_meter_provider(m.clone());
        METERING.store(true, Ordering::Relaxed);
    }
    Ok(guard)
}

/// Installs a quiet subscriber for tests: output goes through the test harness and only
/// shows with `TEST_LOG=1`. Safe to call many times.
pub fn init_for_tests() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
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

#[cfg(test)]
mod tests {
    use super::otlp_chosen;

    #[test]
    fn an_exporter_variable_chooses_otlp_or_none_and_names_what_it_cannot_do() {
        assert_eq!(otlp_chosen(""), Ok(true));
        assert_eq!(otlp_chosen("otlp"), Ok(true));
        assert_eq!(otlp_chosen(" none "), Ok(false));
        let problem = otlp_chosen("zipkin").unwrap_err();
        assert!(problem.contains("\"zipkin\""), "{problem}");
    }
}
