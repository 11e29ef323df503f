//! What a database error means to the code that got it.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Whether the transaction that failed with `e` may succeed if run again from the
/// start: a PostgreSQL serialization failure or deadlock (two concurrent writers, one
/// chosen to give way). SQLite's busy database is [`is_unavailable`] instead: its
/// writes are already serialised, and busy means another process holds the file.
pub fn is_retryable(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("deadlock detected") || message.contains("could not serialize access")
        }
        _ => false,
    }
}

/// Whether `e` says the connection or server is gone (or going), rather than anything
/// about the statement.
pub fn is_unavailable(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("database is locked")
                || message.contains("database is busy")
                || message.contains("terminating connection")
                || message.contains("server closed the connection")
                || message.contains("the database system is")
        }
        _ => false,
    }
}

/// Whether `e` says the disk the database writes to is full: SQLite's `SQLITE_FULL`
/// (`database or disk is full`) or PostgreSQL's `disk_full` (`could not extend file`,
/// `No space left on device`). Nothing is written; once space is freed the same write
/// succeeds, so callers answer "unavailable, retry later" and tell the operator.
pub fn is_storage_full(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("database or disk is full")
                || message.contains("No space left on device")
                || message.contains("could not extend file")
        }
        _ => false,
    }
}

/// For a unique violation, what names the rule that was hit: the constraint or index
/// name on PostgreSQL, and on SQLite the `table.column, …` list of its message
/// (`UNIQUE constraint failed: users.tenant, users.user_name_norm`). `None` for every
/// other error.
pub fn unique_violation(e: &DieselError) -> Option<String> {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => Some(
            info.constraint_name()
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    info.message()
                        .strip_prefix("UNIQUE constraint failed: ")
                        .unwrap_or(info.message())
                        .to_owned()
                }),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_full_disk_is_recognised_on_both_backends_and_nothing_else_is() {
        for full in [
            "database or disk is full",
            "could not extend file \"base/16384/2619\": No space left on device",
            "could not write to file \"pg_wal/xlogtemp.123\": No space left on device",
        ] {
            assert!(
                is_storage_full(&db_error(DatabaseErrorKind::Unknown, full)),
                "{full}"
            );
        }
        for other in [
            "database is locked",
            "disk I/O error",
            "UNIQUE constraint failed: users.tenant",
        ] {
            assert!(
                !is_storage_full(&db_error(DatabaseErrorKind::Unknown, other)),
                "{other}"
            );
        }
        assert!(!is_storage_full(&DieselError::NotFound));
    }
}
