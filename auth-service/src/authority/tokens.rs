//! Token issuance, introspection, revocation and the revocation log.

use chrono::Utc;
use scim_authn::{Caller, Claims, scopes};

use super::providers::REVOCATION_MARGIN_SECS;
use super::{Authority, CachedProvider};
use crate::db;
use crate::db::revocations::{NewRevocation, RevocationRow};
use crate::error::AuthError;

/// Most revocations returned by one `ListRevocations` call; pollers page with the
/// returned sequence.
const REVOCATIONS_PAGE: i64 = 1_000;

/// A freshly issued access token.
#[derive(Clone)]
pub struct IssuedToken {
    /// The signed JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The provider it was issued to.
    pub client_id: String,
}

/// Who is calling Introspect or Revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The caller's OAuth client id.
    pub client_id: String,
    /// The tenant it acts in: the only one whose tokens it may see or revoke.
    pub tenant: String,
    /// Whether it may act on any of its tenant's tokens.
    pub admin: bool,
}

impl CallerIdentity {
    /// From a verified bearer token: admin if the token carries `admin`.
    pub fn from_bearer(caller: &Caller) -> Self {
        CallerIdentity {
            client_id: caller.client_id.clone(),
            tenant: caller.tenant.clone(),
            admin: caller.has_scope(scopes::ADMIN),
        }
    }

    /// From authenticated client credentials: admin if the provider may be.
    pub fn from_provider(provider: &CachedProvider) -> Self {
        CallerIdentity {
            client_id: provider.client_id.clone(),
            tenant: provider.tenant.clone(),
            admin: provider.scopes.iter().any(|s| s == scopes::ADMIN),
        }
    }
}

/// The result of introspection: `None` for an inactive token.
pub type Introspection = Option<Claims>;

/// One page of the revocation log.
#[derive(Debug, Clone)]
pub struct RevocationsPage {
    /// Revocations after the requested sequence.
    pub revocations: Vec<RevocationRow>,
    /// The sequence to ask from next time.
    pub sequence: i64,
}

/// Resolves the granted scopes: all allowed ones when none are requested; an error
/// naming the first requested scope the provider may not have.
fn grant_scopes(provider: &CachedProvider, requested: &str) -> Result<String, AuthError> {
    let requested: Vec<&str> = requested.split_whitespace().collect();
    if requested.is_empty() {
        return Ok(provider.scopes.join(" "));
    }
    if let Some(bad) = requested
        .iter()
        .find(|r| !provider.scopes.iter().any(|s| s == *r))
    {
        let shown: String = bad.chars().take(64).collect();
        return Err(AuthError::InvalidScope(format!(
            "scope `{shown}` is not allowed for this client"
        )));
    }
    // Keep the provider's order and drop duplicates.
    Ok(provider
        .scopes
        .iter()
        .filter(|s| requested.contains(&s.as_str()))
        .cloned()
        .collect::<Vec<_>>()
        .join(" "))
}

impl Authority {
    /// OAuth client_credentials: authenticates the client and signs a token. Reads the
    /// client id's failure record (the shared guessing throttle) and writes nothing
    /// unless authentication fails.
    pub async fn issue_token(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: &str,
        ttl_seconds: i64,
    ) -> Result<IssuedToken, AuthError> {
        if ttl_seconds < 0 {
            return Err(AuthError::InvalidArgument(
                "ttl_seconds must not be negative".into(),
            ));
        }
        let provider = self.authenticate(client_id, client_secret).await?;
        let scope = grant_scopes(&provider, scope)?;
        let ttl = match ttl_seconds {
            0 => provider.default_ttl,
            t => t.min(provider.max_ttl),
        };
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: self.tokens.issuer.clone(),
            aud: self.tokens.audience.clone(),
            sub: provider.client_id.clone(),
            client_id: provider.client_id.clone(),
            tenant: provider.tenant.clone(),
            scope: scope.clone(),
            iat: now,
            exp: now.saturating_add(ttl),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let access_token = self.keyring.signing_key().sign(&claims)?;
        Ok(IssuedToken {
            access_token,
            expires_in: ttl,
            scope,
            client_id: provider.client_id.clone(),
        })
    }

    /// Authenticates an Introspect/Revoke caller: client credentials when the request
    /// carries them, otherwise the bearer token the auth layer verified.
    pub async fn caller_identity(
        &self,
        bearer: Option<&Caller>,
        client_id: &str,
        client_secret: &str,
    ) -> Result<CallerIdentity, AuthError> {
        if !client_id.is_empty() {
            let provider = self.authenticate(client_id, client_secret).await?;
            return Ok(CallerIdentity::from_provider(&provider));
        }
        bearer.map(CallerIdentity::from_bearer).ok_or_else(|| {
            AuthError::Unauthenticated(
                "authenticate with a bearer token or with client credentials".into(),
            )
        })
    }

    /// RFC 7662: the token's claims if it is active (valid signature, ours, not
    /// expired, not revoked) and of the caller's tenant, `None` otherwise.
    ///
    /// A token never crosses tenants: to a caller of another tenant it is inactive,
    /// exactly like a token that does not exist, so nothing about it (not even that
    /// it is valid) leaks across.
    pub async fn introspect(&self, caller: &CallerIdentity, token: &str) -> Introspection {
        let claims = self.verifier.verify(token).await.ok()?;
        if claims.tenant != caller.tenant {
            return None;
        }
        // The verifier tolerates clock skew on `exp`; the issuer's own clock decides
        // here, so a token is inactive as soon as it expired.
        (claims.exp > Utc::now().timestamp()).then_some(claims)
    }

    /// RFC 7009: revokes a token (given whole) or a `jti`. Unknown, invalid and expired
    /// tokens, and tokens of another tenant (which to this caller do not exist),
    /// succeed without effect. A caller may revoke its own tokens; an admin any of its
    /// tenant's; another client's token is refused (PERMISSION_DENIED, RFC 7009 §2.1).
    /// A bare `jti` needs admin, since only the token shows whose it is.
    pub async fn revoke(
        &self,
        caller: &CallerIdentity,
        token: &str,
        jti: &str,
    ) -> Result<(), AuthError> {
        let now = Utc::now().timestamp();
        let (jti, expires_at, owner) = if !token.is_empty() {
            let Ok(claims) = self.verifier.verify(token).await else {
                // Invalid, expired or already revoked: nothing left to revoke.
                return Ok(());
            };
            if claims.tenant != caller.tenant {
                return Ok(());
            }
            (claims.jti, claims.exp, Some(claims.client_id))
        } else if !jti.is_empty() {
            if jti.len() > 128 {
                return Err(AuthError::InvalidArgument("jti is too long".into()));
            }
            let keep = self.longest_max_ttl_cached();
            (jti.to_owned(), now.saturating_add(keep), None)
        } else {
            return Err(AuthError::InvalidArgument(
                "give the token or its jti".into(),
            ));
        };
        let allowed = caller.admin || owner.as_deref() == Some(caller.client_id.as_str());
        if !allowed {
            return Err(AuthError::PermissionDenied(if owner.is_some() {
                "a client may revoke only its own tokens".into()
            } else {
                "revoking by jti alone needs the `admin` scope; pass the token instead".into()
            }));
        }
        let expires_at = expires_at.saturating_add(REVOCATION_MARGIN_SECS);
        let row_jti = jti.clone();
        db::write(&self.pool, move |conn| {
            db::transaction(conn, |conn| {
                let now = Utc::now();
                db::revocations::insert(
                    conn,
                    &NewRevocation {
                        jti: Some(&row_jti),
                        client_id: None,
                        issued_before: None,
                        expires_at: db::secs_to_db(expires_at),
                        created_at: db::to_db(now),
                    },
                )
            })
        })
        .await?;
        self.revocations().revoke_jti(&jti, expires_at);
        tracing::info!(
            caller.client_id = %caller.client_id,
            token.owner = owner.as_deref().unwrap_or("unknown"),
            "token revoked"
        );
        Ok(())
    }

    /// The longest maximum lifetime among cached providers, for entries whose token
    /// is unknown.
    fn longest_max_ttl_cached(&self) -> i64 {
        self.providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|p| p.max_ttl)
            .max()
            .unwrap_or(super::providers::DEFAULT_MAX_TTL_SECS)
    }

    /// The revocations recorded after `since`, oldest first.
    pub async fn list_revocations(&self, since: i64) -> Result<RevocationsPage, AuthError> {
        let since = since.max(0);
        // One snapshot: the high-water mark must not count a revocation that
        // committed after the list was read.
        db::run(&self.pool, move |conn| {
            db::snapshot(conn, |conn| {
                let now = db::to_db(Utc::now());
                let revocations = db::revocations::list_since(conn, since, now, REVOCATIONS_PAGE)?;
                let sequence = if revocations.len() as i64 >= REVOCATIONS_PAGE {
                    // A full page: continue right after its last entry.
                    revocations.last().map_or(since, |r| r.sequence)
                } else {
                    db::revocations::max_sequence(conn)?.max(since)
                };
                Ok(RevocationsPage {
                    revocations,
                    sequence,
                })
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(scopes: &[&str]) -> CachedProvider {
        CachedProvider {
            client_id: "c".into(),
            name: "n".into(),
            tenant: "t".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            max_ttl: 100,
            default_ttl: 10,
            disabled: false,
            secret_hash: vec![],
            previous_secret: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn no_requested_scope_grants_every_allowed_scope() {
        let p = provider(&["scim:read", "scim:write"]);
        assert_eq!(grant_scopes(&p, "").unwrap(), "scim:read scim:write");
        assert_eq!(grant_scopes(&p, "  ").unwrap(), "scim:read scim:write");
    }

    #[test]
    fn requested_scopes_are_narrowed_and_deduplicated() {
        let p = provider(&["scim:read", "scim:write"]);
        assert_eq!(
            grant_scopes(&p, "scim:write scim:write").unwrap(),
            "scim:write"
        );
    }

    #[test]
    fn a_scope_outside_the_allowed_set_is_invalid_scope() {
        let p = provider(&["scim:read"]);
        let err = grant_scopes(&p, "scim:read admin").unwrap_err();
        assert!(matches!(err, AuthError::InvalidScope(_)));
        assert!(err.to_string().starts_with("invalid_scope:"), "{err}");
    }
}
