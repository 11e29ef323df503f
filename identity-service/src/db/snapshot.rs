//! Reads that see one snapshot: a read-only transaction on either backend.

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use scim_storage::Conn;

use super::sql;

use crate::error::IdentityError;

/// Runs `f` in a read-only transaction, so all its statements read one snapshot.
///
/// SQLite: a deferred transaction; PostgreSQL: `REPEATABLE READ READ ONLY`; both with
/// `BEGIN` and `COMMIT` as cached prepared statements (see [`sql::Begin`]). `f` must not open a
/// transaction of its own. The transaction is rolled back when `f` fails or panics, so
/// the pooled connection is never handed out with a transaction open.
pub fn read_snapshot<T, F>(conn: &mut Conn<'_>, f: F) -> Result<T, IdentityError>
where
    F: FnOnce(&mut Conn<'_>) -> Result<T, IdentityError>,
{
    match conn {
        Conn::Sqlite(c) => sqlite_snapshot(c, f),
        Conn::Pg(c) => pg_snapshot(c, f),
    }
}

fn sqlite_snapshot<T, F>(conn: &mut SqliteConnection, f: F) -> Result<T, IdentityError>
where
    F: FnOnce(&mut Conn<'_>) -> Result<T, IdentityError>,
{
    use diesel::RunQueryDsl as _;

    sql::Begin.execute(conn)?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        f(&mut Conn::Sqlite(&mut *conn))
    }));
    finish_snapshot(
        conn,
        outcome,
        |c| sql::Commit.execute(c).map(drop),
        |c| sql::Rollback.execute(c).map(drop),
    )
}

fn pg_snapshot<T, F>(conn: &mut PgConnection, f: F) -> Result<T, IdentityError>
where
    F: FnOnce(&mut Conn<'_>) -> Result<T, IdentityError>,
{
    use diesel::RunQueryDsl as _;

    sql::BeginSnapshot.execute(conn)?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        f(&mut Conn::Pg(&mut *conn))
    }));
    finish_snapshot(
        conn,
        outcome,
        |c| sql::Commit.execute(c).map(drop),
        |c| sql::Rollback.execute(c).map(drop),
    )
}

/// Ends a read transaction the way its closure ended: commit after success, roll back
/// after an error or a panic (which then goes on to the caller).
fn finish_snapshot<C, T>(
    conn: &mut C,
    outcome: std::thread::Result<Result<T, IdentityError>>,
    commit: impl FnOnce(&mut C) -> diesel::QueryResult<()>,
    rollback: impl FnOnce(&mut C) -> diesel::QueryResult<()>,
) -> Result<T, IdentityError> {
    match outcome {
        Ok(Ok(value)) => {
            commit(conn)?;
            Ok(value)
        }
        Ok(Err(e)) => {
            let _ = rollback(conn);
            Err(e)
        }
        Err(panic) => {
            let _ = rollback(conn);
            std::panic::resume_unwind(panic)
        }
    }
}
