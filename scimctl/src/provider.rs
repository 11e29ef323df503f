//! `scimctl provider …`, `scimctl token`, `scimctl keys rotate`.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use scim_proto::auth::v1 as pb;
use serde_json::json;

use crate::client::{ConnectArgs, authed, status_error};
use crate::output::{self, Output};

/// Provider commands.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Register a provider and print what the IdP administrator pastes into the IdP.
    Create(CreateArgs),
    /// List providers.
    List(ListArgs),
    /// Show one provider.
    Show(IdArgs),
    /// Issue a new client secret; the old one keeps working for the grace period.
    RotateSecret(RotateArgs),
    /// Disable a provider and revoke all its tokens.
    Disable(IdArgs),
    /// Delete a provider and revoke all its tokens.
    Delete(IdArgs),
}

/// `provider create` flags.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name for the integration, e.g. "okta-prod".
    #[arg(long)]
    name: String,
    /// Tenant whose directory the provider writes to.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// Allowed scopes (repeat the flag); default scim:read and scim:write.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Longest token lifetime the provider may request (e.g. 365d, 12h); default one
    /// year, because Okta's header mode never refreshes its token.
    #[arg(long)]
    max_ttl: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

/// `provider list` flags.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

/// Flags of commands on one provider.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The provider's client id.
    client_id: String,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

/// `provider rotate-secret` flags.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The provider's client id.
    client_id: String,
    /// How long the old secret keeps working (e.g. 30m, 24h; a bare number is minutes).
    #[arg(long, default_value = "24h")]
    grace: String,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

/// `scimctl token` flags.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The provider's client id.
    #[arg(long, env = "SCIM_CLIENT_ID")]
    client_id: String,
    /// The provider's client secret (prefer the environment variable).
    #[arg(long, env = "SCIM_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    /// Lifetime: a bare number is minutes; 30s, 15m, 12h, 90d are accepted.
    #[arg(long)]
    ttl: Option<String>,
    /// Space-separated scopes; default all the provider may have.
    #[arg(long, default_value = "")]
    scope: String,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output format (table prints only the token).
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing with the published next key and publish a new next key.
    Rotate(ListArgs),
}

/// Parses a duration: bare number = minutes; s, m, h, d suffixes.
fn parse_duration(raw: &str) -> anyhow::Result<i64> {
    scim_gateway::routes::oauth::parse_ttl(raw).with_context(|| {
        format!("`{raw}` is not a duration: use e.g. 90 (minutes), 30s, 15m, 12h, 90d")
    })
}

fn provider_json(p: &pb::Provider) -> serde_json::Value {
    json!({
        "client_id": p.client_id,
        "name": p.name,
        "tenant": p.tenant,
        "allowed_scopes": p.allowed_scopes,
        "max_token_ttl_seconds": p.max_token_ttl_seconds,
        "default_token_ttl_seconds": p.default_token_ttl_seconds,
        "disabled": p.disabled,
        "created": output::time(p.created.as_ref()),
        "previous_secret_expires": output::time(p.previous_secret_expires.as_ref()),
    })
}

fn print_provider(p: &pb::Provider, out: Output) {
    match out {
        Output::Json => output::json(&provider_json(p)),
        Output::Table => output::table(
            &[
                "CLIENT ID",
                "NAME",
                "TENANT",
                "SCOPES",
                "MAX TTL",
                "DISABLED",
                "CREATED",
            ],
            &[row(p)],
        ),
    }
}

fn row(p: &pb::Provider) -> Vec<String> {
    vec![
        p.client_id.clone(),
        p.name.clone(),
        p.tenant.clone(),
        p.allowed_scopes.join(" "),
        format!("{}s", p.max_token_ttl_seconds),
        p.disabled.to_string(),
        output::time(p.created.as_ref()),
    ]
}

/// Runs a provider command.
pub async fn run(cmd: ProviderCommand) -> anyhow::Result<()> {
    match cmd {
        ProviderCommand::Create(a) => create(a).await,
        ProviderCommand::List(a) => {
            let token = a.connect.operator_token().await?;
            let list = a
                .connect
                .auth()
                .await?
                .list_providers(authed(pb::ListProvidersRequest {}, &token))
                .await
                .map_err(|s| status_error("listing providers", s))?
                .into_inner();
            match a.output {
                Output::Json => output::json(&json!(
                    list.providers.iter().map(provider_json).collect::<Vec<_>>()
                )),
                Output::Table => output::table(
                    &[
                        "CLIENT ID",
                        "NAME",
                        "TENANT",
                        "SCOPES",
                        "MAX TTL",
                        "DISABLED",
                        "CREATED",
                    ],
                    &list.providers.iter().map(row).collect::<Vec<_>>(),
                ),
            }
            Ok(())
        }
        ProviderCommand::Show(a) => {
            let token = a.connect.operator_token().await?;
            let p = a
                .connect
                .auth()
                .await?
                .get_provider(authed(
                    pb::GetProviderRequest {
                        client_id: a.client_id,
                    },
                    &token,
                ))
                .await
                .map_err(|s| status_error("showing the provider", s))?
                .into_inner();
            print_provider(&p, a.output);
            Ok(())
        }
        ProviderCommand::RotateSecret(a) => {
            let token = a.connect.operator_token().await?;
            let grace = parse_duration(&a.grace)?;
            let r = a
                .connect
                .auth()
                .await?
                .rotate_provider_secret(authed(
                    pb::RotateProviderSecretRequest {
                        client_id: a.client_id,
                        grace_seconds: grace,
                    },
                    &token,
                ))
                .await
                .map_err(|s| status_error("rotating the secret", s))?
                .into_inner();
            let p = r.provider.unwrap_or_default();
            match a.output {
                Output::Json => output::json(&json!({
                    "client_id": p.client_id,
                    "client_secret": r.client_secret,
                    "previous_secret_expires": output::time(p.previous_secret_expires.as_ref()),
                })),
                Output::Table => {
                    println!("client id:      {}", p.client_id);
                    println!("client secret:  {}   (shown once)", r.client_secret);
                    println!(
                        "old secret valid until {}",
                        output::time(p.previous_secret_expires.as_ref())
                    );
                }
            }
            Ok(())
        }
        ProviderCommand::Disable(a) => {
            let token = a.connect.operator_token().await?;
            let p = a
                .connect
                .auth()
                .await?
                .disable_provider(authed(
                    pb::DisableProviderRequest {
                        client_id: a.client_id,
                    },
                    &token,
                ))
                .await
                .map_err(|s| status_error("disabling the provider", s))?
                .into_inner();
            print_provider(&p, a.output);
            Ok(())
        }
        ProviderCommand::Delete(a) => {
            let token = a.connect.operator_token().await?;
            a.connect
                .auth()
                .await?
                .delete_provider(authed(
                    pb::DeleteProviderRequest {
                        client_id: a.client_id.clone(),
                    },
                    &token,
                ))
                .await
                .map_err(|s| status_error("deleting the provider", s))?;
            match a.output {
                Output::Json => output::json(&json!({"deleted": a.client_id})),
                Output::Table => {
                    println!("deleted provider {}; its tokens are revoked", a.client_id)
                }
            }
            Ok(())
        }
    }
}

async fn create(a: CreateArgs) -> anyhow::Result<()> {
    let stack = a.connect.stack()?;
    let token = a.connect.operator_token().await?;
    let max_ttl = a
        .max_ttl
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .unwrap_or(0);
    let r = a
        .connect
        .auth()
        .await?
        .create_provider(authed(
            pb::CreateProviderRequest {
                name: a.name,
                tenant: a.tenant,
                allowed_scopes: a.scopes,
                max_token_ttl_seconds: max_ttl,
                default_token_ttl_seconds: 0,
            },
            &token,
        ))
        .await
        .map_err(|s| status_error("creating the provider", s))?
        .into_inner();
    let p = r.provider.unwrap_or_default();
    match a.output {
        Output::Json => output::json(&json!({
            "client_id": p.client_id,
            "client_secret": r.client_secret,
            "scim_base_url": stack.scim_base_url(),
            "token_url": stack.token_url(),
        })),
        Output::Table => {
            println!("provider \"{}\" created in tenant \"{}\"", p.name, p.tenant);
            println!("  client id:      {}", p.client_id);
            println!(
                "  client secret:  {}   (shown once: store it now)",
                r.client_secret
            );
            println!("  SCIM base URL:  {}", stack.scim_base_url());
            println!("  token URL:      {}", stack.token_url());
            println!();
            println!("mint a token for the IdP (ttl in minutes, or 30s/12h/90d):");
            println!(
                "  curl -d \"grant_type=client_credentials&client_id={}&client_secret=SECRET&ttl=60\" {}",
                p.client_id,
                stack.token_url()
            );
        }
    }
    Ok(())
}

/// `scimctl token`.
pub async fn token(a: TokenArgs) -> anyhow::Result<()> {
    let ttl = a
        .ttl
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .unwrap_or(0);
    let r = a
        .connect
        .auth()
        .await?
        .issue_token(pb::IssueTokenRequest {
            client_id: a.client_id,
            client_secret: a.client_secret,
            scope: a.scope,
            ttl_seconds: ttl,
        })
        .await
        .map_err(|s| status_error("minting the token", s))?
        .into_inner();
    match a.output {
        Output::Json => output::json(&json!({
            "access_token": r.access_token,
            "token_type": r.token_type,
            "expires_in": r.expires_in,
            "scope": r.scope,
        })),
        Output::Table => println!("{}", r.access_token),
    }
    Ok(())
}

/// `scimctl keys …`.
pub async fn keys(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate(a) => {
            let token = a.connect.operator_token().await?;
            let r = a
                .connect
                .auth()
                .await?
                .rotate_signing_key(authed(pb::RotateSigningKeyRequest {}, &token))
                .await
                .map_err(|s| status_error("rotating the signing key", s))?
                .into_inner();
            match a.output {
                Output::Json => {
                    output::json(&json!({"current_kid": r.current_kid, "next_kid": r.next_kid}))
                }
                Output::Table => {
                    println!("signing with key {}", r.current_kid);
                    println!("published next key {}", r.next_kid);
                }
            }
            Ok(())
        }
    }
}
