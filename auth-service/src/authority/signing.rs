//! Signing-key life cycle: first keys, rotation, publication.

use chrono::{DateTime, Utc};
use scim_storage::Conn;

use super::Authority;
use crate::db;
use crate::db::keys::{CURRENT, NEXT, RETIRED};
use crate::error::AuthError;
use crate::keyring::{PublishedKey, new_key_row};

/// Added to the longest token lifetime when a key retires: clock skew between
/// replicas and verifiers, the verifiers' `exp` leeway, and replicas that still sign
/// with the old key until their next reload.
const RETIRE_MARGIN_SECS: i64 = 5 * 60;

/// Makes sure there is a current and a next key (first start, or an interrupted
/// rotation), in one transaction.
pub(super) fn ensure_keys(conn: &mut Conn<'_>, now: DateTime<Utc>) -> Result<(), AuthError> {
    db::transaction(conn, |conn| {
        db::keys::purge_retired(conn, db::to_db(now))?;
        let rows = db::keys::list(conn)?;
        let has = |status: &str| rows.iter().any(|r| r.status == status);
        if !has(CURRENT) {
            // Prefer promoting an already published next key over a brand new one.
            match rows.iter().find(|r| r.status == NEXT) {
                Some(next) => db::keys::set_status(conn, &next.kid, CURRENT, None)?,
                None => db::keys::insert(conn, &new_key_row(CURRENT, now)?)?,
            }
            tracing::info!("created the signing key");
        }
        // Promoting the next key above may have used it up.
        if !db::keys::list(conn)?.iter().any(|r| r.status == NEXT) {
            db::keys::insert(conn, &new_key_row(NEXT, now)?)?;
            tracing::info!("published the next signing key");
        }
        Ok(())
    })
}

impl Authority {
    /// The public keys verifiers should accept now.
    pub fn published_keys(&self) -> Vec<PublishedKey> {
        self.keyring.published(Utc::now())
    }

    /// Rotates: current → retired, next → current, a new next. Returns the new
    /// (current, next) key ids.
    #[tracing::instrument(name = "auth.rotate_signing_key", skip_all)]
    pub async fn rotate_signing_key(&self) -> Result<(String, String), AuthError> {
        let _write = self.write_lock.lock().await;
        let rows = db::write(&self.pool, |conn| {
            let now = Utc::now();
            db::transaction(conn, |conn| {
                let keep = Authority::longest_max_ttl(conn)?.saturating_add(RETIRE_MARGIN_SECS);
                let retire_after = db::secs_to_db(now.timestamp().saturating_add(keep));
                let rows = db::keys::list(conn)?;
                for row in rows.iter().filter(|r| r.status == CURRENT) {
                    db::keys::set_status(conn, &row.kid, RETIRED, Some(retire_after))?;
                }
                match rows
                    .iter()
                    .filter(|r| r.status == NEXT)
                    .max_by_key(|r| r.created_at)
                {
                    Some(next) => db::keys::set_status(conn, &next.kid, CURRENT, None)?,
                    // No next key (should not happen): sign with a new one at once.
                    None => db::keys::insert(conn, &new_key_row(CURRENT, now)?)?,
                }
                db::keys::insert(conn, &new_key_row(NEXT, now)?)?;
                db::keys::purge_retired(conn, db::to_db(now))?;
                db::keys::list(conn)
            })
        })
        .await?;
        self.keyring
            .replace(crate::keyring::KeySet::from_rows(&rows)?);
        self.refresh_local_verifier().await;
        let (current, next) = self.keyring.current_and_next();
        tracing::info!(key.current = %current, key.next = %next, "signing key rotated");
        Ok((current, next))
    }
}
