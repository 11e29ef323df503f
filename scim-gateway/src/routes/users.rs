//! `/Users`: list, create, read, replace, patch, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use scim_authn::scopes::{SCIM_READ, SCIM_WRITE};
use scim_proto::identity::v1 as pb;
use serde::Serialize;
use serde_json::Value;

use crate::auth::Authenticated;
use crate::error::ScimError;
use crate::extract::{ConditionalHeaders, QueryPairs, ResourceId, ScimJson};
use crate::routes::response;
use crate::scim::list::{ListParams, Resource};
use crate::scim::projection::Projected;
use crate::scim::user::UserJson;
use crate::scim::{patch, projection, user};
use crate::state::AppState;
use crate::upstream::with_token;
use scim_model::ResourceKind;

/// Attribute projection parameters of a request.
pub(crate) struct Projection {
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

impl Projection {
    pub(crate) fn from_query(q: &QueryPairs) -> Self {
        let find = |name: &str| {
            q.0.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .filter(|v| !v.trim().is_empty())
        };
        Projection {
            attributes: find("attributes"),
            excluded: find("excludedAttributes"),
        }
    }

    /// Whether neither parameter names anything.
    fn is_empty(&self) -> bool {
        let blank = |l: &Option<String>| l.as_deref().is_none_or(|l| l.trim().is_empty());
        blank(&self.attributes) && blank(&self.excluded)
    }

    /// `resource` (of type `kind`) as the response carries it: whole when nothing is
    /// projected, so it is written straight from its message; otherwise rendered to JSON
    /// and projected.
    pub(crate) fn shape<T: Serialize>(
        &self,
        resource: T,
        kind: ResourceKind,
    ) -> Result<Projected<T>, ScimError> {
        if self.is_empty() {
            return Ok(Projected::Whole(resource));
        }
        let mut v = serde_json::to_value(&resource)
            .map_err(|e| ScimError::Internal(format!("rendering a resource: {e}")))?;
        projection::project(
            &mut v,
            kind,
            self.attributes.as_deref(),
            self.excluded.as_deref(),
        )?;
        Ok(Projected::Json(v))
    }

    /// Whether the users' `groups` must be loaded.
    fn wants_groups(&self) -> bool {
        let named = |list: &Option<String>| {
            list.as_deref().is_some_and(|l| {
                l.split(',').any(|a| {
                    let a = a.trim().to_ascii_lowercase();
                    a == "groups" || a.starts_with("groups.") || a.ends_with(":user:groups")
                })
            })
        };
        if named(&self.excluded) {
            return false;
        }
        self.attributes.is_none() || named(&self.attributes)
    }
}

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

/// One page of users, and the total number of matches.
pub(crate) async fn query<'s>(
    state: &'s AppState,
    auth: &Authenticated,
    filter: Option<pb::Filter>,
    start_index: i64,
    count: i64,
    proj: &Projection,
) -> Result<(Vec<Projected<Resource<'s>>>, i64), ScimError> {
    let req = pb::ListUsersRequest {
        filter,
        page: Some(pb::PageRequest {
            start_index,
            count,
            page_token: String::new(),
        }),
        include_groups: proj.wants_groups(),
    };
    let resp = state
        .identity
        .clone()
        .list_users(with_token(req, &auth.token))
        .await?
        .into_inner();
    let total = resp.page.map_or(0, |p| p.total_results);
    let base_url = state.settings.scim_base.as_str();
    let resources = resp
        .users
        .into_iter()
        .map(|u| proj.shape(Resource::User(u, base_url), ResourceKind::User))
        .collect::<Result<_, _>>()?;
    Ok((resources, total))
}

/// Runs a list query and renders the ListResponse.
pub(crate) async fn run_list(
    state: &AppState,
    auth: &Authenticated,
    params: ListParams,
) -> Result<Response, ScimError> {
    crate::routes::listing::run(
        auth,
        params,
        ResourceKind::User,
        |filter, start, count, proj| async move {
            query(state, auth, filter, start, count, &proj).await
        },
    )
    .await
}

/// `GET /Users`.
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: QueryPairs,
) -> Result<Response, ScimError> {
    let params = ListParams::from_query(
        &query.0,
        state.settings.default_page_size,
        state.settings.max_page_size,
    )?;
    run_list(&state, &auth, params).await
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
