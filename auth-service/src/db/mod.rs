//! Persistence: a pool of SQLite or PostgreSQL connections, embedded migrations, and the
//! query functions of each table.
//!
//! The pool gives every connection its backend's session settings
//! ([`scim_storage::pool`]): on SQLite `busy_timeout`, foreign keys, WAL and
//! `synchronous = FULL`; on PostgreSQL the `auth` schema and `synchronous_commit = on`;
//! either way a write acknowledged to a client survives a `kill -9` or a power cut.
//! Diesel is blocking: [`run`] and [`write`] move the work onto Tokio's blocking pool
//! and carry the caller's span along.
//!
//! Changes run in one write transaction each ([`write`]): `BEGIN IMMEDIATE` on SQLite
//! (the write lock up front), `SERIALIZABLE` on PostgreSQL, where several replicas may
//! rotate keys or change one provider at the same moment; the one that must give way
//! runs again from the start, a few times at most.
//!
//! Query functions take a [`Conn`] and open one span each, with the OpenTelemetry
//! database attributes (`db.system.name`, `db.operation.name`, `db.collection.name`)
//! and never a value.

pub mod copy;
pub mod failures;
pub mod keys;
pub mod providers;
pub mod revocations;
mod schema;
pub mod settings;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use scim_storage::migrate::Migrations;
use scim_storage::{Conn, DatabaseUrl, DbTime, PoolOptions};

use crate::error::AuthError;

/// The SQLite migrations, compiled into the binary.
pub static SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The PostgreSQL migrations, compiled into the binary.
pub static PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The PostgreSQL schema of the auth-service's tables.
pub const PG_SCHEMA: &str = "auth";

/// Both migration sets.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &PG_MIGRATIONS,
    pg_schema: PG_SCHEMA,
};

/// A pool of connections to the auth database.
pub type Pool = scim_storage::Pool;

/// A few connections are plenty: token issuance never touches the database.
const POOL_SIZE: u32 = 4;

/// How long a caller waits for a free connection before the call fails as unavailable.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// Times a PostgreSQL write transaction is tried before its conflict is an error.
const WRITE_ATTEMPTS: u32 = 5;

/// The `db.system.name` of `conn`'s backend, for spans.
pub fn system(conn: &Conn<'_>) -> &'static str {
    conn.backend().system_name()
}

/// Opens the database a `--database-url` names, creating a SQLite file if needed.
/// Blocking.
pub fn connect(url: &str) -> Result<Pool, AuthError> {
    let url = DatabaseUrl::parse(url).map_err(|e| AuthError::Config(e.to_string()))?;
    scim_storage::Pool::open(
        &url,
        PoolOptions {
            size: POOL_SIZE,
            checkout_timeout: CHECKOUT_TIMEOUT,
            pg_schema: PG_SCHEMA,
            observer: None,
        },
    )
    .map_err(|e| AuthError::Unavailable(e.to_string()))
}

/// Applies pending migrations, once across replicas starting together; refuses a schema
/// newer than this binary. Blocking.
#[tracing::instrument(name = "db.migrate", skip_all, fields(db.system.name = pool.backend().system_name()))]
pub fn migrate(pool: &Pool) -> Result<(), AuthError> {
    let applied = scim_storage::migrate::run(pool, &MIGRATIONS)
        .map_err(|e| AuthError::Migration(e.to_string()))?;
    if applied > 0 {
        tracing::info!(migrations.applied = applied, "database migrated");
    }
    Ok(())
}

/// Runs blocking database work on Tokio's blocking pool, inside the caller's span.
pub async fn run<T, F>(pool: &Pool, work: F) -> Result<T, AuthError>
where
    T: Send + 'static,
    F: FnOnce(&mut Conn<'_>) -> Result<T, AuthError> + Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            let mut pooled = pool
                .get()
                .map_err(|e| AuthError::Unavailable(format!("no database connection: {e}")))?;
            work(&mut pooled.conn())
        })
    })
    .await
    .map_err(|e| AuthError::Internal(format!("database task failed: {e}")))?
}

/// Runs `work`, which makes its changes in [`transaction`]s, on the blocking pool; when
/// a transaction gives way to a concurrent one (PostgreSQL), `work` runs again from the
/// start, so it may run more than once.
pub async fn write<T, F>(pool: &Pool, mut work: F) -> Result<T, AuthError>
where
    T: Send + 'static,
    F: FnMut(&mut Conn<'_>) -> Result<T, AuthError> + Send + 'static,
{
    run(pool, move |conn| {
        let mut attempt = 1;
        loop {
            match work(conn) {
                Err(e) if attempt < WRITE_ATTEMPTS && e.is_contended() => {
                    tracing::debug!(attempt, "write conflict; running the transaction again");
                    std::thread::sleep(Duration::from_millis(u64::from(attempt) * 3));
                    attempt += 1;
                }
                other => return other,
            }
        }
    })
    .await
}

/// Runs `work` in one write transaction on `conn` (no retry).
pub fn transaction<T, F>(conn: &mut Conn<'_>, work: F) -> Result<T, AuthError>
where
    F: FnOnce(&mut Conn<'_>) -> Result<T, AuthError>,
{
    match conn {
        Conn::Sqlite(c) => c.immediate_transaction(|c| work(&mut Conn::Sqlite(c))),
        Conn::Pg(c) => c
            .build_transaction()
            .serializable()
            .run(|c| work(&mut Conn::Pg(c))),
    }
}

/// Runs `work` in a read-only transaction, so that all its statements see one
/// snapshot: deferred on SQLite, `REPEATABLE READ READ ONLY` on PostgreSQL.
pub fn snapshot<T, F>(conn: &mut Conn<'_>, work: F) -> Result<T, AuthError>
where
    F: FnOnce(&mut Conn<'_>) -> Result<T, AuthError>,
{
    match conn {
        Conn::Sqlite(c) => {
            use diesel::Connection as _;
            c.transaction(|c| work(&mut Conn::Sqlite(c)))
        }
        Conn::Pg(c) => c
            .build_transaction()
            .repeatable_read()
            .read_only()
            .run(|c| work(&mut Conn::Pg(c))),
    }
}

/// A timestamp as stored.
pub fn to_db(t: DateTime<Utc>) -> DbTime {
    DbTime(t.naive_utc())
}

/// A stored timestamp back in UTC.
pub fn from_db(t: DbTime) -> DateTime<Utc> {
    t.0.and_utc()
}

/// The latest timestamp stored (9999-12-31T23:59:59Z): beyond it the text form would
/// stop sorting in time order.
const MAX_DB_SECS: i64 = 253_402_300_799;

/// Seconds since the epoch as a stored timestamp, clamped to years 1970..=9999.
pub fn secs_to_db(secs: i64) -> DbTime {
    DbTime(
        DateTime::from_timestamp(secs.clamp(0, MAX_DB_SECS), 0)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
            .naive_utc(),
    )
}
