//! Starting and stopping the three services as separate processes, and their memory.
//!
//! Each service runs from its release binary in a process of its own, so that its
//! peak resident set (`VmHWM` in `/proc/<pid>/status`) is its own and not a share of a
//! combined process. The gateway's port must be known before it starts — it is part of
//! the token issuer and of every `Location` — so ports are picked up front by binding
//! port 0 and releasing it; on a loopback-only benchmark machine nobody else races for
//! them.

use crate::process::{Service, spawn};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use http::Method;
use tokio::process::Command;

use crate::load::{self, Conn};

/// How long a service may take to become reachable.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a service may take to stop after SIGTERM before it is killed.
/// Audience the auth-service stamps on tokens and the verifiers expect.
pub const AUDIENCE: &str = "scim-stack";

/// Failures while starting or driving the stack's processes.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A release binary is missing.
    #[error(
        "{0} not found: build it with `cargo build --release -p bench -p scimctl -p identity-service -p auth-service -p scim-gateway`"
    )]
    MissingBinary(PathBuf),
    /// A process could not be started or waited for.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A service exited or never became reachable.
    #[error("{name} did not start: {reason}\n--- last lines of its log ---\n{log}")]
    NotReady {
        /// Service name.
        name: &'static str,
        /// Why.
        reason: String,
        /// Tail of its log.
        log: String,
    },
    /// `scimctl provider create` failed or printed something unexpected.
    #[error("registering the benchmark provider failed: {0}")]
    Provider(String),
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StackError {
    let what = what.into();
    move |source| StackError::Io { what, source }
}

/// Paths of the release binaries the run needs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// auth-service.
    pub auth: PathBuf,
    /// identity-service.
    pub identity: PathBuf,
    /// scim-gateway.
    pub gateway: PathBuf,
    /// scimctl.
    pub scimctl: PathBuf,
}

impl Binaries {
    /// Finds the four binaries in `dir`.
    pub fn locate(dir: &Path) -> Result<Self, StackError> {
        let find = |name: &str| {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(StackError::MissingBinary(p))
            }
        };
        Ok(Self {
            auth: find("auth-service")?,
            identity: find("identity-service")?,
            gateway: find("scim-gateway")?,
            scimctl: find("scimctl")?,
        })
    }
}

/// Loopback ports of the three services, fixed for the whole run so that a restart
/// keeps the issuer and the URLs.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// auth-service gRPC.
    pub auth: u16,
    /// identity-service gRPC.
    pub identity: u16,
    /// Gateway HTTP.
    pub gateway: u16,
}

impl Ports {
    /// Picks three free loopback ports.
    pub fn pick() -> Result<Self, StackError> {
        // Hold all three listeners at once so the kernel cannot hand out one port twice.
        let bind = || TcpListener::bind("127.0.0.1:0").map_err(io("picking a free port"));
        let (a, i, g) = (bind()?, bind()?, bind()?);
        let port = |l: &TcpListener| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(io("reading a port"))
        };
        Ok(Self {
            auth: port(&a)?,
            identity: port(&i)?,
            gateway: port(&g)?,
        })
    }
}

/// The credentials out of what `scimctl provider create --output json` prints (it also
/// prints the URLs, which the harness already knows).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Provider {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
}

/// Where the stack keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// SQLite files in the data directory: one process per service.
    Sqlite,
    /// One PostgreSQL database shared by both services, with this many
    /// identity-service replicas behind the gateway (the extra ones on `extra_ports`).
    Postgres {
        /// The database URL.
        url: String,
        /// Ports of the identity-service replicas after the first.
        extra_ports: Vec<u16>,
    },
}

/// The three running services.
pub struct Stack {
    services: Vec<Service>,
    /// Gateway socket address.
    pub gateway: SocketAddr,
    /// Gateway public URL (also the token issuer).
    pub public_url: String,
    /// auth-service gRPC URL.
    pub auth_url: String,
    /// identity-service gRPC URL.
    pub identity_url: String,
    /// Operator credentials file written by the auth-service on first start.
    pub operator_file: PathBuf,
    /// Whether the services run on PostgreSQL (whose server CPU counts too).
    pub postgres: bool,
}

/// Where the services export spans, and how many of the traces they start.
#[derive(Debug, Clone)]
pub struct Otlp {
    /// OTLP/gRPC endpoint.
    pub endpoint: String,
    /// `parentbased_traceidratio` with this ratio; `None` keeps the default (every trace).
    pub ratio: Option<f64>,
}

impl Stack {
    /// Starts auth-service, identity-service and the gateway on `data_dir`, waiting for
    /// each to be reachable before the next one starts. With `otlp`, every service
    /// exports its spans to that OTLP/gRPC endpoint, sampled as it says.
    pub async fn start(
        bins: &Binaries,
        data_dir: &Path,
        ports: Ports,
        otlp: Option<&Otlp>,
        storage: &Storage,
    ) -> Result<Self, StackError> {
        let logs = data_dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(io("creating the log directory"))?;
        let public_url = format!("http://127.0.0.1:{}", ports.gateway);
        let auth_url = format!("http://127.0.0.1:{}", ports.auth);
        let identity_url = format!("http://127.0.0.1:{}", ports.identity);
        let operator_file = data_dir.join("operator.json");
        let db = |name: &str| match storage {
            Storage::Sqlite => data_dir.join(name).display().to_string(),
            Storage::Postgres { url, .. } => url.clone(),
        };
        let mut identity_ports = vec![ports.identity];
        if let Storage::Postgres { extra_ports, .. } = storage {
            identity_ports.extend(extra_ports);
        }
        let identity_urls: Vec<String> = identity_ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect();

        let mut stack = Self {
            services: Vec::new(),
            gateway: SocketAddr::from(([127, 0, 0, 1], ports.gateway)),
            public_url: public_url.clone(),
            auth_url: auth_url.clone(),
            identity_url: identity_url.clone(),
            operator_file: operator_file.clone(),
            postgres: matches!(storage, Storage::Postgres { .. }),
        };

        let auth = spawn(
            "auth-service",
            "auth-service",
            &bins.auth,
            &[
                "--listen",
                &format!("127.0.0.1:{}", ports.auth),
                "--database-url",
                &db("auth.db"),
                "--issuer",
                &public_url,
                "--audience",
                AUDIENCE,
                "--bootstrap-admin-file",
                &operator_file.display().to_string(),
            ],
            &logs,
            otlp,
        )?;
        stack.services.push(auth);
        stack.wait_tcp(0, ports.auth).await?;

        for (i, port) in identity_ports.iter().enumerate() {
            let log_name = if i == 0 {
                "identity-service".to_owned()
            } else {
                format!("identity-service-{}", i + 1)
            };
            let identity = spawn(
                "identity-service",
                &log_name,
                &bins.identity,
                &[
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--database-url",
                    &db("identity.db"),
                    "--jwt-issuer",
                    &public_url,
                    "--jwt-audience",
                    AUDIENCE,
                    "--auth-service-url",
                    &auth_url,
                ],
                &logs,
                otlp,
            )?;
            stack.services.push(identity);
            let idx = stack.services.len() - 1;
            stack.wait_tcp(idx, *port).await?;
        }

        let gateway = spawn(
            "scim-gateway",
            "scim-gateway",
            &bins.gateway,
            &[
                "--listen",
                &format!("127.0.0.1:{}", ports.gateway),
                "--public-url",
                &public_url,
                "--identity-url",
                &identity_urls.join(","),
                "--auth-url",
                &auth_url,
                "--jwt-issuer",
                &public_url,
                "--jwt-audience",
                AUDIENCE,
            ],
            &logs,
            otlp,
        )?;
        stack.services.push(gateway);
        let idx = stack.services.len() - 1;
        stack.wait_ready(idx).await?;
        Ok(stack)
    }

    /// The running services, in start order.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Fails with the service's log if it has exited.
    fn check_alive(&mut self, idx: usize, started: Instant) -> Result<(), StackError> {
        let svc = &mut self.services[idx];
        let exited = svc.exited().map_err(io("checking a service"))?;
        if let Some(status) = exited {
            return Err(StackError::NotReady {
                name: svc.name,
                reason: format!("exited with {status}"),
                log: svc.log_tail(),
            });
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(StackError::NotReady {
                name: svc.name,
                reason: format!("not reachable after {START_TIMEOUT:?}"),
                log: svc.log_tail(),
            });
        }
        Ok(())
    }

    /// Waits until the gRPC port accepts connections.
    async fn wait_tcp(&mut self, idx: usize, port: u16) -> Result<(), StackError> {
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            self.check_alive(idx, started)?;
            // A child process gives no readiness signal we can await; poll briefly.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the gateway answers `/readyz` with 200 (both upstreams reachable).
    async fn wait_ready(&mut self, idx: usize) -> Result<(), StackError> {
        let started = Instant::now();
        let host = self.gateway.to_string();
        loop {
            if let Ok(mut conn) = Conn::open(self.gateway).await {
                let req = load::request(Method::GET, &host, "/readyz", None, None);
                if let Ok((status, _)) = conn.send(req).await
                    && status.is_success()
                {
                    return Ok(());
                }
            }
            self.check_alive(idx, started)?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Registers a provider with `scimctl provider create` and returns its credentials.
    pub async fn register_provider(
        &self,
        bins: &Binaries,
        name: &str,
    ) -> Result<Provider, StackError> {
        let out = Command::new(&bins.scimctl)
            .args(["provider", "create", "--name", name, "--output", "json"])
            .arg("--auth-url")
            .arg(&self.auth_url)
            .arg("--identity-url")
            .arg(&self.identity_url)
            .arg("--public-url")
            .arg(&self.public_url)
            .arg("--operator-file")
            .arg(&self.operator_file)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(io("running scimctl provider create"))?;
        if !out.status.success() {
            return Err(StackError::Provider(format!(
                "scimctl exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| StackError::Provider(format!("unexpected output ({e})")))
    }

    /// Stops every service, the gateway first.
    pub async fn stop(mut self) {
        while let Some(svc) = self.services.pop() {
            svc.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_distinct_ports_are_picked() {
        let p = Ports::pick().unwrap();
        assert!(p.auth != p.identity && p.identity != p.gateway && p.auth != p.gateway);
    }

    #[test]
    fn missing_binaries_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Binaries::locate(dir.path()).unwrap_err();
        assert!(err.to_string().contains("auth-service"), "{err}");
    }

    #[tokio::test]
    async fn a_service_that_exits_is_reported_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let svc = spawn(
            "auth-service",
            "auth-service",
            Path::new("/bin/sh"),
            &["-c", "echo boom >&2; exit 3"],
            &logs,
            None,
        )
        .unwrap();
        let mut stack = Stack {
            services: vec![svc],
            gateway: SocketAddr::from(([127, 0, 0, 1], 1)),
            public_url: String::new(),
            auth_url: String::new(),
            identity_url: String::new(),
            operator_file: PathBuf::new(),
            postgres: false,
        };
        // Port 1 is never listening on loopback, so only the exit can end the wait.
        let err = stack.wait_tcp(0, 1).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("exited"), "{text}");
        assert!(text.contains("boom"), "{text}");
    }
}
