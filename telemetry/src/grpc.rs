//! The server span of every gRPC call.

use crate::propagation::set_parent_from_headers;

/// Builds the span of an incoming gRPC call, continuing the caller's W3C trace context.
///
/// Pass it to `tonic::transport::Server::builder().trace_fn(..)`. Span names follow the
/// OpenTelemetry RPC conventions: `{package.Service}/{Method}`.
pub fn server_span(req: &http::Request<()>) -> tracing::Span {
    let path = req.uri().path().trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        tenant = tracing::field::Empty,
        client_id = tracing::field::Empty,
    );
    set_parent_from_headers(&span, req.headers());
    span
}
