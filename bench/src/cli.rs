//! Command-line flags.
//!
//! The default command is the benchmark run. Two hidden subcommands exist only so the
//! harness can re-execute its own binary as the ceiling servers: a ceiling must live in
//! a process of its own, like the services it is compared with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Load harness for the SCIM stack.
#[derive(Debug, Parser)]
#[command(
    name = "scim-bench",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A hidden helper role; without one, the benchmark runs.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Benchmark flags.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Helper roles the harness starts as child processes.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP ceilings (a) and (b).
    #[command(hide = true)]
    CeilingHttp(CeilingHttpArgs),
    /// Serve the trivial gRPC service that ceiling (b) calls.
    #[command(hide = true)]
    CeilingGrpc(CeilingGrpcArgs),
}

/// Flags of the HTTP ceiling process.
#[derive(Debug, Args)]
pub struct CeilingHttpArgs {
    /// Address to bind; port 0 picks a free one (printed on standard output).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// URL of the trivial gRPC service that ceiling (b) calls once per request.
    #[arg(long)]
    pub grpc_url: String,
}

/// Flags of the gRPC ceiling process.
#[derive(Debug, Args)]
pub struct CeilingGrpcArgs {
    /// Address to bind; port 0 picks a free one (printed on standard output).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Flags of a benchmark run.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Users preloaded through the public API.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Seconds each scenario runs (after a short warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent HTTP/1.1 connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Member counts of the groups the membership PATCH scenarios use; sizes larger
    /// than --users are skipped.
    #[arg(long, value_delimiter = ',', default_value = "100,10000,100000")]
    pub big_group: Vec<usize>,
    /// How many times Okta's import walk is repeated (page times are medians).
    #[arg(long, default_value_t = 3)]
    pub walks: usize,
    /// Tiny run that only proves the harness works: 200 users, 1 s per scenario,
    /// groups of 10 and 100.
    #[arg(long)]
    pub smoke: bool,
    /// Skip the tracing-on rerun of the lookup scenarios.
    #[arg(long)]
    pub no_tracing: bool,
    /// How many tracing-off/tracing-on restart pairs the tracing comparison runs; its
    /// verdict is the median of the pairs' on/off ratios.
    #[arg(long, default_value_t = 3)]
    pub tracing_pairs: usize,
    /// Run only these parts (for profiling one of them): get_user, filter_username,
    /// filter_email, page_near_end, walk, bulk, post_user, patch_active, patch_profile, put_user,
    /// group_add, token, tracing. The ceilings always run.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Also run every scenario on PostgreSQL: the URL of a server (any database on it;
    /// the run creates a fresh database per stack there and drops it afterwards). The
    /// PostgreSQL stacks run after the SQLite one, against the same ceilings.
    #[arg(long)]
    pub database: Option<String>,
    /// identity-service replicas of each PostgreSQL stack, one stack per number.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub pg_replicas: Vec<usize>,
    /// Directory holding the release binaries of the services and scimctl
    /// (default: the directory of this binary).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Instead of the scenarios: a soak of this many minutes (fractions allowed) of mixed
    /// Okta-like traffic on one SQLite stack, with each service's memory sampled; uses
    /// --users and --connections, and fails on any error or on memory that grew (with
    /// --smoke, on errors only).
    #[arg(long, value_name = "MINUTES")]
    pub soak: Option<f64>,
    /// Write the report (markdown) to this file as well as to standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The settings a run actually uses, after `--smoke` is applied.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Users to preload.
    pub users: usize,
    /// Measured time per scenario.
    pub duration: Duration,
    /// Unmeasured time before each scenario.
    pub warmup: Duration,
    /// Concurrent connections.
    pub connections: usize,
    /// Group sizes for the membership scenarios (each at most `users`).
    pub group_sizes: Vec<usize>,
    /// Repetitions of the import walk.
    pub walks: usize,
    /// Whether the tracing-on rerun happens.
    pub tracing: bool,
    /// Off/on restart pairs of the tracing comparison.
    pub tracing_pairs: usize,
    /// Whether this is the smoke run.
    pub smoke: bool,
    /// Parts to run; empty means all.
    pub only: Vec<String>,
}

impl Plan {
    /// Whether the part with this key runs (`group_add_N` matches `group_add`).
    pub fn wants(&self, key: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|o| o == key || (o == "group_add" && key.starts_with("group_add_")))
    }
}

impl RunArgs {
    /// Resolves the flags into the plan of the run.
    pub fn plan(&self) -> Plan {
        let (users, duration, groups) = if self.smoke {
            (200, Duration::from_secs(1), vec![10, 100])
        } else {
            (
                self.users.max(1),
                Duration::from_secs(self.duration.max(1)),
                self.big_group.clone(),
            )
        };
        let mut group_sizes: Vec<usize> = groups
            .into_iter()
            .filter(|&s| s > 0 && s <= users)
            .collect();
        group_sizes.sort_unstable();
        group_sizes.dedup();
        Plan {
            users,
            duration,
            // A tenth of the run, at most a second: long enough for connection set-up and
            // the first cache misses, short enough not to double the run time.
            warmup: (duration / 10).min(Duration::from_secs(1)),
            connections: self.connections.max(1),
            group_sizes,
            walks: self.walks.max(1),
            tracing: !self.no_tracing,
            tracing_pairs: if self.smoke {
                1
            } else {
                self.tracing_pairs.max(1)
            },
            smoke: self.smoke,
            only: self.only.clone(),
        }
    }

    /// The command that reproduces this run, as written in the report.
    pub fn command_line(&self) -> String {
        let mut parts = vec!["target/release/scim-bench".to_owned()];
        if let Some(minutes) = self.soak {
            if self.smoke {
                parts.push("--smoke".into());
            }
            parts.push(format!("--soak {minutes}"));
            parts.push(format!("--users {}", self.users));
            parts.push(format!("--connections {}", self.connections));
            if let Some(out) = &self.out {
                parts.push(format!("--out {}", out.display()));
            }
            return parts.join(" ");
        }
        if self.smoke {
            parts.push("--smoke".into());
        } else {
            parts.push(format!("--users {}", self.users));
            parts.push(format!("--duration {}", self.duration));
            parts.push(format!("--connections {}", self.connections));
            let sizes: Vec<String> = self.big_group.iter().map(|s| s.to_string()).collect();
            parts.push(format!("--big-group {}", sizes.join(",")));
            parts.push(format!("--walks {}", self.walks));
            if !self.no_tracing {
                parts.push(format!("--tracing-pairs {}", self.tracing_pairs));
            }
        }
        if self.no_tracing {
            parts.push("--no-tracing".into());
        }
        if !self.only.is_empty() {
            parts.push(format!("--only {}", self.only.join(",")));
        }
        if self.database.is_some() {
            // The server is the operator's; the command shows where it goes.
            parts.push("--database postgres://USER@HOST/DB".into());
            let r: Vec<String> = self.pg_replicas.iter().map(|n| n.to_string()).collect();
            parts.push(format!("--pg-replicas {}", r.join(",")));
        }
        if let Some(out) = &self.out {
            parts.push(format!("--out {}", out.display()));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("scim-bench").chain(args.iter().copied()))
            .expect("flags parse")
    }

    #[test]
    fn defaults_match_the_issue() {
        let plan = parse(&[]).run.plan();
        assert_eq!(plan.users, 10_000);
        assert_eq!(plan.duration, Duration::from_secs(10));
        assert_eq!(plan.connections, 32);
        // 100,000 does not fit in 10,000 users, so it is dropped.
        assert_eq!(plan.group_sizes, vec![100, 10_000]);
        assert!(plan.tracing);
    }

    #[test]
    fn smoke_overrides_sizes_and_duration() {
        let plan = parse(&["--smoke", "--users", "50000"]).run.plan();
        assert_eq!(plan.users, 200);
        assert_eq!(plan.duration, Duration::from_secs(1));
        assert_eq!(plan.group_sizes, vec![10, 100]);
        assert!(plan.warmup <= Duration::from_millis(100));
    }

    #[test]
    fn group_list_is_sorted_and_bounded_by_users() {
        let plan = parse(&["--users", "100000", "--big-group", "100000,100,100,0"])
            .run
            .plan();
        assert_eq!(plan.group_sizes, vec![100, 100_000]);
    }

    #[test]
    fn only_selects_parts() {
        let all = parse(&[]).run.plan();
        assert!(all.wants("token") && all.wants("group_add_100"));
        let some = parse(&["--only", "walk,group_add"]).run.plan();
        assert!(some.wants("walk") && some.wants("group_add_100000"));
        assert!(!some.wants("token") && !some.wants("get_user"));
    }

    #[test]
    fn hidden_roles_parse() {
        let cli = parse(&["ceiling-grpc", "--listen", "127.0.0.1:0"]);
        assert!(matches!(cli.command, Some(Command::CeilingGrpc(_))));
    }

    #[test]
    fn command_line_reproduces_the_flags() {
        let cli = parse(&["--users", "500", "--out", "docs/BENCHMARKS.md"]);
        let line = cli.run.command_line();
        assert!(line.starts_with("target/release/scim-bench --users 500 "));
        assert!(line.ends_with("--out docs/BENCHMARKS.md"));
    }
}
