//! gRPC clients of the two upstream services.
//!
//! One long-lived channel per upstream (HTTP/2 multiplexes every request over it);
//! channels connect lazily and reconnect by themselves, so the gateway starts before its
//! upstreams and recovers when they come back. Every call gets a client span and carries
//! the trace context, through one shared layer (`scim_telemetry::grpc::ClientLayer`).

use std::time::Duration;

use scim_proto::auth::v1::auth_service_client::AuthServiceClient;
use scim_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::transport::{Channel, Endpoint};
use tower::Layer as _;

/// A channel with a client span per call and trace-context injection.
pub type TracedChannel = scim_telemetry::grpc::Client<Channel>;

/// The identity.v1 client the handlers use.
pub type IdentityClient = IdentityServiceClient<TracedChannel>;

/// The auth.v1 client the handlers use.
pub type AuthClient = AuthServiceClient<TracedChannel>;

/// An upstream URL that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid upstream URL {url:?}: {source}")]
pub struct UpstreamUrlError {
    url: String,
    #[source]
    source: tonic::transport::Error,
}

/// Builds a lazily connecting channel to `url`.
pub fn channel(url: &str, timeout: Duration) -> Result<Channel, UpstreamUrlError> {
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|source| UpstreamUrlError {
        url: url.to_owned(),
        source,
    })?;
    Ok(endpoint
        .connect_timeout(Duration::from_secs(2))
        .timeout(timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        .connect_lazy())
}

/// The traced identity client on `channel`.
pub fn identity_client(channel: Channel) -> IdentityClient {
    IdentityServiceClient::new(scim_telemetry::grpc::ClientLayer.layer(channel))
}

/// The traced auth client on `channel`.
pub fn auth_client(channel: Channel) -> AuthClient {
    AuthServiceClient::new(scim_telemetry::grpc::ClientLayer.layer(channel))
}

/// Wraps `msg` in a request carrying the caller's bearer token.
pub fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.metadata_mut().insert("authorization", v);
    }
    req
}
