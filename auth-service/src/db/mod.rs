//! Persistence: an r2d2 pool of SQLite connections, embedded migrations, and the query
//! functions of each table.
//!
//! Every connection gets the same pragmas when the pool opens it: `busy_timeout` (wait
//! for the writer instead of failing with SQLITE_BUSY), `foreign_keys`, WAL (readers
//! never block the writer), and `synchronous = FULL`, so that a write acknowledged to a
//! client survives a `kill -9` or a power cut. Diesel is blocking: [`run`] moves the
//! work onto Tokio's blocking pool and carries the caller's span along.
//!
//! Query functions take a `&mut SqliteConnection` and open one span each, with the
//! OpenTelemetry database attributes (`db.system.name`, `db.operation.name`,
//! `db.collection.name`) and never a value.

pub mod keys;
pub mod providers;
pub mod revocations;
mod schema;
pub mod settings;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::{Connection as _, SimpleConnection};
use diesel::r2d2::{ConnectionManager, CustomizeConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::AuthError;

/// The migrations in `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A pool of SQLite connections.
pub type Pool = diesel::r2d2::Pool<ConnectionManager<SqliteConnection>>;

/// SQLite has one writer at a time; a few connections are plenty for concurrent reads.
const POOL_SIZE: u32 = 4;

/// How long a caller waits for a free connection before the call fails as unavailable.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// Applies the pragmas to every new connection.
#[derive(Debug, Clone, Copy)]
struct Pragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // busy_timeout first: switching to WAL needs a lock another connection may hold.
        conn.batch_execute(
            "PRAGMA busy_timeout = 5000;
             PRAGMA foreign_keys = ON;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The file a database URL names: `sqlite://PATH`, `sqlite:PATH` or a plain path.
pub fn sqlite_path(url: &str) -> Result<PathBuf, AuthError> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(AuthError::Config(
            "PostgreSQL is not supported by this build; use a SQLite file".into(),
        ));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || path.contains(":memory:") {
        // Every pooled connection to `:memory:` would be a different empty database.
        return Err(AuthError::Config(
            "the database URL must name a file (in-memory databases cannot be pooled)".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

/// Opens (creating if needed) the database file and its connection pool.
pub fn connect(path: &Path) -> Result<Pool, AuthError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| AuthError::Io {
            context: format!("creating the database directory {}", dir.display()),
            source,
        })?;
    }
    // Switching a new file to WAL takes an exclusive lock. Done once here, before the
    // pool opens its connections in parallel, no connection has to wait for another's
    // switch (r2d2 logs such a wait as an error, although it retries).
    let url = path.to_string_lossy();
    let mut first = SqliteConnection::establish(&url)
        .map_err(|e| AuthError::Unavailable(format!("cannot open the database: {e}")))?;
    first
        .batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
        .map_err(|e| AuthError::Unavailable(format!("cannot switch the database to WAL: {e}")))?;
    drop(first);
    let manager = ConnectionManager::<SqliteConnection>::new(url);
    diesel::r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .connection_timeout(CHECKOUT_TIMEOUT)
        .connection_customizer(Box::new(Pragmas))
        .build(manager)
        .map_err(|e| AuthError::Unavailable(format!("cannot open the database: {e}")))
}

/// Applies pending migrations.
#[tracing::instrument(name = "db.migrate", skip_all, fields(db.system.name = "sqlite"))]
pub fn migrate(conn: &mut SqliteConnection) -> Result<(), AuthError> {
    conn.run_pending_migrations(MIGRATIONS)
        .map(|applied| {
            if !applied.is_empty() {
                tracing::info!(migrations.applied = applied.len(), "database migrated");
            }
        })
        .map_err(|e| AuthError::Migration(e.to_string()))
}

/// Runs blocking database work on Tokio's blocking pool, inside the caller's span.
pub async fn run<T, F>(pool: &Pool, work: F) -> Result<T, AuthError>
where
    T: Send + 'static,
    F: FnOnce(&mut SqliteConnection) -> Result<T, AuthError> + Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            let mut conn = pool
                .get()
                .map_err(|e| AuthError::Unavailable(format!("no database connection: {e}")))?;
            work(&mut conn)
        })
    })
    .await
    .map_err(|e| AuthError::Internal(format!("database task failed: {e}")))?
}

/// A timestamp as stored: UTC without zone.
pub fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// A stored timestamp back in UTC.
pub fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// The latest timestamp stored (9999-12-31T23:59:59Z): beyond it SQLite's text form
/// would stop sorting in time order.
const MAX_DB_SECS: i64 = 253_402_300_799;

/// Seconds since the epoch as a stored timestamp, clamped to years 1970..=9999.
pub fn secs_to_db(secs: i64) -> NaiveDateTime {
    DateTime::from_timestamp(secs.clamp(0, MAX_DB_SECS), 0)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .naive_utc()
}
