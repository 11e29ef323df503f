//! The HTTP server span of every request.
//!
//! One outer middleware opens `{method} {route}` (OpenTelemetry HTTP semantic
//! conventions), continuing an incoming W3C `traceparent`; a route layer records the
//! matched route template once routing is done; handlers add SCIM attributes (result
//! count, PATCH operation count, filter shape) to the same span. Query strings and
//! bodies are never recorded: they carry filter values and personal data.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

use crate::error::ErrorKind;

/// The route template a response was routed by.
#[derive(Debug, Clone)]
struct RouteRecorded(String);

/// Outer middleware: the request span.
pub async fn http_span(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let span = tracing::info_span!(
        "http.server",
        otel.name = Empty,
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
    );
    scim_telemetry::propagation::set_parent_from_headers(&span, req.headers());
    scim_telemetry::grpc::record_trace_id(&span);
    let start = std::time::Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    let route = match response.extensions().get::<RouteRecorded>() {
        Some(r) => r.0.clone(),
        None => {
            span.record("otel.name", method.as_str());
            String::new()
        }
    };
    let status = response.status();
    scim_telemetry::metrics::record_http(
        method.as_str(),
        &route,
        status.as_u16(),
        start.elapsed().as_secs_f64(),
    );
    span.record("http.response.status_code", status.as_u16());
    if let Some(kind) = response.extensions().get::<ErrorKind>() {
        span.record("error.type", kind.0);
    }
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}

/// Route layer: records the matched route template and the SCIM resource type.
pub async fn record_route(req: Request, next: Next) -> Response {
    let span = tracing::Span::current();
    let method = req.method().clone();
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    if let Some(route) = matched.as_deref() {
        span.record("http.route", route);
        span.record("otel.name", format!("{method} {route}"));
        let resource = if route.contains("/Users") {
            Some("User")
        } else if route.contains("/Groups") {
            Some("Group")
        } else {
            None
        };
        if let Some(r) = resource {
            span.record("scim.resource_type", r);
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
            span.record("scim.operation", op);
        }
    }
    let mut response = next.run(req).await;
    if let Some(route) = matched {
        response.extensions_mut().insert(RouteRecorded(route));
    }
    response
}
