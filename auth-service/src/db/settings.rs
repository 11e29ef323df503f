//! The `settings` table: server-wide values created on first start.

use diesel::prelude::*;
use scim_storage::{Conn, with_conn};

use super::schema::settings;
use crate::error::AuthError;

/// Returns the value stored under `name`, storing `create()` first if there is none.
///
/// Safe when several replicas start at once: the first insert wins and everybody reads
/// the winner's value back.
#[tracing::instrument(
    name = "UPSERT settings",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "UPSERT", db.collection.name = "settings")
)]
pub fn get_or_create(
    conn: &mut Conn<'_>,
    name: &str,
    create: impl FnOnce() -> Result<Vec<u8>, AuthError>,
) -> Result<Vec<u8>, AuthError> {
    let existing = with_conn!(conn, |c| settings::table
        .select(settings::value)
        .filter(settings::name.eq(name))
        .first::<Vec<u8>>(c))
    .optional()?;
    if let Some(value) = existing {
        return Ok(value);
    }
    let value = create()?;
    with_conn!(conn, |c| diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(&value)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(with_conn!(conn, |c| settings::table
        .select(settings::value)
        .filter(settings::name.eq(name))
        .first::<Vec<u8>>(c))?)
}

/// Stores `value` under `name` unless the name exists; whether it was stored. On
/// PostgreSQL a concurrent insert of the same name waits for this transaction, so
/// exactly one of several replicas gets `true`.
#[tracing::instrument(
    name = "INSERT settings",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "INSERT", db.collection.name = "settings")
)]
pub fn insert_new(conn: &mut Conn<'_>, name: &str, value: &[u8]) -> Result<bool, AuthError> {
    let inserted = with_conn!(conn, |c| diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(value)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// The value stored under `name`.
pub fn get(conn: &mut Conn<'_>, name: &str) -> Result<Option<Vec<u8>>, AuthError> {
    Ok(with_conn!(conn, |c| settings::table
        .select(settings::value)
        .filter(settings::name.eq(name))
        .first::<Vec<u8>>(c)
        .optional())?)
}
