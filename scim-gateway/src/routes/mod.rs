//! HTTP routes, one module per resource; the router itself is built in [`router`].

pub mod bulk;
pub mod discovery;
pub mod groups;
pub mod health;
mod listing;
pub mod oauth;
mod projection;
pub mod response;
pub mod search;
pub mod users;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Router};

use serde_json::Value;

use crate::error::ScimError;
use crate::state::AppState;

/// SCIM base path.
pub const SCIM_PREFIX: &str = "/scim/v2";

/// Ids longer than this cannot exist; they are answered 404 without a round trip.
use scim_model::limits::MAX_ID_BYTES;

/// 404 with `detail` for an id that cannot name a resource, before any upstream call.
fn check_id(id: &str, detail: &str) -> Result<(), ScimError> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(ScimError::NotFound(detail.into()));
    }
    Ok(())
}

/// Rejects a body `id` that differs from the path id (RFC 7643: `id` is read-only).
pub(crate) fn check_body_id(body: &Value, id: &str) -> Result<(), ScimError> {
    let body_id = body.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("id"))
            .map(|(_, v)| v)
    });
    match body_id {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s == id => Ok(()),
        Some(_) => Err(ScimError::mutability(
            "`id` is read-only and must match the resource being replaced",
        )),
    }
}

/// 404 for every path no route matches, as a SCIM error, in a request span of its own
/// (routes get theirs from their route layer).
async fn not_found(req: Request) -> Response {
    crate::request_layer::unmatched(req, || {
        ScimError::NotFound("no such endpoint".into()).into_response()
    })
    .await
}

/// 405 for a known path with an unsupported method.
async fn method_not_allowed(method: Method) -> ScimError {
    ScimError::MethodNotAllowed(format!("{method} is not supported on this endpoint"))
}

/// `path` under [`SCIM_PREFIX`]. The SCIM routes carry the prefix themselves rather than
/// being nested under it: a nested router rewrites every request's URI on the way in.
fn scim_path(path: &str) -> String {
    format!("{SCIM_PREFIX}{path}")
}

/// The resource routes: `/Users` and `/Groups`, their items and their searches.
fn resources() -> Router<AppState> {
    Router::new()
        .route(
            &scim_path("/Users"),
            get(listing::list::<users::Users>).post(users::create),
        )
        .route(
            &scim_path("/Users/{id}"),
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route(&scim_path("/Users/.search"), post(search::users))
        .route(
            &scim_path("/Groups"),
            get(listing::list::<groups::Groups>).post(groups::create),
        )
        .route(
            &scim_path("/Groups/{id}"),
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route(&scim_path("/Groups/.search"), post(search::groups))
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // `/Bulk` sends its operations through the resource routes again, in a layer that
    // takes the caller the Bulk request was verified as.
    let bulk_operations = bulk::OperationRoutes(
        resources()
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                crate::request_layer::bulk_operation_span,
            ))
            .with_state(state.clone()),
    );
    // One route layer per request: the request span, then (on SCIM routes) the token.
    let directory = resources()
        .route(&scim_path("/.search"), post(search::root))
        .route(
            &scim_path("/ServiceProviderConfig"),
            get(discovery::service_provider_config),
        )
        .route(&scim_path("/Schemas"), get(discovery::schemas))
        .route(&scim_path("/Schemas/{id}"), get(discovery::schema))
        .route(&scim_path("/ResourceTypes"), get(discovery::resource_types))
        .route(
            &scim_path("/ResourceTypes/{id}"),
            get(discovery::resource_type),
        )
        .route(
            &scim_path("/Bulk"),
            post(bulk::handle)
                .layer::<_, std::convert::Infallible>(Extension(bulk_operations))
                // The Bulk body has its own limit, the advertised maxPayloadSize.
                .layer(axum::extract::DefaultBodyLimit::max(
                    scim_model::limits::MAX_BULK_PAYLOAD_BYTES,
                )),
        )
        .route(
            &scim_path("/Me"),
            any(|| async { ScimError::NotImplemented("/Me is not supported".into()) }),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::request_layer::scim_route_span,
        ));

    let oauth = Router::new()
        .route("/oauth2/token", post(oauth::token))
        .route("/iso/oauth2/token", post(oauth::token))
        .route("/oauth2/introspect", post(oauth::introspect))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route_layer(middleware::from_fn(crate::request_layer::route_span));

    Router::new()
        .merge(directory)
        .merge(oauth)
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            state.settings.max_body_bytes,
        ))
        .with_state(state)
}
