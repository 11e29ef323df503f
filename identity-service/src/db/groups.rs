//! The `groups` table.
//!
//! Nothing here reads `memberships`, except [`delete`], which removes the group's rows;
//! member lists are in [`super::memberships`].

use chrono::NaiveDateTime;
use diesel::connection::DefaultLoadingMode;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

use super::schema::{groups, memberships};
use super::sql::{first_rows, nth_row};
use super::users::CHUNK;
use crate::filter::plan::IndexKey;

/// A group row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = groups, check_for_backend(diesel::sqlite::Sqlite))]
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
    #[diesel(deserialize_as = super::timestamp::StoredTimestamp)]
    pub created_at: NaiveDateTime,
    /// When the group last changed (UTC).
    #[diesel(deserialize_as = super::timestamp::StoredTimestamp)]
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
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
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
pub fn find(conn: &mut SqliteConnection, tenant: &str, id: &str) -> QueryResult<Option<GroupRow>> {
    groups::table
        .filter(groups::tenant.eq(tenant))
        .filter(groups::id.eq(id))
        .select(GroupRow::as_select())
        // `id` is unique; no `LIMIT ?` (see `users::find`).
        .get_result(conn)
        .optional()
}

/// Whether another group of `tenant` has this folded `displayName`.
pub fn display_name_taken(
    conn: &mut SqliteConnection,
    tenant: &str,
    display_name_norm: &str,
    except_id: Option<&str>,
) -> QueryResult<bool> {
    // (tenant, display_name_norm) is unique: at most one row. A static query, so that
    // diesel caches its prepared statement.
    let holder: Option<String> = groups::table
        .filter(groups::tenant.eq(tenant))
        .filter(groups::display_name_norm.eq(display_name_norm))
        .select(groups::id)
        .get_result(conn)
        .optional()?;
    Ok(holder.is_some_and(|h| Some(h.as_str()) != except_id))
}

/// Inserts a new group without members.
pub fn insert(
    conn: &mut SqliteConnection,
    tenant: &str,
    id: &str,
    values: &GroupValues,
    now: NaiveDateTime,
) -> QueryResult<GroupRow> {
    diesel::insert_into(groups::table)
        .values(NewGroup {
            id,
            tenant,
            display_name: &values.display_name,
            display_name_norm: crate::model::fold(&values.display_name),
            external_id: values.external_id.as_deref(),
            member_count: 0,
            version: 1,
            created_at: now,
            updated_at: now,
        })
        .returning(GroupRow::as_returning())
        .get_result(conn)
}

/// Stores a group's new attributes, member count and version in one statement.
pub fn update(
    conn: &mut SqliteConnection,
    row: &GroupRow,
    values: &GroupValues,
    member_count: i64,
    now: NaiveDateTime,
) -> QueryResult<GroupRow> {
    diesel::update(groups::table.filter(groups::seq.eq(row.seq)))
        .set((
            groups::display_name.eq(&values.display_name),
            groups::display_name_norm.eq(crate::model::fold(&values.display_name)),
            groups::external_id.eq(values.external_id.as_deref()),
            groups::member_count.eq(member_count),
            groups::version.eq(row.version + 1),
            groups::updated_at.eq(now),
        ))
        .returning(GroupRow::as_returning())
        .get_result(conn)
}

/// Sets the member count alone (used right after creation, which is one change).
pub fn set_member_count(
    conn: &mut SqliteConnection,
    row: &GroupRow,
    member_count: i64,
) -> QueryResult<GroupRow> {
    diesel::update(groups::table.filter(groups::seq.eq(row.seq)))
        .set(groups::member_count.eq(member_count))
        .returning(GroupRow::as_returning())
        .get_result(conn)
}

/// Deletes a group with its member rows, and removes it from every group it is a member
/// of (those lose one member and gain a version).
pub fn delete(conn: &mut SqliteConnection, row: &GroupRow, now: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(memberships::table.filter(memberships::group_id.eq(&row.id))).execute(conn)?;
    let naming = memberships::table
        .filter(memberships::tenant.eq(&row.tenant))
        .filter(memberships::member_value.eq(&row.id));
    let parents: Vec<String> = naming.select(memberships::group_id).load(conn)?;
    diesel::delete(naming).execute(conn)?;
    for chunk in parents.chunks(CHUNK) {
        diesel::update(groups::table.filter(groups::id.eq_any(chunk)))
            .set((
                groups::member_count.eq(groups::member_count - 1),
                groups::version.eq(groups::version + 1),
                groups::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    diesel::delete(groups::table.filter(groups::seq.eq(row.seq))).execute(conn)?;
    Ok(())
}

/// Number of groups of `tenant`.
pub fn count(conn: &mut SqliteConnection, tenant: &str) -> QueryResult<i64> {
    groups::table
        .filter(groups::tenant.eq(tenant))
        .count()
        .get_result(conn)
}

/// Number of groups of `tenant` with `seq <= through`.
pub fn count_through(conn: &mut SqliteConnection, tenant: &str, through: i64) -> QueryResult<i64> {
    groups::table
        .filter(groups::tenant.eq(tenant))
        .filter(groups::seq.le(through))
        .count()
        .get_result(conn)
}

/// Up to `limit` groups after `seq`, in order.
pub fn after(
    conn: &mut SqliteConnection,
    tenant: &str,
    seq: i64,
    limit: i64,
) -> QueryResult<Vec<GroupRow>> {
    // No `LIMIT`: it would make SQLite prepare the statement again on every call
    // (see `db::sql`).
    let rows = groups::table
        .filter(groups::tenant.eq(tenant))
        .filter(groups::seq.gt(seq))
        .order(groups::seq.asc())
        .select(GroupRow::as_select())
        .load_iter::<GroupRow, DefaultLoadingMode>(conn)?;
    first_rows(rows, limit)
}

/// Up to `limit` groups with `seq >= from_seq`, skipping the first `offset` of them, in
/// order.
pub fn skip_from(
    conn: &mut SqliteConnection,
    tenant: &str,
    from_seq: i64,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<GroupRow>> {
    // The skipped rows are stepped over in the `(tenant, seq)` index alone; only the
    // page's rows are read from the table.
    let seqs = groups::table
        .filter(groups::tenant.eq(tenant))
        .filter(groups::seq.ge(from_seq))
        .order(groups::seq.asc())
        .select(groups::seq)
        .load_iter::<i64, DefaultLoadingMode>(conn)?;
    match nth_row(seqs, offset)? {
        Some(start) => after(conn, tenant, start - 1, limit),
        None => Ok(Vec::new()),
    }
}

/// The number of groups of `tenant`, and the seq at every `every`-th position
/// (0, `every`, 2 × `every`, …), from one walk of the `(tenant, seq)` index.
pub fn sample_seqs(
    conn: &mut SqliteConnection,
    tenant: &str,
    every: usize,
) -> QueryResult<(i64, Vec<i64>)> {
    let seqs = groups::table
        .filter(groups::tenant.eq(tenant))
        .order(groups::seq.asc())
        .select(groups::seq)
        .load_iter::<i64, diesel::connection::DefaultLoadingMode>(conn)?;
    super::sample_every(seqs, every)
}

/// The groups an index lookup yields, in order. Keys that do not apply to groups yield
/// nothing.
pub fn lookup(
    conn: &mut SqliteConnection,
    tenant: &str,
    key: &IndexKey,
) -> QueryResult<Vec<GroupRow>> {
    // One static query per key, so that diesel caches each prepared statement.
    let of_tenant = groups::table
        .filter(groups::tenant.eq(tenant))
        .order(groups::seq.asc())
        .select(GroupRow::as_select());
    match key {
        IndexKey::Id(v) => Ok(find(conn, tenant, v)?.into_iter().collect()),
        IndexKey::ExternalId(v) => of_tenant.filter(groups::external_id.eq(v)).load(conn),
        IndexKey::DisplayName(v) => of_tenant.filter(groups::display_name_norm.eq(v)).load(conn),
        IndexKey::MemberValue(v) => of_tenant
            .filter(
                groups::id.eq_any(
                    memberships::table
                        .filter(memberships::tenant.eq(tenant))
                        .filter(memberships::member_value.eq(v))
                        .select(memberships::group_id),
                ),
            )
            .load(conn),
        IndexKey::UserName(_) | IndexKey::EmailValue(_) => Ok(Vec::new()),
    }
}

/// How many of `ids` are groups of `tenant`.
pub fn count_existing(conn: &mut SqliteConnection, tenant: &str, ids: &[&str]) -> QueryResult<i64> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        n += groups::table
            .filter(groups::tenant.eq(tenant))
            .filter(groups::id.eq_any(chunk))
            .count()
            .get_result::<i64>(conn)?;
    }
    Ok(n)
}

/// The ids among `ids` that name a group of `tenant`.
pub fn existing_ids(
    conn: &mut SqliteConnection,
    tenant: &str,
    ids: &[&str],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<String> = groups::table
            .filter(groups::tenant.eq(tenant))
            .filter(groups::id.eq_any(chunk))
            .select(groups::id)
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}
