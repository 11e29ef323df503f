//! Group and membership RPCs.

use scim_proto::identity::v1 as pb;
use tonic::{Request, Status};

use super::{IdentityApi, reader, required, writer};
use crate::db::DbOp;
use crate::db::memberships::Unknown;
use crate::error::IdentityError;
use crate::filter::{self, ResourceKind};
use crate::listing::sorted::Sort;
use crate::listing::{self, Groups, ListKind as _, ListRequest};
use crate::members::{self, Change, MAX_MEMBERS_PER_REQUEST, MemberInput};
use crate::model;
use crate::ops::groups::{self as ops, GroupEdit};
use crate::paging::PageSpec;

/// Checks the members of a request.
fn member_inputs(members: &[pb::Member]) -> Result<Vec<MemberInput>, IdentityError> {
    if members.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(IdentityError::invalid(format!(
            "a request may name at most {MAX_MEMBERS_PER_REQUEST} members"
        )));
    }
    members.iter().map(MemberInput::from_proto).collect()
}

pub(super) async fn create(
    api: &IdentityApi,
    req: Request<pb::CreateGroupRequest>,
) -> Result<pb::Group, Status> {
    let tenant = writer(&req)?;
    let req = req.into_inner();
    let mut group = req.group.ok_or_else(|| required("group"))?;
    model::normalise_group(&mut group)?;
    let members = member_inputs(&group.members)?;
    let include = req.include_members;
    let unknown = Unknown::from_skip(req.skip_unknown_members);
    let created = api
        .db
        .write(DbOp::new("INSERT", "groups"), move |conn| {
            let row = ops::create(conn, &tenant, &group, members.clone(), unknown)?;
            ops::view(conn, &row, include)
        })
        .await?;
    Ok(created)
}

pub(super) async fn get(
    api: &IdentityApi,
    req: Request<pb::GetGroupRequest>,
) -> Result<pb::Group, Status> {
    let tenant = reader(&req)?;
    let req = req.into_inner();
    if req.id.is_empty() {
        return Err(required("id"));
    }
    Ok(api
        .db
        .read(DbOp::new("SELECT", "groups"), move |conn| {
            ops::get(conn, &tenant, &req.id, req.include_members)
        })
        .await?)
}

pub(super) async fn list(
    api: &IdentityApi,
    req: Request<pb::ListGroupsRequest>,
) -> Result<pb::ListGroupsResponse, Status> {
    let tenant = reader(&req)?;
    let req = req.into_inner();
    let compiled = req
        .filter
        .as_ref()
        .map(|f| filter::compile(ResourceKind::Group, f))
        .transpose()?;
    let sort = Sort::of::<Groups>(req.sort.as_ref())?;
    let mut fingerprint = filter::fingerprint(req.filter.as_ref());
    if let Some(s) = sort {
        fingerprint.push_str(&s.fingerprint());
    }
    let page = PageSpec::from_request(
        req.page.as_ref(),
        api.max_page_size,
        Groups::NAME,
        &fingerprint,
    )?;
    let span = tracing::Span::current();
    if let Some(f) = &req.filter {
        span.record(
            "scim.filter_shape",
            scim_model::filter_shape::filter_shape(f).as_str(),
        );
    }
    let list_req = ListRequest {
        tenant,
        filter: compiled,
        fingerprint,
        page,
        sort,
        include_related: req.include_members,
    };
    let cursors = api.cursors.clone();
    let result = api
        .db
        .read(DbOp::new("SELECT", "groups"), move |conn| {
            listing::list::<Groups>(conn, &cursors, &list_req)
        })
        .await?;
    span.record("scim.result_count", result.items.len());
    span.record("scim.total_results", result.total);
    if let Some(index) = result.index {
        span.record("db.index", index);
    }
    Ok(pb::ListGroupsResponse {
        groups: result.items,
        page: Some(pb::PageInfo {
            total_results: result.total,
            start_index: result.start_index,
            next_page_token: result.next_token,
            previous_page_token: result.previous_token,
        }),
    })
}

/// Runs a group edit and returns the group, with members when asked for.
async fn edit_group(
    api: &IdentityApi,
    tenant: String,
    id: String,
    expected_version: i64,
    edit: GroupEdit,
    include_members: bool,
) -> Result<pb::Group, Status> {
    let group = api
        .db
        .write(DbOp::new("UPDATE", "groups"), move |conn| {
            let (row, _) = ops::modify(conn, &tenant, &id, expected_version, &edit)?;
            ops::view(conn, &row, include_members)
        })
        .await?;
    Ok(group)
}

pub(super) async fn replace(
    api: &IdentityApi,
    req: Request<pb::ReplaceGroupRequest>,
) -> Result<pb::Group, Status> {
    let tenant = writer(&req)?;
    let req = req.into_inner();
    let mut group = req.group.ok_or_else(|| required("group"))?;
    let id = std::mem::take(&mut group.id);
    if id.is_empty() {
        return Err(required("group.id"));
    }
    model::normalise_group(&mut group)?;
    let edit = GroupEdit {
        changes: vec![Change::Replace(member_inputs(&group.members)?)],
        display_name: Some(group.display_name),
        external_id: Some(group.external_id),
        skip_unknown_members: req.skip_unknown_members,
    };
    edit_group(
        api,
        tenant,
        id,
        req.expected_version,
        edit,
        req.include_members,
    )
    .await
}

pub(super) async fn update(
    api: &IdentityApi,
    req: Request<pb::UpdateGroupRequest>,
) -> Result<pb::Group, Status> {
    let tenant = writer(&req)?;
    let req = req.into_inner();
    if req.id.is_empty() {
        return Err(required("id"));
    }
    let edit = GroupEdit {
        changes: members::changes_from_proto(&req.member_changes)?,
        display_name: req.display_name,
        external_id: req.external_id.map(|e| Some(e).filter(|e| !e.is_empty())),
        skip_unknown_members: req.skip_unknown_members,
    };
    edit_group(
        api,
        tenant,
        req.id,
        req.expected_version,
        edit,
        req.include_members,
    )
    .await
}

pub(super) async fn delete(
    api: &IdentityApi,
    req: Request<pb::DeleteGroupRequest>,
) -> Result<pb::DeleteGroupResponse, Status> {
    let tenant = writer(&req)?;
    let req = req.into_inner();
    if req.id.is_empty() {
        return Err(required("id"));
    }
    api.db
        .write(DbOp::new("DELETE", "groups"), move |conn| {
            ops::delete(conn, &tenant, &req.id, req.expected_version)
        })
        .await?;
    Ok(pb::DeleteGroupResponse {})
}

pub(super) async fn modify_members(
    api: &IdentityApi,
    req: Request<pb::ModifyMembersRequest>,
) -> Result<pb::ModifyMembersResponse, Status> {
    let tenant = writer(&req)?;
    let req = req.into_inner();
    if req.group_id.is_empty() {
        return Err(required("group_id"));
    }
    let edit = GroupEdit {
        changes: members::changes_from_proto(&req.changes)?,
        skip_unknown_members: req.skip_unknown_members,
        ..GroupEdit::default()
    };
    let (row, outcome) = api
        .db
        .write(DbOp::new("UPDATE", "memberships"), move |conn| {
            ops::modify(conn, &tenant, &req.group_id, req.expected_version, &edit)
        })
        .await?;
    let span = tracing::Span::current();
    span.record("scim.members_added", outcome.added);
    span.record("scim.members_removed", outcome.removed);
    Ok(pb::ModifyMembersResponse {
        group: Some(model::group_from_row(&row)),
        added: outcome.added,
        removed: outcome.removed,
    })
}
