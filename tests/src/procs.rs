//! The services as processes: the built binaries started with real flags, as
//! docker-compose and a PostgreSQL deployment run them, so a test can `kill -9` one.
//!
//! [`ReplicaStack`] runs two replicas of each service on one database (one PostgreSQL
//! database, or on SQLite one file per service that the replicas share), with two
//! gateways that each balance over both identity-service and both auth-service
//! replicas.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scim_storage::Backend;
use scim_storage::testing::TestDatabase;
use serde_json::Value;

/// The issuer every replica of a [`ReplicaStack`] signs and expects.
pub const ISSUER: &str = "http://scim.replicas.test";

/// A built binary of the workspace (`cargo build --bins` first).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target directory");
    let p = dir.join(name);
    assert!(p.exists(), "build {name} first: {}", p.display());
    p
}

/// A free port on loopback (free now; a process binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process, killed (SIGKILL) when dropped; it can be stopped, continued and
/// started again with the same flags.
#[derive(Debug)]
pub struct Proc {
    child: Option<Child>,
    /// What it is, for messages.
    pub name: String,
    binary: String,
    args: Vec<String>,
    logs: PathBuf,
}

impl Proc {
    /// Starts `binary` with `args`; its logs go to a file in `logs`.
    pub fn spawn(binary: &str, name: &str, args: &[String], logs: &std::path::Path) -> Proc {
        let mut proc = Proc {
            child: None,
            name: name.to_owned(),
            binary: binary.to_owned(),
            args: args.to_vec(),
            logs: logs.to_owned(),
        };
        proc.start();
        proc
    }

    fn start(&mut self) {
        // Appended to, so a restarted process's log follows its earlier life.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{}.log", self.name)))
            .expect("log file");
        let child = Command::new(bin(&self.binary))
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("SCIM_TEST_PROC_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        self.child = Some(child);
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the flags it first had (after [`Proc::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resident memory now and at its peak (`VmRSS`, `VmHWM`), in KiB.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let field = |name: &str| -> Option<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the running process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let sent = Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("kill(1)");
        assert!(sent.success(), "SIG{signal} to {}", self.name);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A stopped process is killed all the same: SIGKILL needs no cooperation.
        self.kill();
    }
}

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

/// The whole stack as one process, `scimctl up`, as an operator runs it on one machine.
#[derive(Debug)]
pub struct WholeStack {
    /// The `scimctl up` process; [`Proc::kill`] takes every service down at once.
    pub proc: Proc,
    /// The gateway's port on loopback.
    pub port: u16,
    data_dir: PathBuf,
}

impl WholeStack {
    /// `scimctl up` on `data_dir` (and on the PostgreSQL database at `database_url`, when
    /// given), serving on `port`, with its log in `logs`; returns once `/readyz` is 200.
    pub async fn start(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        port: u16,
        logs: &std::path::Path,
    ) -> WholeStack {
        let mut args: Vec<String> = vec![
            "up".into(),
            "--data-dir".into(),
            data_dir.to_string_lossy().into_owned(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--identity-listen".into(),
            "127.0.0.1:0".into(),
            "--auth-listen".into(),
            "127.0.0.1:0".into(),
        ];
        if let Some(url) = database_url {
            args.extend(["--database-url".into(), url.to_owned()]);
        }
        let proc = Proc::spawn("scimctl", "scimctl-up", &args, logs);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return WholeStack {
                    proc,
                    port,
                    data_dir: data_dir.to_owned(),
                };
            }
            assert!(
                Instant::now() < deadline,
                "scimctl up never became ready; log in {}",
                logs.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The SCIM base URL.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/scim/v2", self.port)
    }

    /// A token for the operator `scimctl up` bootstrapped in its data directory.
    pub async fn operator_token(&self) -> String {
        let text =
            std::fs::read_to_string(self.data_dir.join("operator.json")).expect("operator.json");
        let op: Value = serde_json::from_str(&text).expect("json");
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/oauth2/token", self.port))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", op["client_id"].as_str().expect("client_id")),
                (
                    "client_secret",
                    op["client_secret"].as_str().expect("client_secret"),
                ),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        v["access_token"].as_str().expect("access_token").to_owned()
    }
}
