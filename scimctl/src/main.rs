//! `scimctl`: the operator CLI. It runs the whole stack on one machine, registers
//! providers, mints tokens, rotates keys and shows what the IdPs provisioned. It holds no
//! business logic: everything is a gRPC call to the services, except `db copy`, which
//! moves a stopped directory between backends with the services' own storage code.

mod client;
mod db;
mod directory;
mod output;
mod provider;
mod up;

use clap::{Parser, Subcommand};

/// Operator CLI of the SCIM provisioning stack.
#[derive(Debug, Parser)]
#[command(name = "scimctl", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run identity-service, auth-service and the gateway on this machine.
    Up(up::UpArgs),
    /// Register and manage providers (one per IdP integration).
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Mint an access token for a provider, as the token endpoint would.
    Token(provider::TokenArgs),
    /// Signing keys.
    #[command(subcommand)]
    Keys(provider::KeysCommand),
    /// Users in the directory (the operator's tenant).
    #[command(subcommand)]
    Users(directory::UsersCommand),
    /// Groups in the directory (the operator's tenant).
    #[command(subcommand)]
    Groups(directory::GroupsCommand),
    /// Databases: move a directory between SQLite and PostgreSQL.
    #[command(subcommand)]
    Db(db::DbCommand),
}

/// mimalloc (built without transparent huge pages, which had inflated its resident
/// memory several times over): about a tenth less CPU than glibc's malloc on the
/// request paths, for the same footprint (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Provider(cmd) => provider::run(cmd).await,
        Command::Token(args) => provider::token(args).await,
        Command::Keys(cmd) => provider::keys(cmd).await,
        Command::Users(cmd) => directory::users(cmd).await,
        Command::Groups(cmd) => directory::groups(cmd).await,
        Command::Db(cmd) => db::run(cmd).await,
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
