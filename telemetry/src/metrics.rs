//! Request metrics: duration histograms (whose counts are the request counts) and error
//! counters, per HTTP route and per RPC, exported over OTLP with the spans.
//!
//! Instruments come from the global meter, which is a no-op until [`crate::init`]
//! installs an OTLP meter provider; without one ([`crate::metering`]) nothing is
//! recorded at all, not even the attributes are built.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

/// Every instrument of the stack.
pub struct Instruments {
    /// `http.server.request.duration`, seconds.
    pub http_duration: Histogram<f64>,
    /// `http.server.errors`: responses with status ≥ 400.
    pub http_errors: Counter<u64>,
    /// `rpc.server.duration`, seconds.
    pub rpc_server_duration: Histogram<f64>,
    /// `rpc.client.duration`, seconds.
    pub rpc_client_duration: Histogram<f64>,
    /// `rpc.server.errors` / `rpc.client.errors`: calls ending with a non-OK status.
    pub rpc_errors: Counter<u64>,
}

/// The instruments, created on first use.
pub fn instruments() -> &'static Instruments {
    static I: OnceLock<Instruments> = OnceLock::new();
    I.get_or_init(|| {
        let meter = opentelemetry::global::meter("scim-stack");
        Instruments {
            http_duration: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("Duration of HTTP server requests")
                .build(),
            http_errors: meter
                .u64_counter("http.server.errors")
                .with_description("HTTP responses with a status of 400 or more")
                .build(),
            rpc_server_duration: meter
                .f64_histogram("rpc.server.duration")
                .with_unit("s")
                .with_description("Duration of gRPC calls served")
                .build(),
            rpc_client_duration: meter
                .f64_histogram("rpc.client.duration")
                .with_unit("s")
                .with_description("Duration of gRPC calls made")
                .build(),
            rpc_errors: meter
                .u64_counter("rpc.errors")
                .with_description("gRPC calls that ended with a non-OK status")
                .build(),
        }
    })
}

/// Records one HTTP request.
pub fn record_http(method: &str, route: &str, status: u16, seconds: f64) {
    if !crate::metering() {
        return;
    }
    let attrs = [
        KeyValue::new("http.request.method", method.to_owned()),
        KeyValue::new("http.route", route.to_owned()),
        KeyValue::new("http.response.status_code", i64::from(status)),
    ];
    let i = instruments();
    i.http_duration.record(seconds, &attrs);
    if status >= 400 {
        i.http_errors.add(1, &attrs);
    }
}
