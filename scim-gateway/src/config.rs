//! Gateway configuration: flags with environment-variable equivalents.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything the gateway needs to start.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "scim-gateway",
    version,
    about = "SCIM 2.0 and OAuth HTTP gateway"
)]
pub struct Config {
    /// Address the HTTP(S) listener binds to.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The URL clients use to reach this gateway (scheme, host, port, optional path
    /// prefix), used in `Location`, `meta.location` and OAuth metadata. Defaults to
    /// `http(s)://<listen>`.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// gRPC URL of the identity-service, or the URLs of its replicas separated by
    /// commas: requests are balanced over the replicas that pass their health checks.
    #[arg(
        long,
        env = "IDENTITY_SERVICE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub identity_url: String,

    /// gRPC URL of the auth-service, or the URLs of its replicas separated by commas.
    #[arg(
        long,
        env = "AUTH_SERVICE_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub auth_url: String,

    /// Issuer that access tokens must carry (the auth-service's `--issuer`).
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Audience that access tokens must carry (the auth-service's `--audience`).
    #[arg(long, env = "JWT_AUDIENCE", default_value = "scim-stack")]
    pub jwt_audience: String,

    /// Seconds between two polls of the auth-service's revocation list.
    #[arg(long, env = "REVOCATION_POLL_SECS", default_value_t = 2)]
    pub revocation_poll_secs: u64,

    /// PEM certificate chain for HTTPS. With `--tls-key`, the listener speaks TLS.
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for HTTPS.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a self-signed certificate made at start-up (development only;
    /// IdPs will not trust it).
    #[arg(long, env = "TLS_SELF_SIGNED", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls_self_signed: bool,

    /// Largest request body accepted, in bytes (larger bodies get 413).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Connections served at once; further clients wait in the listen backlog until one
    /// closes, which an idle or slow one does within `--header-read-timeout-secs`.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 2048)]
    pub max_connections: usize,

    /// Seconds a client may take to send a request's headers; also how long a kept-alive
    /// HTTP/1.1 connection may sit idle between requests. Then the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// Seconds a request body may take to arrive in full; a slower one is refused (400).
    #[arg(long, env = "BODY_READ_TIMEOUT_SECS", default_value_t = 30)]
    pub body_read_timeout_secs: u64,

    /// Page size when a list request names no `count`.
    #[arg(long, env = "DEFAULT_PAGE_SIZE", default_value_t = 100)]
    pub default_page_size: i64,

    /// Largest page a list request gets; larger `count`s are capped to it.
    #[arg(long, env = "MAX_PAGE_SIZE", default_value_t = 1000)]
    pub max_page_size: i64,

    /// Groups with more members than this answer a membership PATCH with 204 instead
    /// of serialising every member.
    #[arg(long, env = "GROUP_PATCH_BODY_LIMIT", default_value_t = 1000)]
    pub group_patch_body_limit: i64,

    /// Requests per second each provider (OAuth client) may make through this gateway
    /// (each replica counts its own); 0 turns the limit off.
    /// Excess requests get 429 with an integer `Retry-After`.
    #[arg(long, env = "RATE_LIMIT_PER_PROVIDER", default_value_t = 0)]
    pub rate_limit_per_provider: u32,

    /// Seconds an upstream gRPC call may take before the request fails with 503.
    #[arg(long, env = "UPSTREAM_TIMEOUT_SECS", default_value_t = 30)]
    pub upstream_timeout_secs: u64,

    /// Logging options.
    #[command(flatten)]
    pub telemetry: scim_telemetry::TelemetryArgs,
}

impl Config {
    /// The public URL without a trailing slash.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.tls_enabled() { "https" } else { "http" };
                format!("{scheme}://{bound}")
            }
        }
    }

    /// Whether the listener speaks TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert.is_some() || self.tls_self_signed
    }

    /// The issuer tokens must carry: explicit, or the public URL.
    pub fn issuer(&self, bound: SocketAddr) -> String {
        self.jwt_issuer
            .clone()
            .unwrap_or_else(|| self.public_url(bound))
    }

    /// A configuration for tests: port 0 and the given upstreams.
    pub fn for_tests(identity_url: String, auth_url: String) -> Self {
        use clap::Parser as _;
        let mut c = Config::parse_from(["scim-gateway", "--listen", "127.0.0.1:0"]);
        c.identity_url = identity_url;
        c.auth_url = auth_url;
        c
    }
}
