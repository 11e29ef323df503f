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
