//! Storage: the r2d2 pool of SQLite connections, embedded migrations, and the one way
//! handlers run diesel code.
//!
//! * Every connection gets its pragmas when the pool opens it (see [`PRAGMAS`]).
//! * Diesel is synchronous, so all database work runs on Tokio's blocking pool
//!   ([`Database::read`], [`Database::write`]), inside a `db.query` span that is a child
//!   of the caller's span and carries the OpenTelemetry database attributes.
//! * SQLite has one writer, so writes go to one writer thread through a queue instead of
//!   spinning in SQLite's busy handler. The writer commits in groups: it takes every
//!   write waiting in the queue (up to [`MAX_GROUP`]), runs each in its own savepoint
//!   inside one `BEGIN IMMEDIATE` transaction, and commits once. A write that fails rolls
//!   back its savepoint only; the others commit. With `synchronous = FULL` a commit costs
//!   a WAL sync, and sharing that sync between concurrent writes is what lets write
//!   throughput grow with concurrency. A write is acknowledged only after the commit
//!   that contains it. `BEGIN IMMEDIATE` takes the write lock up front, so the
//!   transaction never has to upgrade a read lock. Reads run concurrently in deferred
//!   transactions (a consistent WAL snapshot).
//! * [`Database::set_query_observer`] lets tests see every SQL statement issued.

pub mod groups;
pub mod memberships;
// Generated shape: diesel's table! macro emits undocumented items.
#[expect(missing_docs, reason = "diesel table! output")]
pub mod schema;
pub mod sql;
pub mod timestamp;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use diesel::connection::{Connection, InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::result::Error as DieselError;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::IdentityError;

/// The migrations compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Set on every connection the pool opens.
///
/// `synchronous = FULL`: in WAL mode, NORMAL may lose the most recent commits on power
/// loss or an OS crash because the WAL is not synced at each commit. The design promises
/// that an acknowledged write survives, so every commit syncs the WAL before returning.
/// `busy_timeout` comes first so that switching to WAL waits for a lock held elsewhere.
pub const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON;";

/// How long a caller waits for a free pooled connection before getting UNAVAILABLE.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Receives the SQL text of every statement run on any pooled connection.
pub type QueryObserver = Arc<dyn Fn(&str) + Send + Sync>;

type ObserverSlot = Arc<RwLock<Option<QueryObserver>>>;

/// Errors opening the database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names something other than a SQLite file.
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(String),
    /// The directory for the database file could not be created.
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The pool could not open its connections.
    #[error("cannot open the database: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// The database file could not be opened and switched to WAL.
    #[error("cannot open the database in WAL mode: {0}")]
    Wal(String),
    /// A migration failed.
    #[error("migrations failed: {0}")]
    Migrations(String),
    /// The blocking task running the work failed.
    #[error("start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The writer thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Writer(String),
}

/// The SQLite file path named by a `sqlite://PATH` URL or a plain path.
pub fn sqlite_path(url: &str) -> Result<PathBuf, OpenError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || path.contains("://") {
        return Err(OpenError::UnsupportedUrl(url.to_owned()));
    }
    if path == ":memory:" || path.contains("mode=memory") || path.starts_with("file::memory:") {
        // Every pooled connection would see its own empty database.
        return Err(OpenError::UnsupportedUrl(
            "in-memory databases cannot be pooled; use a file".to_owned(),
        ));
    }
    Ok(PathBuf::from(path))
}

/// Applies [`PRAGMAS`] and the query observer to each new connection.
struct Customizer {
    observer: ObserverSlot,
}

impl std::fmt::Debug for Customizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Customizer").finish_non_exhaustive()
    }
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Customizer {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(PRAGMAS)
            .map_err(diesel::r2d2::Error::QueryError)?;
        let slot = self.observer.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                let observer = slot.read().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(observer) = observer {
                    observer(&query.to_string());
                }
            }
        });
        Ok(())
    }
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

    fn span(self) -> tracing::Span {
        tracing::info_span!(
            "db.query",
            otel.name = %format_args!("{} {}", self.operation, self.collection),
            otel.kind = "client",
            db.system.name = "sqlite",
            db.operation.name = self.operation,
            db.collection.name = self.collection,
        )
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

/// Most writes committed together.
pub const MAX_GROUP: usize = 64;

/// A queued write: runs in its savepoint and returns what to do once the group's commit
/// succeeded (`None`) or failed (`Some(error)`).
type WriteJob = Box<dyn FnOnce(&mut SqliteConnection) -> Finish + Send>;
type Finish = Box<dyn FnOnce(Option<String>) + Send>;

/// The connection pool plus the writer's queue.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionManager<SqliteConnection>>,
    writer: tokio::sync::mpsc::Sender<WriteJob>,
    observer: ObserverSlot,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("pool", &self.pool.state())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens (creating if needed) the SQLite database named by `url` with a pool of
    /// `pool_size` connections. Does not run migrations.
    pub async fn open(url: &str, pool_size: u32) -> Result<Self, OpenError> {
        let path = sqlite_path(url)?;
        let observer: ObserverSlot = Arc::default();
        let customizer = Customizer {
            observer: observer.clone(),
        };
        let pool = tokio::task::spawn_blocking(move || {
            create_parent_dir(&path)?;
            // Switching a new file to WAL takes an exclusive lock. Done once here, before
            // the pool opens its connections in parallel, no connection has to wait for
            // another's switch (r2d2 logs such a wait as an error, although it retries).
            let url = path.to_string_lossy();
            let mut first =
                SqliteConnection::establish(&url).map_err(|e| OpenError::Wal(e.to_string()))?;
            first
                .batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
                .map_err(|e| OpenError::Wal(e.to_string()))?;
            drop(first);
            let manager = ConnectionManager::<SqliteConnection>::new(url);
            Pool::builder()
                .max_size(pool_size.max(1))
                .connection_timeout(POOL_TIMEOUT)
                .connection_customizer(Box::new(customizer))
                .build(manager)
                .map_err(OpenError::from)
        })
        .await??;
        let (writer, jobs) = tokio::sync::mpsc::channel(1024);
        let writer_pool = pool.clone();
        std::thread::Builder::new()
            .name("identity-writer".into())
            .spawn(move || run_writer(writer_pool, jobs))
            .map_err(|e| OpenError::Writer(e.to_string()))?;
        Ok(Database {
            pool,
            writer,
            observer,
        })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), OpenError> {
        let pool = self.pool.clone();
        let span = DbOp::new("MIGRATE", "schema").span();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get()?;
            conn.run_pending_migrations(MIGRATIONS)
                .map(|applied| tracing::info!(applied = applied.len(), "migrations applied"))
                .map_err(|e| OpenError::Migrations(e.to_string()))
        })
        .await?
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
        F: FnOnce(&mut SqliteConnection) -> Result<T, IdentityError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let span = op.span();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get()?;
            let conn: &mut SqliteConnection = &mut conn;
            read_snapshot(conn, f)
        })
        .await?
    }

    /// Runs `f` in a read transaction like [`Database::read`], but on the calling task
    /// when a pooled connection is free right now.
    ///
    /// Only for reads that touch a handful of rows through an index (one user by id, an
    /// index lookup): they take tens of microseconds, less than the round trip to the
    /// blocking pool and back (two thread wake-ups), which was a large share of a
    /// lookup's CPU. Anything that may scan or load many rows uses [`Database::read`].
    pub async fn read_point<T, F>(&self, op: DbOp, f: F) -> Result<T, IdentityError>
    where
        F: FnOnce(&mut SqliteConnection) -> Result<T, IdentityError> + Send + 'static,
        T: Send + 'static,
    {
        match self.pool.try_get() {
            Some(mut conn) => {
                let _entered = op.span().entered();
                let conn: &mut SqliteConnection = &mut conn;
                read_snapshot(conn, f)
            }
            None => self.read(op, f).await,
        }
    }

    /// Runs `f` as one write: in its own savepoint, inside a `BEGIN IMMEDIATE`
    /// transaction the writer thread may share with other queued writes. Returns after
    /// the commit. An error from `f` rolls back everything `f` did, and nothing else.
    pub async fn write<T, F>(&self, op: DbOp, f: F) -> Result<T, IdentityError>
    where
        F: FnOnce(&mut SqliteConnection) -> Result<T, IdentityError> + Send + 'static,
        T: Send + 'static,
    {
        let span = op.span();
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, IdentityError>>();
        let job: WriteJob = Box::new(move |conn| {
            let _entered = span.enter();
            let result = conn.transaction(f);
            Box::new(move |commit_error| {
                let outcome = match commit_error {
                    Some(e) => Err(IdentityError::Unavailable(format!("commit failed: {e}"))),
                    None => result,
                };
                let _ = tx.send(outcome);
            })
        });
        self.writer
            .send(job)
            .await
            .map_err(|_| IdentityError::Unavailable("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| IdentityError::Internal("a write was dropped by the writer".into()))?
    }
}

/// The writer thread: commits queued writes in groups until every sender is gone.
fn run_writer(
    pool: Pool<ConnectionManager<SqliteConnection>>,
    mut jobs: tokio::sync::mpsc::Receiver<WriteJob>,
) {
    while let Some(first) = jobs.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut finishes: Vec<Finish> = Vec::with_capacity(group.len());
        let committed = match pool.get() {
            Ok(mut conn) => conn
                .immediate_transaction::<_, DieselError, _>(|c| {
                    for job in group.drain(..) {
                        // A panicking write must not take the writer (and every later
                        // write) down with it.
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(c))) {
                            Ok(finish) => finishes.push(finish),
                            Err(_) => tracing::error!("a write panicked; it was rolled back"),
                        }
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let error = committed.err();
        if let Some(e) = &error {
            tracing::error!(error = %e, "group commit failed");
        }
        for finish in finishes {
            finish(error.clone());
        }
        // Jobs never run (no connection) are dropped here; their callers get an error.
    }
}

fn create_parent_dir(path: &Path) -> Result<(), OpenError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Runs `f` in a deferred transaction, so all its statements read one snapshot.
///
/// The same as `Connection::transaction` for a read, with `BEGIN`/`COMMIT` as cached
/// statements (see [`sql::Begin`]). `f` must not open a transaction of its own: diesel
/// does not know about this one. The transaction is rolled back when `f` fails or
/// panics, so the pooled connection is never handed out with a transaction open.
pub fn read_snapshot<T, F>(conn: &mut SqliteConnection, f: F) -> Result<T, IdentityError>
where
    F: FnOnce(&mut SqliteConnection) -> Result<T, IdentityError>,
{
    use diesel::RunQueryDsl as _;

    sql::Begin.execute(conn)?;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn))) {
        Ok(Ok(value)) => {
            sql::Commit.execute(conn)?;
            Ok(value)
        }
        Ok(Err(e)) => {
            let _ = sql::Rollback.execute(conn);
            Err(e)
        }
        Err(panic) => {
            let _ = sql::Rollback.execute(conn);
            std::panic::resume_unwind(panic)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_plain_paths_name_a_file() {
        assert_eq!(
            sqlite_path("sqlite://./data/identity.db").unwrap(),
            PathBuf::from("./data/identity.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/x.db").unwrap(),
            PathBuf::from("/var/lib/x.db")
        );
        assert_eq!(sqlite_path("x.db").unwrap(), PathBuf::from("x.db"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_rolls_back_alone_when_writes_commit_together() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("w.db").to_str().unwrap(), 4)
            .await
            .unwrap();
        db.write(DbOp::new("CREATE", "t"), |c| {
            c.batch_execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")?;
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
                    c.batch_execute(&format!("INSERT INTO t VALUES ({i})"))?;
                    if i % 10 == 0 {
                        c.batch_execute(&format!("INSERT INTO t VALUES ({i})"))?;
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
                let n: N = diesel::sql_query("SELECT COUNT(*) AS n FROM t").get_result(c)?;
                Ok(n.n)
            })
            .await
            .unwrap();
        assert_eq!(
            count, 36,
            "the failed writes left nothing, the others all committed"
        );
    }

    #[test]
    fn a_read_snapshot_ends_its_transaction_when_the_read_fails_or_panics() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn =
            SqliteConnection::establish(dir.path().join("r.db").to_str().unwrap()).unwrap();
        conn.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")
            .unwrap();
        let in_transaction = |c: &mut SqliteConnection| {
            // BEGIN inside an open transaction is an error in SQLite.
            let nested = c.batch_execute("BEGIN");
            if nested.is_ok() {
                c.batch_execute("ROLLBACK").unwrap();
            }
            nested.is_err()
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
        read_snapshot(&mut conn, |c| Ok(c.batch_execute("SELECT x FROM t")?)).unwrap();
    }

    #[test]
    fn memory_and_foreign_urls_are_refused() {
        assert!(sqlite_path(":memory:").is_err());
        assert!(sqlite_path("sqlite://:memory:").is_err());
        assert!(sqlite_path("postgres://db/x").is_err());
        assert!(sqlite_path("").is_err());
    }
}
