//! Provider registration and life cycle.
//!
//! Defaults: tenant `default`; scopes `scim:read scim:write`; tokens live one hour
//! unless the request asks otherwise, and at most one year. The year is deliberate:
//! Okta's "HTTP Header" provisioning mode takes a token pasted by an administrator and
//! never refreshes it, so such a token must be long-lived; it stays revocable (revoke
//! its `jti`, or disable the provider) and rotatable (issue a new one, revoke the old).
//! Operators who do not need that can register providers with a shorter maximum.

use std::sync::Arc;

use chrono::{Duration, Utc};
use scim_authn::scopes;
use scim_storage::Conn;

use super::{Authority, CachedProvider};
use crate::db;
use crate::db::revocations::NewRevocation;
use crate::error::AuthError;
use crate::secrets;

/// Every scope a provider may be allowed.
pub const KNOWN_SCOPES: [&str; 3] = [scopes::SCIM_READ, scopes::SCIM_WRITE, scopes::ADMIN];
/// Scopes of a provider registered without any.
pub const DEFAULT_SCOPES: [&str; 2] = [scopes::SCIM_READ, scopes::SCIM_WRITE];
/// Tenant of a provider registered without one.
pub const DEFAULT_TENANT: &str = "default";
/// Default maximum token lifetime: one year.
pub const DEFAULT_MAX_TTL_SECS: i64 = 365 * 24 * 3600;
/// Default token lifetime: one hour.
pub const DEFAULT_TTL_SECS: i64 = 3600;
/// No provider may have tokens living longer than this (five years).
pub const TTL_LIMIT_SECS: i64 = 5 * 365 * 24 * 3600;
/// Longest grace period of a rotated secret (thirty days).
pub const MAX_GRACE_SECS: i64 = 30 * 24 * 3600;
/// Added to a revocation's lifetime: the verifiers' `exp` leeway plus clock skew.
pub(super) const REVOCATION_MARGIN_SECS: i64 = 5 * 60;

const MAX_NAME_LEN: usize = 200;
const MAX_TENANT_LEN: usize = 128;

/// What an operator asks for when registering a provider (0 / empty = default).
#[derive(Debug, Clone, Default)]
pub struct NewProviderSpec {
    /// Display name.
    pub name: String,
    /// Tenant; empty means [`DEFAULT_TENANT`].
    pub tenant: String,
    /// Allowed scopes; empty means [`DEFAULT_SCOPES`].
    pub allowed_scopes: Vec<String>,
    /// Longest token lifetime in seconds; 0 means [`DEFAULT_MAX_TTL_SECS`].
    pub max_token_ttl_seconds: i64,
    /// Default token lifetime in seconds; 0 means [`DEFAULT_TTL_SECS`] (or the maximum
    /// if that is shorter).
    pub default_token_ttl_seconds: i64,
}

/// A validated registration.
struct ValidSpec {
    name: String,
    tenant: String,
    scopes: String,
    max_ttl: i64,
    default_ttl: i64,
}

fn validate(spec: NewProviderSpec) -> Result<ValidSpec, AuthError> {
    let name = spec.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control)
    {
        return Err(AuthError::InvalidArgument(format!(
            "name must be 1 to {MAX_NAME_LEN} printable characters"
        )));
    }
    let tenant = match spec.tenant.trim() {
        "" => DEFAULT_TENANT.to_owned(),
        t => t.to_owned(),
    };
    if tenant.len() > MAX_TENANT_LEN || tenant.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AuthError::InvalidArgument(format!(
            "tenant must be 1 to {MAX_TENANT_LEN} characters without spaces"
        )));
    }
    let scopes = normalise_scopes(&spec.allowed_scopes)?;
    let max_ttl = match spec.max_token_ttl_seconds {
        0 => DEFAULT_MAX_TTL_SECS,
        t if (1..=TTL_LIMIT_SECS).contains(&t) => t,
        _ => {
            return Err(AuthError::InvalidArgument(format!(
                "max_token_ttl_seconds must be between 1 and {TTL_LIMIT_SECS}"
            )));
        }
    };
    let default_ttl = match spec.default_token_ttl_seconds {
        0 => DEFAULT_TTL_SECS.min(max_ttl),
        t if (1..=max_ttl).contains(&t) => t,
        _ => {
            return Err(AuthError::InvalidArgument(
                "default_token_ttl_seconds must be between 1 and max_token_ttl_seconds".into(),
            ));
        }
    };
    Ok(ValidSpec {
        name,
        tenant,
        scopes,
        max_ttl,
        default_ttl,
    })
}

/// Checks scopes against [`KNOWN_SCOPES`]; returns them space-separated, in canonical
/// order, without duplicates.
fn normalise_scopes(requested: &[String]) -> Result<String, AuthError> {
    let requested: Vec<&str> = requested
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect();
    if requested.is_empty() {
        return Ok(DEFAULT_SCOPES.join(" "));
    }
    if let Some(unknown) = requested.iter().find(|s| !KNOWN_SCOPES.contains(s)) {
        return Err(AuthError::InvalidArgument(format!(
            "unknown scope `{unknown}`; known scopes: {}",
            KNOWN_SCOPES.join(", ")
        )));
    }
    Ok(KNOWN_SCOPES
        .iter()
        .filter(|k| requested.contains(k))
        .copied()
        .collect::<Vec<_>>()
        .join(" "))
}

fn not_found(client_id: &str) -> AuthError {
    AuthError::NotFound(format!("no provider with client id `{client_id}`"))
}

/// Records "every token of `client_id` issued up to now is revoked".
fn insert_client_revocation(
    conn: &mut Conn<'_>,
    client_id: &str,
    max_ttl: i64,
    now: chrono::DateTime<Utc>,
) -> Result<(), AuthError> {
    let keep = max_ttl.max(0).saturating_add(REVOCATION_MARGIN_SECS);
    db::revocations::insert(
        conn,
        &NewRevocation {
            jti: None,
            client_id: Some(client_id),
            issued_before: Some(db::secs_to_db(now.timestamp())),
            expires_at: db::secs_to_db(now.timestamp().saturating_add(keep)),
            created_at: db::to_db(now),
        },
    )?;
    Ok(())
}

impl Authority {
    /// Registers a provider; returns it with its secret, the only time the secret
    /// exists outside the client.
    pub async fn create_provider(
        &self,
        spec: NewProviderSpec,
    ) -> Result<(Arc<CachedProvider>, String), AuthError> {
        self.create_provider_once(spec, None)
            .await?
            .ok_or_else(|| AuthError::Internal("an unclaimed create was skipped".into()))
    }

    /// Registers a provider, like [`Authority::create_provider`], unless `claim` names a
    /// setting that exists already: the first caller across every replica of the
    /// database records the claim and registers the provider in one transaction, and
    /// every later one gets `None`.
    pub async fn create_provider_once(
        &self,
        spec: NewProviderSpec,
        claim: Option<&'static str>,
    ) -> Result<Option<(Arc<CachedProvider>, String)>, AuthError> {
        let spec = validate(spec)?;
        let client_id = secrets::new_client_id()?;
        let secret = secrets::new_client_secret()?;
        let hash = self.hasher.hash(&secret);
        let _write = self.write_lock.lock().await;
        let id = client_id.clone();
        let row = db::write(&self.pool, move |conn| {
            db::transaction(conn, |conn| {
                if let Some(name) = claim
                    && !db::settings::insert_new(conn, name, id.as_bytes())?
                {
                    return Ok(None);
                }
                let now = db::to_db(Utc::now());
                db::providers::insert(
                    conn,
                    &db::providers::NewProvider {
                        client_id: &id,
                        name: &spec.name,
                        tenant: &spec.tenant,
                        allowed_scopes: &spec.scopes,
                        max_token_ttl_seconds: spec.max_ttl,
                        default_token_ttl_seconds: spec.default_ttl,
                        secret_hash: &hash,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                db::providers::get(conn, &id)
            })
        })
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        self.cache_provider(&client_id, Some(row));
        let provider = self
            .cached_provider(&client_id)
            .ok_or_else(|| AuthError::Internal("provider vanished after insert".into()))?;
        tracing::info!(client_id = %client_id, tenant = %provider.tenant, "provider created");
        Ok(Some((provider, secret)))
    }

    /// The stored setting `name`.
    pub async fn setting(&self, name: &'static str) -> Result<Option<Vec<u8>>, AuthError> {
        db::run(&self.pool, move |conn| db::settings::get(conn, name)).await
    }

    /// Every provider, read from the database (other replicas may have added some).
    pub async fn list_providers(&self) -> Result<Vec<CachedProvider>, AuthError> {
        let rows = db::run(&self.pool, db::providers::list).await?;
        Ok(rows.into_iter().map(CachedProvider::from_row).collect())
    }

    /// One provider, read from the database.
    pub async fn get_provider(&self, client_id: &str) -> Result<CachedProvider, AuthError> {
        let id = client_id.to_owned();
        db::run(&self.pool, move |conn| db::providers::get(conn, &id))
            .await?
            .map(CachedProvider::from_row)
            .ok_or_else(|| not_found(client_id))
    }

    /// Issues a new secret; the previous one keeps working for `grace_seconds`.
    pub async fn rotate_provider_secret(
        &self,
        client_id: &str,
        grace_seconds: i64,
    ) -> Result<(Arc<CachedProvider>, String), AuthError> {
        if !(0..=MAX_GRACE_SECS).contains(&grace_seconds) {
            return Err(AuthError::InvalidArgument(format!(
                "grace_seconds must be between 0 and {MAX_GRACE_SECS}"
            )));
        }
        let secret = secrets::new_client_secret()?;
        let hash = self.hasher.hash(&secret);
        let _write = self.write_lock.lock().await;
        let id = client_id.to_owned();
        let row = db::write(&self.pool, move |conn| {
            db::transaction(conn, |conn| {
                let Some(old) = db::providers::get(conn, &id)? else {
                    return Ok(None);
                };
                let now = Utc::now();
                let grace_end = db::to_db(now + Duration::seconds(grace_seconds));
                let previous =
                    (grace_seconds > 0).then_some((old.secret_hash.as_slice(), grace_end));
                db::providers::set_secret(conn, &id, &hash, previous, db::to_db(now))?;
                db::providers::get(conn, &id)
            })
        })
        .await?
        .ok_or_else(|| not_found(client_id))?;
        self.cache_provider(client_id, Some(row));
        let provider = self
            .cached_provider(client_id)
            .ok_or_else(|| not_found(client_id))?;
        tracing::info!(client_id = %client_id, grace_seconds, "provider secret rotated");
        Ok((provider, secret))
    }

    /// Disables a provider and revokes every token it holds.
    pub async fn disable_provider(
        &self,
        client_id: &str,
    ) -> Result<Arc<CachedProvider>, AuthError> {
        let _write = self.write_lock.lock().await;
        let id = client_id.to_owned();
        let now = Utc::now();
        let row = db::write(&self.pool, move |conn| {
            db::transaction(conn, |conn| {
                let Some(old) = db::providers::get(conn, &id)? else {
                    return Ok(None);
                };
                if !old.disabled {
                    db::providers::disable(conn, &id, db::to_db(now))?;
                    insert_client_revocation(conn, &id, old.max_token_ttl_seconds, now)?;
                }
                db::providers::get(conn, &id)
            })
        })
        .await?
        .ok_or_else(|| not_found(client_id))?;
        self.cache_provider(client_id, Some(row));
        self.revocations().revoke_client(client_id, now.timestamp());
        tracing::info!(client_id = %client_id, "provider disabled");
        self.cached_provider(client_id)
            .ok_or_else(|| not_found(client_id))
    }

    /// Deletes a provider and revokes every token it holds.
    pub async fn delete_provider(&self, client_id: &str) -> Result<(), AuthError> {
        let _write = self.write_lock.lock().await;
        let id = client_id.to_owned();
        let now = Utc::now();
        let existed = db::write(&self.pool, move |conn| {
            db::transaction(conn, |conn| {
                let Some(old) = db::providers::get(conn, &id)? else {
                    return Ok(false);
                };
                db::providers::delete(conn, &id)?;
                insert_client_revocation(conn, &id, old.max_token_ttl_seconds, now)?;
                Ok(true)
            })
        })
        .await?;
        if !existed {
            return Err(not_found(client_id));
        }
        self.cache_provider(client_id, None);
        self.revocations().revoke_client(client_id, now.timestamp());
        tracing::info!(client_id = %client_id, "provider deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> NewProviderSpec {
        NewProviderSpec {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_fill_in_tenant_scopes_and_lifetimes() {
        let v = validate(spec("Okta")).unwrap();
        assert_eq!(v.tenant, "default");
        assert_eq!(v.scopes, "scim:read scim:write");
        assert_eq!(v.max_ttl, DEFAULT_MAX_TTL_SECS);
        assert_eq!(v.default_ttl, DEFAULT_TTL_SECS);
    }

    #[test]
    fn the_default_lifetime_never_exceeds_the_maximum() {
        let v = validate(NewProviderSpec {
            max_token_ttl_seconds: 600,
            ..spec("x")
        })
        .unwrap();
        assert_eq!(v.default_ttl, 600);
        assert!(
            validate(NewProviderSpec {
                max_token_ttl_seconds: 600,
                default_token_ttl_seconds: 601,
                ..spec("x")
            })
            .is_err()
        );
    }

    #[test]
    fn scopes_are_checked_deduplicated_and_ordered() {
        let scopes =
            |s: &[&str]| normalise_scopes(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            scopes(&["admin", "scim:read", "admin"]).unwrap(),
            "scim:read admin"
        );
        assert_eq!(
            scopes(&["scim:write scim:read"]).unwrap(),
            "scim:read scim:write"
        );
        assert!(scopes(&["scim:delete"]).is_err());
    }

    #[test]
    fn bad_names_tenants_and_lifetimes_are_refused() {
        assert!(validate(spec("  ")).is_err());
        assert!(validate(spec("a\u{7}b")).is_err());
        assert!(validate(spec(&"n".repeat(MAX_NAME_LEN + 1))).is_err());
        assert!(
            validate(NewProviderSpec {
                tenant: "two words".into(),
                ..spec("x")
            })
            .is_err()
        );
        for ttl in [-1, TTL_LIMIT_SECS + 1] {
            assert!(
                validate(NewProviderSpec {
                    max_token_ttl_seconds: ttl,
                    ..spec("x")
                })
                .is_err()
            );
        }
    }
}
