//! User RPCs.

use scim_proto::identity::v1 as pb;
use tonic::{Request, Status};

use super::{IdentityApi, reader, required, writer};
use crate::db::DbOp;
use crate::db::users::PasswordChange;
use crate::filter::{self, ResourceKind};
use crate::listing::sorted::Sort;
use crate::listing::{self, ListKind as _, ListRequest, Users};
use crate::mask::Mask;
use crate::model;
use crate::ops::users::{self as ops, Edit};
use crate::paging::PageSpec;
use crate::password;
use crate::patch::{PasswordEdit, UserPatch};

/// Takes the user out of a request, with its id and password taken out of it.
fn split(user: Option<pb::User>) -> Result<(pb::User, String, Option<String>), Status> {
    let mut user = user.ok_or_else(|| required("user"))?;
    let id = std::mem::take(&mut user.id);
    let password = user.password.take();
    Ok((user, id, password))
}

pub(super) async fn create(
    api: &IdentityApi,
    req: Request<pb::CreateUserRequest>,
) -> Result<pb::User, Status> {
    let tenant = writer(&req)?;
    let (mut user, _, password) = split(req.into_inner().user)?;
    model::normalise_user(&mut user)?;
    let hash = match password {
        Some(p) => Some(password::hash_blocking(p).await?),
        None => None,
    };
    let created = api
        .db
        .write(DbOp::new("INSERT", "users"), move |conn| {
            ops::create(conn, &tenant, &user, hash.as_deref())
        })
        .await?;
    Ok(created)
}

pub(super) async fn get(
    api: &IdentityApi,
    req: Request<pb::GetUserRequest>,
) -> Result<pb::User, Status> {
    let tenant = reader(&req)?;
    let id = req.into_inner().id;
    if id.is_empty() {
        return Err(required("id"));
    }
    Ok(api
        .db
        .read_point(DbOp::new("SELECT", "users"), move |conn| {
            ops::get(conn, &tenant, &id)
        })
        .await?)
}

pub(super) async fn list(
    api: &IdentityApi,
    req: Request<pb::ListUsersRequest>,
) -> Result<pb::ListUsersResponse, Status> {
    let tenant = reader(&req)?;
    let req = req.into_inner();
    let compiled = req
        .filter
        .as_ref()
        .map(|f| filter::compile(ResourceKind::User, f))
        .transpose()?;
    let sort = Sort::of::<Users>(req.sort.as_ref())?;
    let mut fingerprint = filter::fingerprint(req.filter.as_ref());
    if let Some(s) = sort {
        fingerprint.push_str(&s.fingerprint());
    }
    let page = PageSpec::from_request(
        req.page.as_ref(),
        api.max_page_size,
        Users::NAME,
        &fingerprint,
    )?;
    let span = tracing::Span::current();
    if let Some(f) = &req.filter {
        span.record(
            "scim.filter_shape",
            scim_model::filter_shape::filter_shape(f).as_str(),
        );
    }
    let is_lookup = compiled
        .as_ref()
        .is_some_and(|f| filter::plan::index_key(f).is_some());
    let list_req = ListRequest {
        tenant,
        filter: compiled,
        fingerprint,
        page,
        sort,
        include_related: req.include_groups,
    };
    let cursors = api.cursors.clone();
    let op = DbOp::new("SELECT", "users");
    let read =
        move |conn: &mut scim_storage::Conn<'_>| listing::list::<Users>(conn, &cursors, &list_req);
    // An index lookup reads a few rows; a page may scan many.
    let result = if is_lookup {
        api.db.read_point(op, read).await?
    } else {
        api.db.read(op, read).await?
    };
    span.record("scim.result_count", result.items.len());
    span.record("scim.total_results", result.total);
    if let Some(index) = result.index {
        span.record("db.index", index);
    }
    Ok(pb::ListUsersResponse {
        users: result.items,
        page: Some(pb::PageInfo {
            total_results: result.total,
            start_index: result.start_index,
            next_page_token: result.next_token,
            previous_page_token: result.previous_token,
        }),
    })
}

pub(super) async fn replace(
    api: &IdentityApi,
    req: Request<pb::ReplaceUserRequest>,
) -> Result<pb::User, Status> {
    let tenant = writer(&req)?;
    let req = req.into_inner();
    let (mut user, id, password) = split(req.user)?;
    if id.is_empty() {
        return Err(required("user.id"));
    }
    model::normalise_user(&mut user)?;
    let change = match password {
        Some(p) => PasswordChange::Set(password::hash_blocking(p).await?),
        None => PasswordChange::Keep,
    };
    let edit = Edit::Replace {
        user,
        keep_active_if_unset: req.keep_active_if_unset,
    };
    let replaced = api
        .db
        .write(DbOp::new("UPDATE", "users"), move |conn| {
            ops::modify(conn, &tenant, &id, req.expected_version, &edit, &change)
        })
        .await?;
    Ok(replaced)
}

pub(super) async fn update(
    api: &IdentityApi,
    req: Request<pb::UpdateUserRequest>,
) -> Result<pb::User, Status> {
    let tenant = writer(&req)?;
    let req = req.into_inner();
    let mask = Mask::parse(req.update_mask.as_ref())?;
    let (user, id, password) = split(req.user)?;
    if id.is_empty() {
        return Err(required("user.id"));
    }
    let change = match (mask.touches_password(), password) {
        (false, _) => PasswordChange::Keep,
        (true, None) => PasswordChange::Clear,
        (true, Some(p)) => PasswordChange::Set(password::hash_blocking(p).await?),
    };
    let edit = Edit::Update { user, mask };
    let updated = api
        .db
        .write(DbOp::new("UPDATE", "users"), move |conn| {
            ops::modify(conn, &tenant, &id, req.expected_version, &edit, &change)
        })
        .await?;
    Ok(updated)
}

pub(super) async fn patch(
    api: &IdentityApi,
    req: Request<pb::PatchUserRequest>,
) -> Result<pb::User, Status> {
    let tenant = writer(&req)?;
    let req = req.into_inner();
    if req.id.is_empty() {
        return Err(required("id"));
    }
    let patch = UserPatch::check(req.operations)?;
    tracing::Span::current().record("scim.patch_ops", patch.len());
    // Hashing is slow on purpose, so it happens before the write, never inside it.
    let change = match patch.password() {
        PasswordEdit::Keep => PasswordChange::Keep,
        PasswordEdit::Clear => PasswordChange::Clear,
        PasswordEdit::Set(p) => PasswordChange::Set(password::hash_blocking(p).await?),
    };
    let edit = Edit::Patch(patch);
    let id = req.id;
    let patched = api
        .db
        .write(DbOp::new("UPDATE", "users"), move |conn| {
            ops::modify(conn, &tenant, &id, req.expected_version, &edit, &change)
        })
        .await?;
    Ok(patched)
}

pub(super) async fn delete(
    api: &IdentityApi,
    req: Request<pb::DeleteUserRequest>,
) -> Result<pb::DeleteUserResponse, Status> {
    let tenant = writer(&req)?;
    let req = req.into_inner();
    if req.id.is_empty() {
        return Err(required("id"));
    }
    api.db
        .write(DbOp::new("DELETE", "users"), move |conn| {
            ops::delete(conn, &tenant, &req.id, req.expected_version)
        })
        .await?;
    Ok(pb::DeleteUserResponse {})
}
