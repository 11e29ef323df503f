//! Command-line flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How the auth-service runs. Every flag has an environment variable of the same
/// meaning; flags win.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "auth-service",
    version,
    about = "OAuth providers, client_credentials JWT access tokens, signing keys, introspection and revocation (gRPC auth.v1)"
)]
pub struct Config {
    /// Address the gRPC server listens on (port 0 picks a free port).
    #[arg(long, env = "AUTH_LISTEN", default_value = "127.0.0.1:50052")]
    pub listen: SocketAddr,

    /// Database: `postgres://…` (or `postgresql://…`) for PostgreSQL, where the tables
    /// live in the schema `auth`; or `sqlite://PATH`, `sqlite:PATH` or a plain file path
    /// for SQLite, whose file and directory are created on first start.
    #[arg(
        long,
        env = "AUTH_DATABASE_URL",
        default_value = "sqlite://./data/auth.db"
    )]
    pub database_url: String,

    /// `iss` of every token, and the issuer verifiers must expect: the public base URL
    /// of the gateway.
    #[arg(long, env = "AUTH_ISSUER", default_value = "http://127.0.0.1:8080")]
    pub issuer: String,

    /// `aud` of every token, and the audience verifiers must expect.
    #[arg(long, env = "AUTH_AUDIENCE", default_value = "scim-stack")]
    pub audience: String,

    /// On first start, register an `operator` provider (scopes admin, scim:read,
    /// scim:write) and write its `{"client_id", "client_secret"}` to this file, readable
    /// by its owner only. Nothing happens if the file exists.
    #[arg(long, env = "AUTH_BOOTSTRAP_ADMIN_FILE")]
    pub bootstrap_admin_file: Option<PathBuf>,

    /// Seconds between reloads of providers, keys and revocations from the database
    /// (changes made by other replicas sharing it become visible within this time).
    #[arg(long, env = "AUTH_CACHE_REFRESH_SECONDS", default_value_t = 5)]
    pub cache_refresh_seconds: u64,

    /// Logging.
    #[command(flatten)]
    pub telemetry: scim_telemetry::TelemetryArgs,
}

impl Config {
    /// The defaults with the database at `database` (tests, embedding).
    pub fn with_database(database: impl Into<String>) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database.into(),
            issuer: "http://127.0.0.1:8080".into(),
            audience: "scim-stack".into(),
            bootstrap_admin_file: None,
            cache_refresh_seconds: 5,
            telemetry: scim_telemetry::TelemetryArgs::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn flags_parse_and_help_renders() {
        let c = Config::try_parse_from([
            "auth-service",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite:///tmp/x.db",
            "--bootstrap-admin-file",
            "/tmp/admin.json",
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.database_url, "sqlite:///tmp/x.db");
        assert!(c.bootstrap_admin_file.is_some());
        use clap::CommandFactory as _;
        Config::command().debug_assert();
    }
}
