//! The `revocations` table: revoked tokens and providers, read by polling verifiers.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

use super::schema::revocations;
use crate::error::AuthError;

/// A stored revocation.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = revocations, check_for_backend(diesel::sqlite::Sqlite))]
pub struct RevocationRow {
    /// Position in the revocation log.
    pub sequence: i64,
    /// One revoked token.
    pub jti: Option<String>,
    /// A provider whose tokens issued up to `issued_before` are revoked.
    pub client_id: Option<String>,
    /// The cut-off for `client_id`.
    pub issued_before: Option<NaiveDateTime>,
    /// After this, every token the entry covers has expired.
    pub expires_at: NaiveDateTime,
    /// When it was recorded.
    pub created_at: NaiveDateTime,
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
    pub issued_before: Option<NaiveDateTime>,
    /// When the entry stops mattering.
    pub expires_at: NaiveDateTime,
    /// Now.
    pub created_at: NaiveDateTime,
}

/// Records a revocation; returns its sequence.
#[tracing::instrument(
    name = "INSERT revocations",
    skip_all,
    fields(db.system.name = "sqlite", db.operation.name = "INSERT", db.collection.name = "revocations")
)]
pub fn insert(conn: &mut SqliteConnection, new: &NewRevocation<'_>) -> Result<i64, AuthError> {
    Ok(diesel::insert_into(revocations::table)
        .values(new)
        .returning(revocations::sequence)
        .get_result(conn)?)
}

/// Unexpired revocations after `since`, in sequence order, at most `limit`.
#[tracing::instrument(
    name = "SELECT revocations",
    skip_all,
    fields(db.system.name = "sqlite", db.operation.name = "SELECT", db.collection.name = "revocations")
)]
pub fn list_since(
    conn: &mut SqliteConnection,
    since: i64,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<RevocationRow>, AuthError> {
    Ok(revocations::table
        .select(RevocationRow::as_select())
        .filter(revocations::sequence.gt(since))
        .filter(revocations::expires_at.ge(now))
        .order(revocations::sequence.asc())
        .limit(limit)
        .load(conn)?)
}

/// The highest sequence recorded (0 for none).
#[tracing::instrument(
    name = "SELECT revocations",
    skip_all,
    fields(db.system.name = "sqlite", db.operation.name = "SELECT", db.collection.name = "revocations")
)]
pub fn max_sequence(conn: &mut SqliteConnection) -> Result<i64, AuthError> {
    Ok(revocations::table
        .select(diesel::dsl::max(revocations::sequence))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// Deletes expired revocations, except the newest row, which keeps the high-water
/// mark that pollers compare against.
#[tracing::instrument(
    name = "DELETE revocations",
    skip_all,
    fields(db.system.name = "sqlite", db.operation.name = "DELETE", db.collection.name = "revocations")
)]
pub fn purge_expired(conn: &mut SqliteConnection, now: NaiveDateTime) -> Result<usize, AuthError> {
    let newest = max_sequence(conn)?;
    Ok(diesel::delete(
        revocations::table
            .filter(revocations::expires_at.lt(now))
            .filter(revocations::sequence.lt(newest)),
    )
    .execute(conn)?)
}
