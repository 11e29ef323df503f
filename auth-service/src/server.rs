//! The gRPC server: binding, start-up and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use scim_authn::grpc::AuthLayer;
use scim_proto::auth::v1::auth_service_server::AuthServiceServer;
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tonic_health::server::{HealthReporter, HealthService};

use crate::authority::{Authority, TokenSettings};
use crate::config::Config;
use crate::error::AuthError;
use crate::grpc::{AuthGrpc, OPEN_METHODS};
use crate::{bootstrap, db};

/// The gRPC service name health checks ask for.
const SERVICE_NAME: &str = "auth.v1.AuthService";

/// A bound, initialised auth-service, ready to serve.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    authority: Arc<Authority>,
    health: HealthReporter,
    refresh_interval: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the listener, migrates the database, loads or creates the signing keys and
    /// bootstraps the operator credentials. Health reports `NOT_SERVING` until all of
    /// that is done.
    pub async fn build(config: Config) -> Result<Server, AuthError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| AuthError::Io {
                context: format!("binding {}", config.listen),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| AuthError::Io {
            context: "reading the bound address".into(),
            source,
        })?;
        let health = HealthReporter::new();
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        health
            .set_service_status(SERVICE_NAME, ServingStatus::NotServing)
            .await;

        let pool = {
            let url = config.database_url.clone();
            tokio::task::spawn_blocking(move || db::connect(&url))
                .await
                .map_err(|e| AuthError::Internal(format!("database open task failed: {e}")))??
        };
        let authority = Authority::load(
            pool,
            TokenSettings {
                issuer: config.issuer.clone(),
                audience: config.audience.clone(),
            },
        )
        .await?;
        if let Some(file) = &config.bootstrap_admin_file {
            bootstrap::ensure_admin_file(&authority, file).await?;
        }

        health.set_service_status("", ServingStatus::Serving).await;
        health
            .set_service_status(SERVICE_NAME, ServingStatus::Serving)
            .await;
        tracing::info!(addr = %local_addr, "auth-service ready");
        Ok(Server {
            listener,
            local_addr,
            authority,
            health,
            refresh_interval: Duration::from_secs(config.cache_refresh_seconds.max(1)),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The credential authority (tests, embedding).
    pub fn authority(&self) -> &Arc<Authority> {
        &self.authority
    }

    /// Serves until `shutdown` resolves, then reports `NOT_SERVING`, stops accepting
    /// and lets calls in flight finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AuthError> {
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(scim_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| AuthError::Internal(format!("reflection: {e}")))?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(scim_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|e| AuthError::Internal(format!("reflection: {e}")))?;
        let health_service = tonic_health::pb::health_server::HealthServer::new(
            HealthService::from_health_reporter(self.health.clone()),
        );
        let auth_layer = AuthLayer::new(self.authority.verifier().clone(), OPEN_METHODS);
        let refresher = self.authority.spawn_refresher(self.refresh_interval);

        let health = self.health.clone();
        let shutdown = async move {
            shutdown.await;
            tracing::info!("shutting down");
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            health
                .set_service_status(SERVICE_NAME, ServingStatus::NotServing)
                .await;
        };
        let result = tonic::transport::Server::builder()
            .trace_fn(scim_telemetry::grpc::server_span)
            .layer(scim_telemetry::grpc::ServerStatusLayer)
            .layer(auth_layer)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(AuthServiceServer::new(AuthGrpc::new(
                self.authority.clone(),
            )))
            // Without TCP_NODELAY, Nagle's algorithm holds back the small trailers frame
            // that ends every unary response until the peer's delayed ACK: 40 ms a call.
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                shutdown,
            )
            .await;
        refresher.abort();
        result.map_err(|e| AuthError::Internal(format!("gRPC server failed: {e}")))
    }
}
