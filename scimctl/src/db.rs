//! `scimctl db copy`: a directory moved between backends (SQLite ↔ PostgreSQL) with
//! every id, version, timestamp, secret hash, signing key and revocation unchanged, so
//! Okta and Entra keep working after the move without a re-import.
//!
//! This is the one command that reads the databases itself instead of calling the
//! services: it runs against a stopped stack. It uses the services' own storage code
//! (their pools, migrations and table definitions), and it:
//! * refuses a source whose schema is not this release's (start the stack once with
//!   this release first), a SQLite source whose stack is still running, and a target
//!   that holds anything;
//! * migrates the target, then copies each service's tables inside one read snapshot
//!   of the source and one transaction on the target, so a failed copy leaves the
//!   target as empty as it found it;
//! * shows progress on a terminal, and at the end compares every table's row count in
//!   source and target.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use diesel::QueryResult;
use scim_storage::migrate::{self, Migrations};
use scim_storage::{Conn, DatabaseUrl, Pool, PoolOptions};

use crate::client::STACK_FILE;

/// `scimctl db …`
#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Copy a whole directory (users, groups, memberships, providers, keys,
    /// revocations) into an empty database of either backend.
    Copy(CopyArgs),
}

/// `scimctl db copy` flags.
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// Where the directory is: a SQLite data directory as `scimctl up --data-dir` keeps
    /// it (a path or `sqlite://DIR`, holding identity.db and auth.db), or a PostgreSQL
    /// URL (both services' schemas in that database). The stack must be stopped.
    #[arg(long)]
    from: String,
    /// Where it goes: the same forms. A SQLite directory is created; the target must
    /// hold no data.
    #[arg(long)]
    to: String,
}

/// Where one directory's two databases are.
#[derive(Debug)]
struct Location {
    identity: DatabaseUrl,
    auth: DatabaseUrl,
    /// The SQLite data directory.
    dir: Option<PathBuf>,
}

impl Location {
    fn parse(text: &str) -> anyhow::Result<Location> {
        Ok(match DatabaseUrl::parse(text)? {
            url @ DatabaseUrl::Postgres(_) => Location {
                identity: url.clone(),
                auth: url,
                dir: None,
            },
            DatabaseUrl::Sqlite(dir) => {
                if dir.is_file() {
                    bail!(
                        "{} is a file: name the data directory that holds identity.db and auth.db",
                        dir.display()
                    );
                }
                Location {
                    identity: DatabaseUrl::Sqlite(dir.join("identity.db")),
                    auth: DatabaseUrl::Sqlite(dir.join("auth.db")),
                    dir: Some(dir),
                }
            }
        })
    }
}

/// One service's part of the copy: its schema, migrations and tables.
trait Part {
    /// What a page of rows is.
    type Page;
    /// Where the next page starts.
    type After: Default;
    /// The service, for messages.
    const NAME: &'static str;
    /// Its tables, in write order.
    const TABLES: &'static [&'static str];
    /// Its migrations and schema.
    const MIGRATIONS: Migrations;
    fn count(conn: &mut Conn<'_>, table: &str) -> QueryResult<i64>;
    fn read(conn: &mut Conn<'_>, table: &str, after: &mut Self::After) -> QueryResult<Self::Page>;
    fn write(conn: &mut Conn<'_>, page: &Self::Page) -> QueryResult<usize>;
    fn finish(conn: &mut Conn<'_>) -> QueryResult<()>;
}

struct Identity;

impl Part for Identity {
    type Page = identity_service::db::copy::Page;
    type After = identity_service::db::copy::After;
    const NAME: &'static str = "identity-service";
    const TABLES: &'static [&'static str] = &identity_service::db::copy::TABLES;
    const MIGRATIONS: Migrations = identity_service::db::MIGRATIONS;
    fn count(conn: &mut Conn<'_>, table: &str) -> QueryResult<i64> {
        identity_service::db::copy::count(conn, table)
    }
    fn read(conn: &mut Conn<'_>, table: &str, after: &mut Self::After) -> QueryResult<Self::Page> {
        identity_service::db::copy::read_page(conn, table, after)
    }
    fn write(conn: &mut Conn<'_>, page: &Self::Page) -> QueryResult<usize> {
        identity_service::db::copy::write_page(conn, page)
    }
    fn finish(conn: &mut Conn<'_>) -> QueryResult<()> {
        identity_service::db::copy::finish(conn)
    }
}

struct Auth;

impl Part for Auth {
    type Page = auth_service::db::copy::Page;
    type After = auth_service::db::copy::After;
    const NAME: &'static str = "auth-service";
    const TABLES: &'static [&'static str] = &auth_service::db::copy::TABLES;
    const MIGRATIONS: Migrations = auth_service::db::MIGRATIONS;
    fn count(conn: &mut Conn<'_>, table: &str) -> QueryResult<i64> {
        auth_service::db::copy::count(conn, table)
    }
    fn read(conn: &mut Conn<'_>, table: &str, after: &mut Self::After) -> QueryResult<Self::Page> {
        auth_service::db::copy::read_page(conn, table, after)
    }
    fn write(conn: &mut Conn<'_>, page: &Self::Page) -> QueryResult<usize> {
        auth_service::db::copy::write_page(conn, page)
    }
    fn finish(conn: &mut Conn<'_>) -> QueryResult<()> {
        auth_service::db::copy::finish(conn)
    }
}

fn open(url: &DatabaseUrl, schema: &'static str) -> anyhow::Result<Pool> {
    Pool::open(
        url,
        PoolOptions {
            size: 2,
            checkout_timeout: Duration::from_secs(10),
            pg_schema: schema,
            observer: None,
        },
    )
    .with_context(|| format!("opening {url}"))
}

/// Per table: rows in source and target.
type Counts = Vec<(&'static str, i64, i64)>;

/// Shows how far a table is; on a terminal only, rewriting one line.
struct Progress {
    on: bool,
}

impl Progress {
    fn show(&self, service: &str, table: &str, done: u64, total: i64) {
        if self.on {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r  {service} {table}: {done}/{total}\x1b[K");
            let _ = err.flush();
        }
    }

    fn done(&self, service: &str, table: &str, rows: u64) {
        if self.on {
            eprint!("\r\x1b[K");
        }
        eprintln!("  {service} {table}: {rows} rows");
    }
}

/// Copies one service's tables; returns the row counts of both sides.
fn copy_part<P: Part>(
    from: &DatabaseUrl,
    to: &DatabaseUrl,
    progress: &Progress,
) -> anyhow::Result<Counts> {
    let schema = P::MIGRATIONS.pg_schema;
    let source = open(from, schema)?;
    let latest = migrate::latest_known(&P::MIGRATIONS, &source)?;
    let applied = migrate::applied(&source, &P::MIGRATIONS)?;
    match applied.last() {
        None => bail!("{from} holds no {} database", P::NAME),
        Some(v) if *v != latest => bail!(
            "the {} schema of {from} is at version {v}, this release's is {latest}: \
             start the stack once with this release (it migrates), stop it, then copy",
            P::NAME
        ),
        Some(_) => {}
    }
    let target = open(to, schema)?;
    migrate::run(&target, &P::MIGRATIONS).with_context(|| format!("migrating {to}"))?;

    let mut src = source.get()?;
    let mut dst = target.get()?;
    let mut dst_conn = dst.conn();
    for table in P::TABLES {
        let n = P::count(&mut dst_conn, table)?;
        if n > 0 {
            bail!(
                "the target {to} is not empty: its {} table {table} has {n} rows",
                P::NAME
            );
        }
    }
    let totals = scim_storage::conn::read_only(&mut src.conn(), |src| -> anyhow::Result<_> {
        scim_storage::conn::write(&mut dst_conn, |dst| -> anyhow::Result<_> {
            let mut totals = Vec::new();
            for table in P::TABLES {
                let total = P::count(src, table)?;
                let mut after = P::After::default();
                let mut done: u64 = 0;
                loop {
                    let page = P::read(src, table, &mut after)?;
                    let written = P::write(dst, &page)?;
                    if written == 0 {
                        break;
                    }
                    done += written as u64;
                    progress.show(P::NAME, table, done, total);
                }
                progress.done(P::NAME, table, done);
                totals.push((*table, total));
            }
            P::finish(dst)?;
            Ok(totals)
        })
    })?;
    // Verified after the commit, with fresh reads of both sides.
    let mut counts = Vec::new();
    let mut src_conn = src.conn();
    for (table, total) in totals {
        let in_source = P::count(&mut src_conn, table)?;
        let in_target = P::count(&mut dst_conn, table)?;
        if in_source != total {
            bail!(
                "the source changed during the copy ({table}): stop the stack and copy again into an empty target"
            );
        }
        counts.push((table, in_source, in_target));
    }
    Ok(counts)
}

/// Runs `scimctl db …`.
pub async fn run(cmd: DbCommand) -> anyhow::Result<()> {
    let DbCommand::Copy(args) = cmd;
    let from = Location::parse(&args.from)?;
    let to = Location::parse(&args.to)?;
    if let Some(dir) = &from.dir {
        if !from_exists(&from) {
            bail!("{} holds no identity.db and auth.db to copy", dir.display());
        }
        if dir.join(STACK_FILE).exists() {
            bail!(
                "the stack is running on {} ({STACK_FILE} is there): stop it first, so that nothing changes during the copy",
                dir.display()
            );
        }
    }
    if from.identity == to.identity {
        bail!("--from and --to name the same databases");
    }
    if let Some(dir) = &to.dir {
        crate::up::create_private_dir(dir)?;
    }
    eprintln!("copying {} → {}", args_display(&from), args_display(&to));
    let counts = tokio::task::spawn_blocking(move || -> anyhow::Result<Counts> {
        let progress = Progress {
            on: std::io::stderr().is_terminal(),
        };
        let mut counts = copy_part::<Identity>(&from.identity, &to.identity, &progress)?;
        counts.extend(copy_part::<Auth>(&from.auth, &to.auth, &progress)?);
        Ok(counts)
    })
    .await??;
    let mismatched: Vec<String> = counts
        .iter()
        .filter(|(_, s, t)| s != t)
        .map(|(table, s, t)| format!("{table}: {s} in the source, {t} in the target"))
        .collect();
    if !mismatched.is_empty() {
        bail!("the copy does not match: {}", mismatched.join("; "));
    }
    println!("copied and verified:");
    for (table, rows, _) in &counts {
        println!("  {table:<14} {rows}");
    }
    Ok(())
}

fn from_exists(location: &Location) -> bool {
    [&location.identity, &location.auth]
        .iter()
        .all(|u| matches!(u, DatabaseUrl::Sqlite(p) if p.is_file()))
}

fn args_display(location: &Location) -> String {
    match &location.dir {
        Some(dir) => format!("sqlite://{}", dir.display()),
        None => location.identity.to_string(),
    }
}
