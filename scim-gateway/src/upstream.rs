//! gRPC clients of the two upstream services.
//!
//! One long-lived channel per upstream (HTTP/2 multiplexes every request over it);
//! channels connect lazily and reconnect by themselves, so the gateway starts before its
//! upstreams and recovers when they come back. An upstream may be several replicas
//! (a comma-separated list of URLs): requests are balanced over the ones that pass
//! their health checks ([`Upstream`]). Every call gets a client span and carries
//! the trace context, through one shared layer (`scim_telemetry::grpc::ClientLayer`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use scim_proto::auth::v1::auth_service_client::AuthServiceClient;
use scim_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower::Layer as _;

/// A channel with a client span per call and trace-context injection, and a deadline
/// on every call ([`deadline`]).
pub type TracedChannel = scim_telemetry::grpc::Client<WithDeadline<Channel>>;

/// The identity.v1 client the handlers use.
pub type IdentityClient = IdentityServiceClient<TracedChannel>;

/// The auth.v1 client the handlers use.
pub type AuthClient = AuthServiceClient<TracedChannel>;

/// An upstream URL that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid upstream URL {url:?}{}", .source.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
pub struct UpstreamUrlError {
    url: String,
    #[source]
    source: Option<tonic::transport::Error>,
}

/// How often each replica of a balanced upstream is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// How long a probe waits for a replica's answer: a replica that accepts connections
/// but does not answer within it is as good as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

fn endpoint(url: &str, timeout: Duration) -> Result<Endpoint, UpstreamUrlError> {
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|source| UpstreamUrlError {
        url: url.to_owned(),
        source: Some(source),
    })?;
    Ok(endpoint
        .connect_timeout(Duration::from_secs(2))
        .timeout(timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true))
}

/// The replica URLs of an upstream flag: one URL, or several separated by commas.
pub fn replica_urls(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One replica of an upstream, as the health checker sees it.
#[derive(Debug)]
struct Replica {
    url: String,
    /// A channel of its own, so probes reach this replica and no other.
    probe: Channel,
    up: AtomicBool,
}

/// One upstream service, behind one URL or several replicas.
///
/// With one URL the handlers' channel is a plain lazily connecting channel. With
/// several, it is tonic's balancing channel (power of two choices over the replicas
/// it holds), and a checker task probes every replica's gRPC health every
/// [`PROBE_INTERVAL`]: a replica that fails a probe (dead, or frozen past
/// [`PROBE_TIMEOUT`]) leaves the balancer, and one that passes again comes back. So a
/// dead replica stops receiving requests within about half a second (a frozen one
/// within [`PROBE_TIMEOUT`] more). When every
/// replica is down they all stay in, so that requests fail at once (503) rather than
/// wait for one to return.
#[derive(Debug, Clone)]
pub struct Upstream {
    channel: Channel,
    replicas: Arc<Vec<Replica>>,
}

impl Upstream {
    /// Connects (lazily) to the replicas `urls` names. Call it inside a Tokio runtime:
    /// with several replicas it spawns the checker, which ends when the last clone of
    /// the channel is gone.
    pub fn connect(urls: &str, timeout: Duration) -> Result<Self, UpstreamUrlError> {
        let list = replica_urls(urls);
        let endpoints = list
            .iter()
            .map(|u| endpoint(u, timeout))
            .collect::<Result<Vec<_>, _>>()?;
        let replicas: Arc<Vec<Replica>> = Arc::new(
            list.iter()
                .zip(&endpoints)
                .map(|(url, e)| Replica {
                    url: url.clone(),
                    probe: e.clone().timeout(PROBE_TIMEOUT).connect_lazy(),
                    up: AtomicBool::new(true),
                })
                .collect(),
        );
        let channel = match endpoints.as_slice() {
            [] => {
                return Err(UpstreamUrlError {
                    url: urls.to_owned(),
                    source: None,
                });
            }
            [one] => one.connect_lazy(),
            _ => {
                let (channel, changes) = Channel::balance_channel::<usize>(endpoints.len());
                for (i, e) in endpoints.iter().enumerate() {
                    // The buffer holds one change per replica: this cannot fail.
                    let _ = changes.try_send(Change::Insert(i, e.clone()));
                }
                tokio::spawn(check(replicas.clone(), endpoints, changes));
                channel
            }
        };
        Ok(Upstream { channel, replicas })
    }

    /// The channel the handlers call through.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Each replica's URL and whether it answers its health check now (probed live).
    pub async fn probe(&self) -> Vec<(String, bool)> {
        let probes = self.replicas.iter().map(|r| async move {
            let up = serving(r.probe.clone()).await;
            (r.url.clone(), up)
        });
        futures_util::future::join_all(probes).await
    }
}

/// Whether the service behind `channel` reports SERVING within [`PROBE_TIMEOUT`].
pub async fn serving(channel: Channel) -> bool {
    let mut client = HealthClient::new(channel);
    let check = client.check(HealthCheckRequest {
        service: String::new(),
    });
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, check).await,
        Ok(Ok(r)) if r.get_ref().status() == ServingStatus::Serving
    )
}

/// The checker of a balanced upstream (see [`Upstream`]).
async fn check(
    replicas: Arc<Vec<Replica>>,
    endpoints: Vec<Endpoint>,
    changes: tokio::sync::mpsc::Sender<Change<usize, Endpoint>>,
) {
    let mut ticker = tokio::time::interval(PROBE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut inserted = vec![true; replicas.len()];
    while !changes.is_closed() {
        ticker.tick().await;
        let states =
            futures_util::future::join_all(replicas.iter().map(|r| serving(r.probe.clone()))).await;
        let any_up = states.iter().any(|up| *up);
        for (i, up) in states.iter().enumerate() {
            let replica = &replicas[i];
            if replica.up.swap(*up, Ordering::Relaxed) != *up {
                if *up {
                    tracing::info!(upstream = %replica.url, "upstream replica is back");
                } else {
                    tracing::warn!(upstream = %replica.url, "upstream replica failed its health check; routing around it");
                }
            }
            let wanted = *up || !any_up;
            if wanted != inserted[i] {
                let change = if wanted {
                    Change::Insert(i, endpoints[i].clone())
                } else {
                    Change::Remove(i)
                };
                if changes.send(change).await.is_err() {
                    return;
                }
                inserted[i] = wanted;
            }
        }
    }
}

/// Builds a lazily connecting channel to the replicas `urls` names (see [`Upstream`]).
pub fn channel(urls: &str, timeout: Duration) -> Result<Channel, UpstreamUrlError> {
    Upstream::connect(urls, timeout).map(|u| u.channel())
}

/// The traced identity client on `channel`.
pub fn identity_client(channel: Channel) -> IdentityClient {
    IdentityServiceClient::new(scim_telemetry::grpc::ClientLayer.layer(WithDeadline(channel)))
}

/// The traced auth client on `channel`.
pub fn auth_client(channel: Channel) -> AuthClient {
    AuthServiceClient::new(scim_telemetry::grpc::ClientLayer.layer(WithDeadline(channel)))
}

/// How long a read of the directory or of the token service (`Get…`, `List…`) may
/// take: a point read answers in well under a millisecond, a page of a list in a few.
pub const READ_DEADLINE: Duration = Duration::from_secs(2);

/// How long a write may take: one resource in one transaction, or a token signed.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(5);

/// How long a group write may take: it may add or remove thousands of members at once.
pub const GROUP_WRITE_DEADLINE: Duration = Duration::from_secs(15);

/// The deadline of an upstream call to `path` (`/package.Service/Method`): what the
/// call may take before the gateway gives up on it and answers 503 with
/// `Retry-After`, so that a stuck upstream (alive, accepting, not answering) holds a
/// request for seconds rather than for the whole `--upstream-timeout-secs`, which stays
/// the ceiling. The deadline travels as `grpc-timeout`: tonic's client enforces it and
/// the upstream's server stops working on a call nobody waits for.
pub fn deadline(path: &str) -> Duration {
    let method = path.rsplit('/').next().unwrap_or_default();
    if method.starts_with("Get") || method.starts_with("List") || method == "Introspect" {
        READ_DEADLINE
    } else if method.ends_with("Group") || method == "ModifyMembers" {
        GROUP_WRITE_DEADLINE
    } else {
        WRITE_DEADLINE
    }
}

/// A service that gives every call without a `grpc-timeout` the [`deadline`] of its
/// kind.
#[derive(Debug, Clone)]
pub struct WithDeadline<S>(S);

impl<S, B> tower::Service<http::Request<B>> for WithDeadline<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if !req.headers().contains_key("grpc-timeout") {
            let millis = deadline(req.uri().path()).as_millis();
            // gRPC's timeout format: at most eight digits and a unit, `m` for ms.
            if let Ok(v) = http::HeaderValue::from_str(&format!("{millis}m")) {
                req.headers_mut().insert("grpc-timeout", v);
            }
        }
        self.0.call(req)
    }
}

/// Whether `s` was made by tonic's client from a transport failure rather than received
/// from the upstream.
///
/// Most such statuses keep the failure as their source; one that tonic builds from an
/// HTTP/2 error inside a hyper error (a stream or connection reset by a peer that died
/// mid-call) has none, only its message, which begins with `h2 protocol error`. No
/// service of the stack sends a message of that form.
fn made_from_transport(s: &tonic::Status) -> bool {
    std::error::Error::source(s).is_some() || s.message().starts_with("h2 protocol error")
}

/// Whether a failed upstream call means "the upstream is away", not "the upstream
/// said no": a transport failure ([`made_from_transport`]), an upstream that is
/// unavailable, or a call past its [`deadline`] (tonic's client reports that as
/// CANCELLED). The call may succeed on another replica or in a moment, so the client is
/// told to retry (SCIM 503, OAuth `temporarily_unavailable`, both with `Retry-After`).
pub fn unavailable(s: &tonic::Status) -> bool {
    use tonic::Code;
    match s.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => true,
        Code::Unknown | Code::Internal => made_from_transport(s),
        _ => false,
    }
}

/// Wraps `msg` in a request carrying the caller's bearer token.
pub fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.metadata_mut().insert("authorization", v);
    }
    req
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn every_kind_of_call_has_its_deadline() {
        for read in [
            "/identity.v1.IdentityService/GetUser",
            "/identity.v1.IdentityService/ListGroups",
            "/auth.v1.AuthService/GetPublicKeys",
            "/auth.v1.AuthService/Introspect",
        ] {
            assert_eq!(deadline(read), READ_DEADLINE, "{read}");
        }
        for write in [
            "/identity.v1.IdentityService/CreateUser",
            "/identity.v1.IdentityService/UpdateUser",
            "/identity.v1.IdentityService/PatchUser",
            "/auth.v1.AuthService/IssueToken",
            "/auth.v1.AuthService/Revoke",
        ] {
            assert_eq!(deadline(write), WRITE_DEADLINE, "{write}");
        }
        for group in [
            "/identity.v1.IdentityService/CreateGroup",
            "/identity.v1.IdentityService/ModifyMembers",
            "/identity.v1.IdentityService/ReplaceGroup",
        ] {
            assert_eq!(deadline(group), GROUP_WRITE_DEADLINE, "{group}");
        }
    }

    #[test]
    fn a_call_carries_its_deadline_as_grpc_timeout_unless_it_has_one() {
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let inner = tower::service_fn({
            let sent = sent.clone();
            move |req: http::Request<()>| {
                sent.lock()
                    .unwrap()
                    .push(req.headers().get("grpc-timeout").cloned());
                std::future::ready(Ok::<_, std::convert::Infallible>(()))
            }
        });
        let mut svc = WithDeadline(inner);
        let call = |timeout: Option<&str>| {
            let mut b = http::Request::builder().uri("/identity.v1.IdentityService/GetUser");
            if let Some(t) = timeout {
                b = b.header("grpc-timeout", t);
            }
            b.body(()).unwrap()
        };
        drop(tower::Service::call(&mut svc, call(None)));
        drop(tower::Service::call(&mut svc, call(Some("100m"))));
        let sent = sent.lock().unwrap();
        assert_eq!(sent[0].as_ref().unwrap(), "2000m");
        assert_eq!(sent[1].as_ref().unwrap(), "100m");
    }
}
