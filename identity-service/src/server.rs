//! The gRPC server: listener, database, health, reflection and authentication wired
//! together.
//!
//! [`Server::build`] binds the listener first (so a taken port fails fast and port 0
//! works), opens the database and applies migrations; only then does health report
//! SERVING. [`Server::run_until`] serves until the shutdown future resolves, reports
//! NOT_SERVING, and lets in-flight calls finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use scim_authn::Verifier;
use scim_authn::grpc::AuthLayer;
use scim_proto::identity::v1::identity_service_server::IdentityServiceServer;
use scim_telemetry::grpc::ServerStatusLayer;
use tokio::net::TcpListener;
use tonic::transport::server::{Router, TcpIncoming};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};
use tower::layer::util::{Identity, Stack};

use crate::config::Config;
use crate::db::{Database, OpenError};
use crate::grpc::IdentityApi;

type Service = IdentityServiceServer<IdentityApi>;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] OpenError),
    /// The reflection service rejected the descriptor sets.
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("the gRPC server failed: {0}")]
pub struct ServeError(#[from] tonic::transport::Error);

/// A ready server: bound, migrated, not yet serving.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router<Stack<AuthLayer, Stack<ServerStatusLayer, Identity>>>,
    health: HealthReporter,
    database: Database,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

async fn set_health(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    match status {
        ServingStatus::Serving => health.set_serving::<Service>().await,
        _ => health.set_not_serving::<Service>().await,
    }
}

impl Server {
    /// Binds `config.listen`, opens and migrates the database, and prepares every
    /// service. Tokens are checked with `verifier`.
    pub async fn build(config: Config, verifier: Arc<Verifier>) -> Result<Self, StartError> {
        let health = HealthReporter::new();
        set_health(&health, ServingStatus::NotServing).await;

        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;

        let database = Database::open(&config.database_url, config.db_pool_size).await?;
        database.migrate().await?;

        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(scim_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let api = IdentityApi::new(database.clone(), config.max_page_size);
        let router = tonic::transport::Server::builder()
            .trace_fn(|req| {
                scim_telemetry::grpc::server_span_naming(req, crate::grpc::scim_operation)
            })
            // Outside the auth layer, so rejected calls get their status recorded too.
            .layer(ServerStatusLayer)
            // No open methods: every identity.v1 call needs a token; health and
            // reflection are open by the layer's own rule.
            .layer(AuthLayer::new(verifier, &[]))
            .add_service(HealthServer::new(HealthService::from_health_reporter(
                health.clone(),
            )))
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?)
            .add_service(IdentityServiceServer::new(api));

        set_health(&health, ServingStatus::Serving).await;
        Ok(Server {
            listener,
            local_addr,
            router,
            health,
            database,
        })
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The database, e.g. to observe queries in tests.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Serves until `shutdown` resolves, then drains in-flight calls.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let health = self.health.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down");
            set_health(&health, ServingStatus::NotServing).await;
        };
        self.router
            // Without TCP_NODELAY, Nagle's algorithm holds back the small trailers frame
            // that ends every unary response until the peer's delayed ACK: 40 ms a call.
            .serve_with_incoming_shutdown(
                TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                signal,
            )
            .await?;
        Ok(())
    }
}
