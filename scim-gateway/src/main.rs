//! `scim-gateway`: the SCIM 2.0 and OAuth HTTP gateway.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use scim_gateway::{Config, Server};

/// mimalloc (built without transparent huge pages, which had inflated its resident
/// memory several times over): about a tenth less CPU than glibc's malloc on the
/// request paths, for the same footprint (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let _telemetry = scim_telemetry::init("scim-gateway", &config.telemetry)?;
    let auth_channel = scim_gateway::upstream::channel(
        &config.auth_url,
        Duration::from_secs(config.upstream_timeout_secs),
    )?;
    let issuer = config.issuer(config.listen);
    let verifier = scim_authn::remote::remote_verifier(
        auth_channel,
        issuer,
        config.jwt_audience.clone(),
        Duration::from_secs(config.revocation_poll_secs.max(1)),
    );
    let server = Server::build(&config, verifier)
        .await
        .context("starting the gateway")?;
    tracing::info!(addr = %server.local_addr(), public_url = %server.public_url(), "scim-gateway listening");
    server.run_until(scim_telemetry::shutdown_signal()).await?;
    tracing::info!("scim-gateway stopped");
    Ok(())
}
