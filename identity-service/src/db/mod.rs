//! Storage: the pool of SQLite or PostgreSQL connections, embedded migrations, and the
//! one way handlers run diesel code.
//!
//! * Diesel is synchronous, so database work runs on Tokio's blocking pool
//!   ([`Database::read`], [`Database::write`]), inside a `db.query` span that is a child
//!   of the caller's span and carries the OpenTelemetry database attributes.
//! * Reads run in one transaction each, so every statement of a read sees one snapshot:
//!   a deferred transaction on SQLite (one WAL snapshot), `REPEATABLE READ READ ONLY` on
//!   PostgreSQL.
//! * SQLite has one writer, so writes go to one writer thread through a queue instead of
//!   spinning in SQLite's busy handler. The writer commits in groups: it takes every
//!   write waiting in the queue (up to [`MAX_GROUP`]), runs each in its own savepoint
//!   inside one `BEGIN IMMEDIATE` transaction, and commits once. A write that fails rolls
//!   back its savepoint only; the others commit. With `synchronous = FULL` a commit costs
//!   a WAL sync, and sharing that sync between concurrent writes is what lets write
//!   throughput grow with concurrency. A write is acknowledged only after the commit
//!   that contains it. `BEGIN IMMEDIATE` takes the write lock up front, so the
//!   transaction never has to upgrade a read lock.
//! * PostgreSQL has many writers: each write is its own `READ COMMITTED` transaction on
//!   a pooled connection, concurrent with the others (and with other replicas). Writes
//!   that change a stored row lock it first (`SELECT … FOR UPDATE`), so concurrent
//!   writers of one user or group take turns and each checks its expected version
//!   against the last committed one: no update is lost, and `If-Match` means the same
//!   as on SQLite. Uniqueness is the unique indexes' to enforce. A write chosen as a
//!   deadlock victim (or failing to serialize) runs again from the start, up to
//!   [`PG_WRITE_ATTEMPTS`] times.
//! * [`Database::set_query_observer`] lets tests see every SQL statement issued.

mod backfill;
pub mod copy;
pub mod counts;
pub mod groups;
pub mod memberships;
// Generated shape: diesel's table! macro emits undocumented items.
#[expect(missing_docs, reason = "diesel table! output")]
pub mod schema;
mod seq_pages;
mod snapshot;
pub mod sorted_pages;
pub mod sql;
pub mod users;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use scim_storage::migrate::{MigrateError, Migrations};
use scim_storage::pool::{ObserverSlot, OpenError as PoolOpenError, QueryObserver};
use scim_storage::{Backend, Conn, DatabaseUrl, Pool, PoolOptions};

use crate::error::IdentityError;
pub use snapshot::read_snapshot;
pub use writer::MAX_GROUP;
use writer::{WriteJob, queue_write, run_writer, write_pg};

/// The SQLite migrations compiled into the binary.
pub static SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The PostgreSQL migrations compiled into the binary.
pub static PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The PostgreSQL schema of identity-service's tables; another service may share the
/// database in a schema of its own.
pub const PG_SCHEMA: &str = "identity";

/// Both migration sets.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &PG_MIGRATIONS,
    pg_schema: PG_SCHEMA,
};

/// How long a caller waits for a free pooled connection before getting UNAVAILABLE.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Times a PostgreSQL write is tried before its conflict reaches the caller (ABORTED).
pub const PG_WRITE_ATTEMPTS: u32 = 5;

/// Errors opening the database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no database this service can use.
    #[error(transparent)]
    Url(#[from] scim_storage::UrlError),
    /// The pool could not be opened.
    #[error(transparent)]
    Pool(#[from] PoolOpenError),
    /// A migration failed, or the schema is newer than this binary.
    #[error(transparent)]
    Migrations(#[from] MigrateError),
    /// The blocking task running the work failed.
    #[error("start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The writer thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Writer(String),
    /// Filling a column a migration added failed.
    #[error("backfill failed: {0}")]
    Backfill(crate::error::IdentityError),
}

/// What a database call does, for its span: `db.operation.name` and `db.collection.name`.
#[derive(Debug, Clone, Copy)]
pub struct DbOp {
    /// The operation, e.g. `SELECT`, `INSERT`, `UPDATE`, `DELETE`.
    pub operation: &'static str,
    /// The main table involved.
    pub collection: &'static str,
}

impl DbOp {
    /// A new operation description.
    pub const fn new(operation: &'static str, collection: &'static str) -> Self {
        DbOp {
            operation,
            collection,
        }
    }

    /// The call's span; in a trace that is not sampled, the request's own span
    /// (`scim_telemetry::traces::child_span`).
    fn span(self, backend: Backend) -> tracing::Span {
        scim_telemetry::traces::child_span(|| {
            tracing::info_span!(
                "db.query",
                otel.name = %format_args!("{} {}", self.operation, self.collection),
                otel.kind = "client",
                db.system.name = backend.system_name(),
                db.operation.name = self.operation,
                db.collection.name = self.collection,
            )
        })
    }
}

/// The number of seqs `seqs` yields and every `every`-th of them (positions 0,
/// `every`, 2 × `every`, …): the order index of [`crate::paging`].
pub fn sample_every(
    seqs: impl Iterator<Item = diesel::QueryResult<i64>>,
    every: usize,
) -> diesel::QueryResult<(i64, Vec<i64>)> {
    let every = every.max(1);
    let mut samples = Vec::new();
    let mut n: usize = 0;
    for seq in seqs {
        let seq = seq?;
        if n.is_multiple_of(every) {
            samples.push(seq);
        }
        n += 1;
    }
    Ok((i64::try_from(n).unwrap_or(i64::MAX), samples))
}

/// The connection pool, plus the writer's queue on SQLite.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    writer: Option<tokio::sync::mpsc::Sender<WriteJob>>,
    observer: ObserverSlot,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens (creating a SQLite file if needed) the database named by `url` with a pool
    /// of `pool_size` connections. Does not run migrations.
    pub async fn open(url: &str, pool_size: u32) -> Result<Self, OpenError> {
        let url = DatabaseUrl::parse(url)?;
        let observer: ObserverSlot = Arc::default();
        let options = PoolOptions {
            size: pool_size,
            checkout_timeout: POOL_TIMEOUT,
            pg_schema: PG_SCHEMA,
            observer: Some(observer.clone()),
        };
        let pool = tokio::task::spawn_blocking(move || Pool::open(&url, options)).await??;
        let writer = match &pool {
            Pool::Sqlite(sqlite) => {
                let (writer, jobs) = tokio::sync::mpsc::channel(1024);
                let writer_pool = sqlite.clone();
                // The writer's spans and events belong to this service's subscriber,
                // which in a process running several services (`scimctl up`) is the
                // spawning thread's default rather than the global one.
                let dispatch = tracing::dispatcher::get_default(|d| d.clone());
                std::thread::Builder::new()
                    .name("identity-writer".into())
                    .spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            run_writer(writer_pool, jobs)
                        })
                    })
                    .map_err(|e| OpenError::Writer(e.to_string()))?;
                Some(writer)
            }
            Pool::Pg(_) => None,
        };
        Ok(Database {
            pool,
            writer,
            observer,
        })
    }

    /// The backend behind this database.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// The pool, for tools that copy or inspect a whole directory.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Applies every pending migration, once across every replica starting together,
    /// then fills what a migration added but could not compute ([`backfill`]); refuses a
    /// schema newer than this binary.
    pub async fn migrate(&self) -> Result<(), OpenError> {
        let pool = self.pool.clone();
        let span = DbOp::new("MIGRATE", "schema").span(self.backend());
        tokio::task::spawn_blocking(move || -> Result<(), OpenError> {
            let _entered = span.enter();
            let applied = scim_storage::migrate::run(&pool, &MIGRATIONS)?;
            tracing::info!(applied, "migrations applied");
            Ok(())
        })
        .await??;
        backfill::run(self).await.map_err(OpenError::Backfill)
    }

    /// Installs (or with `None` removes) an observer that sees the SQL of every statement.
    ///
    /// Meant for tests that assert how many and which statements an operation issues.
    pub fn set_query_observer(&self, observer: Option<QueryObserver>) {
        *self.observer.write().unwrap_or_else(|e| e.into_inner()) = observer;
    }

    /// Runs `f` in a read transaction on the blocking pool.
    pub async fn read<T, F>(&self, op: DbOp, f: F) -> Result<T, IdentityError>
    where
        F: FnOnce(&mut Conn<'_>) -> Result<T, IdentityError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let span = op.span(self.backend());
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut pooled = pool.get()?;
            read_snapshot(&mut pooled.conn(), f)
        })
        .await?
    }

    /// A read of a handful of rows through an index (one user by id, an index lookup),
    /// run where it is cheapest on each backend.
    ///
    /// SQLite: in a read transaction like [`Database::read`], but on the calling task
    /// when a pooled connection is free right now; such a read takes tens of
    /// microseconds, less than the round trip to the blocking pool and back (two thread
    /// wake-ups), which was a large share of a lookup's CPU.
    ///
    /// PostgreSQL: on the blocking pool (the read waits for the server, which must not
    /// hold up an async worker), and without `BEGIN` and `COMMIT`: its statements (the
    /// rows, then their groups or members) run one by one, each on the data committed
    /// when it starts. A transaction would add two round trips to the two the read
    /// needs, and the most a concurrent write can do in between is show in the second
    /// statement (a user's groups a moment newer than the user), never a change that
    /// was not committed. Anything that may scan or page through many rows, and needs
    /// its total and its rows to agree, uses [`Database::read`].
    pub async fn read_point<T, F>(&self, op: DbOp, f: F) -> Result<T, IdentityError>
    where
        F: FnOnce(&mut Conn<'_>) -> Result<T, IdentityError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.pool {
            Pool::Sqlite(_) => {
                if let Some(mut pooled) = self.pool.try_get() {
                    let _entered = op.span(Backend::Sqlite).entered();
                    return read_snapshot(&mut pooled.conn(), f);
                }
                self.read(op, f).await
            }
            Pool::Pg(_) => {
                let pool = self.pool.clone();
                let span = op.span(Backend::Postgres);
                tokio::task::spawn_blocking(move || {
                    let _entered = span.enter();
                    let mut pooled = pool.get()?;
                    f(&mut pooled.conn())
                })
                .await?
            }
        }
    }

    /// Runs `f` as one write and returns after its commit. An error from `f` rolls back
    /// everything `f` did, and nothing else.
    ///
    /// SQLite: in its own savepoint, inside a `BEGIN IMMEDIATE` transaction the writer
    /// thread may share with other queued writes. PostgreSQL: in a transaction of its
    /// own, run again from the start (so `f` may run more than once) when the database
    /// chose it to give way to a concurrent write.
    pub async fn write<T, F>(&self, op: DbOp, f: F) -> Result<T, IdentityError>
    where
        F: FnMut(&mut Conn<'_>) -> Result<T, IdentityError> + Send + 'static,
        T: Send + 'static,
    {
        let span = op.span(self.backend());
        match &self.writer {
            Some(writer) => queue_write(writer, span, f).await,
            None => {
                let pool = self.pool.clone();
                tokio::task::spawn_blocking(move || {
                    let _entered = span.enter();
                    write_pg(&pool, f)
                })
                .await?
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection as _;
    use scim_storage::testing::TestDatabase;
    use scim_storage::with_conn;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_rolls_back_alone_when_writes_run_together() {
        let test_db = TestDatabase::new("w.db");
        let db = Database::open(test_db.url(), 4).await.unwrap();
        db.migrate().await.unwrap();
        db.write(DbOp::new("CREATE", "t"), |c| {
            with_conn!(c, |c| c
                .batch_execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))?;
            Ok(())
        })
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(DbOp::new("INSERT", "t"), move |c| {
                    // Every tenth write inserts twice and fails on the second insert.
                    with_conn!(c, |c| c
                        .batch_execute(&format!("INSERT INTO t VALUES ({i})")))?;
                    if i % 10 == 0 {
                        with_conn!(c, |c| c
                            .batch_execute(&format!("INSERT INTO t VALUES ({i})")))?;
                    }
                    Ok(())
                })
                .await
            }));
        }
        let mut failed = 0;
        for t in tasks {
            if t.await.unwrap().is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 4);
        let count = db
            .read(DbOp::new("SELECT", "t"), |c| {
                use diesel::prelude::*;
                #[derive(QueryableByName)]
                struct N {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                let query = diesel::sql_query("SELECT COUNT(*) AS n FROM t");
                let n: N = with_conn!(c, |c| query.get_result(c))?;
                Ok(n.n)
            })
            .await
            .unwrap();
        assert_eq!(
            count, 36,
            "the failed writes left nothing, the others all committed"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_snapshot_ends_its_transaction_when_the_read_fails_or_panics() {
        let test_db = TestDatabase::new("r.db");
        let db = Database::open(test_db.url(), 1).await.unwrap();
        db.migrate().await.unwrap();
        db.write(DbOp::new("CREATE", "t"), |c| {
            with_conn!(c, |c| c.batch_execute(
                "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)"
            ))?;
            Ok(())
        })
        .await
        .unwrap();
        let pool = db.pool().clone();
        tokio::task::spawn_blocking(move || {
            let mut pooled = pool.get().unwrap();
            let mut conn = pooled.conn();
            // A read-only snapshot refuses writes on PostgreSQL; SQLite refuses a
            // nested BEGIN. Either shows that a transaction is open.
            let in_transaction = |c: &mut Conn<'_>| match c {
                Conn::Sqlite(c) => {
                    let nested = c.batch_execute("BEGIN");
                    if nested.is_ok() {
                        c.batch_execute("ROLLBACK").unwrap();
                    }
                    nested.is_err()
                }
                Conn::Pg(c) => {
                    use diesel::prelude::*;
                    #[derive(QueryableByName)]
                    struct Setting {
                        #[diesel(sql_type = diesel::sql_types::Text)]
                        value: String,
                    }
                    let ro: Setting = diesel::sql_query(
                        "SELECT current_setting('transaction_read_only') AS value",
                    )
                    .get_result(&mut **c)
                    .unwrap();
                    ro.value == "on"
                }
            };

            let inside = read_snapshot(&mut conn, |c| Ok(in_transaction(c))).unwrap();
            assert!(inside, "the closure runs inside a transaction");
            assert!(!in_transaction(&mut conn), "committed afterwards");

            let failed: Result<(), _> = read_snapshot(&mut conn, |_| {
                Err(IdentityError::Unavailable("read failed".into()))
            });
            assert!(failed.is_err());
            assert!(!in_transaction(&mut conn), "rolled back after an error");

            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _: Result<(), _> = read_snapshot(&mut conn, |_| panic!("bug in a read"));
            }));
            assert!(panicked.is_err(), "the panic reaches the caller");
            assert!(!in_transaction(&mut conn), "rolled back after a panic");
            // The connection still serves reads.
            read_snapshot(&mut conn, |c| {
                Ok(with_conn!(c, |c| c.batch_execute("SELECT x FROM t"))?)
            })
            .unwrap();
        })
        .await
        .unwrap();
    }
}
