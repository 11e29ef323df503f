//! The route layers every request passes: its HTTP server span and, on the SCIM
//! routes, the bearer-token check inside that span.
//!
//! A route layer opens `{method} {route}` (OpenTelemetry HTTP semantic conventions)
//! once routing has matched, continuing an incoming W3C `traceparent`; handlers add SCIM
//! attributes (result count, PATCH operation count, filter shape) to the same span.
//! The span is opened after routing because an OpenTelemetry span's name is fixed the
//! moment it starts. Requests no route matched get a span named `{method}` in the
//! fallback. Query strings and bodies are never recorded: they carry filter values and
//! personal data.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use tracing::Instrument;
use tracing::field::Empty;

use crate::error::ErrorKind;
use crate::state::AppState;

/// The request span; everything known before the handler runs is given here rather
/// than recorded afterwards, since every `record` goes through each layer again.
fn request_span(method: &http::Method, name: &str, route: Option<&str>) -> tracing::Span {
    span_of_kind(method, name, route, "server")
}

/// A request span of OpenTelemetry kind `kind`: `server` for what arrives over HTTP,
/// `internal` for a `/Bulk` operation, which runs inside the Bulk request's span.
fn span_of_kind(
    method: &http::Method,
    name: &str,
    route: Option<&str>,
    kind: &'static str,
) -> tracing::Span {
    let (resource, operation) = route.and_then(|r| scim_operation(method, r)).unzip();
    tracing::info_span!(
        "http.server",
        otel.name = %name,
        otel.kind = kind,
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = route,
        http.response.status_code = Empty,
        error.type = Empty,
        tenant = Empty,
        client_id = Empty,
        scim.resource_type = resource,
        scim.operation = operation,
        scim.result_count = Empty,
        scim.patch_ops = Empty,
        scim.filter_shape = Empty,
        trace_id = Empty,
        span_id = Empty,
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

/// Runs `handle` inside `span` and records the outcome on the span and in the metrics.
async fn run_in_span<F>(span: tracing::Span, route: &str, req: Request, handle: F) -> Response
where
    F: AsyncFnOnce(Request) -> Response,
{
    let method = req.method().clone();
    scim_telemetry::propagation::set_parent_from_headers(&span, req.headers());
    scim_telemetry::grpc::record_trace_id(&span);
    let start = std::time::Instant::now();
    let response = handle(req).instrument(span.clone()).await;
    record_outcome(&span, &method, route, &response, start);
    response
}

fn record_outcome(
    span: &tracing::Span,
    method: &http::Method,
    route: &str,
    response: &Response,
    start: std::time::Instant,
) {
    let status = response.status();
    record_status(span, response);
    scim_telemetry::metrics::record_http(
        method.as_str(),
        route,
        status.as_u16(),
        start.elapsed().as_secs_f64(),
    );
}

/// The request span of a matched route, and its route template.
fn matched_span(req: &Request) -> (tracing::Span, Option<MatchedPath>) {
    let method = req.method();
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("", MatchedPath::as_str);
    let span = request_span(method, &format!("{method} {route}"), Some(route));
    (span, matched)
}

/// Route layer of the OAuth and health routes: the request span.
pub async fn route_span(req: Request, next: Next) -> Response {
    let (span, route) = matched_span(&req);
    let route = route.as_ref().map_or("", MatchedPath::as_str);
    run_in_span(span, route, req, async |req| next.run(req).await).await
}

/// Route layer of the SCIM routes: the request span, and inside it the bearer token
/// ([`crate::auth::authenticated`]). One layer rather than two: each `from_fn` layer
/// boxes the request's future and clones the inner service on every request.
pub async fn scim_route_span(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (span, route) = matched_span(&req);
    let route = route.as_ref().map_or("", MatchedPath::as_str);
    run_in_span(span, route, req, async |req| {
        crate::auth::authenticated(state, req, next).await
    })
    .await
}

/// Route layer of the routes `/Bulk` operations go through
/// ([`crate::routes::bulk`]): a child span of the Bulk request's span per operation, and
/// the per-provider rate limit, which counts each operation as one request. The token
/// was verified once, for the Bulk request; its caller is in the request extensions.
pub async fn bulk_operation_span(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("", MatchedPath::as_str);
    let span = span_of_kind(
        &method,
        &format!("bulk {method} {route}"),
        Some(route),
        "internal",
    );
    let caller = req
        .extensions()
        .get::<crate::auth::Authenticated>()
        .map(|a| a.caller.clone());
    let response = async {
        if let Some(c) = &caller {
            let span = tracing::Span::current();
            tracing::record_all!(
                span,
                tenant = c.tenant.as_str(),
                client_id = c.client_id.as_str()
            );
            if let Err(retry_after) = state.rate_limiter.check(&c.client_id) {
                return crate::error::ScimError::TooManyRequests { retry_after }.into_response();
            }
        }
        next.run(req).await
    }
    .instrument(span.clone())
    .await;
    record_status(&span, &response);
    response
}

/// Records a response's status and error kind on its span, in one record: each record
/// goes through every layer.
fn record_status(span: &tracing::Span, response: &Response) {
    let status = response.status();
    let error = response.extensions().get::<ErrorKind>().map(|k| k.0);
    tracing::record_all!(
        span,
        http.response.status_code = status.as_u16(),
        error.type = error,
        otel.status_code = status.is_server_error().then_some("ERROR")
    );
}

/// Answers a request no route matched with `respond`, in a span named `{method}`.
pub async fn unmatched(req: Request, respond: impl FnOnce() -> Response) -> Response {
    let span = request_span(req.method(), req.method().as_str(), None);
    run_in_span(span, "", req, async |_| respond()).await
}
