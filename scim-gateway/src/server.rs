//! Binding, wiring and serving the gateway.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
    limits: ConnectionLimits,
}

/// What one client connection may hold of the gateway (see `Config`).
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    max_connections: usize,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
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
            limits: ConnectionLimits {
                max_connections: config.max_connections.max(1),
                header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
                body_read_timeout: Duration::from_secs(config.body_read_timeout_secs.max(1)),
            },
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
        let router = routes::router(self.state)
            // A body that stops arriving fails its extractor (a SCIM or OAuth 400)
            // instead of holding the request open.
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                self.limits.body_read_timeout,
            ));
        let app = NormalizePathLayer::trim_trailing_slash().layer(router);
        let acceptor = self
            .tls
            .map(|tls| tokio_rustls::TlsAcceptor::from(tls.config));
        serve(self.listener, acceptor, self.limits, app, shutdown).await;
        Ok(())
    }
}

/// The accept loop: at most `max_connections` connections at once (the rest wait in
/// the listen backlog), a TLS handshake per connection when `tls` is set, then HTTP/1.1
/// or HTTP/2 (ALPN, or HTTP/2 prior knowledge in the clear), with in-flight connections
/// drained on shutdown.
///
/// A connection must send its first byte, and over HTTP/1.1 each request's headers,
/// within the header read timeout, which also closes a kept-alive HTTP/1.1 connection
/// left idle that long: a client that sends headers a byte at a time, or opens
/// connections and sends nothing, holds a connection slot for seconds, not forever.
/// The same bound holds for the connection's first request whatever the protocol, so
/// a TLS client that completes its handshake and then sends nothing is closed too.
async fn serve<S>(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnectionLimits,
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
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
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
        // Small responses must not wait for the client's delayed ACK (Nagle).
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let builder = builder.clone();
        // Set by the connection's first request; see `first_request_within` below.
        let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let service = TowerToHyperService::new(app.clone().map_request({
            let asked = Arc::clone(&asked);
            move |r: http::Request<hyper::body::Incoming>| {
                asked.store(true, std::sync::atomic::Ordering::Relaxed);
                r.map(axum::body::Body::new)
            }
        }));
        let watcher = graceful.watcher();
        let handshake = limits.header_read_timeout;
        tokio::spawn(async move {
            // The slot is the connection's until it closes.
            let _slot = slot;
            // hyper reads the first bytes to tell HTTP/1.1 from HTTP/2 before any of its
            // timeouts runs: a connection that sends nothing is closed here.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(handshake, tcp.peek(&mut first)).await,
                Ok(Ok(n)) if n > 0
            ) {
                return;
            }
            // Neither hyper's header timeout nor the peek above sees a client that
            // completes a TLS handshake and then sends nothing, or starts the HTTP/2
            // preface and stops: while the auto builder waits to learn the version, no
            // timeout of hyper's runs. So a connection whose first request has not
            // arrived within the header read timeout is dropped.
            let first_request_within = async {
                tokio::time::sleep(handshake).await;
                if asked.load(std::sync::atomic::Ordering::Relaxed) {
                    std::future::pending::<()>().await;
                }
            };
            match tls {
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                    tokio::select! {
                        _ = watcher.watch(conn.into_owned()) => {}
                        () = first_request_within => {}
                    }
                }
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        // Failed handshakes are the client's business (scanners, wrong
                        // trust).
                        _ => return,
                    };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = watcher.watch(conn.into_owned()) => {}
                        () = first_request_within => {}
                    }
                }
            }
        });
    }
    // Give in-flight requests a bounded time to finish.
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
}
