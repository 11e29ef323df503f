//! Spans and metrics of gRPC calls, on both sides of every hop.
//!
//! * [`server_span`] is the span factory of every tonic server
//!   (`Server::builder().trace_fn(server_span)`); it continues the caller's W3C trace
//!   context from the request headers.
//! * [`ServerStatusLayer`] (a server `.layer(..)`) records the call's final gRPC status
//!   and duration on that span and in the metrics.
//! * [`ClientLayer`] wraps a client channel: one client span per call, the trace context
//!   injected into the outgoing headers, status and duration recorded the same way.
//!
//! The gRPC status of a successful unary call arrives in the trailers, after the body;
//! the response body is wrapped so the status is read when the trailers pass by, and the
//! span stays open until then.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use opentelemetry::KeyValue;
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::metrics::instruments;
use crate::propagation::set_parent_from_headers;

/// Splits `/package.Service/Method`.
fn service_and_method(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.split_once('/').unwrap_or((path, ""))
}

/// Builds the span of an incoming gRPC call, continuing the caller's W3C trace context.
///
/// Span names follow the OpenTelemetry RPC conventions: `{package.Service}/{Method}`.
pub fn server_span(req: &http::Request<()>) -> tracing::Span {
    let path = req.uri().path();
    let (service, method) = service_and_method(path);
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = Empty,
        error.type = Empty,
        tenant = Empty,
        client_id = Empty,
        trace_id = Empty,
        span_id = Empty,
        // Recorded by the services' handlers when they apply.
        scim.resource_type = Empty,
        scim.operation = Empty,
        scim.filter_shape = Empty,
        scim.result_count = Empty,
        scim.total_results = Empty,
        scim.members_added = Empty,
        scim.members_removed = Empty,
        db.index = Empty,
    );
    set_parent_from_headers(&span, req.headers());
    record_trace_id(&span);
    span
}

/// Copies the OpenTelemetry trace and span ids into the span's `trace_id` and `span_id`
/// fields, so every log line inside the request carries them.
pub fn record_trace_id(span: &tracing::Span) {
    if !crate::exporting() {
        return;
    }
    if let Some(sc) = crate::traces::span_context(span) {
        span.record("trace_id", sc.trace_id().to_string().as_str());
        span.record("span_id", sc.span_id().to_string().as_str());
    }
}

/// Which side of the call a recorder is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// Records the end of one call, once.
#[derive(Debug)]
struct Recorder {
    span: tracing::Span,
    side: Side,
    /// The call's URI, whose path names the service and method; cloning it shares the
    /// bytes rather than copying them.
    uri: http::Uri,
    start: Instant,
    done: bool,
}

impl Recorder {
    fn new(span: tracing::Span, side: Side, uri: http::Uri) -> Self {
        Recorder {
            span,
            side,
            uri,
            start: Instant::now(),
            done: false,
        }
    }

    fn finish(&mut self, code: Option<i32>) {
        if self.done {
            return;
        }
        self.done = true;
        // No status at all means the stream broke: report it as UNKNOWN (2).
        let code = code.unwrap_or(2);
        self.span.record("rpc.grpc.status_code", code);
        let failed = match self.side {
            Side::Client => code != 0,
            // Server spans are errors only for codes that mean the server failed.
            Side::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
        };
        if failed {
            self.span.record("otel.status_code", "ERROR");
            self.span.record("error.type", code_name(code));
        }
        if !crate::exporting() {
            return;
        }
        let (service, method) = service_and_method(self.uri.path());
        let attrs = [
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", service.to_owned()),
            KeyValue::new("rpc.method", method.to_owned()),
            KeyValue::new("rpc.grpc.status_code", i64::from(code)),
        ];
        let i = instruments();
        let secs = self.start.elapsed().as_secs_f64();
        match self.side {
            Side::Server => i.rpc_server_duration.record(secs, &attrs),
            Side::Client => i.rpc_client_duration.record(secs, &attrs),
        }
        if code != 0 {
            i.rpc_errors.add(1, &attrs);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Dropped before the trailers: the caller went away (CANCELLED, 1).
        if !self.done {
            self.finish(Some(1));
        }
    }
}

/// The canonical name of a gRPC status code.
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

fn status_in(headers: &http::HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

pin_project_lite::pin_project! {
    /// A response body that records the gRPC status found in its trailers.
    pub struct StatusBody<B> {
        #[pin]
        inner: B,
        recorder: Option<Recorder>,
    }
}

impl<B> http_body::Body for StatusBody<B>
where
    B: http_body::Body,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(t) = f.trailers_ref()
                    && let Some(mut r) = this.recorder.take()
                {
                    r.finish(status_in(t));
                }
            }
            Some(Err(_)) | None => {
                if let Some(mut r) = this.recorder.take() {
                    r.finish(None);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn wrap_response<B>(
    resp: http::Response<B>,
    mut recorder: Recorder,
) -> http::Response<StatusBody<B>> {
    // Trailers-only responses (most errors) carry the status in the headers.
    let recorder = match status_in(resp.headers()) {
        Some(code) => {
            recorder.finish(Some(code));
            None
        }
        None => Some(recorder),
    };
    resp.map(|inner| StatusBody { inner, recorder })
}

/// Server layer: records status and duration of every call on the `trace_fn` span.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerStatusLayer;

impl<S> tower::Layer<S> for ServerStatusLayer {
    type Service = ServerStatus<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerStatus { inner }
    }
}

/// The service [`ServerStatusLayer`] builds.
#[derive(Debug, Clone)]
pub struct ServerStatus<S> {
    inner: S,
}

impl<S, ReqB, ResB> tower::Service<http::Request<ReqB>> for ServerStatus<S>
where
    S: tower::Service<http::Request<ReqB>, Response = http::Response<ResB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResB: Send + 'static,
{
    type Response = http::Response<StatusBody<ResB>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqB>) -> Self::Future {
        let uri = req.uri().clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            // tonic enters the `trace_fn` span while polling, not while calling: the
            // span is picked up here, inside the future.
            let recorder = Recorder::new(tracing::Span::current(), Side::Server, uri);
            fut.await.map(|r| wrap_response(r, recorder))
        })
    }
}

/// Client layer: one client span per call, trace context injected into the headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientLayer;

impl<S> tower::Layer<S> for ClientLayer {
    type Service = Client<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Client { inner }
    }
}

/// The service [`ClientLayer`] builds.
#[derive(Debug, Clone)]
pub struct Client<S> {
    inner: S,
}

impl<S, ReqB, ResB> tower::Service<http::Request<ReqB>> for Client<S>
where
    S: tower::Service<http::Request<ReqB>, Response = http::Response<ResB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResB: Send + 'static,
{
    type Response = http::Response<StatusBody<ResB>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqB>) -> Self::Future {
        let uri = req.uri().clone();
        let path = uri.path();
        let (service, method) = service_and_method(path);
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "client",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = Empty,
            error.type = Empty,
        );
        crate::propagation::inject(&span, req.headers_mut());
        let recorder = Recorder::new(span.clone(), Side::Client, uri);
        let fut = self.inner.call(req);
        Box::pin(
            async move {
                match fut.await {
                    Ok(r) => Ok(wrap_response(r, recorder)),
                    Err(e) => {
                        let mut recorder = recorder;
                        recorder.finish(Some(14));
                        Err(e)
                    }
                }
            }
            .instrument(span),
        )
    }
}
