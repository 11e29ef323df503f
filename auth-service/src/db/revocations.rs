//! The `revocations` table: revoked tokens and providers, read by polling verifiers.

use diesel::prelude::*;
use scim_storage::{Conn, DbTime, with_conn};

use super::schema::revocations;
use crate::error::AuthError;

/// A stored revocation.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = revocations, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct RevocationRow {
    /// Position in the revocation log.
    pub sequence: i64,
    /// One revoked token.
    pub jti: Option<String>,
    /// A provider whose tokens issued up to `issued_before` are revoked.
    pub client_id: Option<String>,
    /// The cut-off for `client_id`.
    pub issued_before: Option<DbTime>,
    /// After this, every token the entry covers has expired.
    pub expires_at: DbTime,
    /// When it was recorded.
    pub created_at: DbTime,
}

/// A revocation to record.
#[derive(Debug, Insertable)]
#[diesel(table_name = revocations)]
pub struct NewRevocation<'a> {
    /// One revoked token.
    pub jti: Option<&'a str>,
    /// A revoked provider.
    pub client_id: Option<&'a str>,
    /// The cut-off for `client_id`.
    pub issued_before: Option<DbTime>,
    /// When the entry stops mattering.
    pub expires_at: DbTime,
    /// Now.
    pub created_at: DbTime,
}

/// Records a revocation; returns its sequence. Call it inside a write transaction
/// ([`super::transaction`]).
///
/// Pollers remember the highest sequence they have seen and ask for what comes after
/// it, so sequences must become visible in order: a revocation that committed after a
/// higher sequence was read would never be seen. On PostgreSQL, where replicas insert
/// concurrently and a sequence is taken at insert but seen at commit, inserts take turns
/// on a transaction-scoped advisory lock held until their commit; SQLite's writes take
/// turns already.
#[tracing::instrument(
    name = "INSERT revocations",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "INSERT", db.collection.name = "revocations")
)]
pub fn insert(conn: &mut Conn<'_>, new: &NewRevocation<'_>) -> Result<i64, AuthError> {
    if let Conn::Pg(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('scim-auth-revocations'))")
            .execute(&mut **c)?;
    }
    Ok(with_conn!(conn, |c| diesel::insert_into(
        revocations::table
    )
    .values(new)
    .returning(revocations::sequence)
    .get_result(c))?)
}

/// Unexpired revocations after `since`, in sequence order, at most `limit`.
#[tracing::instrument(
    name = "SELECT revocations",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "SELECT", db.collection.name = "revocations")
)]
pub fn list_since(
    conn: &mut Conn<'_>,
    since: i64,
    now: DbTime,
    limit: i64,
) -> Result<Vec<RevocationRow>, AuthError> {
    Ok(with_conn!(conn, |c| revocations::table
        .select(RevocationRow::as_select())
        .filter(revocations::sequence.gt(since))
        .filter(revocations::expires_at.ge(now))
        .order(revocations::sequence.asc())
        .limit(limit)
        .load(c))?)
}

/// The highest sequence recorded (0 for none).
#[tracing::instrument(
    name = "SELECT revocations",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "SELECT", db.collection.name = "revocations")
)]
pub fn max_sequence(conn: &mut Conn<'_>) -> Result<i64, AuthError> {
    Ok(with_conn!(conn, |c| revocations::table
        .select(diesel::dsl::max(revocations::sequence))
        .first::<Option<i64>>(c))?
    .unwrap_or(0))
}

/// Deletes expired revocations, except the newest row, which keeps the high-water
/// mark that pollers compare against.
#[tracing::instrument(
    name = "DELETE revocations",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "DELETE", db.collection.name = "revocations")
)]
pub fn purge_expired(conn: &mut Conn<'_>, now: DbTime) -> Result<usize, AuthError> {
    let newest = max_sequence(conn)?;
    Ok(with_conn!(conn, |c| diesel::delete(
        revocations::table
            .filter(revocations::expires_at.lt(now))
            .filter(revocations::sequence.lt(newest)),
    )
    .execute(c))?)
}
