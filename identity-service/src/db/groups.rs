//! The `groups` table.
//!
//! Nothing here reads `memberships`, except [`delete`], which removes the group's rows;
//! member lists are in [`super::memberships`].

use chrono::NaiveDateTime;
use diesel::prelude::*;
use scim_storage::{Conn, DbTime, with_conn};

use super::schema::{groups, memberships};
use super::users::CHUNK;
use crate::filter::plan::IndexKey;

/// A group row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = groups, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct GroupRow {
    /// Creation order; the listing order.
    pub seq: i64,
    /// The group id.
    pub id: String,
    /// The owning tenant.
    pub tenant: String,
    /// `displayName` as given.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// Number of member rows.
    pub member_count: i64,
    /// The version, 1 on creation.
    pub version: i64,
    /// When the group was created (UTC).
    #[diesel(deserialize_as = DbTime)]
    pub created_at: NaiveDateTime,
    /// When the group last changed (UTC).
    #[diesel(deserialize_as = DbTime)]
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = groups, treat_none_as_default_value = false)]
struct NewGroup<'a> {
    id: &'a str,
    tenant: &'a str,
    display_name: &'a str,
    display_name_norm: String,
    external_id: Option<&'a str>,
    member_count: i64,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

/// The attributes of a group a write sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValues {
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
}

/// The group `id` of `tenant`.
pub fn find(conn: &mut Conn<'_>, tenant: &str, id: &str) -> QueryResult<Option<GroupRow>> {
    // `id` is unique; no `LIMIT ?` (see `users::find`).
    with_conn!(conn, |c| groups::table
        .filter(groups::tenant.eq(tenant))
        .filter(groups::id.eq(id))
        .select(GroupRow::as_select())
        .get_result(c)
        .optional())
}

/// The group `id` of `tenant`, locked until the transaction ends (see
/// [`super::users::find_for_update`]): changes of one group's attributes and members
/// take turns on PostgreSQL, so `member_count` and the version stay exact.
pub fn find_for_update(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
) -> QueryResult<Option<GroupRow>> {
    // The same query for each backend; only PostgreSQL has (and needs) the lock.
    macro_rules! by_id {
        () => {
            groups::table
                .filter(groups::tenant.eq(tenant))
                .filter(groups::id.eq(id))
                .select(GroupRow::as_select())
        };
    }
    match conn {
        Conn::Sqlite(c) => by_id!().get_result(&mut **c).optional(),
        Conn::Pg(c) => by_id!().for_update().get_result(&mut **c).optional(),
    }
}

/// Whether another group of `tenant` has this folded `displayName`.
pub fn display_name_taken(
    conn: &mut Conn<'_>,
    tenant: &str,
    display_name_norm: &str,
    except_id: Option<&str>,
) -> QueryResult<bool> {
    // (tenant, display_name_norm) is unique: at most one row. A static query, so that
    // diesel caches its prepared statement.
    let query = groups::table
        .filter(groups::tenant.eq(tenant))
        .filter(groups::display_name_norm.eq(display_name_norm))
        .select(groups::id);
    let holder: Option<String> = with_conn!(conn, |c| query.get_result(c).optional())?;
    Ok(holder.is_some_and(|h| Some(h.as_str()) != except_id))
}

/// Inserts a new group without members.
pub fn insert(
    conn: &mut Conn<'_>,
    tenant: &str,
    id: &str,
    values: &GroupValues,
    now: NaiveDateTime,
) -> QueryResult<GroupRow> {
    let new = NewGroup {
        id,
        tenant,
        display_name: &values.display_name,
        display_name_norm: crate::model::fold(&values.display_name),
        external_id: values.external_id.as_deref(),
        member_count: 0,
        version: 1,
        created_at: DbTime(now),
        updated_at: DbTime(now),
    };
    with_conn!(conn, |c| diesel::insert_into(groups::table)
        .values(&new)
        .returning(GroupRow::as_returning())
        .get_result(c))
}

/// Stores a group's new attributes, member count and version in one statement.
pub fn update(
    conn: &mut Conn<'_>,
    row: &GroupRow,
    values: &GroupValues,
    member_count: i64,
    now: NaiveDateTime,
) -> QueryResult<GroupRow> {
    let query = diesel::update(groups::table.filter(groups::seq.eq(row.seq))).set((
        groups::display_name.eq(&values.display_name),
        groups::display_name_norm.eq(crate::model::fold(&values.display_name)),
        groups::external_id.eq(values.external_id.as_deref()),
        groups::member_count.eq(member_count),
        groups::version.eq(row.version + 1),
        groups::updated_at.eq(DbTime(now)),
    ));
    with_conn!(conn, |c| query
        .returning(GroupRow::as_returning())
        .get_result(c))
}

/// Sets the member count alone (used right after creation, which is one change).
pub fn set_member_count(
    conn: &mut Conn<'_>,
    row: &GroupRow,
    member_count: i64,
) -> QueryResult<GroupRow> {
    let query = diesel::update(groups::table.filter(groups::seq.eq(row.seq)))
        .set(groups::member_count.eq(member_count));
    with_conn!(conn, |c| query
        .returning(GroupRow::as_returning())
        .get_result(c))
}

/// Deletes a group with its member rows, and removes it from every group it is a member
/// of (those lose one member and gain a version).
pub fn delete(conn: &mut Conn<'_>, row: &GroupRow, now: NaiveDateTime) -> QueryResult<()> {
    with_conn!(conn, |c| diesel::delete(
        memberships::table.filter(memberships::group_id.eq(&row.id))
    )
    .execute(c))?;
    let naming = memberships::table
        .filter(memberships::tenant.eq(&row.tenant))
        .filter(memberships::member_value.eq(&row.id));
    // The parents whose rows this statement deleted (see `users::delete`).
    let parents: Vec<String> = with_conn!(conn, |c| diesel::delete(naming)
        .returning(memberships::group_id)
        .get_results(c))?;
    super::users::lose_member(conn, &parents, now)?;
    with_conn!(conn, |c| diesel::delete(
        groups::table.filter(groups::seq.eq(row.seq))
    )
    .execute(c))?;
    Ok(())
}

super::seq_pages::seq_pages!(groups, GroupRow, "groups");

/// The groups an index lookup yields, in order. Keys that do not apply to groups yield
/// nothing.
pub fn lookup(conn: &mut Conn<'_>, tenant: &str, key: &IndexKey) -> QueryResult<Vec<GroupRow>> {
    // One static query per key, so that diesel caches each prepared statement.
    macro_rules! of_tenant {
        () => {
            groups::table
                .filter(groups::tenant.eq(tenant))
                .order(groups::seq.asc())
                .select(GroupRow::as_select())
        };
    }
    match key {
        IndexKey::Id(v) => Ok(find(conn, tenant, v)?.into_iter().collect()),
        IndexKey::ExternalId(v) => {
            with_conn!(conn, |c| of_tenant!()
                .filter(groups::external_id.eq(v))
                .load(c))
        }
        IndexKey::DisplayName(v) => {
            with_conn!(conn, |c| of_tenant!()
                .filter(groups::display_name_norm.eq(v))
                .load(c))
        }
        IndexKey::MemberValue(v) => {
            with_conn!(conn, |c| of_tenant!()
                .filter(
                    groups::id.eq_any(
                        memberships::table
                            .filter(memberships::tenant.eq(tenant))
                            .filter(memberships::member_value.eq(v))
                            .select(memberships::group_id),
                    ),
                )
                .load(c))
        }
        IndexKey::UserName(_) | IndexKey::EmailValue(_) => Ok(Vec::new()),
    }
}

/// How many of `ids` are groups of `tenant`; share-locked on PostgreSQL, as in
/// [`super::users::count_existing`].
pub fn count_existing(conn: &mut Conn<'_>, tenant: &str, ids: &[&str]) -> QueryResult<i64> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        let of = groups::table
            .filter(groups::tenant.eq(tenant))
            .filter(groups::id.eq_any(chunk));
        n += match conn {
            Conn::Sqlite(c) => of.count().get_result::<i64>(&mut **c)?,
            Conn::Pg(c) => of
                .select(groups::seq)
                .for_share()
                .load::<i64>(&mut **c)?
                .len() as i64,
        };
    }
    Ok(n)
}

/// The ids among `ids` that name a group of `tenant`.
pub fn existing_ids(
    conn: &mut Conn<'_>,
    tenant: &str,
    ids: &[&str],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let query = groups::table
            .filter(groups::tenant.eq(tenant))
            .filter(groups::id.eq_any(chunk))
            .select(groups::id);
        let rows: Vec<String> = with_conn!(conn, |c| query.load(c))?;
        found.extend(rows);
    }
    Ok(found)
}

/// Sorted walks of the groups (see `db::sorted_pages`).
pub mod sorted {
    use super::*;
    super::super::sorted_pages::sorted_pages!(by_created, groups, GroupRow, created);
    super::super::sorted_pages::sorted_pages!(
        by_display_name,
        groups,
        GroupRow,
        display_name_norm,
        unique
    );
    super::super::sorted_pages::sorted_pages!(
        by_external_id,
        groups,
        GroupRow,
        external_id,
        nullable
    );
    super::super::sorted_pages::sorted_pages!(
        by_last_modified,
        groups,
        GroupRow,
        updated_at,
        required
    );
}
