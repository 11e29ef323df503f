//! Command-line flags and environment variables of the identity-service.

use std::net::SocketAddr;
use std::path::PathBuf;

use scim_telemetry::TelemetryArgs;

use crate::paging::DEFAULT_MAX_PAGE_SIZE;

/// Configuration of one identity-service process. Every flag can also be set through the
/// environment variable shown in `--help`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "identity-service",
    version,
    about = "The directory of the SCIM stack: users, groups and memberships over gRPC (identity.v1)"
)]
pub struct Config {
    /// Address the gRPC server listens on (port 0 picks a free port).
    #[arg(long, env = "IDENTITY_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Database to use: `postgres://…` (or `postgresql://…`) for PostgreSQL, where the
    /// tables live in the schema `identity` and any number of replicas may share the
    /// database; or `sqlite://PATH` or a plain file path for SQLite, whose file and
    /// directory are created when missing.
    #[arg(
        long,
        env = "IDENTITY_DATABASE_URL",
        default_value = "sqlite://./data/identity.db"
    )]
    pub database_url: String,

    /// Number of pooled database connections (SQLite still has one writer at a time; on
    /// PostgreSQL, replicas × this must fit the server's `max_connections`).
    #[arg(long, env = "IDENTITY_DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: u32,

    /// Issuer (`iss` claim) that every access token must carry.
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: String,

    /// Audience (`aud` claim) that every access token must carry.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "scim-stack")]
    pub jwt_audience: String,

    /// gRPC URL of the auth-service (e.g. `http://127.0.0.1:50052`), or its replicas'
    /// URLs separated by commas: verification keys are fetched from it and token
    /// revocations polled from it.
    #[arg(long, env = "AUTH_SERVICE_URL")]
    pub auth_service_url: Option<String>,

    /// JSON file with pinned verification keys, `[{"kid": "...", "x": "<base64url Ed25519 key>"}]`.
    /// When set, keys are not fetched from the auth-service (revocations still are).
    #[arg(long, env = "JWT_PUBLIC_KEYS_FILE")]
    pub jwt_public_keys_file: Option<PathBuf>,

    /// Largest page a list returns; a larger requested `count` is capped to it.
    #[arg(
        long,
        env = "IDENTITY_MAX_PAGE_SIZE",
        default_value_t = DEFAULT_MAX_PAGE_SIZE,
        value_parser = clap::value_parser!(i64).range(1..=10_000)
    )]
    pub max_page_size: i64,

    /// Logging.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory as _, Parser as _};

    #[test]
    fn flags_are_consistent_and_defaults_apply() {
        Config::command().debug_assert();
        let c =
            Config::try_parse_from(["identity-service", "--jwt-issuer", "https://issuer"]).unwrap();
        assert_eq!(c.jwt_audience, "scim-stack");
        assert_eq!(c.max_page_size, DEFAULT_MAX_PAGE_SIZE);
    }

    #[test]
    fn page_size_is_bounded() {
        let r = Config::try_parse_from([
            "identity-service",
            "--jwt-issuer",
            "i",
            "--max-page-size",
            "0",
        ]);
        assert!(r.is_err());
    }
}
