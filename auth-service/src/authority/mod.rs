//! The credential authority, the service's business logic: providers and their
//! secrets, signing keys, issued tokens, introspection and revocation, over the
//! database and the in-memory caches that keep token issuance off it.
//!
//! Issuing a token reads providers and the signing key from memory and writes nothing,
//! so it costs one HMAC and one Ed25519 signature. Changes (providers, keys,
//! revocations) go to the database first and then into the caches, under one write
//! lock so that a periodic reload cannot overwrite a newer change with an older
//! snapshot. The reload ([`Authority::spawn_refresher`], every few seconds) re-reads
//! providers, keys and new revocations: a replica picks up what other replicas sharing
//! the database changed, and retired keys and expired revocations are purged then.

mod providers;
mod signing;
mod tokens;

pub use providers::{
    DEFAULT_MAX_TTL_SECS, DEFAULT_SCOPES, DEFAULT_TENANT, DEFAULT_TTL_SECS, KNOWN_SCOPES,
    NewProviderSpec,
};
pub use tokens::{CallerIdentity, Introspection, IssuedToken, RevocationsPage};

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use scim_authn::{Revocations, Verifier};
use scim_storage::Conn;

use crate::db::{self, Pool};
use crate::error::AuthError;
use crate::guard;
use crate::keyring::{KeySet, Keyring, LocalKeys};
use crate::secrets::{self, SecretHasher};

/// Name of the setting that holds the client-secret hash key.
const HASH_KEY_SETTING: &str = "client_secret_hash_key";

/// A provider as the caches hold it. Not `Debug`: it holds secret hashes.
#[derive(Clone)]
pub struct CachedProvider {
    /// The OAuth client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Tenant its tokens act in.
    pub tenant: String,
    /// Scopes it may obtain.
    pub scopes: Vec<String>,
    /// Longest token lifetime, seconds.
    pub max_ttl: i64,
    /// Lifetime when none is requested, seconds.
    pub default_ttl: i64,
    /// Whether it is disabled.
    pub disabled: bool,
    secret_hash: Vec<u8>,
    previous_secret: Option<(Vec<u8>, DateTime<Utc>)>,
    /// Registration time.
    pub created_at: DateTime<Utc>,
}

impl CachedProvider {
    fn from_row(row: db::providers::ProviderRow) -> Self {
        CachedProvider {
            client_id: row.client_id,
            name: row.name,
            tenant: row.tenant,
            scopes: row
                .allowed_scopes
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            max_ttl: row.max_token_ttl_seconds,
            default_ttl: row.default_token_ttl_seconds,
            disabled: row.disabled,
            secret_hash: row.secret_hash,
            previous_secret: row
                .previous_secret_hash
                .zip(row.previous_secret_expires.map(db::from_db)),
            created_at: db::from_db(row.created_at),
        }
    }

    /// End of the previous secret's grace period, if it is still running at `now`.
    pub fn previous_secret_expires(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.previous_secret
            .as_ref()
            .map(|(_, until)| *until)
            .filter(|until| *until > now)
    }

    /// Whether `secret` is the current secret, or the previous one within its grace
    /// period. Both hashes are always compared so timing does not tell which matched.
    fn secret_matches(&self, hasher: &SecretHasher, secret: &str, now: DateTime<Utc>) -> bool {
        let current = hasher.matches(secret, &self.secret_hash);
        let previous = self
            .previous_secret
            .as_ref()
            .is_some_and(|(hash, until)| hasher.matches(secret, hash) && *until > now);
        current | previous
    }
}

/// Issuer and audience of the tokens.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` of every token.
    pub audience: String,
}

/// The credential authority every handler calls: the database and the caches in front
/// of it.
pub struct Authority {
    pool: Pool,
    tokens: TokenSettings,
    hasher: SecretHasher,
    keyring: Arc<Keyring>,
    providers: RwLock<HashMap<String, Arc<CachedProvider>>>,
    verifier: Arc<Verifier>,
    /// Serialises changes and reloads (see the module doc).
    write_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// What one read of the database yields.
struct Snapshot {
    providers: Vec<db::providers::ProviderRow>,
    keys: Vec<db::keys::KeyRow>,
    revocations: Vec<db::revocations::RevocationRow>,
}

impl Authority {
    /// Migrates the database, creates the hash key and the first signing keys if they
    /// do not exist, and loads the caches.
    pub async fn load(pool: Pool, tokens: TokenSettings) -> Result<Arc<Authority>, AuthError> {
        let migrating = pool.clone();
        tokio::task::spawn_blocking(move || db::migrate(&migrating))
            .await
            .map_err(|e| AuthError::Internal(format!("migration task failed: {e}")))??;
        // Replicas starting together may both find no keys; on PostgreSQL one of their
        // transactions gives way and runs again, and then finds the other's keys.
        let (hash_key, snapshot) = db::write(&pool, |conn| {
            let hash_key = db::settings::get_or_create(conn, HASH_KEY_SETTING, || {
                secrets::random_bytes(secrets::SECRET_BYTES)
            })?;
            let now = Utc::now();
            signing::ensure_keys(conn, now)?;
            Ok((hash_key, read_snapshot(conn, 0, now)?))
        })
        .await?;
        let keyring = Arc::new(Keyring::new(KeySet::from_rows(&snapshot.keys)?));
        let verifier = Arc::new(Verifier::new(
            tokens.issuer.clone(),
            tokens.audience.clone(),
            Arc::new(LocalKeys(keyring.clone())),
        ));
        let state = Authority {
            pool,
            tokens,
            hasher: SecretHasher::new(&hash_key)?,
            keyring,
            providers: RwLock::new(HashMap::new()),
            verifier,
            write_lock: tokio::sync::Mutex::new(()),
        };
        state.apply_snapshot(snapshot)?;
        state.verifier.refresh_keys().await.map_err(|e| {
            AuthError::Internal(format!("loading keys into the local verifier: {e}"))
        })?;
        Ok(Arc::new(state))
    }

    /// Issuer and audience of the tokens.
    pub fn token_settings(&self) -> &TokenSettings {
        &self.tokens
    }

    /// The verifier for tokens this service issued (its own keys, its revocations).
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.verifier
    }

    fn revocations(&self) -> &Arc<Revocations> {
        self.verifier.revocations()
    }

    /// Replaces the caches with a snapshot.
    fn apply_snapshot(&self, snapshot: Snapshot) -> Result<bool, AuthError> {
        let keys_changed = self.keyring.replace(KeySet::from_rows(&snapshot.keys)?);
        let providers = snapshot
            .providers
            .into_iter()
            .map(|row| {
                let p = CachedProvider::from_row(row);
                (p.client_id.clone(), Arc::new(p))
            })
            .collect();
        *self.providers.write().unwrap_or_else(|e| e.into_inner()) = providers;
        self.apply_revocations(&snapshot.revocations);
        Ok(keys_changed)
    }

    fn apply_revocations(&self, rows: &[db::revocations::RevocationRow]) {
        let revocations = self.revocations();
        for row in rows {
            let expires = db::from_db(row.expires_at).timestamp();
            if let Some(jti) = &row.jti {
                revocations.revoke_jti(jti, expires);
            }
            if let Some(client_id) = &row.client_id {
                let cut = row
                    .issued_before
                    .map_or(expires, |t| db::from_db(t).timestamp());
                revocations.revoke_client(client_id, cut);
            }
        }
        if let Some(newest) = rows.iter().map(|r| r.sequence).max() {
            revocations.advance(newest, Utc::now().timestamp());
        }
    }

    /// Re-reads providers, keys and new revocations from the database, purging retired
    /// keys and expired revocations on the way.
    #[tracing::instrument(name = "auth.reload", skip_all)]
    pub async fn reload(&self) -> Result<(), AuthError> {
        let _write = self.write_lock.lock().await;
        let since = self.revocations().sequence();
        let snapshot = db::write(&self.pool, move |conn| {
            let now = Utc::now();
            db::transaction(conn, |conn| {
                db::keys::purge_retired(conn, db::to_db(now))?;
                db::revocations::purge_expired(conn, db::to_db(now))?;
                db::failures::purge_before(conn, db::to_db(guard::forget_before(now)))?;
                db::failures::trim_to(conn, guard::CAPACITY)?;
                Ok::<_, AuthError>(())
            })?;
            db::snapshot(conn, |conn| read_snapshot(conn, since, now))
        })
        .await?;
        if self.apply_snapshot(snapshot)? {
            self.refresh_local_verifier().await;
        }
        Ok(())
    }

    async fn refresh_local_verifier(&self) {
        // Cannot fail: the key source is this process's memory.
        if let Err(e) = self.verifier.refresh_keys().await {
            tracing::warn!(error = %e, "local verifier refresh failed");
        }
    }

    /// Reloads every `interval` until the task is aborted. A failing reload is logged
    /// once per failure streak; the caches keep serving meanwhile.
    pub fn spawn_refresher(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let state = Arc::downgrade(self);
        let interval = interval.max(Duration::from_millis(100));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick fires at once; the caches were just loaded.
            ticker.tick().await;
            let mut failing = false;
            loop {
                ticker.tick().await;
                let Some(state) = state.upgrade() else { return };
                match state.reload().await {
                    Ok(()) if failing => {
                        tracing::info!("cache reload recovered");
                        failing = false;
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, "cache reload failed; serving cached data");
                        failing = true;
                    }
                    Err(e) => tracing::debug!(error = %e, "cache reload still failing"),
                }
            }
        })
    }

    /// The cached provider `client_id`.
    fn cached_provider(&self, client_id: &str) -> Option<Arc<CachedProvider>> {
        self.providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(client_id)
            .cloned()
    }

    /// Puts a freshly read provider row into the cache (or removes it).
    fn cache_provider(&self, client_id: &str, row: Option<db::providers::ProviderRow>) {
        let mut providers = self.providers.write().unwrap_or_else(|e| e.into_inner());
        match row {
            Some(row) => {
                providers.insert(
                    client_id.to_owned(),
                    Arc::new(CachedProvider::from_row(row)),
                );
            }
            None => {
                providers.remove(client_id);
            }
        }
    }

    /// Checks client credentials, with the guessing throttle shared through the
    /// database ([`crate::guard`]). Unknown ids, wrong secrets and disabled providers
    /// all fail the same way.
    pub async fn authenticate(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Arc<CachedProvider>, AuthError> {
        let tracked = guard::tracked(client_id);
        let record = if tracked {
            let id = client_id.to_owned();
            db::run(&self.pool, move |conn| db::failures::get(conn, &id)).await?
        } else {
            None
        };
        let now = Utc::now();
        if let Err(retry_after_secs) = guard::check(record.as_ref(), now) {
            return Err(AuthError::LockedOut { retry_after_secs });
        }
        let mut provider = self.cached_provider(client_id);
        let mut ok = self.accepts(provider.as_deref(), client_secret, now);
        if !ok && tracked {
            // The cache may predate a change made through another replica (a provider
            // created, or given a new secret, since the last reload): a failure is
            // checked once more against the row itself before it counts.
            let id = client_id.to_owned();
            let row = db::run(&self.pool, move |conn| db::providers::get(conn, &id)).await?;
            let changed = match (&row, &provider) {
                (Some(row), Some(cached)) => {
                    row.secret_hash != cached.secret_hash
                        || row.disabled != cached.disabled
                        || row.previous_secret_hash.as_ref()
                            != cached.previous_secret.as_ref().map(|(h, _)| h)
                }
                (None, None) => false,
                _ => true,
            };
            if changed {
                self.cache_provider(client_id, row);
                provider = self.cached_provider(client_id);
                ok = self.accepts(provider.as_deref(), client_secret, now);
            }
        }
        match provider {
            Some(p) if ok && !client_secret.is_empty() => {
                if record.is_some() {
                    let id = client_id.to_owned();
                    db::run(&self.pool, move |conn| db::failures::clear(conn, &id)).await?;
                }
                Ok(p)
            }
            _ => {
                if tracked {
                    let id = client_id.to_owned();
                    db::write(&self.pool, move |conn| {
                        db::transaction(conn, |conn| {
                            let stored = db::failures::get_for_update(conn, &id)?;
                            let next = guard::after_failure(&id, stored.as_ref(), Utc::now());
                            db::failures::put(conn, &next)
                        })
                    })
                    .await?;
                }
                Err(AuthError::InvalidClient)
            }
        }
    }

    /// Whether `provider` exists, is enabled and takes `secret` at `now`.
    fn accepts(&self, provider: Option<&CachedProvider>, secret: &str, now: DateTime<Utc>) -> bool {
        match provider {
            Some(p) => p.secret_matches(&self.hasher, secret, now) && !p.disabled,
            None => {
                // Same work as for a known id, so timing does not reveal which exist.
                let _ = self.hasher.hash(secret);
                false
            }
        }
    }

    /// The longest lifetime any current provider may give a token, in seconds.
    fn longest_max_ttl(conn: &mut Conn<'_>) -> Result<i64, AuthError> {
        Ok(db::providers::longest_max_ttl(conn)?.unwrap_or(0).max(0))
    }
}

/// Reads providers, keys and the revocations after `since`.
fn read_snapshot(
    conn: &mut Conn<'_>,
    since: i64,
    now: DateTime<Utc>,
) -> Result<Snapshot, AuthError> {
    Ok(Snapshot {
        providers: db::providers::list(conn)?,
        keys: db::keys::list(conn)?,
        revocations: db::revocations::list_since(conn, since, db::to_db(now), i64::MAX)?,
    })
}
