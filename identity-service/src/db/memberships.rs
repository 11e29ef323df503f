//! The `memberships` table: who is in which group.
//!
//! Cost model: adding or removing members issues a fixed number of statements per
//! [`CHUNK`] of *named* members (validate, look up those rows, insert, delete), each
//! keyed by `(group_id, member_value)`; the group's other members are never read. Only
//! `replace` reads the whole list, to compute what actually changed. Callers keep
//! `groups.member_count` current from the returned [`Outcome`].

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use scim_proto::identity::v1 as pb;
use scim_storage::{Conn, with_conn};

use super::schema::{groups, memberships};
use super::sql::in_set;
use super::users::CHUNK;
use crate::error::IdentityError;
use crate::members::{Change, MemberInput, MemberKind, dedup};

/// What a set of changes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Member rows inserted.
    pub added: i64,
    /// Member rows deleted.
    pub removed: i64,
    /// Whether anything changed, a stored `display` included.
    pub changed: bool,
}

#[derive(Insertable)]
#[diesel(table_name = memberships, treat_none_as_default_value = false)]
struct NewMembership<'a> {
    group_id: &'a str,
    member_value: &'a str,
    member_type: &'static str,
    display: Option<&'a str>,
    tenant: &'a str,
}

/// What to do with members that name no user or group of the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unknown {
    /// Fail the request with INVALID_ARGUMENT (the default for gRPC callers).
    #[default]
    Reject,
    /// Leave them out and apply the rest (what SCIM clients expect).
    Skip,
}

impl Unknown {
    /// `Skip` when `skip` is true.
    pub fn from_skip(skip: bool) -> Self {
        if skip { Unknown::Skip } else { Unknown::Reject }
    }
}

/// Applies `changes` in order to the member list of `group_id` (of `tenant`).
pub fn apply(
    conn: &mut Conn<'_>,
    tenant: &str,
    group_id: &str,
    changes: &[Change],
    unknown: Unknown,
) -> Result<Outcome, IdentityError> {
    let mut out = Outcome::default();
    for change in changes {
        match change {
            Change::Add(members) => {
                let members = validate(conn, tenant, group_id, dedup(members), unknown)?;
                add(conn, tenant, group_id, &members, &mut out)?
            }
            Change::Remove(values) => remove(conn, group_id, values, &mut out)?,
            Change::Replace(members) => {
                let members = validate(conn, tenant, group_id, dedup(members), unknown)?;
                replace(conn, tenant, group_id, &members, &mut out)?
            }
            Change::RemoveAll => {
                let n = with_conn!(conn, |c| diesel::delete(
                    memberships::table.filter(memberships::group_id.eq(group_id))
                )
                .execute(c))?;
                out.removed += n as i64;
            }
        }
    }
    out.changed |= out.added > 0 || out.removed > 0;
    Ok(out)
}

/// Every member must be a user or group of the tenant, and not the group itself. With
/// [`Unknown::Skip`], members that name nothing are left out; the common case (all
/// exist) costs one count per kind either way.
fn validate(
    conn: &mut Conn<'_>,
    tenant: &str,
    group_id: &str,
    members: Vec<MemberInput>,
    unknown: Unknown,
) -> Result<Vec<MemberInput>, IdentityError> {
    if members.is_empty() {
        return Ok(members);
    }
    if members.iter().any(|m| m.value == group_id) {
        return Err(IdentityError::invalid(
            "a group cannot be a member of itself",
        ));
    }
    let of = |kind| -> Vec<&str> {
        members
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.value.as_str())
            .collect()
    };
    let (user_ids, group_ids) = (of(MemberKind::User), of(MemberKind::Group));
    let found = if user_ids.is_empty() {
        0
    } else {
        super::users::count_existing(conn, tenant, &user_ids)?
    } + if group_ids.is_empty() {
        0
    } else {
        super::groups::count_existing(conn, tenant, &group_ids)?
    };
    if found == members.len() as i64 {
        return Ok(members);
    }
    if unknown == Unknown::Reject {
        return Err(IdentityError::invalid(
            "member value does not name a user or group of this tenant",
        ));
    }
    let mut known = super::users::existing_ids(conn, tenant, &user_ids)?;
    known.extend(super::groups::existing_ids(conn, tenant, &group_ids)?);
    let kept: Vec<MemberInput> = members
        .into_iter()
        .filter(|m| known.contains(&m.value))
        .collect();
    tracing::info!(
        kept = kept.len(),
        "left out members that name nothing in this tenant"
    );
    Ok(kept)
}

fn new_row<'a>(tenant: &'a str, group_id: &'a str, m: &'a MemberInput) -> NewMembership<'a> {
    NewMembership {
        group_id,
        member_value: &m.value,
        member_type: m.kind.as_str(),
        display: m.display.as_deref(),
        tenant,
    }
}

fn insert(conn: &mut Conn<'_>, rows: &[NewMembership<'_>]) -> QueryResult<i64> {
    let mut n = 0;
    for chunk in rows.chunks(CHUNK) {
        n += with_conn!(conn, |c| diesel::insert_into(memberships::table)
            .values(chunk)
            .on_conflict((memberships::group_id, memberships::member_value))
            .do_nothing()
            .execute(c))? as i64;
    }
    Ok(n)
}

fn set_display(
    conn: &mut Conn<'_>,
    group_id: &str,
    value: &str,
    display: Option<&str>,
) -> QueryResult<usize> {
    let query = diesel::update(
        memberships::table
            .filter(memberships::group_id.eq(group_id))
            .filter(memberships::member_value.eq(value)),
    )
    .set(memberships::display.eq(display));
    with_conn!(conn, |c| query.execute(c))
}

fn add(
    conn: &mut Conn<'_>,
    tenant: &str,
    group_id: &str,
    members: &[MemberInput],
    out: &mut Outcome,
) -> Result<(), IdentityError> {
    if members.is_empty() {
        return Ok(());
    }
    let values: Vec<&str> = members.iter().map(|m| m.value.as_str()).collect();
    let mut existing: HashMap<String, Option<String>> = HashMap::new();
    for chunk in values.chunks(CHUNK) {
        let query = memberships::table
            .filter(memberships::group_id.eq(group_id))
            .filter(memberships::member_value.eq_any(chunk))
            .select((memberships::member_value, memberships::display));
        let rows: Vec<(String, Option<String>)> = with_conn!(conn, |c| query.load(c))?;
        existing.extend(rows);
    }
    let fresh: Vec<NewMembership<'_>> = members
        .iter()
        .filter(|m| !existing.contains_key(&m.value))
        .map(|m| new_row(tenant, group_id, m))
        .collect();
    out.added += insert(conn, &fresh)?;
    for m in members {
        let Some(old) = existing.get(&m.value) else {
            continue;
        };
        if m.display.is_some() && *old != m.display {
            set_display(conn, group_id, &m.value, m.display.as_deref())?;
            out.changed = true;
        }
    }
    Ok(())
}

fn remove(
    conn: &mut Conn<'_>,
    group_id: &str,
    values: &[String],
    out: &mut Outcome,
) -> Result<(), IdentityError> {
    let unique: Vec<&str> = values
        .iter()
        .map(String::as_str)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in unique.chunks(CHUNK) {
        let query = diesel::delete(
            memberships::table
                .filter(memberships::group_id.eq(group_id))
                .filter(memberships::member_value.eq_any(chunk)),
        );
        out.removed += with_conn!(conn, |c| query.execute(c))? as i64;
    }
    Ok(())
}

fn replace(
    conn: &mut Conn<'_>,
    tenant: &str,
    group_id: &str,
    members: &[MemberInput],
    out: &mut Outcome,
) -> Result<(), IdentityError> {
    // Replacing is O(group) by nature: the old list decides what changes.
    let query = memberships::table
        .filter(memberships::group_id.eq(group_id))
        .select((memberships::member_value, memberships::display));
    let old: HashMap<String, Option<String>> = with_conn!(conn, |c| query
        .load::<(String, Option<String>)>(c))?
    .into_iter()
    .collect();
    let wanted: HashSet<&str> = members.iter().map(|m| m.value.as_str()).collect();
    let gone: Vec<String> = old
        .keys()
        .filter(|v| !wanted.contains(v.as_str()))
        .cloned()
        .collect();
    remove(conn, group_id, &gone, out)?;
    let fresh: Vec<NewMembership<'_>> = members
        .iter()
        .filter(|m| !old.contains_key(&m.value))
        .map(|m| new_row(tenant, group_id, m))
        .collect();
    out.added += insert(conn, &fresh)?;
    for m in members {
        if let Some(before) = old.get(&m.value)
            && *before != m.display
        {
            set_display(conn, group_id, &m.value, m.display.as_deref())?;
            out.changed = true;
        }
    }
    Ok(())
}

fn member(value: String, kind: String, display: Option<String>) -> pb::Member {
    pb::Member {
        value,
        r#type: kind,
        display,
    }
}

/// The members of one group, ordered by value.
pub fn list(conn: &mut Conn<'_>, group_id: &str) -> QueryResult<Vec<pb::Member>> {
    let query = memberships::table
        .filter(memberships::group_id.eq(group_id))
        .order(memberships::member_value.asc())
        .select((
            memberships::member_value,
            memberships::member_type,
            memberships::display,
        ));
    let rows: Vec<(String, String, Option<String>)> = with_conn!(conn, |c| query.load(c))?;
    Ok(rows.into_iter().map(|(v, t, d)| member(v, t, d)).collect())
}

/// The members of several groups, keyed by group id.
pub fn members_of(
    conn: &mut Conn<'_>,
    group_ids: &[&str],
) -> QueryResult<HashMap<String, Vec<pb::Member>>> {
    let mut out: HashMap<String, Vec<pb::Member>> = HashMap::new();
    for chunk in group_ids.chunks(CHUNK) {
        let query = memberships::table
            .filter(memberships::group_id.eq_any(chunk))
            .order((memberships::group_id.asc(), memberships::member_value.asc()))
            .select((
                memberships::group_id,
                memberships::member_value,
                memberships::member_type,
                memberships::display,
            ));
        let rows: Vec<(String, String, String, Option<String>)> =
            with_conn!(conn, |c| query.load(c))?;
        for (g, v, t, d) in rows {
            out.entry(g).or_default().push(member(v, t, d));
        }
    }
    Ok(out)
}

/// A direct membership of the group `value` named `display`.
fn direct(value: String, display: String) -> pb::GroupRef {
    pb::GroupRef {
        value,
        display,
        r#type: "direct".to_owned(),
    }
}

/// The groups `member_id` belongs to directly, in group creation order.
pub fn groups_of_one(
    conn: &mut Conn<'_>,
    tenant: &str,
    member_id: &str,
) -> QueryResult<Vec<pb::GroupRef>> {
    let query = memberships::table
        .inner_join(groups::table.on(groups::id.eq(memberships::group_id)))
        .filter(memberships::tenant.eq(tenant))
        .filter(memberships::member_value.eq(member_id))
        .order(groups::seq.asc())
        .select((groups::id, groups::display_name));
    let rows: Vec<(String, String)> = with_conn!(conn, |c| query.load(c))?;
    Ok(rows
        .into_iter()
        .map(|(value, display)| direct(value, display))
        .collect())
}

/// The groups each of `member_ids` belongs to directly, keyed by member id, in group
/// creation order.
pub fn groups_of(
    conn: &mut Conn<'_>,
    tenant: &str,
    member_ids: &[&str],
) -> QueryResult<HashMap<String, Vec<pb::GroupRef>>> {
    let mut out: HashMap<String, Vec<pb::GroupRef>> = HashMap::new();
    if let [one] = member_ids {
        // The single-resource read: `= ?` gives a statement diesel caches, where an
        // `IN (...)` list is prepared again on every call.
        let refs = groups_of_one(conn, tenant, one)?;
        if !refs.is_empty() {
            out.insert((*one).to_owned(), refs);
        }
        return Ok(out);
    }
    // Two statements for the whole page, each prepared once per connection (see
    // `db::sql`). A join would seek each membership's group, twice (its id, then its
    // row), and sort the lot by group; a page's members mostly share a few groups, so
    // the memberships come from the `(tenant, member_value, group_id)` index alone and
    // each distinct group is read once.
    let backend = conn.backend();
    let query = memberships::table
        .filter(memberships::tenant.eq(tenant))
        .filter(in_set(backend, memberships::member_value, member_ids))
        .select((memberships::member_value, memberships::group_id));
    let mut pairs: Vec<(String, String)> = with_conn!(conn, |c| query.load(c))?;
    if pairs.is_empty() {
        return Ok(out);
    }
    let mut group_ids: Vec<&str> = pairs.iter().map(|(_, g)| g.as_str()).collect();
    group_ids.sort_unstable();
    group_ids.dedup();
    let query = groups::table
        .filter(groups::tenant.eq(tenant))
        .filter(in_set(backend, groups::id, &group_ids))
        .select((groups::id, groups::seq, groups::display_name));
    let found: Vec<(String, i64, String)> = with_conn!(conn, |c| query.load(c))?;
    let by_id: HashMap<&str, (i64, &str)> = found
        .iter()
        .map(|(id, seq, display)| (id.as_str(), (*seq, display.as_str())))
        .collect();
    // In group creation order, so each member's list comes out in that order.
    pairs.sort_by_key(|(_, g)| by_id.get(g.as_str()).map(|&(seq, _)| seq));
    for (member, group_id) in pairs {
        // `group_id` cascades on delete, so every group is found; a miss is skipped
        // rather than unwrapped.
        if let Some(&(_, display)) = by_id.get(group_id.as_str()) {
            out.entry(member)
                .or_default()
                .push(direct(group_id, display.to_owned()));
        }
    }
    Ok(out)
}
