//! Shared, immutable state of the router.

use std::sync::Arc;

use scim_authn::Verifier;

use crate::rate_limit::RateLimiter;
use crate::upstream::{AuthClient, IdentityClient, Upstream};

/// Limits and URLs the handlers need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Public URL of the gateway, no trailing slash.
    pub public_url: String,
    /// `{public_url}/scim/v2`.
    pub scim_base: String,
    /// Default list page size.
    pub default_page_size: i64,
    /// Maximum list page size.
    pub max_page_size: i64,
    /// Member count above which a membership PATCH answers 204.
    pub group_patch_body_limit: i64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}

/// What every handler can reach: one shared [`Shared`] behind an `Arc`.
///
/// axum clones the state for every extractor and middleware of every request; cloning
/// the four tonic channels each time (a buffer sender each) was a measurable share of a
/// lookup's CPU, so the state is one reference count instead.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state over `shared`.
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The clients, verifier, limiter and settings the handlers use.
pub struct Shared {
    /// identity.v1 client.
    pub identity: IdentityClient,
    /// auth.v1 client.
    pub auth: AuthClient,
    /// The identity-service's replicas, for readiness.
    pub identity_upstream: Upstream,
    /// The auth-service's replicas, for readiness.
    pub auth_upstream: Upstream,
    /// Verifies bearer tokens locally.
    pub verifier: Arc<Verifier>,
    /// Per-provider request limits.
    pub rate_limiter: Arc<RateLimiter>,
    /// URLs and limits.
    pub settings: Arc<Settings>,
}
