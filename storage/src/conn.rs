//! One connection type over both backends.

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use crate::url::Backend;

/// A borrowed connection of either backend; what the services' query functions take.
///
/// Query code is written once and compiled for each backend with [`with_conn!`](crate::with_conn);
/// where the SQL must differ, the code matches on the variants itself.
pub enum Conn<'a> {
    /// A SQLite connection.
    Sqlite(&'a mut SqliteConnection),
    /// A PostgreSQL connection.
    Pg(&'a mut PgConnection),
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Conn({:?})", self.backend())
    }
}

impl Conn<'_> {
    /// Which backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Pg(_) => Backend::Postgres,
        }
    }
}

/// Runs a diesel expression on the concrete connection inside a [`Conn`]: the
/// expression is compiled once per backend, with `$c` bound to a `&mut SqliteConnection`
/// in one arm and a `&mut PgConnection` in the other.
///
/// ```ignore
/// let n: i64 = with_conn!(conn, |c| users::table.count().get_result(c))?;
/// ```
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::Conn::Sqlite($c) => {
                let $c: &mut ::diesel::sqlite::SqliteConnection = &mut **$c;
                $body
            }
            $crate::Conn::Pg($c) => {
                let $c: &mut ::diesel::pg::PgConnection = &mut **$c;
                $body
            }
        }
    };
}

/// Runs `f` in a read-only transaction, so that all its statements see one snapshot:
/// deferred on SQLite, `REPEATABLE READ READ ONLY` on PostgreSQL.
pub fn read_only<T, E, F>(conn: &mut Conn<'_>, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::Connection as _;
    match conn {
        Conn::Sqlite(c) => c.transaction(|c| f(&mut Conn::Sqlite(c))),
        Conn::Pg(c) => c
            .build_transaction()
            .repeatable_read()
            .read_only()
            .run(|c| f(&mut Conn::Pg(c))),
    }
}

/// Runs `f` in one write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock up
/// front), the default `READ COMMITTED` on PostgreSQL.
pub fn write<T, E, F>(conn: &mut Conn<'_>, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::Connection as _;
    match conn {
        Conn::Sqlite(c) => c.immediate_transaction(|c| f(&mut Conn::Sqlite(c))),
        Conn::Pg(c) => c.transaction(|c| f(&mut Conn::Pg(c))),
    }
}
