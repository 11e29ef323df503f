//! The `settings` table: server-wide values created on first start.

use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

use super::schema::settings;
use crate::error::AuthError;

/// Returns the value stored under `name`, storing `create()` first if there is none.
///
/// Safe when several replicas start at once: the first insert wins and everybody reads
/// the winner's value back.
#[tracing::instrument(
    name = "UPSERT settings",
    skip_all,
    fields(db.system.name = "sqlite", db.operation.name = "UPSERT", db.collection.name = "settings")
)]
pub fn get_or_create(
    conn: &mut SqliteConnection,
    name: &str,
    create: impl FnOnce() -> Result<Vec<u8>, AuthError>,
) -> Result<Vec<u8>, AuthError> {
    let existing = settings::table
        .select(settings::value)
        .filter(settings::name.eq(name))
        .first::<Vec<u8>>(conn)
        .optional()?;
    if let Some(value) = existing {
        return Ok(value);
    }
    let value = create()?;
    diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(&value)))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(settings::table
        .select(settings::value)
        .filter(settings::name.eq(name))
        .first::<Vec<u8>>(conn)?)
}
