//! The identity-service binary: flags, telemetry, token verification, then the server
//! until SIGTERM or Ctrl-C.
//!
//! Once the server accepts connections it prints one line to standard output,
//! `identity-service listening on ADDR`, so a supervisor that started it with port 0
//! learns the address (logs go to standard error).

use std::io::Write as _;

use anyhow::Context as _;
use clap::Parser as _;
use identity_service::{Config, Server, verifier};

/// mimalloc (built without transparent huge pages, which had inflated its resident
/// memory several times over): about a tenth less CPU than glibc's malloc on the
/// request paths, for the same footprint (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    // Database work runs on the blocking pool, and a blocking thread can only work while
    // it holds one of the pool's connections: more threads than connections just wait,
    // each keeping its own allocator heap alive. The few extra threads are for password
    // hashing, which waits for no connection.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(config.db_pool_size.max(1) as usize + 4)
        .build()
        .context("starting the runtime")?
        .block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _telemetry = scim_telemetry::init("identity-service", &config.telemetry)
        .context("starting telemetry")?;
    // Keys are fetched on the first token, not here: the auth-service may start later,
    // and a failed fetch at start-up would only be noise.
    let verifier = verifier::from_config(&config).context("configuring token verification")?;
    let server = Server::build(config, verifier)
        .await
        .context("starting the server")?;
    let addr = server.local_addr();
    tracing::info!(%addr, "identity-service ready");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "identity-service listening on {addr}").context("writing to stdout")?;
    stdout.flush().context("writing to stdout")?;
    drop(stdout);
    server
        .run_until(scim_telemetry::shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("identity-service stopped");
    Ok(())
}
