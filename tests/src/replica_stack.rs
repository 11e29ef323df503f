//! [`ReplicaStack`]: two replicas of each service on one database (one PostgreSQL
//! database, or on SQLite one file per service that the replicas share), with two
//! gateways that each balance over both identity-service and both auth-service
//! replicas.

use std::time::{Duration, Instant};

use scim_storage::Backend;
use scim_storage::testing::TestDatabase;
use serde_json::Value;

use crate::procs::{ISSUER, Proc, free_port};

/// Two replicas of each service on one database, and two gateways.
pub struct ReplicaStack {
    /// HTTP client.
    pub http: reqwest::Client,
    /// The gateways' public URLs.
    pub gateways: Vec<String>,
    /// The auth-service replicas' gRPC URLs.
    pub auth: Vec<String>,
    /// The identity-service replicas' gRPC URLs.
    pub identity: Vec<String>,
    /// auth-service processes, in the order of [`ReplicaStack::auth`].
    pub auth_procs: Vec<Proc>,
    /// identity-service processes, in the order of [`ReplicaStack::identity`].
    pub identity_procs: Vec<Proc>,
    /// Gateway processes.
    pub gateway_procs: Vec<Proc>,
    /// The database (and the directory of logs and the operator file).
    pub db: TestDatabase,
}

impl ReplicaStack {
    /// Starts the stack and waits until both gateways see every replica up.
    pub async fn start() -> ReplicaStack {
        let db = TestDatabase::new("identity.db");
        let dir = db.dir().to_owned();
        let database = |file: &str| match db.backend() {
            Backend::Sqlite => dir.join(file).to_string_lossy().into_owned(),
            Backend::Postgres => db.url().to_owned(),
        };
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        let s = |v: &str| v.to_owned();
        let auth_ports = [free_port(), free_port()];
        let identity_ports = [free_port(), free_port()];
        let gateway_ports = [free_port(), free_port()];
        let auth: Vec<String> = auth_ports.iter().map(|p| url(*p)).collect();
        let identity: Vec<String> = identity_ports.iter().map(|p| url(*p)).collect();
        let gateways: Vec<String> = gateway_ports.iter().map(|p| url(*p)).collect();

        // Both auth replicas are given the same bootstrap file and start together:
        // the database decides which one registers the operator.
        let auth_procs: Vec<Proc> = auth_ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                Proc::spawn(
                    "auth-service",
                    &format!("auth-{i}"),
                    &[
                        s("--listen"),
                        format!("127.0.0.1:{port}"),
                        s("--database-url"),
                        database("auth.db"),
                        s("--issuer"),
                        s(ISSUER),
                        s("--bootstrap-admin-file"),
                        dir.join("operator.json").to_string_lossy().into_owned(),
                        s("--cache-refresh-seconds"),
                        s("1"),
                    ],
                    &dir,
                )
            })
            .collect();
        let identity_procs: Vec<Proc> = identity_ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                Proc::spawn(
                    "identity-service",
                    &format!("identity-{i}"),
                    &[
                        s("--listen"),
                        format!("127.0.0.1:{port}"),
                        s("--database-url"),
                        database("identity.db"),
                        s("--jwt-issuer"),
                        s(ISSUER),
                        s("--auth-service-url"),
                        auth.join(","),
                    ],
                    &dir,
                )
            })
            .collect();
        let gateway_procs: Vec<Proc> = gateway_ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                Proc::spawn(
                    "scim-gateway",
                    &format!("gateway-{i}"),
                    &[
                        s("--listen"),
                        format!("127.0.0.1:{port}"),
                        s("--jwt-issuer"),
                        s(ISSUER),
                        s("--identity-url"),
                        identity.join(","),
                        s("--auth-url"),
                        auth.join(","),
                        s("--revocation-poll-secs"),
                        s("1"),
                    ],
                    &dir,
                )
            })
            .collect();
        let stack = ReplicaStack {
            http: reqwest::Client::new(),
            gateways,
            auth,
            identity,
            auth_procs,
            identity_procs,
            gateway_procs,
            db,
        };
        stack.wait_until_all_up(Duration::from_secs(60)).await;
        stack
    }

    /// Waits until every gateway's `/readyz` is 200 with no replica down.
    pub async fn wait_until_all_up(&self, within: Duration) {
        let deadline = Instant::now() + within;
        for g in &self.gateways {
            loop {
                let ready = match self.http.get(format!("{g}/readyz")).send().await {
                    Ok(r) if r.status() == 200 => r
                        .json::<Value>()
                        .await
                        .ok()
                        .is_some_and(|v| v["down"].as_array().is_some_and(Vec::is_empty)),
                    _ => false,
                };
                if ready {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the replicas never all came up; logs in {}",
                    self.db.dir().display()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// The operator credentials the bootstrap wrote: `(client_id, client_secret)`.
    pub fn operator(&self) -> (String, String) {
        let text = std::fs::read_to_string(self.db.dir().join("operator.json"))
            .expect("exactly one replica wrote operator.json");
        let v: Value = serde_json::from_str(&text).expect("json");
        (
            v["client_id"].as_str().expect("client_id").to_owned(),
            v["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        )
    }

    /// A token from `gateway`'s token endpoint.
    pub async fn token(&self, gateway: usize, client_id: &str, secret: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth2/token", self.gateways[gateway]))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .expect("token request")
    }

    /// A token with the operator credentials (scopes admin, scim:read, scim:write).
    ///
    /// The replica that did not register the operator learns of it on its next reload
    /// (the documented refresh), so this asks until one is issued.
    pub async fn operator_token(&self) -> String {
        let (id, secret) = self.operator();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let resp = self.token(0, &id, &secret).await;
            if resp.status() == 200 {
                let v: Value = resp.json().await.expect("json");
                return v["access_token"].as_str().expect("access_token").to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "operator token: {}",
                resp.status()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends a SCIM request through `gateway`.
    pub async fn scim(
        &self,
        gateway: usize,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/scim/v2{path}", self.gateways[gateway]))
            .bearer_auth(token)
            .timeout(Duration::from_secs(20));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(serde_json::to_vec(b).expect("json"));
        }
        if let Some(etag) = if_match {
            req = req.header("if-match", etag);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, value)
    }
}
