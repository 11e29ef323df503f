//! Starting servers and calling them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use auth_service::{Config, Server};
use base64::Engine as _;
use scim_proto::auth::v1 as pb;
use scim_proto::auth::v1::auth_service_client::AuthServiceClient;
use scim_storage::testing::TestDatabase;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

/// The operator credentials the bootstrap file holds.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AdminCredentials {
    pub client_id: String,
    pub client_secret: String,
}

/// A running server with its own database (SQLite or PostgreSQL, as the run asks).
pub struct TestServer {
    pub db: Option<TestDatabase>,
    pub admin_file: PathBuf,
    pub admin: AdminCredentials,
    pub channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), auth_service::AuthError>>>,
}

pub fn config_for(db: &TestDatabase) -> Config {
    let mut config = Config::with_database(db.url());
    config.bootstrap_admin_file = Some(db.dir().join("secrets").join("admin.json"));
    config
}

impl TestServer {
    /// A fresh server on a fresh database.
    pub async fn start() -> TestServer {
        Self::start_in(TestDatabase::new("auth.db")).await
    }

    /// A server over `db` (which may hold data from an earlier run).
    pub async fn start_in(db: TestDatabase) -> TestServer {
        let config = config_for(&db);
        let admin_file = config.bootstrap_admin_file.clone().unwrap();
        let (channel, shutdown, handle) = launch(config).await;
        let admin: AdminCredentials =
            serde_json::from_slice(&std::fs::read(&admin_file).unwrap()).unwrap();
        TestServer {
            db: Some(db),
            admin_file,
            admin,
            channel,
            shutdown: Some(shutdown),
            handle: Some(handle),
        }
    }

    /// A second server on this one's database, as another replica would run, that
    /// reloads its caches only every `cache_refresh_seconds`.
    pub async fn replica(&self, cache_refresh_seconds: u64) -> TestServer {
        let mut config = config_for(self.db.as_ref().expect("the database"));
        config.bootstrap_admin_file = None;
        config.cache_refresh_seconds = cache_refresh_seconds;
        let (channel, shutdown, handle) = launch(config).await;
        TestServer {
            db: None,
            admin_file: self.admin_file.clone(),
            admin: self.admin.clone(),
            channel,
            shutdown: Some(shutdown),
            handle: Some(handle),
        }
    }

    /// Stops the server and waits until it has stopped; returns its database.
    pub async fn stop(mut self) -> TestDatabase {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
        self.db.take().expect("the database")
    }

    pub fn client(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel.clone())
    }

    /// Issues a token with client credentials.
    pub async fn issue(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: &str,
        ttl_seconds: i64,
    ) -> Result<pb::IssueTokenResponse, Status> {
        self.client()
            .issue_token(pb::IssueTokenRequest {
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                scope: scope.into(),
                ttl_seconds,
            })
            .await
            .map(|r| r.into_inner())
    }

    /// An access token with the `admin` scope.
    pub async fn admin_token(&self) -> String {
        self.issue(&self.admin.client_id, &self.admin.client_secret, "admin", 0)
            .await
            .expect("admin token")
            .access_token
    }

    /// Registers a provider as the operator.
    pub async fn create_provider(
        &self,
        req: pb::CreateProviderRequest,
    ) -> pb::CreateProviderResponse {
        let token = self.admin_token().await;
        self.client()
            .create_provider(bearer(req, &token))
            .await
            .expect("create provider")
            .into_inner()
    }

    /// Registers a provider with defaults; returns (client id, secret).
    pub async fn provider(&self, name: &str) -> (String, String) {
        self.provider_in("", name, "").await
    }

    /// Registers a provider of `tenant` (empty: the default) allowed `scopes`
    /// (space-separated; empty: the defaults); returns (client id, secret).
    pub async fn provider_in(&self, tenant: &str, name: &str, scopes: &str) -> (String, String) {
        let created = self
            .create_provider(pb::CreateProviderRequest {
                name: name.into(),
                tenant: tenant.into(),
                allowed_scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                ..Default::default()
            })
            .await;
        (created.provider.unwrap().client_id, created.client_secret)
    }

    /// Gives provider `client_id` a new secret as the operator, the old one working for
    /// `grace_seconds` more.
    pub async fn rotate_secret(
        &self,
        client_id: &str,
        grace_seconds: i64,
    ) -> pb::RotateProviderSecretResponse {
        let admin = self.admin_token().await;
        self.client()
            .rotate_provider_secret(bearer(
                pb::RotateProviderSecretRequest {
                    client_id: client_id.into(),
                    grace_seconds,
                },
                &admin,
            ))
            .await
            .expect("secret rotated")
            .into_inner()
    }

    /// A verifier that takes keys and revocations from this server over gRPC.
    pub fn remote_verifier(&self, poll: Duration) -> std::sync::Arc<scim_authn::Verifier> {
        scim_authn::remote::remote_verifier(
            self.channel.clone(),
            "http://127.0.0.1:8080",
            "scim-stack",
            poll,
        )
    }
}

/// Starts a server on `config`; returns a connected channel, its shutdown switch and
/// its task.
async fn launch(
    config: Config,
) -> (
    Channel,
    oneshot::Sender<()>,
    JoinHandle<Result<(), auth_service::AuthError>>,
) {
    scim_telemetry::init_for_tests();
    let server = Server::build(config).await.expect("server starts");
    let addr = server.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.run_until(async move {
        let _ = rx.await;
    }));
    // The listener is bound already: connecting needs no wait.
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    (channel, tx, handle)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// `msg` with `authorization: Bearer <token>` metadata.
pub fn bearer<T>(msg: T, token: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

/// The decoded JWT header and claims of a token (no verification).
pub fn decode(token: &str) -> (jsonwebtoken::Header, serde_json::Value) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    (header, claims)
}

/// Polls `check` every 50 ms until it returns true or `within` passed.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
