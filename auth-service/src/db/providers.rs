//! The `providers` table: registered OAuth clients.

use diesel::prelude::*;
use scim_storage::{Conn, DbTime, with_conn};

use super::schema::providers;
use crate::error::AuthError;

/// A stored provider. Deliberately not `Debug`: it holds secret hashes.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = providers, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ProviderRow {
    /// The OAuth client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Tenant the provider's tokens act in.
    pub tenant: String,
    /// Space-separated scopes.
    pub allowed_scopes: String,
    /// Longest token lifetime, seconds.
    pub max_token_ttl_seconds: i64,
    /// Lifetime when none is requested, seconds.
    pub default_token_ttl_seconds: i64,
    /// No new tokens when set.
    pub disabled: bool,
    /// Keyed hash of the current secret.
    pub secret_hash: Vec<u8>,
    /// Keyed hash of the previous secret, during a rotation's grace period.
    pub previous_secret_hash: Option<Vec<u8>>,
    /// End of that grace period.
    pub previous_secret_expires: Option<DbTime>,
    /// Registration time.
    pub created_at: DbTime,
    /// Last change.
    pub updated_at: DbTime,
}

/// A provider to insert.
#[derive(Insertable)]
#[diesel(table_name = providers)]
pub struct NewProvider<'a> {
    /// The OAuth client id.
    pub client_id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Tenant.
    pub tenant: &'a str,
    /// Space-separated scopes.
    pub allowed_scopes: &'a str,
    /// Longest token lifetime, seconds.
    pub max_token_ttl_seconds: i64,
    /// Default token lifetime, seconds.
    pub default_token_ttl_seconds: i64,
    /// Keyed hash of the secret.
    pub secret_hash: &'a [u8],
    /// Registration time.
    pub created_at: DbTime,
    /// Same as `created_at`.
    pub updated_at: DbTime,
}

/// Inserts a provider.
#[tracing::instrument(
    name = "INSERT providers",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "INSERT", db.collection.name = "providers")
)]
pub fn insert(conn: &mut Conn<'_>, new: &NewProvider<'_>) -> Result<(), AuthError> {
    with_conn!(conn, |c| diesel::insert_into(providers::table)
        .values(new)
        .execute(c))?;
    Ok(())
}

/// Every provider, oldest first.
#[tracing::instrument(
    name = "SELECT providers",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "SELECT", db.collection.name = "providers")
)]
pub fn list(conn: &mut Conn<'_>) -> Result<Vec<ProviderRow>, AuthError> {
    Ok(with_conn!(conn, |c| providers::table
        .select(ProviderRow::as_select())
        .order((providers::created_at.asc(), providers::client_id.asc()))
        .load(c))?)
}

/// One provider by client id.
#[tracing::instrument(
    name = "SELECT providers",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "SELECT", db.collection.name = "providers")
)]
pub fn get(conn: &mut Conn<'_>, client_id: &str) -> Result<Option<ProviderRow>, AuthError> {
    Ok(with_conn!(conn, |c| providers::table
        .select(ProviderRow::as_select())
        .filter(providers::client_id.eq(client_id))
        .first(c))
    .optional()?)
}

/// Replaces the secret hash, keeping `previous` (hash, end of grace) when given.
#[tracing::instrument(
    name = "UPDATE providers",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "UPDATE", db.collection.name = "providers")
)]
pub fn set_secret(
    conn: &mut Conn<'_>,
    client_id: &str,
    secret_hash: &[u8],
    previous: Option<(&[u8], DbTime)>,
    now: DbTime,
) -> Result<bool, AuthError> {
    let (previous_hash, previous_expires) = previous.unzip();
    let changed = with_conn!(conn, |c| diesel::update(
        providers::table.filter(providers::client_id.eq(client_id))
    )
    .set((
        providers::secret_hash.eq(secret_hash),
        providers::previous_secret_hash.eq(previous_hash),
        providers::previous_secret_expires.eq(previous_expires),
        providers::updated_at.eq(now),
    ))
    .execute(c))?;
    Ok(changed > 0)
}

/// Marks a provider disabled.
#[tracing::instrument(
    name = "UPDATE providers",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "UPDATE", db.collection.name = "providers")
)]
pub fn disable(conn: &mut Conn<'_>, client_id: &str, now: DbTime) -> Result<bool, AuthError> {
    let changed = with_conn!(conn, |c| diesel::update(
        providers::table.filter(providers::client_id.eq(client_id))
    )
    .set((providers::disabled.eq(true), providers::updated_at.eq(now)))
    .execute(c))?;
    Ok(changed > 0)
}

/// Deletes a provider; whether it existed.
#[tracing::instrument(
    name = "DELETE providers",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "DELETE", db.collection.name = "providers")
)]
pub fn delete(conn: &mut Conn<'_>, client_id: &str) -> Result<bool, AuthError> {
    let deleted = with_conn!(conn, |c| diesel::delete(
        providers::table.filter(providers::client_id.eq(client_id))
    )
    .execute(c))?;
    Ok(deleted > 0)
}

/// The longest token lifetime any provider may request, if there is any provider.
#[tracing::instrument(
    name = "SELECT providers",
    skip_all,
    fields(db.system.name = super::system(conn), db.operation.name = "SELECT", db.collection.name = "providers")
)]
pub fn longest_max_ttl(conn: &mut Conn<'_>) -> Result<Option<i64>, AuthError> {
    Ok(with_conn!(conn, |c| providers::table
        .select(diesel::dsl::max(providers::max_token_ttl_seconds))
        .first::<Option<i64>>(c))?)
}
