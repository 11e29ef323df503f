//! Finding the running stack and authenticating as its operator.
//!
//! `scimctl up` writes two files into the data directory: `operator.json` (operator
//! client credentials, mode 0600, created by the auth-service on first start) and
//! `stack.json` (the addresses of the running services). Every other command reads them,
//! unless `--auth-url`/`--identity-url` and `--operator-file` say otherwise.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use scim_proto::auth::v1::IssueTokenRequest;
use scim_proto::auth::v1::auth_service_client::AuthServiceClient;
use scim_proto::identity::v1::identity_service_client::IdentityServiceClient;
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

/// Name of the operator credentials file inside the data directory.
pub const OPERATOR_FILE: &str = "operator.json";
/// Name of the running-stack description inside the data directory.
pub const STACK_FILE: &str = "stack.json";

/// Where the services of a running stack listen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackInfo {
    /// identity-service gRPC URL.
    pub identity_url: String,
    /// auth-service gRPC URL.
    pub auth_url: String,
    /// The gateway's public URL.
    pub public_url: String,
}

impl StackInfo {
    /// `{public_url}/scim/v2`.
    pub fn scim_base_url(&self) -> String {
        format!("{}/scim/v2", self.public_url)
    }

    /// `{public_url}/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.public_url)
    }
}

#[derive(Debug, Deserialize)]
struct OperatorCredentials {
    client_id: String,
    client_secret: String,
}

/// Connection flags shared by every command that talks to a running stack.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Data directory of the stack started with `scimctl up`.
    #[arg(long, env = "SCIMCTL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// auth-service gRPC URL (default: from the data directory's stack.json).
    #[arg(long, env = "AUTH_SERVICE_URL")]
    pub auth_url: Option<String>,
    /// identity-service gRPC URL (default: from the data directory's stack.json).
    #[arg(long, env = "IDENTITY_SERVICE_URL")]
    pub identity_url: Option<String>,
    /// Gateway public URL, for the URLs printed to administrators.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Operator credentials file (default: DATA_DIR/operator.json).
    #[arg(long, env = "SCIMCTL_OPERATOR_FILE")]
    pub operator_file: Option<PathBuf>,
}

impl ConnectArgs {
    /// The stack's addresses, from flags or from stack.json.
    pub fn stack(&self) -> anyhow::Result<StackInfo> {
        let from_file = read_stack(&self.data_dir);
        let pick = |flag: &Option<String>,
                    file: Option<&str>,
                    what: &str|
         -> anyhow::Result<String> {
            match (flag, file) {
                (Some(f), _) => Ok(f.trim_end_matches('/').to_owned()),
                (None, Some(f)) => Ok(f.to_owned()),
                (None, None) => bail!(
                    "cannot find the {what}: start the stack with `scimctl up --data-dir {}` or pass --{}",
                    self.data_dir.display(),
                    what.replace(' ', "-")
                ),
            }
        };
        let file = from_file.as_ref();
        Ok(StackInfo {
            identity_url: pick(
                &self.identity_url,
                file.map(|s| s.identity_url.as_str()),
                "identity url",
            )?,
            auth_url: pick(
                &self.auth_url,
                file.map(|s| s.auth_url.as_str()),
                "auth url",
            )?,
            public_url: pick(
                &self.public_url,
                file.map(|s| s.public_url.as_str()),
                "public url",
            )?,
        })
    }

    fn operator_path(&self) -> PathBuf {
        self.operator_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(OPERATOR_FILE))
    }

    /// An auth.v1 client.
    pub async fn auth(&self) -> anyhow::Result<AuthServiceClient<Channel>> {
        let url = self.stack()?.auth_url;
        let channel = connect(&url).await?;
        Ok(AuthServiceClient::new(channel))
    }

    /// An identity.v1 client.
    pub async fn identity(&self) -> anyhow::Result<IdentityServiceClient<Channel>> {
        let url = self.stack()?.identity_url;
        let channel = connect(&url).await?;
        Ok(IdentityServiceClient::new(channel))
    }

    /// An operator access token (admin, scim:read, scim:write).
    pub async fn operator_token(&self) -> anyhow::Result<String> {
        let path = self.operator_path();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read operator credentials from {} (they are created by `scimctl up` on first start)",
                path.display()
            )
        })?;
        let creds: OperatorCredentials = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid", path.display()))?;
        let mut auth = self.auth().await?;
        let token = auth
            .issue_token(IssueTokenRequest {
                client_id: creds.client_id,
                client_secret: creds.client_secret,
                scope: String::new(),
                ttl_seconds: 300,
            })
            .await
            .map_err(|s| {
                anyhow::anyhow!(
                    "the auth-service refused the operator credentials: {}",
                    s.message()
                )
            })?;
        Ok(token.into_inner().access_token)
    }
}

/// Connects a channel, with an error that says what to check.
pub async fn connect(url: &str) -> anyhow::Result<Channel> {
    Channel::from_shared(url.to_owned())
        .with_context(|| format!("invalid URL {url}"))?
        .connect()
        .await
        .with_context(|| format!("cannot reach {url}: is the stack running (`scimctl up`)?"))
}

/// Reads `stack.json` from a data directory, if present.
pub fn read_stack(dir: &Path) -> Option<StackInfo> {
    let text = std::fs::read_to_string(dir.join(STACK_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// A request carrying a bearer token.
pub fn authed<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.metadata_mut().insert("authorization", v);
    }
    req
}

/// Turns a gRPC status into an operator-facing error.
pub fn status_error(action: &str, s: tonic::Status) -> anyhow::Error {
    let hint = match s.code() {
        tonic::Code::NotFound => " (check the id with the matching `list` command)",
        tonic::Code::Unavailable => " (is the stack running? start it with `scimctl up`)",
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => {
            " (the operator credentials were refused; check operator.json)"
        }
        _ => "",
    };
    anyhow::anyhow!("{action} failed: {}{hint}", s.message())
}
