//! `scimctl users …` and `scimctl groups …`: the operator's view of what the IdPs
//! provisioned, read through identity.v1 in the operator's tenant.

use clap::{Args, Subcommand};
use scim_model::ResourceKind;
use scim_proto::identity::v1 as pb;
use serde_json::{Value, json};

use crate::client::{ConnectArgs, authed, status_error};
use crate::output::{self, Output};

/// Users commands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users (one page).
    List(ListArgs),
    /// Show one user with its groups.
    Show(ShowArgs),
}

/// Groups commands.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List groups (one page).
    List(ListArgs),
    /// Show one group with its members.
    Show(ShowArgs),
}

/// List flags.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// A SCIM filter, e.g. 'userName sw "j"' or 'displayName eq "Engineering"'.
    #[arg(long)]
    filter: Option<String>,
    /// 1-based index of the first result.
    #[arg(long, default_value_t = 1)]
    start_index: i64,
    /// Page size.
    #[arg(long, default_value_t = 100)]
    count: i64,
    /// Order by this attribute (as SCIM's sortBy: userName, displayName, externalId,
    /// meta.created, meta.lastModified, emails.value; groups: the four that apply).
    #[arg(long)]
    sort_by: Option<String>,
    /// With --sort-by: descending instead of ascending.
    #[arg(long, requires = "sort_by")]
    descending: bool,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

/// Show flags.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The resource id.
    id: String,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

fn parse_filter(raw: Option<&str>, kind: ResourceKind) -> anyhow::Result<Option<pb::Filter>> {
    raw.map(|f| scim_gateway::scim::filter::parse(f, kind))
        .transpose()
        .map_err(|e| anyhow::anyhow!("invalid filter: {e}"))
}

fn sort(a: &ListArgs, kind: ResourceKind) -> anyhow::Result<Option<pb::Sort>> {
    let Some(by) = a.sort_by.as_deref() else {
        return Ok(None);
    };
    let attr = scim_model::sort::sort_attr(kind, by).ok_or_else(|| {
        anyhow::anyhow!(
            "cannot sort by {by:?}; --sort-by may name {}",
            scim_model::sort::sortable(kind)
        )
    })?;
    Ok(Some(pb::Sort {
        key: attr.key() as i32,
        descending: a.descending,
    }))
}

fn page(a: &ListArgs) -> Option<pb::PageRequest> {
    Some(pb::PageRequest {
        start_index: a.start_index,
        count: a.count,
        page_token: String::new(),
    })
}

fn scim_user(u: &pb::User, base: &str) -> Value {
    scim_gateway::scim::user::user_to_json(u, base)
}

/// Runs a users command.
pub async fn users(cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::List(a) => {
            let base = a.connect.stack()?.scim_base_url();
            let filter = parse_filter(a.filter.as_deref(), ResourceKind::User)?;
            let sort = sort(&a, ResourceKind::User)?;
            let token = a.connect.operator_token().await?;
            let r = a
                .connect
                .identity()
                .await?
                .list_users(authed(
                    pb::ListUsersRequest {
                        filter,
                        page: page(&a),
                        include_groups: false,
                        sort,
                    },
                    &token,
                ))
                .await
                .map_err(|s| status_error("listing users", s))?
                .into_inner();
            let total = r.page.as_ref().map_or(0, |p| p.total_results);
            match a.output {
                Output::Json => output::json(&json!({
                    "totalResults": total,
                    "Resources": r.users.iter().map(|u| scim_user(u, &base)).collect::<Vec<_>>(),
                })),
                Output::Table => {
                    let rows: Vec<Vec<String>> = r
                        .users
                        .iter()
                        .map(|u| {
                            vec![
                                u.id.clone(),
                                u.user_name.clone(),
                                u.display_name.clone().unwrap_or_default(),
                                u.active.unwrap_or(true).to_string(),
                                u.external_id.clone().unwrap_or_default(),
                            ]
                        })
                        .collect();
                    output::table(
                        &["ID", "USERNAME", "DISPLAY NAME", "ACTIVE", "EXTERNAL ID"],
                        &rows,
                    );
                    println!("{} of {total} users", rows.len());
                }
            }
            Ok(())
        }
        UsersCommand::Show(a) => {
            let base = a.connect.stack()?.scim_base_url();
            let token = a.connect.operator_token().await?;
            let u = a
                .connect
                .identity()
                .await?
                .get_user(authed(pb::GetUserRequest { id: a.id }, &token))
                .await
                .map_err(|s| status_error("showing the user", s))?
                .into_inner();
            match a.output {
                Output::Json => output::json(&scim_user(&u, &base)),
                Output::Table => {
                    println!("id:           {}", u.id);
                    println!("userName:     {}", u.user_name);
                    println!(
                        "displayName:  {}",
                        u.display_name.clone().unwrap_or_default()
                    );
                    println!("active:       {}", u.active.unwrap_or(true));
                    println!(
                        "externalId:   {}",
                        u.external_id.clone().unwrap_or_default()
                    );
                    for e in &u.emails {
                        println!(
                            "email:        {}{}",
                            e.value,
                            if e.primary { " (primary)" } else { "" }
                        );
                    }
                    for g in &u.groups {
                        println!("group:        {}  {}", g.value, g.display);
                    }
                }
            }
            Ok(())
        }
    }
}

/// Runs a groups command.
pub async fn groups(cmd: GroupsCommand) -> anyhow::Result<()> {
    match cmd {
        GroupsCommand::List(a) => {
            let base = a.connect.stack()?.scim_base_url();
            let filter = parse_filter(a.filter.as_deref(), ResourceKind::Group)?;
            let sort = sort(&a, ResourceKind::Group)?;
            let token = a.connect.operator_token().await?;
            let r = a
                .connect
                .identity()
                .await?
                .list_groups(authed(
                    pb::ListGroupsRequest {
                        filter,
                        page: page(&a),
                        include_members: false,
                        sort,
                    },
                    &token,
                ))
                .await
                .map_err(|s| status_error("listing groups", s))?
                .into_inner();
            let total = r.page.as_ref().map_or(0, |p| p.total_results);
            match a.output {
                Output::Json => output::json(&json!({
                    "totalResults": total,
                    "Resources": r.groups.iter().map(|g| scim_gateway::scim::group::group_to_json(g, &base, false)).collect::<Vec<_>>(),
                })),
                Output::Table => {
                    let rows: Vec<Vec<String>> = r
                        .groups
                        .iter()
                        .map(|g| {
                            vec![
                                g.id.clone(),
                                g.display_name.clone(),
                                g.member_count.to_string(),
                            ]
                        })
                        .collect();
                    output::table(&["ID", "DISPLAY NAME", "MEMBERS"], &rows);
                    println!("{} of {total} groups", rows.len());
                }
            }
            Ok(())
        }
        GroupsCommand::Show(a) => {
            let base = a.connect.stack()?.scim_base_url();
            let token = a.connect.operator_token().await?;
            let g = a
                .connect
                .identity()
                .await?
                .get_group(authed(
                    pb::GetGroupRequest {
                        id: a.id,
                        include_members: true,
                    },
                    &token,
                ))
                .await
                .map_err(|s| status_error("showing the group", s))?
                .into_inner();
            match a.output {
                Output::Json => {
                    output::json(&scim_gateway::scim::group::group_to_json(&g, &base, true))
                }
                Output::Table => {
                    println!("id:           {}", g.id);
                    println!("displayName:  {}", g.display_name);
                    println!("members:      {}", g.member_count);
                    let rows: Vec<Vec<String>> = g
                        .members
                        .iter()
                        .map(|m| {
                            vec![
                                m.value.clone(),
                                m.r#type.clone(),
                                m.display.clone().unwrap_or_default(),
                            ]
                        })
                        .collect();
                    output::table(&["MEMBER", "TYPE", "DISPLAY"], &rows);
                }
            }
            Ok(())
        }
    }
}
