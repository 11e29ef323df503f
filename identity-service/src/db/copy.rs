//! Whole tables read out of one database and written into another, for
//! `scimctl db copy`: every row with every column as stored (ids, `seq`, versions,
//! timestamps, hashes), so that ids, ETags and listing order survive a move between
//! backends.
//!
//! The caller reads the source inside one read snapshot and writes the target inside
//! one transaction, page by page ([`PAGE`] rows), in primary-key order; then
//! [`finish`] derives what is not copied (the list counters, PostgreSQL's identity
//! sequences).

use diesel::dsl::count_star;
use diesel::prelude::*;
use scim_storage::{Conn, DbTime, with_conn};

use super::counts::{self, KindCounts, TenantCounts};
use super::schema::{groups, memberships, user_emails, users};

/// Rows per read and per insert.
pub const PAGE: i64 = 500;

/// The tables copied, in the order they must be written (foreign keys).
pub const TABLES: [&str; 4] = ["users", "user_emails", "groups", "memberships"];

/// A `users` row with every column.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct User {
    seq: i64,
    id: String,
    tenant: String,
    user_name: String,
    user_name_norm: String,
    external_id: Option<String>,
    display_name: Option<String>,
    display_name_norm: Option<String>,
    active: Option<bool>,
    password_hash: Option<String>,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
    attributes: Vec<u8>,
    sort_email: Option<String>,
}

/// A `user_emails` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_emails, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Email {
    user_id: String,
    position: i32,
    tenant: String,
    value_norm: String,
    type_: Option<String>,
}

/// A `groups` row with every column.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = groups, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Group {
    seq: i64,
    id: String,
    tenant: String,
    display_name: String,
    display_name_norm: String,
    external_id: Option<String>,
    member_count: i64,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

/// A `memberships` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Membership {
    group_id: String,
    member_value: String,
    member_type: String,
    display: Option<String>,
    tenant: String,
}

/// One page of a table, as read from the source.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    /// `users` rows.
    Users(Vec<User>),
    /// `user_emails` rows.
    Emails(Vec<Email>),
    /// `groups` rows.
    Groups(Vec<Group>),
    /// `memberships` rows.
    Memberships(Vec<Membership>),
}

impl Page {
    /// Rows on the page.
    pub fn len(&self) -> usize {
        match self {
            Page::Users(r) => r.len(),
            Page::Emails(r) => r.len(),
            Page::Groups(r) => r.len(),
            Page::Memberships(r) => r.len(),
        }
    }

    /// Whether the page is empty (the table is done).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where the next page of a table starts: after this primary key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct After(Option<(String, String)>);

/// Rows in `table`.
pub fn count(conn: &mut Conn<'_>, table: &str) -> QueryResult<i64> {
    match table {
        "users" => with_conn!(conn, |c| users::table.select(count_star()).get_result(c)),
        "user_emails" => with_conn!(conn, |c| user_emails::table
            .select(count_star())
            .get_result(c)),
        "groups" => with_conn!(conn, |c| groups::table.select(count_star()).get_result(c)),
        "memberships" => with_conn!(conn, |c| memberships::table
            .select(count_star())
            .get_result(c)),
        other => Err(unknown(other)),
    }
}

fn unknown(table: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("no table {table} to copy").into())
}

/// The page of `table` after `after`, in primary-key order; advances `after`.
pub fn read_page(conn: &mut Conn<'_>, table: &str, after: &mut After) -> QueryResult<Page> {
    let (a, b) = after.0.clone().unwrap_or_default();
    let started = after.0.is_some();
    let page = match table {
        "users" => {
            let seq: i64 = if started {
                a.parse().unwrap_or(0)
            } else {
                i64::MIN
            };
            let rows: Vec<User> = with_conn!(conn, |c| users::table
                .filter(users::seq.gt(seq))
                .order(users::seq.asc())
                .limit(PAGE)
                .select(User::as_select())
                .load(c))?;
            after.0 = rows.last().map(|r| (r.seq.to_string(), String::new()));
            Page::Users(rows)
        }
        "groups" => {
            let seq: i64 = if started {
                a.parse().unwrap_or(0)
            } else {
                i64::MIN
            };
            let rows: Vec<Group> = with_conn!(conn, |c| groups::table
                .filter(groups::seq.gt(seq))
                .order(groups::seq.asc())
                .limit(PAGE)
                .select(Group::as_select())
                .load(c))?;
            after.0 = rows.last().map(|r| (r.seq.to_string(), String::new()));
            Page::Groups(rows)
        }
        "user_emails" => {
            let position: i32 = b.parse().unwrap_or(-1);
            let rows: Vec<Email> = with_conn!(conn, |c| user_emails::table
                .filter(
                    user_emails::user_id.gt(&a).or(user_emails::user_id
                        .eq(&a)
                        .and(user_emails::position.gt(position))),
                )
                .order((user_emails::user_id.asc(), user_emails::position.asc()))
                .limit(PAGE)
                .select(Email::as_select())
                .load(c))?;
            after.0 = rows
                .last()
                .map(|r| (r.user_id.clone(), r.position.to_string()));
            Page::Emails(rows)
        }
        "memberships" => {
            let rows: Vec<Membership> = with_conn!(conn, |c| memberships::table
                .filter(
                    memberships::group_id.gt(&a).or(memberships::group_id
                        .eq(&a)
                        .and(memberships::member_value.gt(&b))),
                )
                .order((memberships::group_id.asc(), memberships::member_value.asc()))
                .limit(PAGE)
                .select(Membership::as_select())
                .load(c))?;
            after.0 = rows
                .last()
                .map(|r| (r.group_id.clone(), r.member_value.clone()));
            Page::Memberships(rows)
        }
        other => return Err(unknown(other)),
    };
    if page.is_empty() {
        // Keep the position of the last row: an empty page means the table is done.
        after.0 = Some((a, b));
    }
    Ok(page)
}

/// Writes a page into the target.
pub fn write_page(conn: &mut Conn<'_>, page: &Page) -> QueryResult<usize> {
    if page.is_empty() {
        return Ok(0);
    }
    match page {
        Page::Users(rows) => with_conn!(conn, |c| diesel::insert_into(users::table)
            .values(rows)
            .execute(c)),
        Page::Emails(rows) => with_conn!(conn, |c| diesel::insert_into(user_emails::table)
            .values(rows)
            .execute(c)),
        Page::Groups(rows) => with_conn!(conn, |c| diesel::insert_into(groups::table)
            .values(rows)
            .execute(c)),
        Page::Memberships(rows) => with_conn!(conn, |c| diesel::insert_into(memberships::table)
            .values(rows)
            .execute(c)),
    }
}

/// After every table was written: the list counters start from the copied rows, and on
/// PostgreSQL the identity sequences move past the copied `seq`s, so new rows keep
/// coming after them.
pub fn finish(conn: &mut Conn<'_>) -> QueryResult<()> {
    let users: Vec<(String, i64)> = with_conn!(conn, |c| users::table
        .group_by(users::tenant)
        .select((users::tenant, count_star()))
        .load(c))?;
    let groups: Vec<(String, i64)> = with_conn!(conn, |c| groups::table
        .group_by(groups::tenant)
        .select((groups::tenant, count_star()))
        .load(c))?;
    let mut tenants: std::collections::BTreeMap<String, TenantCounts> = Default::default();
    for (tenant, n) in users {
        tenants.entry(tenant).or_default().users = KindCounts {
            created: n,
            ..Default::default()
        };
    }
    for (tenant, n) in groups {
        tenants.entry(tenant).or_default().groups = KindCounts {
            created: n,
            ..Default::default()
        };
    }
    for (tenant, c) in &tenants {
        counts::reset(conn, tenant, c)?;
    }
    if let Conn::Pg(c) = conn {
        for table in ["users", "groups"] {
            diesel::sql_query(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'seq'), \
                 COALESCE((SELECT max(seq) FROM {table}), 0) + 1, false)"
            ))
            .execute(&mut **c)?;
        }
        // Fresh statistics after a bulk load, as after any: plans the services prepare
        // from the first request on see the tables' real sizes.
        diesel::sql_query("ANALYZE").execute(&mut **c)?;
    }
    Ok(())
}
