//! The revocation list every verifier consults.

use std::collections::HashMap;
use std::sync::RwLock;

/// Revoked token ids and per-client revocation cut-offs, kept current by a poller.
#[derive(Debug, Default)]
pub struct Revocations {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// jti -> when the token expires (after that the entry is useless).
    jtis: HashMap<String, i64>,
    /// client id -> tokens issued at or before this second are revoked.
    clients: HashMap<String, i64>,
    /// The newest revocation sequence applied.
    sequence: i64,
}

impl Revocations {
    /// Records that the token `jti` is revoked until `expires_at`.
    pub fn revoke_jti(&self, jti: &str, expires_at: i64) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.jtis.insert(jti.to_owned(), expires_at);
    }

    /// Records that every token of `client_id` issued at or before `issued_before` is
    /// revoked.
    pub fn revoke_client(&self, client_id: &str, issued_before: i64) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let cut = inner
            .clients
            .entry(client_id.to_owned())
            .or_insert(i64::MIN);
        *cut = (*cut).max(issued_before);
    }

    /// Whether a token with these claims is revoked.
    pub fn is_revoked(&self, jti: &str, client_id: &str, issued_at: i64) -> bool {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.jtis.contains_key(jti)
            || inner
                .clients
                .get(client_id)
                .is_some_and(|cut| issued_at <= *cut)
    }

    /// The newest sequence applied so far.
    pub fn sequence(&self) -> i64 {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .sequence
    }

    /// Notes that revocations up to `sequence` are applied, and forgets entries whose
    /// tokens have all expired.
    pub fn advance(&self, sequence: i64, now: i64) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.sequence = inner.sequence.max(sequence);
        inner.jtis.retain(|_, exp| *exp >= now);
    }
}
