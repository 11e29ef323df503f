//! The telemetry work of one service's share of a lookup, in one process, without the
//! network: a deterministic gauge for changes to the span layer and the log layer, which
//! end-to-end runs on a shared machine cannot resolve.
//!
//! Each "request" is what `grpc.server` (made by the services' own
//! `scim_telemetry::grpc::server_span`) and its database span go through in
//! identity-service: the server span with the service's fields, the caller's
//! `traceparent` continued and the trace id recorded (tracing on), a child span whose
//! context is read as for injection, three polls of each, and five fields recorded.
//! `off` has the log layer only (tracing off: no child span exists); `on` adds the span
//! layer (tracing-opentelemetry over the SDK's batch processor), exporting to an exporter
//! that only counts.
//!
//! ```sh
//! span-cost on 200000                # CPU µs per request
//! valgrind --tool=callgrind span-cost on 20000   # instructions: "Collected" / 20000
//! ```
//! `scripts/span-cost` runs every mode both ways. Method and results: docs/PERFORMANCE.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use scim_telemetry::traces;
use tracing::field::Empty;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Counts the spans it is given.
#[derive(Debug, Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl SpanExporter for Counting {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len(), Ordering::Relaxed);
        Ok(())
    }
}

type Boxed<S> = Box<dyn tracing_subscriber::Layer<S> + Send + Sync>;

/// The services' text log layer (colours off, as under a supervisor), writing nowhere.
fn log_layer<S>() -> Boxed<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
{
    let filter =
        tracing_subscriber::EnvFilter::new("info").and(tracing_subscriber::filter::filter_fn(
            |m| m.is_event() || scim_telemetry::LOGGED_SPANS.contains(&m.name()),
        ));
    tracing_subscriber::fmt::layer()
        .compact()
        .with_ansi(false)
        .with_writer(std::io::sink)
        .with_filter(filter)
        .boxed()
}

fn request(call: &http::Request<()>, traced: bool) {
    // The services' own span factory. Without `init` nothing is exported, so it leaves
    // the trace context alone; with tracing on, the same steps follow here.
    let server = scim_telemetry::grpc::server_span(call);
    if traced {
        if let Some(parent) = scim_telemetry::propagation::extract(call.headers()) {
            traces::set_remote_parent(&server, parent);
        }
        if let Some(sc) = traces::span_context(&server) {
            server.record("trace_id", sc.trace_id().to_string().as_str());
        }
    }
    let child = server.in_scope(|| {
        tracing::info_span!(
            "db",
            db.system.name = "sqlite",
            db.operation.name = "SELECT",
            db.collection.name = "users",
            rows = Empty
        )
    });
    if traced {
        std::hint::black_box(traces::span_context(&child));
    }
    for _ in 0..3 {
        let _polled = server.enter();
    }
    server.record("tenant", "default");
    server.record("client_id", "okta-provisioning");
    server.record("scim.resource_type", "User");
    server.record("scim.operation", "get");
    for _ in 0..3 {
        let _polled = child.enter();
    }
    child.record("rows", 1u64);
    drop(child);
    server.record("rpc.grpc.status_code", 0i64);
}

fn cpu_seconds() -> f64 {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in clock ticks (100 per
    // second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: span-cost <off|on> <requests>";
    let traced = match args.first().map(String::as_str) {
        Some("on") => true,
        Some("off") => false,
        _ => anyhow::bail!(usage),
    };
    let requests: usize = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!(usage))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let call = http::Request::builder()
        .uri("/identity.v1.IdentityService/GetUser")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(())?;
    let exported = Counting::default();
    // Room for every span, so that none is dropped when the export thread is starved
    // (as under callgrind, which runs one thread at a time).
    let batch = opentelemetry_sdk::trace::BatchConfigBuilder::default()
        .with_max_queue_size(2 * requests + 1)
        .build();
    let provider = runtime.block_on(async {
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_span_processor(
                opentelemetry_sdk::trace::BatchSpanProcessor::builder(exported.clone())
                    .with_batch_config(batch)
                    .build(),
            )
            .build()
    });
    let span_layer = traced.then(|| traces::layer(&provider, "span-cost"));
    let subscriber = tracing_subscriber::registry()
        .with(log_layer())
        .with(span_layer);

    let start = cpu_seconds();
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..requests {
            request(&call, traced);
        }
    });
    provider.shutdown()?;
    let cpu = cpu_seconds() - start;
    println!(
        "{}: {:.2} µs of CPU per request, {} spans exported",
        if traced { "on" } else { "off" },
        cpu * 1e6 / requests as f64,
        exported.0.load(Ordering::Relaxed),
    );
    Ok(())
}
