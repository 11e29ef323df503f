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

/// Attempts at a PATCH without `If-Match` whose write a concurrent change raced.
///
/// Each lost race means another write of the user committed in between, so with N
/// concurrent writers a PATCH loses at most N - 1 times; sixteen covers the bursts an
/// IdP sends (two profile updates landing together, a reconcile after an outage).
/// Beyond it the answer is 503 with `Retry-After`, never 412: the client named no
/// version.
const PATCH_ATTEMPTS: usize = 16;

/// A pause of up to `attempt` milliseconds before the next attempt, so that writers
/// that raced once do not race again in lockstep.
async fn back_off(attempt: usize) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let millis = u64::from(nanos) % (attempt as u64 + 1);
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

/// SCIM attribute → identity.v1 field-mask path.
const MASK_PATHS: &[(&str, &str)] = &[
    ("userName", "user_name"),
    ("externalId", "external_id"),
    ("name", "name"),
    ("displayName", "display_name"),
    ("nickName", "nick_name"),
    ("profileUrl", "profile_url"),
    ("title", "title"),
    ("userType", "user_type"),
    ("preferredLanguage", "preferred_language"),
    ("locale", "locale"),
    ("timezone", "timezone"),
    ("active", "active"),
    ("password", "password"),
    ("emails", "emails"),
    ("phoneNumbers", "phone_numbers"),
    ("ims", "ims"),
    ("photos", "photos"),
    ("addresses", "addresses"),
    ("entitlements", "entitlements"),
    ("roles", "roles"),
    ("x509Certificates", "x509_certificates"),
    (scim_model::ENTERPRISE_USER_SCHEMA, "enterprise"),
];

/// The identity.v1 fields whose SCIM rendering differs between two documents.
fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    MASK_PATHS
        .iter()
        .filter(|(scim, _)| before.get(scim) != after.get(scim))
        .map(|(_, field)| (*field).to_owned())
        .collect()
}

/// Writes the `fields` of `user`, if the stored version is `expected_version` (0: any).
async fn update(
    state: &AppState,
    auth: &Authenticated,
    user: pb::User,
    fields: Vec<String>,
    expected_version: i64,
) -> Result<pb::User, tonic::Status> {
    let request = pb::UpdateUserRequest {
        user: Some(user),
        update_mask: Some(prost_types::FieldMask { paths: fields }),
        expected_version,
    };
    let written = state
        .identity
        .clone()
        .update_user(with_token(request, &auth.token))
        .await?;
    Ok(written.into_inner())
}

/// Top-level singular attributes that a PATCH can set without knowing the stored user.
const BLIND_ATTRIBUTES: [&str; 10] = [
    "active",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "profileUrl",
    "externalId",
];

/// The update a PATCH makes when its outcome does not depend on the stored user: every
/// operation is an `add` or `replace` that gives one or more of [`BLIND_ATTRIBUTES`] a
/// non-null value (Okta's and Entra's deactivation, for one). Such a PATCH is sent as
/// one masked write instead of a read, a merge and a conditional write; identity-service
/// keeps the version when the values are already stored. The operations are applied to
/// an empty user with the same code as the general path, so values are read and checked
/// the same way; anything else, or anything that fails, takes the general path.
fn blind_update(ops: &[patch::PatchOp]) -> Option<(pb::User, Vec<String>)> {
    let sets_values = |op: &patch::PatchOp| {
        op.op != patch::PatchKind::Remove
            && match &op.value {
                Some(Value::Object(m)) => !m.is_empty() && m.values().all(|v| !v.is_null()),
                Some(v) => !v.is_null(),
                None => false,
            }
    };
    if !ops.iter().all(sets_values) {
        return None;
    }
    let empty = serde_json::json!({
        "schemas": [scim_model::USER_SCHEMA],
        "userName": "-",
    });
    let mut doc = empty.clone();
    patch::apply_user_patch(&mut doc, ops).ok()?;
    let touched_only_blind = doc
        .as_object()?
        .iter()
        .all(|(k, v)| BLIND_ATTRIBUTES.contains(&k.as_str()) || empty.get(k.as_str()) == Some(v));
    if !touched_only_blind {
        return None;
    }
    let fields = changed_fields(&empty, &doc);
    if fields.is_empty() {
        return None;
    }
    let user = user::user_from_json(&doc).ok()?;
    Some((user, fields))
}

/// `PATCH /Users/{id}`: read, apply every operation to the SCIM document, validate, and
/// write back only the attributes that changed, conditioned on the version read, so the
/// PATCH is atomic and a concurrent change is never overwritten.
pub async fn patch(
    State(state): State<AppState>,
    auth: Authenticated,
    ResourceId(id): ResourceId,
    conditions: ConditionalHeaders,
    query: QueryPairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    auth.require(SCIM_WRITE)?;
    let pre = conditions.preconditions()?;
    let ops = patch::parse_patch_request(&body)?;
    tracing::Span::current().record("scim.patch_ops", ops.len());
    let proj = Projection::from_query(&query);
    if let Some((mut updated, fields)) = blind_update(&ops) {
        // One write, no read: the result does not depend on the stored user.
        updated.id = id;
        let written = update(&state, &auth, updated, fields, pre.if_match.unwrap_or(0)).await?;
        return render(&state, &written, StatusCode::OK, &proj, false);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = fetch(&state, &auth, &id).await?;
        let version = current.meta.as_ref().map_or(0, |m| m.version);
        if pre.if_match.is_some_and(|v| v != version) {
            return Err(ScimError::PreconditionFailed(
                "the resource changed since the version named in If-Match".into(),
            ));
        }
        let before = user::user_to_json(&current, &state.settings.scim_base);
        let mut doc = before.clone();
        patch::apply_user_patch(&mut doc, &ops)?;
        let mut updated = user::user_from_json(&doc)?;
        updated.id = id.clone();
        let fields = changed_fields(&before, &doc);
        if fields.is_empty() {
            // Nothing changes (Okta's reconcile PATCHes often don't): no write, no new version.
            return render(&state, &current, StatusCode::OK, &proj, false);
        }
        match update(&state, &auth, updated, fields, version).await {
            Ok(written) => return render(&state, &written, StatusCode::OK, &proj, false),
            Err(s) if s.code() == tonic::Code::FailedPrecondition && pre.if_match.is_none() => {
                if attempt == PATCH_ATTEMPTS {
                    return Err(ScimError::Unavailable {
                        detail: "the user kept changing under this PATCH; retry".into(),
                        retry_after: 1,
                    });
                }
                back_off(attempt).await;
            }
            Err(s) => return Err(s.into()),
        }
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ops(operations: Value) -> Vec<patch::PatchOp> {
        patch::parse_patch_request(&json!({
            "schemas": [scim_model::PATCH_OP_SCHEMA],
            "Operations": operations,
        }))
        .unwrap()
    }

    #[test]
    fn deactivations_of_okta_and_entra_are_one_masked_write() {
        let okta = ops(json!([{"op": "replace", "value": {"active": false}}]));
        let (user, fields) = blind_update(&okta).expect("blind");
        assert_eq!(fields, ["active"]);
        assert_eq!(user.active, Some(false));

        // Entra: capitalised op, a path, and the boolean as a string.
        let entra = ops(json!([{"op": "Replace", "path": "active", "value": "False"}]));
        let (user, fields) = blind_update(&entra).expect("blind");
        assert_eq!(fields, ["active"]);
        assert_eq!(user.active, Some(false));

        let several = ops(json!([
            {"op": "replace", "path": "displayName", "value": "Ann"},
            {"op": "add", "value": {"title": "CTO", "externalId": "x-1"}},
        ]));
        let (user, mut fields) = blind_update(&several).expect("blind");
        fields.sort();
        assert_eq!(fields, ["display_name", "external_id", "title"]);
        assert_eq!(user.display_name.as_deref(), Some("Ann"));
        assert_eq!(user.title.as_deref(), Some("CTO"));
    }

    #[test]
    fn patches_that_depend_on_the_stored_user_read_it_first() {
        for body in [
            // Removals and nulls clear what is stored.
            json!([{"op": "remove", "path": "title"}]),
            json!([{"op": "replace", "path": "title", "value": null}]),
            json!([{"op": "replace", "value": {"active": false, "title": null}}]),
            // Multi-valued and complex attributes merge with what is stored.
            json!([{"op": "add", "path": "emails", "value": [{"value": "a@example.com"}]}]),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"}]),
            json!([{"op": "replace", "path": "name.givenName", "value": "Ann"}]),
            json!([{"op": "replace", "value": {"name": {"givenName": "Ann"}}}]),
            json!([{"op": "replace", "path": "userName", "value": "ann"}]),
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"}]),
            // One blind operation next to one that is not.
            json!([
                {"op": "replace", "path": "active", "value": false},
                {"op": "add", "path": "emails", "value": [{"value": "a@example.com"}]},
            ]),
            // Invalid values take the general path, which reports them.
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        ] {
            assert!(blind_update(&ops(body.clone())).is_none(), "{body}");
        }
    }
}
