//! `POST /.search` on the root and on each resource type (RFC 7644 §3.4.3).

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use crate::auth::Authenticated;
use crate::error::ScimError;
use crate::extract::ScimJson;
use crate::routes::{groups, users};
use crate::scim::list::ListParams;
use crate::state::AppState;

fn params(state: &AppState, body: &Value) -> Result<ListParams, ScimError> {
    ListParams::from_search_body(
        body,
        state.settings.default_page_size,
        state.settings.max_page_size,
    )
}

/// `POST /Users/.search`.
pub async fn users(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let p = params(&state, &body)?;
    users::run_list(&state, &auth, p).await
}

/// `POST /Groups/.search`.
pub async fn groups(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let p = params(&state, &body)?;
    groups::run_list(&state, &auth, p).await
}

/// `POST /.search`: searching across resource types needs a filter that names the
/// resource type; this server answers for one type at a time and says so.
pub async fn root(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let p = params(&state, &body)?;
    // A root search over Users and Groups at once would need one ordering across both
    // tables; the common use (an IdP probing for a user) names user attributes, so a
    // filter that parses for Users runs there, one that parses for Groups runs there.
    match p.filter.as_deref() {
        Some(f)
            if crate::scim::filter::parse(f, crate::scim::schema::ResourceKind::User).is_ok() =>
        {
            users::run_list(&state, &auth, p).await
        }
        Some(f)
            if crate::scim::filter::parse(f, crate::scim::schema::ResourceKind::Group).is_ok() =>
        {
            groups::run_list(&state, &auth, p).await
        }
        Some(_) => Err(ScimError::invalid_filter(
            "the filter names attributes of neither Users nor Groups",
        )),
        None => Err(ScimError::too_many(
            "a root search needs a filter that selects Users or Groups",
        )),
    }
}
