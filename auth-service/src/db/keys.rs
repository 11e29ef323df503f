//! The `signing_keys` table: Ed25519 seeds and their place in the rotation.

use diesel::prelude::*;
use scim_storage::{Conn, DbTime, with_conn};

use super::schema::signing_keys;
use crate::error::AuthError;

/// The key that will sign after the next rotation; already published.
pub const NEXT: &str = "next";
/// The key that signs now.
pub const CURRENT: &str = "current";
/// A former signing key, published until `retire_after`.
pub const RETIRED: &str = "retired";

/// A stored key. Deliberately not `Debug`: it holds the private seed.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct KeyRow {
    /// Key id.
    pub kid: String,
    /// The 32-byte Ed25519 seed.
    pub seed: Vec<u8>,
    /// [`NEXT`], [`CURRENT`] or [`RETIRED`].
    pub status: String,
    /// Creation time.
    pub created_at: DbTime,
    /// For retired keys: when the key stops being published.
    pub retire_after: Option<DbTime>,
}

/// Every stored key.
#[tracing::instrument(
    name = "SELECT signing_keys",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "SELECT", db.collection.name = "signing_keys")
)]
pub fn list(conn: &mut Conn<'_>) -> Result<Vec<KeyRow>, AuthError> {
    Ok(with_conn!(conn, |c| signing_keys::table
        .select(KeyRow::as_select())
        .order(signing_keys::created_at.asc())
        .load(c))?)
}

/// Inserts a key.
#[tracing::instrument(
    name = "INSERT signing_keys",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "INSERT", db.collection.name = "signing_keys")
)]
pub fn insert(conn: &mut Conn<'_>, key: &KeyRow) -> Result<(), AuthError> {
    with_conn!(conn, |c| diesel::insert_into(signing_keys::table)
        .values(key)
        .execute(c))?;
    Ok(())
}

/// Moves a key to `status`, with its `retire_after`.
#[tracing::instrument(
    name = "UPDATE signing_keys",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "UPDATE", db.collection.name = "signing_keys")
)]
pub fn set_status(
    conn: &mut Conn<'_>,
    kid: &str,
    status: &str,
    retire_after: Option<DbTime>,
) -> Result<(), AuthError> {
    with_conn!(conn, |c| diesel::update(
        signing_keys::table.filter(signing_keys::kid.eq(kid))
    )
    .set((
        signing_keys::status.eq(status),
        signing_keys::retire_after.eq(retire_after),
    ))
    .execute(c))?;
    Ok(())
}

/// Deletes retired keys whose tokens have all expired.
#[tracing::instrument(
    name = "DELETE signing_keys",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "DELETE", db.collection.name = "signing_keys")
)]
pub fn purge_retired(conn: &mut Conn<'_>, now: DbTime) -> Result<usize, AuthError> {
    Ok(with_conn!(conn, |c| diesel::delete(
        signing_keys::table
            .filter(signing_keys::status.eq(RETIRED))
            .filter(signing_keys::retire_after.lt(now)),
    )
    .execute(c))?)
}
