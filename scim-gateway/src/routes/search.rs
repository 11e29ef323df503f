//! `POST /.search` on the root and on each resource type (RFC 7644 §3.4.3).

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use crate::auth::Authenticated;
use crate::error::ScimError;
use crate::extract::ScimJson;
use crate::routes::listing::{At, Listed as _, run_list};
use crate::routes::projection::Projection;
use crate::routes::{groups, response, users};
use crate::scim::filter;
use crate::scim::list::{Cursors, ListParams, ListResponse};
use crate::state::AppState;
use axum::http::StatusCode;
use scim_authn::scopes::SCIM_READ;
use scim_model::ResourceKind;

/// Root-search cursors: which list they continue, then that list's cursor.
const USERS_PREFIX: &str = "u.";
const GROUPS_PREFIX: &str = "g.";

/// A cursor of `POST /.search`.
enum RootCursor<'c> {
    /// In the users (an empty cursor: the first page).
    Users(&'c str),
    /// In the groups, after every user.
    Groups(&'c str),
}

impl<'c> RootCursor<'c> {
    fn parse(cursor: &'c str) -> Result<Self, ScimError> {
        if cursor.is_empty() {
            return Ok(RootCursor::Users(""));
        }
        if let Some(t) = cursor.strip_prefix(USERS_PREFIX) {
            return Ok(RootCursor::Users(t));
        }
        if let Some(t) = cursor.strip_prefix(GROUPS_PREFIX) {
            return Ok(RootCursor::Groups(t));
        }
        Err(ScimError::BadRequest {
            scim_type: Some(scim_model::ScimType::InvalidCursor),
            detail: "the cursor was not issued by this server for this search".into(),
        })
    }
}

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
    if p.sort_by.is_some() {
        return Err(ScimError::invalid_value(
            "the root search lists users, then groups, and cannot be sorted; \
             search /Users or /Groups to sort",
        ));
    }
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
    let Some(cursor) = p.cursor.as_deref() else {
        let (mut resources, users_total) = if search_users {
            let at = At::Index(p.start_index);
            let page =
                users::Users::page(&state, &auth, user_filter, None, at, p.count, &proj).await?;
            (page.resources, page.total)
        } else {
            (Vec::new(), 0)
        };
        let groups_total = if search_groups {
            let remaining = (p.count - resources.len() as i64).max(0);
            let at = At::Index((p.start_index - users_total).max(1));
            let page =
                groups::Groups::page(&state, &auth, group_filter, None, at, remaining, &proj)
                    .await?;
            resources.extend(page.resources);
            page.total
        } else {
            0
        };
        tracing::Span::current().record("scim.result_count", resources.len());
        let body = ListResponse {
            resources,
            total_results: users_total + groups_total,
            start_index: p.start_index,
            cursor: None,
        };
        return Ok(response::scim(StatusCode::OK, &body));
    };
    // Cursor paging: users, then groups. The cursor says which of the two it continues
    // and carries that list's own cursor.
    let (in_users, token) = match RootCursor::parse(cursor)? {
        RootCursor::Users(t) if search_users => (true, t),
        RootCursor::Users(_) => (false, ""),
        RootCursor::Groups(t) => (false, t),
    };
    let mut resources = Vec::new();
    let mut next = None;
    let (mut users_total, mut groups_total) = (None, None);
    if in_users {
        let page = users::Users::page(
            &state,
            &auth,
            user_filter.clone(),
            None,
            At::Cursor(token.to_owned()),
            p.count,
            &proj,
        )
        .await?;
        resources = page.resources;
        users_total = Some(page.total);
        if !page.next.is_empty() {
            next = Some(format!("{USERS_PREFIX}{}", page.next));
        }
    }
    let remaining = (p.count - resources.len() as i64).max(0);
    if search_groups && next.is_none() {
        let token = if in_users { "" } else { token };
        let page = groups::Groups::page(
            &state,
            &auth,
            group_filter.clone(),
            None,
            At::Cursor(token.to_owned()),
            remaining,
            &proj,
        )
        .await?;
        groups_total = Some(page.total);
        if remaining == 0 && page.total > 0 && in_users {
            next = Some(GROUPS_PREFIX.to_owned());
        } else if !page.next.is_empty() {
            next = Some(format!("{GROUPS_PREFIX}{}", page.next));
        }
        resources.extend(page.resources);
    }
    // The total of whichever list this page did not read (count 0 reads only a total).
    let users_total = match users_total {
        Some(t) => t,
        None if search_users => {
            let at = At::Index(1);
            users::Users::page(&state, &auth, user_filter, None, at, 0, &proj)
                .await?
                .total
        }
        None => 0,
    };
    let groups_total = match groups_total {
        Some(t) => t,
        None if search_groups => {
            let at = At::Index(1);
            groups::Groups::page(&state, &auth, group_filter, None, at, 0, &proj)
                .await?
                .total
        }
        None => 0,
    };
    tracing::Span::current().record("scim.result_count", resources.len());
    let body = ListResponse {
        resources,
        total_results: users_total + groups_total,
        start_index: 1,
        // The root search walks forward only: no previousCursor.
        cursor: Some(Cursors {
            next,
            previous: None,
        }),
    };
    Ok(response::scim(StatusCode::OK, &body))
}
