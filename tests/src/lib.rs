//! Whole-stack test harness: auth-service, identity-service and the gateway started
//! in-process on 127.0.0.1:0, exactly as `scimctl up` wires them, on the backend the
//! test run asks for (`scim_storage::testing`): SQLite files in a temporary directory,
//! or one fresh PostgreSQL database that both services share, each in its own schema.

pub mod procs;
pub mod replica_stack;
pub mod whole_stack;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser as _;
use scim_proto::auth::v1 as authpb;
use scim_proto::auth::v1::auth_service_client::AuthServiceClient;
use scim_storage::Backend;
use scim_storage::testing::TestDatabase;
use serde_json::Value;
use tonic::transport::Channel;

/// Audience every service of the test stack expects.
pub const AUDIENCE: &str = "scim-stack";

/// Credentials of a registered provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
}

/// A running stack.
pub struct TestStack {
    /// HTTP client.
    pub http: reqwest::Client,
    /// Gateway public URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// `{url}/scim/v2`.
    pub scim: String,
    /// auth-service gRPC address.
    pub auth_addr: SocketAddr,
    /// identity-service gRPC address.
    pub identity_addr: SocketAddr,
    /// The stack's database, and its data directory (SQLite files, operator.json).
    pub db: TestDatabase,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for TestStack {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn stopped(
    rx: &tokio::sync::watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

impl TestStack {
    /// Starts the stack with default gateway settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the stack; `tune` may change the gateway's configuration.
    pub async fn spawn_with(tune: impl FnOnce(&mut scim_gateway::Config)) -> Self {
        scim_telemetry::init_for_tests();
        let mut gw_config = scim_gateway::Config::for_tests(String::new(), String::new());
        tune(&mut gw_config);
        // The gateway's port is chosen before it binds (the issuer names it), so another
        // test's service may take it in between; the stack then starts again elsewhere.
        for _ in 0..5 {
            if let Some(stack) = Self::try_spawn(gw_config.clone()).await {
                return stack;
            }
        }
        panic!("the gateway's port was taken by someone else five times in a row");
    }

    /// Starts the stack, or `None` when the gateway's chosen port was taken meanwhile.
    async fn try_spawn(mut gw_config: scim_gateway::Config) -> Option<Self> {
        let db = TestDatabase::new("identity.db");
        let (stop, rx) = tokio::sync::watch::channel(false);

        // The gateway's port decides the issuer, so choose it first.
        let probe = std::net::TcpListener::bind(gw_config.listen).expect("bind probe");
        let gw_addr = probe.local_addr().expect("addr");
        drop(probe);
        let url = format!("http://{gw_addr}");
        let issuer = url.clone();

        let path = |name: &str| db.dir().join(name).to_string_lossy().into_owned();
        // SQLite: a file per service; PostgreSQL: one database, a schema per service.
        let database = |file: &str| match db.backend() {
            Backend::Sqlite => path(file),
            Backend::Postgres => db.url().to_owned(),
        };
        let auth_config = auth_service::Config::parse_from([
            "auth-service",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database("auth.db"),
            "--issuer",
            &issuer,
            "--audience",
            AUDIENCE,
            "--bootstrap-admin-file",
            &path("operator.json"),
        ]);
        let auth = auth_service::Server::build(auth_config)
            .await
            .expect("auth-service starts");
        let auth_addr = auth.local_addr();
        let auth_url = format!("http://{auth_addr}");
        let verifier = || {
            let channel = tonic::transport::Endpoint::from_shared(auth_url.clone())
                .expect("url")
                .connect_lazy();
            scim_authn::remote::remote_verifier(
                channel,
                issuer.clone(),
                AUDIENCE.to_owned(),
                Duration::from_millis(200),
            )
        };
        let identity_config = identity_service::Config::parse_from([
            "identity-service",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database("identity.db"),
            "--jwt-issuer",
            &issuer,
            "--jwt-audience",
            AUDIENCE,
        ]);
        let identity = identity_service::Server::build(identity_config, verifier())
            .await
            .expect("identity-service starts");
        let identity_addr = identity.local_addr();

        gw_config.listen = gw_addr;
        gw_config.identity_url = format!("http://{identity_addr}");
        gw_config.auth_url = auth_url.clone();
        gw_config.jwt_issuer = Some(issuer.clone());
        gw_config.jwt_audience = AUDIENCE.to_owned();
        let gateway = match scim_gateway::Server::build(&gw_config, verifier()).await {
            Ok(gateway) => gateway,
            Err(scim_gateway::server::StartError::Bind { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                return None;
            }
            Err(e) => panic!("gateway starts: {e:?}"),
        };
        let url = gateway.public_url().to_owned();

        tokio::spawn(auth.run_until(stopped(&rx)));
        tokio::spawn(identity.run_until(stopped(&rx)));
        tokio::spawn(gateway.run_until(stopped(&rx)));

        Some(TestStack {
            http: reqwest::Client::new(),
            scim: format!("{url}/scim/v2"),
            url,
            auth_addr,
            identity_addr,
            db,
            stop,
        })
    }

    /// The data directory (SQLite files, operator.json).
    pub fn dir(&self) -> &std::path::Path {
        self.db.dir()
    }

    /// A connected auth.v1 client.
    pub async fn auth_client(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::connect(format!("http://{}", self.auth_addr))
            .await
            .expect("auth-service reachable")
    }

    /// The operator credentials the auth-service bootstrapped.
    pub fn operator(&self) -> Provider {
        let text =
            std::fs::read_to_string(self.dir().join("operator.json")).expect("operator.json");
        let v: Value = serde_json::from_str(&text).expect("json");
        Provider {
            client_id: v["client_id"].as_str().expect("client_id").to_owned(),
            client_secret: v["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        }
    }

    /// An admin token, minted over gRPC with the operator credentials.
    pub async fn admin_token(&self) -> String {
        let op = self.operator();
        self.auth_client()
            .await
            .issue_token(authpb::IssueTokenRequest {
                client_id: op.client_id,
                client_secret: op.client_secret,
                scope: String::new(),
                ttl_seconds: 600,
            })
            .await
            .expect("operator token")
            .into_inner()
            .access_token
    }

    /// Registers a provider in `tenant` with the default scopes.
    pub async fn provider(&self, name: &str, tenant: &str) -> Provider {
        self.provider_with_scopes(name, tenant, &[]).await
    }

    /// Registers a provider with explicit scopes.
    pub async fn provider_with_scopes(
        &self,
        name: &str,
        tenant: &str,
        scopes: &[&str],
    ) -> Provider {
        let admin = self.admin_token().await;
        let mut req = tonic::Request::new(authpb::CreateProviderRequest {
            name: name.into(),
            tenant: tenant.into(),
            allowed_scopes: scopes.iter().map(|s| s.to_string()).collect(),
            max_token_ttl_seconds: 0,
            default_token_ttl_seconds: 0,
        });
        req.metadata_mut().insert(
            "authorization",
            format!("Bearer {admin}").parse().expect("header"),
        );
        let r = self
            .auth_client()
            .await
            .create_provider(req)
            .await
            .expect("provider created")
            .into_inner();
        Provider {
            client_id: r.provider.expect("provider").client_id,
            client_secret: r.client_secret,
        }
    }

    /// Mints a token over HTTP with the documented form.
    pub async fn token_for(&self, p: &Provider) -> String {
        let resp = self
            .http
            .post(format!("{}/oauth2/token", self.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", p.client_id.as_str()),
                ("client_secret", p.client_secret.as_str()),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(resp.status(), 200, "token endpoint answers 200");
        let v: Value = resp.json().await.expect("json");
        v["access_token"].as_str().expect("access_token").to_owned()
    }

    /// A fresh provider in `tenant` and a token for it.
    pub async fn tenant_token(&self, tenant: &str) -> String {
        let p = self.provider(&format!("idp-{tenant}"), tenant).await;
        self.token_for(&p).await
    }

    /// Sends a SCIM request; `path` is relative to the SCIM base (e.g. `/Users`).
    pub async fn scim(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.scim))
            .bearer_auth(token)
            .header("accept", "application/scim+json");
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json; charset=utf-8")
                .body(serde_json::to_vec(b).expect("json"));
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, headers, value)
    }
}
