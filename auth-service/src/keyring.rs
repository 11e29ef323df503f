//! The signing keys in memory, and the key source the service's own verifier uses.
//!
//! Three kinds of key are published: `current` signs every token; `next` is already
//! published so that every verifier knows it before it signs anything; `retired` keys
//! signed earlier tokens and stay published until those tokens have expired (their
//! `retire_after`, set at rotation to now + the longest token lifetime any provider may
//! request + a margin). A rotation moves current → retired, next → current, and creates
//! a new next. The database is the source of truth; this is a cache rebuilt from it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use scim_authn::{KeySource, KeySourceError, PublicJwk, SigningKey};

use crate::db;
use crate::db::keys::{CURRENT, KeyRow, NEXT, RETIRED};
use crate::error::AuthError;

/// A published public key and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    /// The key.
    pub jwk: PublicJwk,
    /// `next`, `current` or `retired`.
    pub status: &'static str,
}

/// One consistent set of keys.
#[derive(Debug, Clone)]
pub struct KeySet {
    current: Arc<SigningKey>,
    next: PublicJwk,
    /// Public keys of retired (and any surplus) keys with the end of their publication.
    retired: Vec<(PublicJwk, DateTime<Utc>)>,
}

impl KeySet {
    /// Builds the set from stored rows; there must be a current and a next key.
    pub fn from_rows(rows: &[KeyRow]) -> Result<Self, AuthError> {
        let newest = |status: &str| {
            rows.iter()
                .filter(|r| r.status == status)
                .max_by_key(|r| r.created_at)
        };
        let current_row =
            newest(CURRENT).ok_or_else(|| AuthError::Internal("no current signing key".into()))?;
        let next_row =
            newest(NEXT).ok_or_else(|| AuthError::Internal("no next signing key".into()))?;
        let current = SigningKey::from_seed(current_row.kid.clone(), &current_row.seed)?;
        let next = SigningKey::from_seed(next_row.kid.clone(), &next_row.seed)?.public();
        let mut retired = Vec::new();
        for row in rows {
            if row.kid == current_row.kid || row.kid == next_row.kid {
                continue;
            }
            // A surplus current/next row (two replicas racing) is published like a
            // retired key without end, so nothing it may have signed stops verifying.
            let until = match (row.status.as_str(), row.retire_after) {
                (RETIRED, Some(t)) => db::from_db(t),
                _ => DateTime::<Utc>::MAX_UTC,
            };
            let key = SigningKey::from_seed(row.kid.clone(), &row.seed)?;
            retired.push((key.public(), until));
        }
        Ok(KeySet {
            current: Arc::new(current),
            next,
            retired,
        })
    }

    /// Key ids of every key in the set, for change detection.
    fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = std::iter::once(self.current.kid())
            .chain(std::iter::once(self.next.kid.as_str()))
            .chain(self.retired.iter().map(|(k, _)| k.kid.as_str()))
            .collect();
        kids.sort_unstable();
        kids
    }
}

/// The key set shared by the signer, the publisher and the local verifier.
#[derive(Debug)]
pub struct Keyring {
    set: RwLock<KeySet>,
}

impl Keyring {
    /// A keyring holding `set`.
    pub fn new(set: KeySet) -> Self {
        Keyring {
            set: RwLock::new(set),
        }
    }

    /// Replaces the set; whether any key was added or removed.
    pub fn replace(&self, set: KeySet) -> bool {
        let mut guard = self.set.write().unwrap_or_else(|e| e.into_inner());
        let changed = guard.kids() != set.kids() || guard.current.kid() != set.current.kid();
        *guard = set;
        changed
    }

    /// The key that signs now.
    pub fn signing_key(&self) -> Arc<SigningKey> {
        self.set
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .current
            .clone()
    }

    /// The key ids of the current and next keys.
    pub fn current_and_next(&self) -> (String, String) {
        let set = self.set.read().unwrap_or_else(|e| e.into_inner());
        (set.current.kid().to_owned(), set.next.kid.clone())
    }

    /// Every key a verifier should accept at `now`: next, current, unexpired retired.
    pub fn published(&self, now: DateTime<Utc>) -> Vec<PublishedKey> {
        let set = self.set.read().unwrap_or_else(|e| e.into_inner());
        let mut keys = vec![
            PublishedKey {
                jwk: set.next.clone(),
                status: NEXT,
            },
            PublishedKey {
                jwk: set.current.public(),
                status: CURRENT,
            },
        ];
        keys.extend(
            set.retired
                .iter()
                .filter(|(_, until)| *until >= now)
                .map(|(jwk, _)| PublishedKey {
                    jwk: jwk.clone(),
                    status: RETIRED,
                }),
        );
        keys
    }
}

/// Rows for a fresh key with `status`.
pub fn new_key_row(status: &str, now: DateTime<Utc>) -> Result<KeyRow, AuthError> {
    let key = SigningKey::generate()?;
    Ok(KeyRow {
        kid: key.kid().to_owned(),
        seed: key.seed().to_vec(),
        status: status.to_owned(),
        created_at: db::to_db(now),
        retire_after: None,
    })
}

/// The service's own verifier reads keys from memory: no network hop, no database.
#[derive(Debug, Clone)]
pub struct LocalKeys(pub Arc<Keyring>);

impl KeySource for LocalKeys {
    fn fetch(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<PublicJwk>, KeySourceError>> + Send + '_>> {
        let keys = self
            .0
            .published(Utc::now())
            .into_iter()
            .map(|k| k.jwk)
            .collect();
        Box::pin(async move { Ok(keys) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<KeyRow> {
        let now = Utc::now();
        let mut retired = new_key_row(RETIRED, now).unwrap();
        retired.retire_after = Some(db::to_db(now + chrono::Duration::hours(1)));
        let mut expired = new_key_row(RETIRED, now).unwrap();
        expired.retire_after = Some(db::to_db(now - chrono::Duration::hours(1)));
        vec![
            new_key_row(CURRENT, now).unwrap(),
            new_key_row(NEXT, now).unwrap(),
            retired,
            expired,
        ]
    }

    #[test]
    fn publishes_next_current_and_unexpired_retired_keys() {
        let rows = rows();
        let ring = Keyring::new(KeySet::from_rows(&rows).unwrap());
        let published = ring.published(Utc::now());
        let kids: Vec<(&str, &str)> = published
            .iter()
            .map(|k| (k.jwk.kid.as_str(), k.status))
            .collect();
        assert_eq!(
            kids,
            vec![
                (rows[1].kid.as_str(), NEXT),
                (rows[0].kid.as_str(), CURRENT),
                (rows[2].kid.as_str(), RETIRED),
            ]
        );
        assert_eq!(ring.signing_key().kid(), rows[0].kid);
    }

    #[test]
    fn a_set_without_current_or_next_is_refused() {
        let rows = rows();
        assert!(KeySet::from_rows(&rows[1..]).is_err());
        assert!(KeySet::from_rows(&rows[..1]).is_err());
    }

    #[test]
    fn replace_reports_changes() {
        let rows = rows();
        let ring = Keyring::new(KeySet::from_rows(&rows).unwrap());
        assert!(!ring.replace(KeySet::from_rows(&rows).unwrap()));
        let mut more = rows.clone();
        more.push(new_key_row(RETIRED, Utc::now()).unwrap());
        assert!(ring.replace(KeySet::from_rows(&more).unwrap()));
    }
}
