//! `/Groups`: list, create, read, replace, patch, delete.
//!
//! Members are read only when the response needs them, and a membership PATCH never
//! reads the group's member list: it becomes one atomic `UpdateGroup` call. When the
//! group is larger than the configured limit, the PATCH answers 204 (RFC 7644 §3.5.2),
//! so adding one member to a 100,000-member group never serialises the whole group.
//!
//! Members whose value names no user or group of the tenant are left out rather than
//! failing the request: ids are server-assigned, so such a member can never exist, and
//! refusing the request would lose the valid changes an IdP sent with it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use scim_authn::scopes::{SCIM_READ, SCIM_WRITE};
use scim_proto::identity::v1 as pb;

use crate::auth::Authenticated;
use crate::error::ScimError;
use crate::extract::{ConditionalHeaders, QueryPairs, ResourceId, ScimJson};
use crate::routes::listing::{At, Listed, Page};
use crate::routes::projection::Projection;
use crate::routes::{check_body_id, response};
use crate::scim::group::GroupJson;
use crate::scim::list::Resource;
use crate::scim::{group, patch};
use crate::state::AppState;
use crate::upstream::with_token;
use scim_model::ResourceKind;

fn check_id(id: &str) -> Result<(), ScimError> {
    super::check_id(id, "group not found")
}

fn render(
    state: &AppState,
    g: &pb::Group,
    status: StatusCode,
    proj: &Projection,
    members_loaded: bool,
) -> Result<Response, ScimError> {
    let version = g.meta.as_ref().map_or(0, |m| m.version);
    let location = (status == StatusCode::CREATED)
        .then(|| format!("{}/Groups/{}", state.settings.scim_base, g.id));
    let body = proj.shape(
        GroupJson::new(g, &state.settings.scim_base, members_loaded),
        ResourceKind::Group,
    )?;
    Ok(response::resource(
        status,
        &body,
        version,
        location.as_deref(),
    ))
}

/// `/Groups` for the list and search routes.
pub struct Groups;

impl Listed for Groups {
    const KIND: ResourceKind = ResourceKind::Group;

    async fn page<'s>(
        state: &'s AppState,
        auth: &Authenticated,
        filter: Option<pb::Filter>,
        sort: Option<pb::Sort>,
        at: At,
        count: i64,
        proj: &Projection,
    ) -> Result<Page<'s>, ScimError> {
        let include_members = proj.wants_members();
        let req = pb::ListGroupsRequest {
            filter,
            page: Some(at.page_request(count)),
            sort,
            include_members,
        };
        let resp = state
            .identity
            .clone()
            .list_groups(with_token(req, &auth.token))
            .await?
            .into_inner();
        let info = resp.page.unwrap_or_default();
        let base_url = state.settings.scim_base.as_str();
        let resources = resp
            .groups
            .into_iter()
            .map(|g| {
                let group = Resource::Group(g, base_url, include_members);
                proj.shape(group, ResourceKind::Group)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page {
            resources,
            total: info.total_results,
            next: info.next_page_token,
            previous: info.previous_page_token,
        })
    }
}

async fn fetch(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
    include_members: bool,
) -> Result<pb::Group, ScimError> {
    check_id(id)?;
    Ok(state
        .identity
        .clone()
        .get_group(with_token(
            pb::GetGroupRequest {
                id: id.to_owned(),
                include_members,
            },
            &auth.token,
        ))
        .await?
        .into_inner())
}

/// `GET /Groups/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    ResourceId(id): ResourceId,
    conditions: ConditionalHeaders,
    query: QueryPairs,
) -> Result<Response, ScimError> {
    auth.require(SCIM_READ)?;
    let pre = conditions.preconditions()?;
    let proj = Projection::from_query(&query);
    let include = proj.wants_members();
    let g = fetch(&state, &auth, &id, include).await?;
    let version = g.meta.as_ref().map_or(0, |m| m.version);
    if pre.not_modified(version) {
        return Ok(response::not_modified(version));
    }
    render(&state, &g, StatusCode::OK, &proj, include)
}

/// `POST /Groups`: with or without initial members.
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    query: QueryPairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    auth.require(SCIM_WRITE)?;
    let g = group::group_from_json(&body)?;
    let created = state
        .identity
        .clone()
        .create_group(with_token(
            pb::CreateGroupRequest {
                group: Some(g),
                include_members: true,
                skip_unknown_members: true,
            },
            &auth.token,
        ))
        .await?
        .into_inner();
    render(
        &state,
        &created,
        StatusCode::CREATED,
        &Projection::from_query(&query),
        true,
    )
}

/// `PUT /Groups/{id}`: replaces the name and the whole member list.
pub async fn replace(
    State(state): State<AppState>,
    auth: Authenticated,
    ResourceId(id): ResourceId,
    conditions: ConditionalHeaders,
    query: QueryPairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    auth.require(SCIM_WRITE)?;
    check_id(&id)?;
    let pre = conditions.preconditions()?;
    check_body_id(&body, &id)?;
    let mut g = group::group_from_json(&body)?;
    g.id = id;
    let replaced = state
        .identity
        .clone()
        .replace_group(with_token(
            pb::ReplaceGroupRequest {
                group: Some(g),
                expected_version: pre.expected_version(),
                include_members: true,
                skip_unknown_members: true,
            },
            &auth.token,
        ))
        .await?
        .into_inner();
    render(
        &state,
        &replaced,
        StatusCode::OK,
        &Projection::from_query(&query),
        true,
    )
}

/// `PATCH /Groups/{id}`: rename and membership changes in one atomic call.
pub async fn patch(
    State(state): State<AppState>,
    auth: Authenticated,
    ResourceId(id): ResourceId,
    conditions: ConditionalHeaders,
    query: QueryPairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    auth.require(SCIM_WRITE)?;
    check_id(&id)?;
    let pre = conditions.preconditions()?;
    let ops = patch::parse_patch_request(&body)?;
    tracing::Span::current().record("scim.patch_ops", ops.len());
    let change = patch::group_patch(&ops, &id)?;
    let updated = state
        .identity
        .clone()
        .update_group(with_token(
            pb::UpdateGroupRequest {
                id: id.clone(),
                expected_version: pre.expected_version(),
                display_name: change.display_name,
                // The contract clears externalId with an empty string.
                external_id: change.external_id.map(Option::unwrap_or_default),
                member_changes: change.member_changes,
                include_members: false,
                skip_unknown_members: true,
            },
            &auth.token,
        ))
        .await?
        .into_inner();
    let proj = Projection::from_query(&query);
    if change.touches_members && updated.member_count > state.settings.group_patch_body_limit {
        let version = updated.meta.as_ref().map_or(0, |m| m.version);
        let mut resp = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = crate::extract::etag(version).parse() {
            resp.headers_mut().insert(axum::http::header::ETAG, v);
        }
        return Ok(resp);
    }
    if proj.wants_members() && updated.member_count <= state.settings.group_patch_body_limit {
        let full = fetch(&state, &auth, &id, true).await?;
        return render(&state, &full, StatusCode::OK, &proj, true);
    }
    render(&state, &updated, StatusCode::OK, &proj, false)
}

/// `DELETE /Groups/{id}`: removes the group and its membership rows; users stay.
pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    ResourceId(id): ResourceId,
    conditions: ConditionalHeaders,
) -> Result<StatusCode, ScimError> {
    auth.require(SCIM_WRITE)?;
    check_id(&id)?;
    let pre = conditions.preconditions()?;
    state
        .identity
        .clone()
        .delete_group(with_token(
            pb::DeleteGroupRequest {
                id,
                expected_version: pre.expected_version(),
            },
            &auth.token,
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
