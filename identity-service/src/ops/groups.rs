//! Group operations, each the body of one transaction: uniqueness, versions, member
//! changes and the `member_count` they imply.

use scim_proto::identity::v1 as pb;
use scim_storage::Conn;

use crate::db::counts::{self, Change as Counted, Kind};
use crate::db::groups::{self, GroupRow, GroupValues};
use crate::db::memberships::{self, Outcome, Unknown};
use crate::error::IdentityError;
use crate::members::{Change, MemberInput};
use crate::model::{self, fold};

const GROUP: &str = "group";

fn find(conn: &mut Conn<'_>, tenant: &str, id: &str) -> Result<GroupRow, IdentityError> {
    groups::find(conn, tenant, id)?.ok_or(IdentityError::NotFound(GROUP))
}

/// The group, locked for the rest of the write (see [`groups::find_for_update`]).
fn find_to_change(conn: &mut Conn<'_>, tenant: &str, id: &str) -> Result<GroupRow, IdentityError> {
    groups::find_for_update(conn, tenant, id)?.ok_or(IdentityError::NotFound(GROUP))
}

fn taken() -> IdentityError {
    IdentityError::AlreadyExists {
        attribute: "displayName",
    }
}

/// The group as returned, with members when asked for. Without them the membership
/// table is not read.
pub fn view(
    conn: &mut Conn<'_>,
    row: &GroupRow,
    include_members: bool,
) -> Result<pb::Group, IdentityError> {
    let mut group = model::group_from_row(row);
    if include_members {
        group.members = memberships::list(conn, &row.id)?;
    }
    Ok(group)
}

/// Creates a group from a normalised `group` with initial `members`.
pub fn create(
    conn: &mut Conn<'_>,
    tenant: &str,
    group: &pb::Group,
    members: Vec<MemberInput>,
    unknown: Unknown,
) -> Result<GroupRow, IdentityError> {
    if groups::display_name_taken(conn, tenant, &fold(&group.display_name), None)? {
        return Err(taken());
    }
    // Version 7 (time-ordered): new ids land at the end of the id index instead of on a
    // random page of it, so a group commit of many creates writes few index pages.
    let id = uuid::Uuid::now_v7().to_string();
    let values = GroupValues {
        display_name: group.display_name.clone(),
        external_id: group.external_id.clone(),
    };
    let now = model::now();
    let row = groups::insert(conn, tenant, &id, &values, now)?;
    let outcome = memberships::apply(conn, tenant, &id, &[Change::Add(members)], unknown)?;
    let row = if outcome.added == 0 {
        row
    } else {
        // Creating with members is one change: the version stays 1.
        groups::set_member_count(conn, &row, outcome.added)?
    };
    counts::record(conn, tenant, Kind::Groups, Counted::Created)?;
    Ok(row)
}

/// One group.
pub fn get(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
    include_members: bool,
) -> Result<pb::Group, IdentityError> {
    let row = find(conn, tenant, id)?;
    view(conn, &row, include_members)
}

/// A change of a group: attributes and member changes, applied in order.
#[derive(Debug, Default)]
pub struct GroupEdit {
    /// A new `displayName`.
    pub display_name: Option<String>,
    /// A new `externalId`; `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    /// Member changes.
    pub changes: Vec<Change>,
    /// Leave out members that name nothing in the tenant instead of failing.
    pub skip_unknown_members: bool,
}

/// Applies `edit` atomically; a change that changes nothing keeps the version.
pub fn modify(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
    expected_version: i64,
    edit: &GroupEdit,
) -> Result<(GroupRow, Outcome), IdentityError> {
    let row = find_to_change(conn, tenant, id)?;
    IdentityError::check_version(expected_version, row.version)?;
    let mut values = GroupValues {
        display_name: row.display_name.clone(),
        external_id: row.external_id.clone(),
    };
    let mut changed = false;
    if let Some(name) = &edit.display_name {
        let mut probe = pb::Group {
            display_name: name.clone(),
            ..Default::default()
        };
        model::normalise_group(&mut probe)?;
        if fold(&probe.display_name) != fold(&row.display_name)
            && groups::display_name_taken(conn, tenant, &fold(&probe.display_name), Some(id))?
        {
            return Err(taken());
        }
        changed |= probe.display_name != values.display_name;
        values.display_name = probe.display_name;
    }
    if let Some(external_id) = &edit.external_id {
        let external_id = external_id.clone().filter(|e| !e.is_empty());
        changed |= external_id != values.external_id;
        values.external_id = external_id;
    }
    let unknown = Unknown::from_skip(edit.skip_unknown_members);
    let outcome = memberships::apply(conn, tenant, id, &edit.changes, unknown)?;
    if !changed && !outcome.changed {
        return Ok((row, outcome));
    }
    let count = row.member_count + outcome.added - outcome.removed;
    let updated = groups::update(conn, &row, &values, count, model::now())?;
    counts::record(conn, tenant, Kind::Groups, Counted::Changed)?;
    Ok((updated, outcome))
}

/// Deletes a group with its membership rows.
pub fn delete(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
    expected_version: i64,
) -> Result<(), IdentityError> {
    let row = find_to_change(conn, tenant, id)?;
    IdentityError::check_version(expected_version, row.version)?;
    groups::delete(conn, &row, model::now())?;
    counts::record(conn, tenant, Kind::Groups, Counted::Deleted)?;
    Ok(())
}
