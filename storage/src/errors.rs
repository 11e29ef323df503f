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
