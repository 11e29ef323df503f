//! A fresh database per test, on the backend the test run asks for.
//!
//! `SCIM_TEST_BACKEND=postgres` runs a test suite on PostgreSQL (anything else, or
//! nothing, means SQLite). The PostgreSQL server is the one `TEST_DATABASE_URL` names
//! (any database on it; it is only used to create and drop the tests' own), else the
//! one at 127.0.0.1:5432 as user `postgres`. Each [`TestDatabase`] is a database of its
//! own, dropped when the value is, so tests stay independent and parallel.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection as _;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection as _, RunQueryDsl as _};

use crate::conn::Conn;
use crate::url::{Backend, DatabaseUrl};

/// The environment variable that picks the backend of a test run.
pub const BACKEND_VAR: &str = "SCIM_TEST_BACKEND";

/// The environment variable naming the PostgreSQL server for tests.
pub const SERVER_VAR: &str = "TEST_DATABASE_URL";

/// The server tests use when [`SERVER_VAR`] is unset.
pub const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The backend this test run uses.
pub fn backend() -> Backend {
    match std::env::var(BACKEND_VAR).as_deref() {
        Ok("postgres" | "postgresql" | "pg") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// The URL of the PostgreSQL server tests create their databases on.
pub fn server_url() -> String {
    std::env::var(SERVER_VAR).unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

/// `server`'s URL with its database replaced by `name`.
pub fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

fn admin(server: &str) -> PgConnection {
    PgConnection::establish(server).unwrap_or_else(|e| {
        panic!(
            "the PostgreSQL tests need a server: set {SERVER_VAR} to one (any database on it), \
             or run one at 127.0.0.1:5432 that user `postgres` may use without a password \
             (scripts/test starts a throwaway one from the installed PostgreSQL binaries; \
             Debian: apt-get install postgresql). Connecting failed: {e}"
        )
    })
}

/// One test's database.
pub struct TestDatabase {
    url: String,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("url", &self.url)
            .finish()
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// A new empty database on this run's backend; `file` names the SQLite file.
    pub fn new(file: &str) -> Self {
        Self::on(backend(), file)
    }

    /// A new empty database on `backend`.
    pub fn on(backend: Backend, file: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        match backend {
            Backend::Sqlite => TestDatabase {
                url: format!("sqlite://{}", dir.path().join(file).display()),
                postgres: None,
                _dir: dir,
            },
            Backend::Postgres => Self::create_on(&server_url()),
        }
    }

    /// A new empty database on the PostgreSQL server `server` (a URL naming any of
    /// its databases), dropped when the value is.
    pub fn create_on(server: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "scim_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin(server)
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        TestDatabase {
            url: with_database(server, &name),
            postgres: Some((server.to_owned(), name)),
            _dir: dir,
        }
    }

    /// The database URL, as `--database-url` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The directory beside the database (for other files a test needs).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The backend of the database.
    pub fn backend(&self) -> Backend {
        if self.postgres.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// A connection of the test's own, beside the service's pool, that sees the tables
    /// of a service using `pg_schema` (to check what is stored, or to prepare data).
    pub fn direct(&self, pg_schema: &str) -> Direct {
        match DatabaseUrl::parse(&self.url).expect("test URL") {
            DatabaseUrl::Sqlite(path) => {
                let mut c = SqliteConnection::establish(&path.to_string_lossy())
                    .expect("open the test database");
                c.batch_execute("PRAGMA busy_timeout = 5000;")
                    .expect("busy timeout");
                Direct::Sqlite(c)
            }
            DatabaseUrl::Postgres(url) => {
                let mut c = PgConnection::establish(&url).expect("connect to the test database");
                c.batch_execute(&crate::pool::pg_session_settings(pg_schema))
                    .expect("search path");
                Direct::Pg(c)
            }
        }
    }

    /// Runs `sql` on the database with a connection of its own.
    pub fn execute(&self, pg_schema: &str, sql: &str) -> diesel::QueryResult<usize> {
        let mut direct = self.direct(pg_schema);
        crate::with_conn!(&mut direct.conn(), |c| diesel::sql_query(sql).execute(c))
    }
}

/// An owned connection of either backend (see [`TestDatabase::direct`]).
pub enum Direct {
    /// SQLite.
    Sqlite(SqliteConnection),
    /// PostgreSQL.
    Pg(PgConnection),
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Direct")
    }
}

impl Direct {
    /// The connection, for query code.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Direct::Sqlite(c) => Conn::Sqlite(c),
            Direct::Pg(c) => Conn::Pg(c),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::env::var_os("SCIM_TEST_KEEP").is_some() {
            // Kept for a post-mortem: the directory (logs) and the database.
            let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("tempdir"));
            eprintln!("kept {} and {}", dir.keep().display(), self.url);
            return;
        }
        if let Some((server, name)) = &self.postgres {
            // FORCE: a server under test may still hold pooled connections.
            if let Ok(mut conn) = PgConnection::establish(server) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_server_url_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t1"),
            "postgres://h:5432/t1"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "t1"),
            "postgresql://u:p@h/t1?sslmode=disable"
        );
    }
}
