//! The telemetry work of one service's share of a lookup, in one process, without the
//! network: a deterministic gauge for changes to the span layer and the log layer, which
//! end-to-end runs on a shared machine cannot resolve.
//!
//! Each "request" is what `grpc.server` (made by the services' own
//! `scim_telemetry::grpc::server_span_naming`) and its database span go through in
//! identity-service: the server span with the service's fields and its SCIM operation,
//! the caller's `traceparent` continued and the trace and span ids recorded (tracing
//! on), a database child span (none when the trace is not sampled), three polls of
//! each, the caller's tenant and client and the final status recorded.
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

/// Counts the spans it is given.
#[derive(Debug, Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl SpanExporter for Counting {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len(), Ordering::Relaxed);
        Ok(())
    }
}

fn request(call: &http::Request<()>) {
    // The services' own span factory: it continues the caller's `traceparent` and
    // records the trace and span ids when spans are exported.
    let server = scim_telemetry::grpc::server_span_naming(call, |_| Some(("User", "get")));
    // As identity-service's database spans: none below an unsampled request.
    let child = server.in_scope(|| {
        traces::child_span(|| {
            tracing::info_span!(
                "db.query",
                otel.name = "SELECT users",
                otel.kind = "client",
                db.system.name = "sqlite",
                db.operation.name = "SELECT",
                db.collection.name = "users",
            )
        })
    });
    for _ in 0..3 {
        let _polled = server.enter();
    }
    tracing::record_all!(server, tenant = "default", client_id = "okta-provisioning");
    for _ in 0..3 {
        let _polled = child.enter();
    }
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
    // The services' own subscriber (log layer, and the span layer when tracing is on),
    // over this provider.
    let (dispatch, guard) = scim_telemetry::dispatch_over(
        "span-cost",
        &scim_telemetry::TelemetryArgs::default(),
        traced.then_some(provider),
    );

    let start = cpu_seconds();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..requests {
            request(&call);
        }
    });
    // Flushes and shuts the provider down.
    drop(guard);
    let cpu = cpu_seconds() - start;
    println!(
        "{}: {:.2} µs of CPU per request, {} spans exported",
        if traced { "on" } else { "off" },
        cpu * 1e6 / requests as f64,
        exported.0.load(Ordering::Relaxed),
    );
    Ok(())
}
