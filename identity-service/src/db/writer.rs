//! The write path: SQLite's one writer thread committing queued writes in groups, and
//! PostgreSQL's transaction per write with its bounded retry.

use std::time::Duration;

use diesel::connection::Connection as _;
use diesel::r2d2::ConnectionManager;
use diesel::result::Error as DieselError;
use diesel::sqlite::SqliteConnection;
use scim_storage::{Conn, Pool};

use super::PG_WRITE_ATTEMPTS;
use crate::error::IdentityError;

/// Most writes committed together.
pub const MAX_GROUP: usize = 64;

/// A queued SQLite write: runs in its savepoint and returns what to do once the
/// group's commit succeeded (`None`) or failed (`Some(error)`).
pub(super) type WriteJob = Box<dyn FnOnce(&mut SqliteConnection) -> Finish + Send>;
pub(super) type Finish = Box<dyn FnOnce(Option<CommitFailure>) + Send>;

/// Why a group's commit failed, as each write of the group reports it.
#[derive(Debug, Clone)]
pub(super) enum CommitFailure {
    /// The disk is full: an operator must free space.
    StorageFull(String),
    /// Anything else (no connection, an I/O error).
    Other(String),
}

impl CommitFailure {
    fn of(e: &DieselError) -> Self {
        if scim_storage::errors::is_storage_full(e) {
            CommitFailure::StorageFull(e.to_string())
        } else {
            CommitFailure::Other(e.to_string())
        }
    }
}

impl From<CommitFailure> for IdentityError {
    fn from(f: CommitFailure) -> Self {
        match f {
            CommitFailure::StorageFull(e) => {
                IdentityError::StorageFull(format!("commit failed: {e}"))
            }
            CommitFailure::Other(e) => IdentityError::Unavailable(format!("commit failed: {e}")),
        }
    }
}

pub(super) async fn queue_write<T, F>(
    writer: &tokio::sync::mpsc::Sender<WriteJob>,
    span: tracing::Span,
    mut f: F,
) -> Result<T, IdentityError>
where
    F: FnMut(&mut Conn<'_>) -> Result<T, IdentityError> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, IdentityError>>();
    let job: WriteJob = Box::new(move |conn| {
        let _entered = span.enter();
        let result = conn.transaction(|c| f(&mut Conn::Sqlite(c)));
        Box::new(move |commit_error| {
            let outcome = match commit_error {
                Some(failure) => Err(failure.into()),
                None => result,
            };
            let _ = tx.send(outcome);
        })
    });
    writer
        .send(job)
        .await
        .map_err(|_| IdentityError::Unavailable("the writer has stopped".into()))?;
    rx.await
        .map_err(|_| IdentityError::Internal("a write was dropped by the writer".into()))?
}

/// A PostgreSQL write with its bounded retry.
pub(super) fn write_pg<T, F>(pool: &Pool, mut f: F) -> Result<T, IdentityError>
where
    F: FnMut(&mut Conn<'_>) -> Result<T, IdentityError>,
{
    let mut attempt = 1;
    loop {
        let mut pooled = pool.get()?;
        let Conn::Pg(conn) = pooled.conn() else {
            return Err(IdentityError::Internal("not a PostgreSQL pool".into()));
        };
        match conn.transaction(|c| f(&mut Conn::Pg(c))) {
            Err(IdentityError::Contended(detail)) if attempt < PG_WRITE_ATTEMPTS => {
                tracing::debug!(attempt, error = %detail, "write conflict; running the write again");
                // A few milliseconds, growing and jittered, so the writers that met
                // do not meet again at once.
                let jitter = u64::from(std::process::id() ^ attempt) % 3;
                std::thread::sleep(Duration::from_millis(u64::from(attempt) * 2 + jitter));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The writer thread: commits queued writes in groups until every sender is gone.
pub(super) fn run_writer(
    pool: diesel::r2d2::Pool<ConnectionManager<SqliteConnection>>,
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
                .map_err(|e| CommitFailure::of(&e)),
            Err(e) => Err(CommitFailure::Other(e.to_string())),
        };
        let error = committed.err();
        if let Some(e) = &error {
            tracing::error!(error = ?e, "group commit failed");
        }
        for finish in finishes {
            finish(error.clone());
        }
        // Jobs never run (no connection) are dropped here; their callers get an error.
    }
}
