//! HTTP routes, one module per resource; the router itself is built in [`router`].

pub mod discovery;
pub mod groups;
pub mod health;
mod listing;
pub mod oauth;
pub mod response;
pub mod search;
pub mod users;

use axum::Router;
use axum::http::Method;
use axum::middleware;
use axum::routing::{any, get, post};

use crate::error::ScimError;
use crate::state::AppState;

/// SCIM base path.
pub const SCIM_PREFIX: &str = "/scim/v2";

/// Ids longer than this cannot exist; they are answered 404 without a round trip.
const MAX_ID_LEN: usize = 256;

/// 404 with `detail` for an id that cannot name a resource, before any upstream call.
fn check_id(id: &str, detail: &str) -> Result<(), ScimError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(ScimError::NotFound(detail.into()));
    }
    Ok(())
}

/// 404 for every unknown path, as a SCIM error.
async fn not_found() -> ScimError {
    ScimError::NotFound("no such endpoint".into())
}

/// 405 for a known path with an unsupported method.
async fn method_not_allowed(method: Method) -> ScimError {
    ScimError::MethodNotAllowed(format!("{method} is not supported on this endpoint"))
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let scim = Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Users/.search", post(search::users))
        .route("/Groups", get(groups::list).post(groups::create))
        .route(
            "/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route("/Groups/.search", post(search::groups))
        .route("/.search", post(search::root))
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::resource_type))
        .route(
            "/Bulk",
            any(|| async { ScimError::NotImplemented("bulk operations are not supported".into()) }),
        )
        .route(
            "/Me",
            any(|| async { ScimError::NotImplemented("/Me is not supported".into()) }),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ))
        .route_layer(middleware::from_fn(crate::telemetry::route_span));

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
        .route_layer(middleware::from_fn(crate::telemetry::route_span));

    Router::new()
        .nest(SCIM_PREFIX, scim)
        .merge(oauth)
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            state.settings.max_body_bytes,
        ))
        .layer(middleware::from_fn(crate::telemetry::unmatched_span))
        .with_state(state)
}
