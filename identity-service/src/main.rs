//! The identity-service binary: flags, telemetry, token verification, then the server
//! until SIGTERM or Ctrl-C.
//!
//! Once the server accepts connections it prints one line to standard output,
//! `identity-service listening on ADDR`, so a supervisor that started it with port 0
//! learns the address (logs go to standard error).

use std::io::Write as _;

use anyhow::Context as _;
use clap::Parser as _;
use identity_service::{Config, Server, keys};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let _telemetry = scim_telemetry::init("identity-service", &config.telemetry)
        .context("starting telemetry")?;
    // Keys are fetched on the first token, not here: the auth-service may start later,
    // and a failed fetch at start-up would only be noise.
    let verifier = keys::verifier(&config).context("configuring token verification")?;
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
