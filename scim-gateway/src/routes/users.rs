//! `/Users`: list, create, read, replace, patch, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use scim_authn::scopes::{SCIM_READ, SCIM_WRITE};
use scim_proto::identity::v1 as pb;

use crate::auth::Authenticated;
use crate::error::ScimError;
use crate::extract::{ConditionalHeaders, QueryPairs, ResourceId, ScimJson};
use crate::routes::listing::{At, Listed, Page};
use crate::routes::projection::Projection;
use crate::routes::{check_body_id, response};
use crate::scim::list::Resource;
use crate::scim::user::UserJson;
use crate::scim::{patch, user};
use crate::state::AppState;
use crate::upstream::with_token;
use scim_model::ResourceKind;

fn check_id(id: &str) -> Result<(), ScimError> {
    super::check_id(id, "user not found")
}

fn location(state: &AppState, id: &str) -> String {
    format!("{}/Users/{id}", state.settings.scim_base)
}

/// Renders a user with projection and its headers.
fn render(
    state: &AppState,
    u: &pb::User,
    status: StatusCode,
    proj: &Projection,
    with_location: bool,
) -> Result<Response, ScimError> {
    let version = u.meta.as_ref().map_or(0, |m| m.version);
    let loc = with_location.then(|| location(state, &u.id));
    let body = proj.shape(
        UserJson::new(u, &state.settings.scim_base),
        ResourceKind::User,
    )?;
    Ok(response::resource(status, &body, version, loc.as_deref()))
}

/// `/Users` for the list and search routes.
pub struct Users;

impl Listed for Users {
    const KIND: ResourceKind = ResourceKind::User;

    async fn page<'s>(
        state: &'s AppState,
        auth: &Authenticated,
        filter: Option<pb::Filter>,
        sort: Option<pb::Sort>,
        at: At,
        count: i64,
        proj: &Projection,
    ) -> Result<Page<'s>, ScimError> {
        let req = pb::ListUsersRequest {
            filter,
            page: Some(at.page_request(count)),
            sort,
            include_groups: proj.wants_groups(),
        };
        let resp = state
            .identity
            .clone()
            .list_users(with_token(req, &auth.token))
            .await?
            .into_inner();
        let info = resp.page.unwrap_or_default();
        let base_url = state.settings.scim_base.as_str();
        let resources = resp
            .users
            .into_iter()
            .map(|u| proj.shape(Resource::User(u, base_url), ResourceKind::User))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            resources,
            total: info.total_results,
            next: info.next_page_token,
            previous: info.previous_page_token,
        })
    }
}

/// Fetches one user.
async fn fetch(state: &AppState, auth: &Authenticated, id: &str) -> Result<pb::User, ScimError> {
    check_id(id)?;
    Ok(state
        .identity
        .clone()
        .get_user(with_token(
            pb::GetUserRequest { id: id.to_owned() },
            &auth.token,
        ))
        .await?
        .into_inner())
}

/// `GET /Users/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    ResourceId(id): ResourceId,
    conditions: ConditionalHeaders,
    query: QueryPairs,
) -> Result<Response, ScimError> {
    auth.require(SCIM_READ)?;
    let pre = conditions.preconditions()?;
    let u = fetch(&state, &auth, &id).await?;
    let version = u.meta.as_ref().map_or(0, |m| m.version);
    if pre.not_modified(version) {
        return Ok(response::not_modified(version));
    }
    render(
        &state,
        &u,
        StatusCode::OK,
        &Projection::from_query(&query),
        false,
    )
}

/// `POST /Users`.
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    query: QueryPairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    auth.require(SCIM_WRITE)?;
    let mut u = user::user_from_json(&body)?;
    // A new user is active unless the body says otherwise.
    u.active.get_or_insert(true);
    let created = state
        .identity
        .clone()
        .create_user(with_token(
            pb::CreateUserRequest { user: Some(u) },
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

/// `PUT /Users/{id}`: full replace; `active` is kept when omitted, `password` too.
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
    let mut u = user::user_from_json(&body)?;
    u.id = id;
    let replaced = state
        .identity
        .clone()
        .replace_user(with_token(
            pb::ReplaceUserRequest {
                user: Some(u),
                expected_version: pre.expected_version(),
                keep_active_if_unset: true,
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
        false,
    )
}

/// `PATCH /Users/{id}`: the operations, typed, in one `PatchUser` call; identity-service
/// applies them to the stored user in one transaction, checking `If-Match` there.
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
    let proj = Projection::from_query(&query);
    let operations = patch::user_operations(&ops, &id)?;
    if operations.is_empty() {
        // Nothing to change (the PATCH only restated the id): answer what is stored.
        let current = fetch(&state, &auth, &id).await?;
        let version = current.meta.as_ref().map_or(0, |m| m.version);
        if pre.if_match.is_some_and(|v| v != version) {
            return Err(ScimError::PreconditionFailed(
                "the resource changed since the version named in If-Match".into(),
            ));
        }
        return render(&state, &current, StatusCode::OK, &proj, false);
    }
    let request = pb::PatchUserRequest {
        id,
        expected_version: pre.expected_version(),
        operations,
    };
    let patched = state
        .identity
        .clone()
        .patch_user(with_token(request, &auth.token))
        .await?
        .into_inner();
    render(&state, &patched, StatusCode::OK, &proj, false)
}

/// `DELETE /Users/{id}`: removes the user and its memberships.
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
        .delete_user(with_token(
            pb::DeleteUserRequest {
                id,
                expected_version: pre.expected_version(),
            },
            &auth.token,
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
