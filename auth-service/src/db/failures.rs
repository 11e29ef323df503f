//! The `auth_failures` table: failed client authentications per client id, shared by
//! every replica (see [`crate::guard`]).

use diesel::prelude::*;
use scim_storage::{Conn, DbTime, with_conn};

use super::schema::auth_failures;
use crate::error::AuthError;

/// The failure record of one client id.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = auth_failures, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct FailureRow {
    /// The client id that failed (known or not).
    pub client_id: String,
    /// Consecutive failures.
    pub failures: i32,
    /// The last one.
    pub last_failure: DbTime,
    /// Refused until then, if locked out.
    pub locked_until: Option<DbTime>,
}

/// The record of `client_id`, if any.
#[tracing::instrument(
    name = "SELECT auth_failures",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "SELECT", db.collection.name = "auth_failures")
)]
pub fn get(conn: &mut Conn<'_>, client_id: &str) -> Result<Option<FailureRow>, AuthError> {
    Ok(with_conn!(conn, |c| auth_failures::table
        .select(FailureRow::as_select())
        .filter(auth_failures::client_id.eq(client_id))
        .first(c)
        .optional())?)
}

/// The record of `client_id`, locked for the rest of the transaction on PostgreSQL, so
/// that concurrent failures on several replicas are all counted.
pub fn get_for_update(
    conn: &mut Conn<'_>,
    client_id: &str,
) -> Result<Option<FailureRow>, AuthError> {
    macro_rules! by_id {
        () => {
            auth_failures::table
                .select(FailureRow::as_select())
                .filter(auth_failures::client_id.eq(client_id))
        };
    }
    Ok(match conn {
        Conn::Sqlite(c) => by_id!().first(&mut **c).optional()?,
        Conn::Pg(c) => by_id!().for_update().first(&mut **c).optional()?,
    })
}

/// Stores `row`, replacing the client id's record.
#[tracing::instrument(
    name = "UPSERT auth_failures",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "UPSERT", db.collection.name = "auth_failures")
)]
pub fn put(conn: &mut Conn<'_>, row: &FailureRow) -> Result<(), AuthError> {
    with_conn!(conn, |c| diesel::insert_into(auth_failures::table)
        .values(row)
        .on_conflict(auth_failures::client_id)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

/// Forgets the record of `client_id`.
#[tracing::instrument(
    name = "DELETE auth_failures",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "DELETE", db.collection.name = "auth_failures")
)]
pub fn clear(conn: &mut Conn<'_>, client_id: &str) -> Result<(), AuthError> {
    with_conn!(conn, |c| diesel::delete(
        auth_failures::table.filter(auth_failures::client_id.eq(client_id))
    )
    .execute(c))?;
    Ok(())
}

/// Forgets every record whose last failure is older than `before`.
#[tracing::instrument(
    name = "DELETE auth_failures",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "DELETE", db.collection.name = "auth_failures")
)]
pub fn purge_before(conn: &mut Conn<'_>, before: DbTime) -> Result<usize, AuthError> {
    Ok(with_conn!(conn, |c| diesel::delete(
        auth_failures::table.filter(auth_failures::last_failure.lt(before))
    )
    .execute(c))?)
}

/// Keeps at most `capacity` records, forgetting the oldest; how many were forgotten.
#[tracing::instrument(
    name = "DELETE auth_failures",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "DELETE", db.collection.name = "auth_failures")
)]
pub fn trim_to(conn: &mut Conn<'_>, capacity: usize) -> Result<usize, AuthError> {
    let count: i64 = with_conn!(conn, |c| auth_failures::table.count().get_result(c))?;
    let excess = count - i64::try_from(capacity).unwrap_or(i64::MAX);
    if excess <= 0 {
        return Ok(0);
    }
    let oldest: Vec<String> = with_conn!(conn, |c| auth_failures::table
        .select(auth_failures::client_id)
        .order(auth_failures::last_failure.asc())
        .limit(excess)
        .load(c))?;
    let mut n = 0;
    for chunk in oldest.chunks(500) {
        n += with_conn!(conn, |c| diesel::delete(
            auth_failures::table.filter(auth_failures::client_id.eq_any(chunk))
        )
        .execute(c))?;
    }
    Ok(n)
}
