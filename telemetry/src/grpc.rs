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
    server_span_naming(req, |_| None)
}

/// [`server_span`], with the SCIM resource type and operation that `scim` finds for the
/// call's method (`GetUser` → `("User", "get")`) given when the span opens rather than
/// recorded by the handler: every record goes through each layer again.
pub fn server_span_naming(
    req: &http::Request<()>,
    scim: impl FnOnce(&str) -> Option<(&'static str, &'static str)>,
) -> tracing::Span {
    let path = req.uri().path();
    let (service, method) = service_and_method(path);
    let (resource, operation) = scim(method).unzip();
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
        scim.resource_type = resource,
        scim.operation = operation,
        scim.filter_shape = Empty,
        scim.patch_ops = Empty,
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
        // One record for both: each record goes through every layer.
        tracing::record_all!(span, trace_id = %sc.trace_id(), span_id = %sc.span_id());
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
        let failed = match self.side {
            Side::Client => code != 0,
            // Server spans are errors only for codes that mean the server failed.
            Side::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
        };
        if failed {
            tracing::record_all!(
                self.span,
                rpc.grpc.status_code = code,
                otel.status_code = "ERROR",
                error.type = code_name(code)
            );
        } else {
            self.span.record("rpc.grpc.status_code", code);
        }
        if !crate::metering() {
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

/// The span of an outgoing call to `path` (`/package.Service/Method`).
fn client_span(path: &str) -> tracing::Span {
    let (service, method) = service_and_method(path);
    tracing::info_span!(
        "grpc.client",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "client",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = Empty,
        error.type = Empty,
    )
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
        let span = match crate::traces::unsampled_current() {
            // In a trace that is not sampled the call gets no span of its own (see
            // `traces::child_span`); the callee learns the decision from the caller's
            // context and follows it.
            Some(current) => {
                crate::propagation::inject(&current, req.headers_mut());
                tracing::Span::none()
            }
            None => {
                let span = client_span(uri.path());
                crate::propagation::inject(&span, req.headers_mut());
                span
            }
        };
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::test_support::{Traced, request_span, subscriber};

    /// The `traceparent` a call made inside `request` carries, and the span exporter's
    /// names once the call is over.
    fn call_inside(traceparent: &str) -> (String, String, Vec<String>) {
        let Traced {
            dispatch,
            provider,
            collected,
            guard: _guard,
        } = subscriber();
        let sent = Arc::new(Mutex::new(None));
        let (request_id, outgoing) = tracing::dispatcher::with_default(&dispatch, || {
            let request = request_span(traceparent);
            let request_id = crate::traces::span_context(&request)
                .unwrap()
                .span_id()
                .to_string();
            let inner = tower::service_fn({
                let sent = sent.clone();
                move |req: http::Request<()>| {
                    *sent.lock().unwrap() = req.headers().get("traceparent").cloned();
                    std::future::ready(Ok::<_, std::convert::Infallible>(http::Response::new(())))
                }
            });
            let mut client = tower::Layer::layer(&ClientLayer, inner);
            let call = http::Request::builder()
                .uri("/identity.v1.IdentityService/GetUser")
                .body(())
                .unwrap();
            // The headers are written when the call is made; the call is then dropped.
            drop(request.in_scope(|| tower::Service::call(&mut client, call)));
            (request_id, sent.lock().unwrap().take())
        });
        provider.force_flush().unwrap();
        let outgoing = outgoing.expect("a traceparent was sent");
        (
            request_id,
            outgoing.to_str().unwrap().to_owned(),
            collected.names(),
        )
    }

    #[test]
    fn a_call_in_an_unsampled_trace_has_no_span_and_passes_the_decision_on() {
        let (request_id, sent, exported) =
            call_inside("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assert_eq!(
            sent,
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{request_id}-00"),
            "the request's own span is the callee's parent"
        );
        assert!(exported.is_empty(), "{exported:?}");
    }

    #[test]
    fn a_call_in_a_sampled_trace_has_a_client_span_that_parents_the_callee() {
        let (request_id, sent, exported) =
            call_inside("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let parts: Vec<&str> = sent.split('-').collect();
        assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(parts[2], request_id, "a client span of its own");
        assert_eq!(parts[3], "01");
        assert!(
            exported
                .iter()
                .any(|n| n == "identity.v1.IdentityService/GetUser"),
            "{exported:?}"
        );
    }
}
