//! Verification keys and revocations fetched from the auth-service over gRPC.
//!
//! Every service that accepts access tokens verifies them locally; this module keeps
//! the local state current:
//!
//! * [`AuthServiceKeySource`] is a [`KeySource`] that calls `auth.v1.GetPublicKeys`.
//!   The [`Verifier`] calls it when it meets an unknown `kid`, so a key rotation is
//!   picked up on the first token the new key signed.
//! * [`spawn_revocation_poller`] calls `auth.v1.ListRevocations` every few seconds and
//!   applies what is new to a [`Revocations`] list, so a revoked token or provider is
//!   refused everywhere within one poll interval.
//! * [`remote_verifier`] wires both to one channel.
//!
//! The channel may be lazy (`Endpoint::connect_lazy`): a service can start before the
//! auth-service is up. Until then key fetches fail with
//! [`VerifyError::KeysUnavailable`](crate::VerifyError::KeysUnavailable), which callers
//! answer with "unavailable", not "invalid token".

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use scim_proto::auth::v1::auth_service_client::AuthServiceClient;
use scim_proto::auth::v1::{GetPublicKeysRequest, ListRevocationsRequest, ListRevocationsResponse};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use crate::{KeySource, KeySourceError, PublicJwk, Revocations, Verifier};

/// How often [`remote_verifier`] polls for revocations unless told otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Upper bound on one call to the auth-service. A black-holed connection must not
/// stall token verification (key fetch) or the poll loop indefinitely.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`KeySource`] that asks the auth-service for its public keys.
#[derive(Debug, Clone)]
pub struct AuthServiceKeySource {
    client: AuthServiceClient<Channel>,
}

impl AuthServiceKeySource {
    /// A key source calling the auth-service behind `channel`.
    pub fn new(channel: Channel) -> Self {
        AuthServiceKeySource {
            client: AuthServiceClient::new(channel),
        }
    }

    async fn fetch_keys(&self) -> Result<Vec<PublicJwk>, KeySourceError> {
        let mut client = self.client.clone();
        let call = client.get_public_keys(GetPublicKeysRequest {});
        let response = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| KeySourceError("auth-service did not answer in time".into()))?
            .map_err(|s| {
                KeySourceError(format!(
                    "auth-service answered {:?}: {}",
                    s.code(),
                    s.message()
                ))
            })?
            .into_inner();
        let keys = response
            .keys
            .into_iter()
            // Only Ed25519 keys can verify our tokens; anything else is skipped rather
            // than failing the whole set, so a future key type can be rolled out.
            .filter(|k| k.alg == "EdDSA" && k.crv == "Ed25519" && !k.kid.is_empty())
            .map(|k| PublicJwk { kid: k.kid, x: k.x })
            .collect();
        Ok(keys)
    }
}

impl KeySource for AuthServiceKeySource {
    fn fetch(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<PublicJwk>, KeySourceError>> + Send + '_>> {
        Box::pin(self.fetch_keys())
    }
}

/// Applies one `ListRevocations` answer to `revocations`; returns the sequence to ask
/// from next time.
fn apply(revocations: &Revocations, response: &ListRevocationsResponse, since: i64) -> i64 {
    for r in &response.revocations {
        let expires_at = r.expires_at.as_ref().map_or(i64::MAX, |t| t.seconds);
        if !r.jti.is_empty() {
            revocations.revoke_jti(&r.jti, expires_at);
        }
        if !r.client_id.is_empty() {
            // A client-wide entry without a cut-off would be malformed; treat it as
            // "everything issued so far" rather than ignoring a revocation.
            let issued_before = r
                .issued_before
                .as_ref()
                .map_or_else(crate::now_secs, |t| t.seconds);
            revocations.revoke_client(&r.client_id, issued_before);
        }
    }
    let newest = response
        .revocations
        .iter()
        .map(|r| r.sequence)
        .fold(response.sequence, i64::max);
    revocations.advance(newest, crate::now_secs());
    if response.sequence < since {
        // The server's history is behind ours: its database was replaced. Start over
        // from the beginning so nothing it records from now on is missed.
        tracing::warn!(
            revocation.sequence = response.sequence,
            revocation.since = since,
            "auth-service revocation sequence went backwards; re-reading all revocations"
        );
        return 0;
    }
    newest
}

/// How long a starting poller waits for the auth-service before warning.
pub const STARTUP_GRACE: Duration = Duration::from_secs(10);

/// Polls `ListRevocations` every `interval` and applies new entries to `revocations`.
///
/// The first poll happens at once. Failures are logged once at `warn` when polling
/// starts failing, then at `debug` until it recovers (logged at `info`), so an
/// auth-service outage does not flood the logs. Until the first poll succeeds, failures
/// within [`STARTUP_GRACE`] are only `debug`: services of one stack start in any order.
/// The task ends by itself when it holds the last reference to `revocations` (every
/// verifier using it was dropped). Must be called inside a Tokio runtime.
pub fn spawn_revocation_poller(
    channel: Channel,
    revocations: Arc<Revocations>,
    interval: Duration,
) -> JoinHandle<()> {
    let mut client = AuthServiceClient::new(channel);
    // A zero interval would make `tokio::time::interval` panic.
    let interval = interval.max(Duration::from_millis(10));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut since = revocations.sequence();
        let mut failing = false;
        let started = tokio::time::Instant::now();
        let mut reached = false;
        loop {
            ticker.tick().await;
            if Arc::strong_count(&revocations) == 1 {
                tracing::debug!("revocation list dropped; poller stops");
                return;
            }
            let call = client.list_revocations(ListRevocationsRequest {
                since_sequence: since,
            });
            let outcome = match tokio::time::timeout(CALL_TIMEOUT, call).await {
                Ok(Ok(response)) => Ok(response.into_inner()),
                Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
                Err(_) => Err("auth-service did not answer in time".to_owned()),
            };
            match outcome {
                Ok(response) => {
                    reached = true;
                    if failing {
                        tracing::info!("revocation polling recovered");
                        failing = false;
                    }
                    since = apply(&revocations, &response, since);
                }
                Err(error) if !reached && started.elapsed() < STARTUP_GRACE => {
                    tracing::debug!(%error, "auth-service not reachable yet; retrying");
                }
                Err(error) if !failing => {
                    tracing::warn!(%error, "cannot poll auth-service for revocations; retrying");
                    failing = true;
                }
                Err(error) => {
                    tracing::debug!(%error, "revocation poll still failing");
                }
            }
        }
    })
}

/// How often a verifier fetches the auth-service's keys once it holds them, so keys
/// the auth-service publishes ahead of a rotation are held before a token uses them.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(300);

/// How often a verifier that holds no key yet asks for them.
const FIRST_KEYS_RETRY: Duration = Duration::from_millis(100);

/// Fetches `verifier`'s keys at once and then every [`KEY_REFRESH_INTERVAL`]; while
/// the auth-service cannot be reached, every `retry` (every 100 ms until the first keys
/// arrive).
///
/// Without it a service would fetch keys on the first token it meets, so a replica that
/// had not yet served a request could verify nothing while the auth-service is down,
/// although every token it would be shown is still valid. Failures are logged at
/// `debug` only: an outage is the revocation poller's to report. The task ends when the
/// verifier is dropped.
pub fn spawn_key_prefetch(verifier: &Arc<Verifier>, retry: Duration) -> JoinHandle<()> {
    let verifier = Arc::downgrade(verifier);
    let retry = retry.max(Duration::from_millis(10));
    tokio::spawn(async move {
        let mut due = tokio::time::Instant::now();
        // Wakes at least every `retry`, so the task ends soon after its verifier.
        while let Some(v) = verifier.upgrade() {
            let now = tokio::time::Instant::now();
            if now >= due {
                due = match v.load_keys().await {
                    Ok(()) => now + KEY_REFRESH_INTERVAL,
                    // Until the first keys arrive a service cannot verify anything:
                    // ask again soon, so it holds them moments after the auth-service
                    // is reachable.
                    Err(error) => {
                        tracing::debug!(%error, "cannot fetch verification keys yet; retrying");
                        now + if v.has_keys() {
                            retry
                        } else {
                            retry.min(FIRST_KEYS_RETRY)
                        }
                    }
                };
            }
            drop(v);
            let left = due.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(left.min(retry)).await;
        }
    })
}

/// A verifier for tokens of `issuer` / `audience` that takes its keys and revocations
/// from the auth-service behind `channel`, fetching the keys at once
/// ([`spawn_key_prefetch`]) and polling revocations every `poll_interval`
/// ([`DEFAULT_POLL_INTERVAL`] is a good value). Must be called inside a Tokio runtime;
/// both tasks stop when the returned verifier is dropped.
pub fn remote_verifier(
    channel: Channel,
    issuer: impl Into<String>,
    audience: impl Into<String>,
    poll_interval: Duration,
) -> Arc<Verifier> {
    let source = Arc::new(AuthServiceKeySource::new(channel.clone()));
    let verifier = Arc::new(Verifier::new(issuer, audience, source));
    // The handle is not needed: the task ends with the verifier.
    drop(spawn_revocation_poller(
        channel,
        verifier.revocations().clone(),
        poll_interval,
    ));
    drop(spawn_key_prefetch(&verifier, poll_interval));
    verifier
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::Timestamp;
    use scim_proto::auth::v1::Revocation;

    fn ts(seconds: i64) -> Option<Timestamp> {
        Some(Timestamp { seconds, nanos: 0 })
    }

    #[test]
    fn apply_records_jti_and_client_revocations_and_advances() {
        let revs = Revocations::default();
        let now = crate::now_secs();
        let response = ListRevocationsResponse {
            revocations: vec![
                Revocation {
                    jti: "j1".into(),
                    expires_at: ts(now + 60),
                    sequence: 3,
                    ..Default::default()
                },
                Revocation {
                    client_id: "c1".into(),
                    issued_before: ts(now - 10),
                    expires_at: ts(now + 60),
                    sequence: 4,
                    ..Default::default()
                },
            ],
            sequence: 4,
        };
        assert_eq!(apply(&revs, &response, 0), 4);
        assert_eq!(revs.sequence(), 4);
        assert!(revs.is_revoked("j1", "other", now));
        assert!(revs.is_revoked("x", "c1", now - 11));
        assert!(!revs.is_revoked("x", "c1", now - 9));
        assert!(!revs.is_revoked("x", "c2", now));
    }

    #[test]
    fn apply_starts_over_when_the_server_sequence_goes_backwards() {
        let revs = Revocations::default();
        let response = ListRevocationsResponse {
            revocations: vec![],
            sequence: 2,
        };
        assert_eq!(apply(&revs, &response, 7), 0);
        assert_eq!(apply(&revs, &response, 2), 2);
    }
}
