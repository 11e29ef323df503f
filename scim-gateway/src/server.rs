//! Binding, wiring and serving the gateway.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::ServiceExt;
use axum::extract::Request;
use scim_authn::Verifier;
use tower::{Layer as _, ServiceExt as _};
use tower_http::normalize_path::NormalizePathLayer;

use crate::config::Config;
use crate::rate_limit::RateLimiter;
use crate::routes;
use crate::state::{AppState, Settings, Shared};
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
    tls: Option<crate::tls::TlsSetup>,
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
        let tls = if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
            Some(crate::tls::from_files(cert, key)?)
        } else if config.tls_self_signed {
            let host = config
                .public_url
                .as_deref()
                .and_then(|u| u.split("://").nth(1))
                .and_then(|rest| rest.split(['/', ':']).next());
            Some(crate::tls::self_signed(host)?)
        } else {
            None
        };
        let timeout = Duration::from_secs(config.upstream_timeout_secs);
        let identity_upstream = upstream::Upstream::connect(&config.identity_url, timeout)?;
        let auth_upstream = upstream::Upstream::connect(&config.auth_url, timeout)?;
        let public_url = config.public_url(local_addr);
        let settings = Settings {
            scim_base: format!("{public_url}{}", routes::SCIM_PREFIX),
            public_url,
            default_page_size: config.default_page_size.max(1),
            max_page_size: config.max_page_size.max(1),
            group_patch_body_limit: config.group_patch_body_limit,
            max_body_bytes: config.max_body_bytes,
        };
        let state = AppState::new(Shared {
            identity: upstream::identity_client(identity_upstream.channel()),
            auth: upstream::auth_client(auth_upstream.channel()),
            identity_upstream,
            auth_upstream,
            verifier,
            rate_limiter: Arc::new(RateLimiter::new(config.rate_limit_per_provider)),
            settings: Arc::new(settings),
        });
        Ok(Server {
            listener,
            state,
            local_addr,
            tls,
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

    /// The self-signed certificate in PEM, when the gateway made one.
    pub fn self_signed_certificate(&self) -> Option<&str> {
        self.tls.as_ref().and_then(|t| t.self_signed_pem.as_deref())
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let router = routes::router(self.state);
        let app = NormalizePathLayer::trim_trailing_slash().layer(router);
        match self.tls {
            None => {
                // Small responses must not wait for the client's delayed ACK (Nagle).
                let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                axum::serve(listener, ServiceExt::<Request>::into_make_service(app))
                    .with_graceful_shutdown(shutdown)
                    .await?;
            }
            Some(tls) => serve_tls(self.listener, tls, app, shutdown).await,
        }
        Ok(())
    }
}

/// The HTTPS accept loop: TLS handshake per connection, then HTTP/1.1 or HTTP/2 (ALPN),
/// with in-flight connections drained on shutdown.
async fn serve_tls<S>(
    listener: tokio::net::TcpListener,
    tls: crate::tls::TlsSetup,
    app: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: tower::Service<
            Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;

    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let builder = builder.clone();
        let service =
            TowerToHyperService::new(app.clone().map_request(
                |r: http::Request<hyper::body::Incoming>| r.map(axum::body::Body::new),
            ));
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    // Failed handshakes are the client's business (scanners, wrong trust).
                    _ => return,
                };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = watcher.watch(conn.into_owned()).await;
        });
    }
    // Give in-flight requests a bounded time to finish.
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
}
