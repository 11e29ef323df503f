//! The auth-service binary: flags, telemetry, serve until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Parser as _;

/// mimalloc (built without transparent huge pages, which had inflated its resident
/// memory several times over): about a tenth less CPU than glibc's malloc on the
/// request paths, for the same footprint (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = auth_service::Config::parse();
    let _telemetry =
        scim_telemetry::init("auth-service", &config.telemetry).context("starting telemetry")?;
    let server = auth_service::Server::build(config)
        .await
        .context("starting the auth-service")?;
    server
        .run_until(scim_telemetry::shutdown_signal())
        .await
        .context("serving")?;
    Ok(())
}
