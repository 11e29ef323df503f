//! Binding, wiring and serving the gateway.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::ServiceExt;
use axum::extract::Request;
use scim_authn::Verifier;
use tower::Layer as _;
use tower_http::normalize_path::NormalizePathLayer;

use crate::config::Config;
use crate::rate_limit::RateLimiter;
use crate::routes;
use crate::state::{AppState, Settings};
use crate::upstream;

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// An upstream URL is malformed.
    #[error(transparent)]
    Upstream(#[from] upstream::UpstreamUrlError),
    /// TLS material could not be loaded.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// A bound, ready-to-run gateway.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: AppState,
    local_addr: SocketAddr,
}

impl Server {
    /// Binds the listener and builds the state. `verifier` checks bearer tokens; in
    /// production it is a remote verifier fed by the auth-service.
    pub async fn build(config: &Config, verifier: Arc<Verifier>) -> Result<Self, StartError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr()?;
        let timeout = Duration::from_secs(config.upstream_timeout_secs);
        let identity_channel = upstream::channel(&config.identity_url, timeout)?;
        let auth_channel = upstream::channel(&config.auth_url, timeout)?;
        let public_url = config.public_url(local_addr);
        let settings = Settings {
            scim_base: format!("{public_url}{}", routes::SCIM_PREFIX),
            public_url,
            default_page_size: config.default_page_size.max(1),
            max_page_size: config.max_page_size.max(1),
            group_patch_body_limit: config.group_patch_body_limit,
            max_body_bytes: config.max_body_bytes,
        };
        let state = AppState {
            identity: upstream::identity_client(identity_channel.clone()),
            auth: upstream::auth_client(auth_channel.clone()),
            identity_channel,
            auth_channel,
            verifier,
            rate_limiter: Arc::new(RateLimiter::new(config.rate_limit_per_provider)),
            settings: Arc::new(settings),
        };
        Ok(Server {
            listener,
            state,
            local_addr,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The public URL the gateway announces.
    pub fn public_url(&self) -> &str {
        &self.state.settings.public_url
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let router = routes::router(self.state);
        let app = NormalizePathLayer::trim_trailing_slash().layer(router);
        axum::serve(self.listener, ServiceExt::<Request>::into_make_service(app))
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}
