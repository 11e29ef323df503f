//! Embedded migrations, applied at start-up exactly once however many replicas start.
//!
//! Each service embeds one migration directory per backend, with the same versions in
//! both, so "the schema version" means the same thing on either. Before anything is
//! applied the database's applied versions are compared with the binary's: a version
//! the binary does not know means the database was migrated by a newer release, and an
//! older replica must not write into a schema it does not understand, so it refuses to
//! start.
//!
//! * PostgreSQL: a session advisory lock (keyed by the service's schema) around the
//!   whole step, so replicas starting together take turns; the second finds nothing
//!   left to do. The schema itself is created under the same lock.
//! * SQLite: the whole step in one `BEGIN IMMEDIATE` transaction, which holds the
//!   database's write lock (other processes wait through `busy_timeout`).

use diesel::RunQueryDsl as _;
use diesel::connection::SimpleConnection as _;
use diesel::migration::{Migration, MigrationSource, MigrationVersion};
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::pool::{Pool, quote_ident};

/// A service's migrations, one set per backend.
#[derive(Clone, Copy)]
pub struct Migrations {
    /// For SQLite.
    pub sqlite: &'static EmbeddedMigrations,
    /// For PostgreSQL.
    pub postgres: &'static EmbeddedMigrations,
    /// The PostgreSQL schema the service's tables live in.
    pub pg_schema: &'static str,
}

impl std::fmt::Debug for Migrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrations")
            .field("pg_schema", &self.pg_schema)
            .finish_non_exhaustive()
    }
}

/// A borrowed migration set as a source the harness takes by value.
#[derive(Clone, Copy)]
struct Source(&'static EmbeddedMigrations);

impl<DB: diesel::backend::Backend> MigrationSource<DB> for Source {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}

/// Migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database was migrated by a newer release.
    #[error(
        "the database schema is at version {applied}, newer than this release knows (its latest is {known}); \
         run a release at least as new as the one that migrated it"
    )]
    SchemaTooNew {
        /// The newest version applied to the database.
        applied: String,
        /// The newest version this binary has.
        known: String,
    },
    /// No connection.
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::r2d2::PoolError),
    /// A migration (or reading the applied ones) failed.
    #[error("migrations failed: {0}")]
    Failed(String),
}

impl From<diesel::result::Error> for MigrateError {
    fn from(e: diesel::result::Error) -> Self {
        MigrateError::Failed(e.to_string())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn failed(e: BoxError) -> MigrateError {
    MigrateError::Failed(e.to_string())
}

/// The versions of a migration source, in order.
fn versions<DB: diesel::backend::Backend>(
    source: &impl MigrationSource<DB>,
) -> Result<Vec<MigrationVersion<'static>>, MigrateError> {
    let mut out: Vec<MigrationVersion<'static>> = source
        .migrations()
        .map_err(failed)?
        .iter()
        .map(|m| m.name().version().as_owned())
        .collect();
    out.sort();
    Ok(out)
}

/// Refuses a database that has a version the binary does not.
fn check_known(
    applied: &[MigrationVersion<'static>],
    known: &[MigrationVersion<'static>],
) -> Result<(), MigrateError> {
    if let Some(unknown) = applied.iter().filter(|v| !known.contains(v)).max() {
        return Err(MigrateError::SchemaTooNew {
            applied: unknown.to_string(),
            known: known
                .last()
                .map_or_else(|| "none".to_owned(), ToString::to_string),
        });
    }
    Ok(())
}

/// The newest version the binary knows for `pool`'s backend.
pub fn latest_known(migrations: &Migrations, pool: &Pool) -> Result<String, MigrateError> {
    let known = match pool {
        Pool::Sqlite(_) => versions::<Sqlite>(&Source(migrations.sqlite))?,
        Pool::Pg(_) => versions::<Pg>(&Source(migrations.postgres))?,
    };
    Ok(known.last().map(ToString::to_string).unwrap_or_default())
}

/// The versions applied to the database behind `pool`, oldest first.
pub fn applied(pool: &Pool, migrations: &Migrations) -> Result<Vec<String>, MigrateError> {
    let mut versions = match pool {
        Pool::Sqlite(p) => p.get()?.applied_migrations().map_err(failed)?,
        Pool::Pg(p) => {
            let mut conn = p.get()?;
            let exists: bool =
                diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                    "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '{}')",
                    migrations.pg_schema.replace('\'', "''")
                )))
                .get_result(&mut *conn)?;
            if !exists {
                return Ok(Vec::new());
            }
            conn.applied_migrations().map_err(failed)?
        }
    };
    versions.sort();
    Ok(versions.iter().map(ToString::to_string).collect())
}

/// Applies every pending migration; returns how many were applied. Blocking.
pub fn run(pool: &Pool, migrations: &Migrations) -> Result<usize, MigrateError> {
    match pool {
        Pool::Sqlite(p) => {
            let known = versions::<Sqlite>(&Source(migrations.sqlite))?;
            let mut conn = p.get()?;
            conn.immediate_transaction::<_, MigrateError, _>(|c| {
                check_known(&c.applied_migrations().map_err(failed)?, &known)?;
                Ok(c.run_pending_migrations(Source(migrations.sqlite))
                    .map_err(failed)?
                    .len())
            })
        }
        Pool::Pg(p) => {
            let known = versions::<Pg>(&Source(migrations.postgres))?;
            let mut conn = p.get()?;
            let key = format!("scim-migrate:{}", migrations.pg_schema);
            diesel::sql_query("SELECT pg_advisory_lock(hashtext($1))")
                .bind::<diesel::sql_types::Text, _>(&key)
                .execute(&mut *conn)?;
            let outcome = (|| -> Result<usize, MigrateError> {
                conn.batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {}",
                    quote_ident(migrations.pg_schema)
                ))?;
                check_known(&conn.applied_migrations().map_err(failed)?, &known)?;
                Ok(conn
                    .run_pending_migrations(Source(migrations.postgres))
                    .map_err(failed)?
                    .len())
            })();
            // The lock is the session's: released here, or with the connection if
            // this fails (a broken connection is not returned to the pool).
            let unlocked = diesel::sql_query("SELECT pg_advisory_unlock(hashtext($1))")
                .bind::<diesel::sql_types::Text, _>(&key)
                .execute(&mut *conn);
            let applied = outcome?;
            unlocked?;
            Ok(applied)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> MigrationVersion<'static> {
        MigrationVersion::from(s.to_owned())
    }

    #[test]
    fn a_database_with_an_unknown_version_is_refused() {
        let known = [v("20261128000000"), v("20261129000000")];
        assert!(check_known(&[v("20261128000000")], &known).is_ok());
        assert!(check_known(&[], &known).is_ok());
        let err = check_known(&[v("20261128000000"), v("20270101000000")], &known).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("20270101000000"), "{text}");
        assert!(text.contains("20261129000000"), "{text}");
    }
}
