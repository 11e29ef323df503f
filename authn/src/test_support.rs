//! Token minting for tests and local tooling: a throwaway issuer with its own key.

use std::sync::Arc;

use crate::{Claims, SigningKey, StaticKeySource, Verifier, now_secs};

/// Issuer used by test tokens.
pub const TEST_ISSUER: &str = "https://test-issuer.invalid";
/// Audience used by test tokens.
pub const TEST_AUDIENCE: &str = "scim-stack";

/// A key plus the issuer and audience it signs for.
#[derive(Debug, Clone)]
pub struct TestIssuer {
    key: SigningKey,
    issuer: String,
    audience: String,
}

impl TestIssuer {
    /// A new issuer with a fresh key, signing for [`TEST_ISSUER`] / [`TEST_AUDIENCE`].
    pub fn new() -> Self {
        TestIssuer {
            key: SigningKey::generate().expect("random source"),
            issuer: TEST_ISSUER.into(),
            audience: TEST_AUDIENCE.into(),
        }
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// A verifier that trusts exactly this issuer's key.
    pub fn verifier(&self) -> Arc<Verifier> {
        Arc::new(Verifier::new(
            self.issuer.clone(),
            self.audience.clone(),
            Arc::new(StaticKeySource(vec![self.key.public()])),
        ))
    }

    /// Claims for `tenant` with space-separated `scope`, valid for an hour.
    pub fn claims(&self, tenant: &str, scope: &str) -> Claims {
        let now = now_secs();
        Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: format!("test-client-{tenant}"),
            client_id: format!("test-client-{tenant}"),
            tenant: tenant.into(),
            scope: scope.into(),
            iat: now,
            exp: now + 3600,
            jti: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Signs arbitrary claims.
    pub fn sign(&self, claims: &Claims) -> String {
        self.key.sign(claims).expect("signing")
    }

    /// A token for `tenant` with `scope`.
    pub fn mint(&self, tenant: &str, scope: &str) -> String {
        self.sign(&self.claims(tenant, scope))
    }
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}
