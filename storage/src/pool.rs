//! Connection pools for either backend, with each backend's session settings.
//!
//! * SQLite: `busy_timeout` (wait for another writer instead of failing), WAL (readers
//!   never block the writer), `synchronous = FULL` (in WAL mode NORMAL may lose the
//!   last commits on power loss; an acknowledged write must survive) and foreign keys.
//! * PostgreSQL: the service's own schema first on the `search_path`, so two services
//!   can share one database without their tables (or migration records) meeting, and
//!   `synchronous_commit = on` whatever the server's default, for the same durability
//!   promise.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use diesel::connection::{Connection as _, InstrumentationEvent, SimpleConnection};
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, PooledConnection};
use diesel::sqlite::SqliteConnection;

use crate::conn::Conn;
use crate::url::{Backend, DatabaseUrl};

/// Receives the SQL text of every statement run on any pooled connection.
pub type QueryObserver = Arc<dyn Fn(&str) + Send + Sync>;

/// Where a pool looks for its [`QueryObserver`]; replaceable while the pool runs.
pub type ObserverSlot = Arc<RwLock<Option<QueryObserver>>>;

/// Set on every SQLite connection the pool opens. `busy_timeout` comes first so that
/// switching to WAL waits for a lock held elsewhere.
pub const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON;";

/// How long opening a SQLite file keeps retrying the switch to WAL while another
/// process (a replica starting at the same moment) holds the lock it needs.
const WAL_SWITCH_PATIENCE: Duration = Duration::from_secs(15);

/// How a pool is built.
#[derive(Clone)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub size: u32,
    /// How long a caller waits for a free connection (and how long the first connect
    /// may take) before failing.
    pub checkout_timeout: Duration,
    /// The PostgreSQL schema the service's tables live in (ignored on SQLite).
    pub pg_schema: &'static str,
    /// Sees every statement, when set (tests of how many statements an operation runs).
    pub observer: Option<ObserverSlot>,
}

impl std::fmt::Debug for PoolOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolOptions")
            .field("size", &self.size)
            .field("checkout_timeout", &self.checkout_timeout)
            .field("pg_schema", &self.pg_schema)
            .finish_non_exhaustive()
    }
}

/// The pool could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The directory for the SQLite file could not be created.
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The SQLite file could not be opened and switched to WAL.
    #[error("cannot open the SQLite database {path}: {detail}")]
    Sqlite {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The pool could not open its connections.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The database, without its password.
        url: String,
        /// Why.
        source: diesel::r2d2::PoolError,
    },
}

/// A pool of connections to one database of either backend.
#[derive(Clone)]
pub enum Pool {
    /// SQLite connections to one file.
    Sqlite(diesel::r2d2::Pool<ConnectionManager<SqliteConnection>>),
    /// PostgreSQL connections to one database.
    Pg(diesel::r2d2::Pool<ConnectionManager<PgConnection>>),
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self {
            Pool::Sqlite(p) => p.state(),
            Pool::Pg(p) => p.state(),
        };
        f.debug_struct("Pool")
            .field("backend", &self.backend())
            .field("connections", &state.connections)
            .field("idle", &state.idle_connections)
            .finish()
    }
}

/// A connection checked out of a [`Pool`]; back in the pool when dropped.
pub enum Pooled {
    /// A SQLite connection.
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    /// A PostgreSQL connection.
    Pg(PooledConnection<ConnectionManager<PgConnection>>),
}

impl Pooled {
    /// The connection, for query code.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(c),
            Pooled::Pg(c) => Conn::Pg(c),
        }
    }
}

impl Pool {
    /// Opens a pool on `url`. Blocking: call it from a blocking task.
    pub fn open(url: &DatabaseUrl, options: PoolOptions) -> Result<Pool, OpenError> {
        match url {
            DatabaseUrl::Sqlite(path) => open_sqlite(path, options),
            DatabaseUrl::Postgres(raw) => open_pg(url, raw, options),
        }
    }

    /// The backend behind the pool.
    pub fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Pg(_) => Backend::Postgres,
        }
    }

    /// A connection, waiting up to the checkout timeout for one to be free.
    pub fn get(&self) -> Result<Pooled, diesel::r2d2::PoolError> {
        Ok(match self {
            Pool::Sqlite(p) => Pooled::Sqlite(p.get()?),
            Pool::Pg(p) => Pooled::Pg(p.get()?),
        })
    }

    /// A connection if one is free right now.
    pub fn try_get(&self) -> Option<Pooled> {
        match self {
            Pool::Sqlite(p) => p.try_get().map(Pooled::Sqlite),
            Pool::Pg(p) => p.try_get().map(Pooled::Pg),
        }
    }
}

/// Installs the observer (if any) as the connection's instrumentation.
fn observe<C: diesel::connection::Connection>(conn: &mut C, slot: &Option<ObserverSlot>) {
    let Some(slot) = slot.clone() else { return };
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let observer = slot.read().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(observer) = observer {
                observer(&query.to_string());
            }
        }
    });
}

struct SqliteSetup {
    observer: Option<ObserverSlot>,
}

impl std::fmt::Debug for SqliteSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteSetup")
    }
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteSetup {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(SQLITE_PRAGMAS)
            .map_err(diesel::r2d2::Error::QueryError)?;
        observe(conn, &self.observer);
        Ok(())
    }
}

struct PgSetup {
    statements: String,
    observer: Option<ObserverSlot>,
}

impl std::fmt::Debug for PgSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgSetup")
    }
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for PgSetup {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&self.statements)
            .map_err(diesel::r2d2::Error::QueryError)?;
        observe(conn, &self.observer);
        Ok(())
    }
}

/// The session settings of a PostgreSQL connection of a service using `schema`.
///
/// `synchronous_commit` on: an acknowledged write is durable (design.md §3), whatever
/// the server's default. Plans are left to PostgreSQL's default (`plan_cache_mode =
/// auto`): forcing a fresh plan per execution cost a quarter of a lookup's throughput
/// (docs/PERFORMANCE.md), and the generic plans it would guard against, made while a new
/// deployment's tables are empty, are replaced as soon as statistics exist (autovacuum,
/// or `ANALYZE` after a bulk load; docs/SCALING.md).
pub fn pg_session_settings(schema: &str) -> String {
    format!(
        "SET search_path TO {}; SET synchronous_commit TO on;",
        quote_ident(schema)
    )
}

/// `name` as a PostgreSQL identifier, quoted.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn open_pg(url: &DatabaseUrl, raw: &str, options: PoolOptions) -> Result<Pool, OpenError> {
    let setup = PgSetup {
        statements: pg_session_settings(options.pg_schema),
        observer: options.observer,
    };
    let size = options.size.max(1);
    diesel::r2d2::Pool::builder()
        .max_size(size)
        // Connections open on demand beyond the first two: N replicas times the pool
        // size must fit the server's `max_connections`, and idle ones cost it memory.
        .min_idle(Some(size.min(2)))
        .connection_timeout(options.checkout_timeout)
        .connection_customizer(Box::new(setup))
        .build(ConnectionManager::<PgConnection>::new(raw))
        .map(Pool::Pg)
        .map_err(|source| OpenError::Connect {
            url: url.to_string(),
            source,
        })
}

fn open_sqlite(path: &Path, options: PoolOptions) -> Result<Pool, OpenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let file = path.to_string_lossy().into_owned();
    switch_to_wal(&file)?;
    diesel::r2d2::Pool::builder()
        .max_size(options.size.max(1))
        .connection_timeout(options.checkout_timeout)
        .connection_customizer(Box::new(SqliteSetup {
            observer: options.observer,
        }))
        .build(ConnectionManager::<SqliteConnection>::new(file.clone()))
        .map(Pool::Sqlite)
        .map_err(|source| OpenError::Connect {
            url: format!("sqlite://{file}"),
            source,
        })
}

/// Switches a (possibly new) file to WAL once, before the pool opens its connections in
/// parallel, so that no connection has to wait for another's switch. The switch needs
/// an exclusive lock and SQLite does not wait for it through `busy_timeout`, so while
/// another process holds it (two replicas starting at once) this retries.
fn switch_to_wal(file: &str) -> Result<(), OpenError> {
    let failed = |detail: String| OpenError::Sqlite {
        path: file.to_owned(),
        detail,
    };
    let started = std::time::Instant::now();
    loop {
        let attempt = SqliteConnection::establish(file)
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
                    .map_err(|e| e.to_string())
            });
        match attempt {
            Ok(()) => return Ok(()),
            Err(e) if e.contains("locked") && started.elapsed() < WAL_SWITCH_PATIENCE => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(failed(e)),
        }
    }
}
