//! Discovery endpoints (RFC 7644 §4): read-only descriptions of what this server
//! supports. Write methods get 405 from the router.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::error::ScimError;
use crate::extract::ResourceId;
use crate::routes::response;
use crate::scim::discovery;
use crate::scim::list::ListResponse;
use crate::state::AppState;

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(State(state): State<AppState>) -> Response {
    let body = discovery::service_provider_config(
        &state.settings.scim_base,
        state.settings.max_page_size,
        state.settings.default_page_size,
    );
    response::scim(StatusCode::OK, &body)
}

/// `GET /Schemas`.
pub async fn schemas(State(state): State<AppState>) -> Response {
    let all = discovery::schemas(&state.settings.scim_base);
    response::scim(StatusCode::OK, &ListResponse::complete(all))
}

/// `GET /Schemas/{urn}`.
pub async fn schema(
    State(state): State<AppState>,
    ResourceId(id): ResourceId,
) -> Result<Response, ScimError> {
    discovery::schema(&state.settings.scim_base, &id)
        .map(|s| response::scim(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::NotFound("no such schema".into()))
}

/// `GET /ResourceTypes`.
pub async fn resource_types(State(state): State<AppState>) -> Response {
    let all = discovery::resource_types(&state.settings.scim_base);
    response::scim(StatusCode::OK, &ListResponse::complete(all))
}

/// `GET /ResourceTypes/{name}`.
pub async fn resource_type(
    State(state): State<AppState>,
    ResourceId(id): ResourceId,
) -> Result<Response, ScimError> {
    discovery::resource_type(&state.settings.scim_base, &id)
        .map(|s| response::scim(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::NotFound("no such resource type".into()))
}
