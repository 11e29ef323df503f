//! `POST /.search` on the root and on each resource type (RFC 7644 §3.4.3).

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use crate::auth::Authenticated;
use crate::error::ScimError;
use crate::extract::ScimJson;
use crate::routes::listing::{Listed as _, run_list};
use crate::routes::projection::Projection;
use crate::routes::{groups, response, users};
use crate::scim::filter;
use crate::scim::list::{ListParams, ListResponse};
use crate::state::AppState;
use axum::http::StatusCode;
use scim_authn::scopes::SCIM_READ;
use scim_model::ResourceKind;

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
    auth: Authenticated,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let p = params(&state, &body)?;
    run_list::<users::Users>(&state, &auth, p).await
}

/// `POST /Groups/.search`.
pub async fn groups(
    State(state): State<AppState>,
    auth: Authenticated,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let p = params(&state, &body)?;
    run_list::<groups::Groups>(&state, &auth, p).await
}

/// `POST /.search`: a search across Users and Groups (RFC 7644 §3.4.3). Results list
/// the matching users first, then the matching groups, each in their stable order, so
/// `startIndex` paging walks both without skips. A filter is applied to each resource
/// type whose attributes it names; one that names neither's is `invalidFilter`.
pub async fn root(
    State(state): State<AppState>,
    auth: Authenticated,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    auth.require(SCIM_READ)?;
    let p = params(&state, &body)?;
    let (user_filter, group_filter, search_users, search_groups) = match p.filter.as_deref() {
        None => (None, None, true, true),
        Some(f) => {
            let u = filter::parse(f, ResourceKind::User);
            let g = filter::parse(f, ResourceKind::Group);
            match (u, g) {
                (Err(e), Err(_)) => return Err(e),
                (u, g) => {
                    let (su, sg) = (u.is_ok(), g.is_ok());
                    (u.ok(), g.ok(), su, sg)
                }
            }
        }
    };
    let proj = Projection {
        attributes: p.attributes.clone(),
        excluded: p.excluded_attributes.clone(),
    };
    let (mut resources, users_total) = if search_users {
        users::Users::page(&state, &auth, user_filter, p.start_index, p.count, &proj).await?
    } else {
        (Vec::new(), 0)
    };
    let groups_total = if search_groups {
        let remaining = (p.count - resources.len() as i64).max(0);
        let start = (p.start_index - users_total).max(1);
        let (more, total) =
            groups::Groups::page(&state, &auth, group_filter, start, remaining, &proj).await?;
        resources.extend(more);
        total
    } else {
        0
    };
    tracing::Span::current().record("scim.result_count", resources.len());
    let body = ListResponse {
        resources,
        total_results: users_total + groups_total,
        start_index: p.start_index,
    };
    Ok(response::scim(StatusCode::OK, &body))
}
