//! `scimctl up`: the whole stack in one process, for one machine.
//!
//! The three services run as they do on their own (each is a library with a thin
//! `main`), talking gRPC over loopback, each on a Tokio runtime of its own whose threads
//! use the service's own tracing subscriber ([`ServiceRuntime`]), so that its spans are
//! exported under its own `service.name`; with SQLite files in the data directory, or with
//! `--database-url postgres://…` in one PostgreSQL database (identity-service's tables
//! in the schema `identity`, auth-service's in `auth`). The auth-service creates the
//! operator credentials on first start; `stack.json` tells the other `scimctl` commands
//! where the services listen.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;

use crate::client::{OPERATOR_FILE, STACK_FILE, StackInfo};

/// `scimctl up` flags.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Directory for the SQLite files and the operator credentials.
    #[arg(long, env = "SCIMCTL_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Run both services on this PostgreSQL database (`postgres://…` or
    /// `postgresql://…`) instead of SQLite files in the data directory, each service in a
    /// schema of its own. The data directory still holds the operator credentials.
    #[arg(long, env = "SCIMCTL_DATABASE_URL")]
    database_url: Option<String>,
    /// The gateway's HTTP address.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The URL administrators and IdPs use to reach the gateway (default http://LISTEN).
    #[arg(long, env = "PUBLIC_URL")]
    public_url: Option<String>,
    /// identity-service gRPC address.
    #[arg(long, env = "IDENTITY_LISTEN", default_value = "127.0.0.1:50051")]
    identity_listen: SocketAddr,
    /// auth-service gRPC address.
    #[arg(long, env = "AUTH_LISTEN", default_value = "127.0.0.1:50052")]
    auth_listen: SocketAddr,
    /// PEM certificate chain: the gateway serves HTTPS (Okta accepts only HTTPS base URLs).
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for `--tls-cert`.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate made at start-up (development only).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls_self_signed: bool,
    /// Logging options.
    #[command(flatten)]
    telemetry: scim_telemetry::TelemetryArgs,
}

fn path_str(p: &Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_owned)
        .with_context(|| format!("{} is not valid UTF-8", p.display()))
}

pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}

/// Runs the stack until Ctrl-C or SIGTERM.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let _telemetry = scim_telemetry::init("scimctl", &args.telemetry)?;
    create_private_dir(&args.data_dir)?;
    let dir = args.data_dir.canonicalize()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| {
            let tls = args.tls_cert.is_some() || args.tls_self_signed;
            format!("{}://{}", if tls { "https" } else { "http" }, args.listen)
        })
        .trim_end_matches('/')
        .to_owned();
    let issuer = public_url.clone();
    let audience = "scim-stack".to_owned();
    let (identity_db, auth_db) = match &args.database_url {
        Some(url) => match scim_storage::DatabaseUrl::parse(url)? {
            scim_storage::DatabaseUrl::Postgres(_) => (url.clone(), url.clone()),
            scim_storage::DatabaseUrl::Sqlite(_) => anyhow::bail!(
                "--database-url takes a PostgreSQL URL (postgres://…); \
                 SQLite files live in --data-dir without it"
            ),
        },
        None => (
            path_str(&dir.join("identity.db"))?,
            path_str(&dir.join("auth.db"))?,
        ),
    };

    let auth_config = auth_service::Config::parse_from([
        "auth-service",
        "--listen",
        &args.auth_listen.to_string(),
        "--database-url",
        &auth_db,
        "--issuer",
        &issuer,
        "--audience",
        &audience,
        "--bootstrap-admin-file",
        &path_str(&dir.join(OPERATOR_FILE))?,
    ]);
    let auth_rt = ServiceRuntime::start("auth-service", &args.telemetry)?;
    let identity_rt = ServiceRuntime::start("identity-service", &args.telemetry)?;
    let gateway_rt = ServiceRuntime::start("scim-gateway", &args.telemetry)?;

    let auth = auth_rt
        .spawn(auth_service::Server::build(auth_config))
        .await?
        .context("starting auth-service")?;
    let auth_url = format!("http://{}", auth.local_addr());

    let identity_config = identity_service::Config::parse_from([
        "identity-service",
        "--listen",
        &args.identity_listen.to_string(),
        "--database-url",
        &identity_db,
        "--jwt-issuer",
        &issuer,
        "--jwt-audience",
        &audience,
    ]);
    let verifier = {
        let (auth_url, issuer, audience) = (auth_url.clone(), issuer.clone(), audience.clone());
        // Called on the runtime of the service that verifies, so the key refreshes and
        // their spans belong to it.
        move || -> anyhow::Result<_> {
            let channel = tonic::transport::Endpoint::from_shared(auth_url.clone())?.connect_lazy();
            Ok(scim_authn::remote::remote_verifier(
                channel,
                issuer.clone(),
                audience.clone(),
                Duration::from_secs(2),
            ))
        }
    };
    let identity = identity_rt
        .spawn({
            let verifier = verifier.clone();
            async move {
                let verifier = verifier()?;
                identity_service::Server::build(identity_config, verifier)
                    .await
                    .context("starting identity-service")
            }
        })
        .await??;
    let identity_url = format!("http://{}", identity.local_addr());

    let mut gateway_config =
        scim_gateway::Config::for_tests(identity_url.clone(), auth_url.clone());
    gateway_config.listen = args.listen;
    gateway_config.public_url = Some(public_url.clone());
    gateway_config.jwt_issuer = Some(issuer.clone());
    gateway_config.jwt_audience = audience.clone();
    gateway_config.tls_cert = args.tls_cert.clone();
    gateway_config.tls_key = args.tls_key.clone();
    gateway_config.tls_self_signed = args.tls_self_signed;
    let gateway = gateway_rt
        .spawn(async move {
            let verifier = verifier()?;
            scim_gateway::Server::build(&gateway_config, verifier)
                .await
                .context("starting scim-gateway")
        })
        .await??;

    let stack = StackInfo {
        identity_url,
        auth_url,
        public_url,
    };
    std::fs::write(dir.join(STACK_FILE), serde_json::to_vec_pretty(&stack)?)
        .context("writing stack.json")?;

    if let Some(pem) = gateway.self_signed_certificate() {
        let path = dir.join("gateway-self-signed.pem");
        std::fs::write(&path, pem).context("writing the self-signed certificate")?;
        println!(
            "self-signed certificate: {} (development only)",
            path.display()
        );
    }
    println!("SCIM base URL:  {}", stack.scim_base_url());
    println!("token URL:      {}", stack.token_url());
    println!("data directory: {}", dir.display());
    println!(
        "register an IdP with: scimctl provider create --name okta --data-dir {}",
        args.data_dir.display()
    );
    println!("stop with Ctrl-C");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let auth_task = auth_rt.spawn(auth.run_until(stopped()));
    let identity_task = identity_rt.spawn(identity.run_until(stopped()));
    let gateway_task = gateway_rt.spawn(gateway.run_until(stopped()));

    scim_telemetry::shutdown_signal().await;
    println!("stopping…");
    let _ = stop_tx.send(true);
    let (a, i, g) = tokio::join!(auth_task, identity_task, gateway_task);
    let _ = std::fs::remove_file(dir.join(STACK_FILE));
    for rt in [gateway_rt, identity_rt, auth_rt] {
        rt.stop();
    }
    a.context("auth-service task")?.context("auth-service")?;
    i.context("identity-service task")?
        .context("identity-service")?;
    g.context("gateway task")?.context("scim-gateway")?;
    println!("stopped");
    Ok(())
}

/// One service of the stack on a Tokio runtime of its own, every thread of which
/// (workers and blocking pool) has the service's own tracing subscriber as its default.
///
/// A subscriber exports under one `service.name`, and `tracing` picks the subscriber by
/// thread; a service keeps to its runtime's threads (its one writer thread carries its
/// subscriber along), so its spans, and only its spans, reach its own tracer provider,
/// as when it runs as its own binary. The services still talk to each other over
/// loopback gRPC, so trace context crosses between them as it does between processes.
struct ServiceRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    telemetry: Option<scim_telemetry::TelemetryGuard>,
}

impl ServiceRuntime {
    /// Starts the runtime of `name`, with its subscriber built from `telemetry`.
    ///
    /// Called on scimctl's own runtime, where the span exporter's connection then
    /// lives: it outlasts the service runtimes, so the last spans are still delivered
    /// when they stop.
    fn start(
        name: &'static str,
        telemetry: &scim_telemetry::TelemetryArgs,
    ) -> anyhow::Result<Self> {
        let (dispatch, guard) = scim_telemetry::dispatch(name, telemetry)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name(name)
            .enable_all()
            .on_thread_start(move || {
                // Kept for the thread's whole life: dropping the guard would put the
                // global (scimctl's) subscriber back.
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            })
            .build()
            .with_context(|| format!("starting the runtime of {name}"))?;
        Ok(ServiceRuntime {
            runtime: Some(runtime),
            telemetry: Some(guard),
        })
    }

    /// Runs `task` on this runtime.
    fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime
            .as_ref()
            .expect("a running runtime")
            .spawn(task)
    }

    /// Flushes the service's spans, then stops its runtime without waiting for tasks
    /// that are still parked (the services have stopped serving by now).
    fn stop(mut self) {
        if let Some(guard) = self.telemetry.take() {
            // Shutting the tracer provider down waits for its last export.
            tokio::task::block_in_place(|| drop(guard));
        }
    }
}

impl Drop for ServiceRuntime {
    fn drop(&mut self) {
        // A runtime may not be dropped on another runtime's thread the blocking way,
        // as it is here when start-up fails part-way.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
