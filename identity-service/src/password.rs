//! User passwords: write-only, stored as Argon2id PHC strings (`$argon2id$v=19$...`).
//!
//! Hashing is deliberately slow, so it runs on the blocking pool and before the write
//! transaction, never while holding the database's write lock.

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};

use crate::error::IdentityError;

pub use scim_model::limits::MAX_PASSWORD_BYTES;

/// Checks a password from a request.
pub fn check(password: &str) -> Result<(), IdentityError> {
    if password.is_empty() {
        return Err(IdentityError::invalid("user.password must not be empty"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(IdentityError::invalid(format!(
            "user.password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The Argon2id hash of `password` with a fresh random salt, as a PHC string.
pub fn hash(password: &str) -> Result<String, IdentityError> {
    check(password)?;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Internal(format!("password hashing failed: {e}")))
}

/// Hashes running at once. Each Argon2id hash holds 19 MiB and a core for a while; more
/// at once than there are cores only adds memory (32 concurrent user creations would
/// otherwise hold over 600 MiB), so the rest wait their turn.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`hash`] on the blocking pool, at most two at a time.
pub async fn hash_blocking(password: String) -> Result<String, IdentityError> {
    check(&password)?;
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| IdentityError::Internal("password hashing is shut down".into()))?;
    let span = scim_telemetry::traces::child_span(|| tracing::info_span!("password.hash"));
    tokio::task::spawn_blocking(move || span.in_scope(|| hash(&password))).await?
}

/// Whether `password` matches a stored PHC string.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong", &a));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn empty_and_huge_passwords_are_refused() {
        assert!(hash("").is_err());
        assert!(hash(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
