//! The HTTP server span of every request.
//!
//! A route layer opens `{method} {route}` (OpenTelemetry HTTP semantic conventions)
//! once routing has matched, continuing an incoming W3C `traceparent`; handlers add SCIM
//! attributes (result count, PATCH operation count, filter shape) to the same span.
//! The span is opened after routing because an OpenTelemetry span's name is fixed the
//! moment it starts. Requests no route matched get a span named `{method}` in the
//! fallback. Query strings and bodies are never recorded: they carry filter values and
//! personal data.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

use crate::error::ErrorKind;

fn request_span(method: &http::Method, name: &str) -> tracing::Span {
    tracing::info_span!(
        "http.server",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
        tenant = Empty,
        client_id = Empty,
        scim.resource_type = Empty,
        scim.operation = Empty,
        scim.result_count = Empty,
        scim.patch_ops = Empty,
        scim.filter_shape = Empty,
        trace_id = Empty,
    )
}

/// The SCIM resource type and operation a route template serves.
fn scim_operation(method: &http::Method, route: &str) -> Option<(&'static str, &'static str)> {
    let resource = if route.contains("/Users") {
        "User"
    } else if route.contains("/Groups") {
        "Group"
    } else {
        return None;
    };
    let op = match (
        method.as_str(),
        route.ends_with("{id}"),
        route.ends_with(".search"),
    ) {
        (_, _, true) => "search",
        ("GET", false, _) => "list",
        ("GET", true, _) => "get",
        ("POST", _, _) => "create",
        ("PUT", _, _) => "replace",
        ("PATCH", _, _) => "patch",
        ("DELETE", _, _) => "delete",
        _ => "other",
    };
    Some((resource, op))
}

/// Runs `next` inside `span` and records the outcome on the span and in the metrics.
async fn run_in_span(span: tracing::Span, route: &str, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    scim_telemetry::propagation::set_parent_from_headers(&span, req.headers());
    scim_telemetry::grpc::record_trace_id(&span);
    let start = std::time::Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if let Some(kind) = response.extensions().get::<ErrorKind>() {
        span.record("error.type", kind.0);
    }
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    scim_telemetry::metrics::record_http(
        method.as_str(),
        route,
        status.as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// Route layer: the request span of a matched route.
pub async fn route_span(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let span = request_span(&method, &format!("{method} {route}"));
    span.record("http.route", route.as_str());
    if let Some((resource, op)) = scim_operation(&method, &route) {
        span.record("scim.resource_type", resource);
        span.record("scim.operation", op);
    }
    run_in_span(span, &route, req, next).await
}

/// Outer middleware: a span named `{method}` for requests no route matched.
pub async fn unmatched_span(req: Request, next: Next) -> Response {
    if req.extensions().get::<MatchedPath>().is_some() {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let span = request_span(&method, method.as_str());
    run_in_span(span, "", req, next).await
}
