//! `scim-bench`: the load harness of the SCIM stack.
//!
//! It starts the stack from release binaries on fresh data, preloads users and groups
//! through the public API, runs each scenario of the performance issue for a fixed time
//! over a fixed number of connections, measures two ceilings in the same run, and
//! prints requests/s, p50/p99 latency, peak RSS per service and the verdict on every
//! target; `--out` writes the same report, with its method, to a markdown file
//! (docs/BENCHMARKS.md is produced this way, never by hand).

mod api;
mod bulk;
mod ceilings;
mod cli;
mod load;
mod machine;
mod measure;
mod otlp_sink;
mod preload;
mod process;
mod procfs;
mod report;
mod run;
mod scenarios;
mod soak;
mod stack;
mod suite;
mod walk;

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        Some(cli::Command::CeilingHttp(args)) => ceilings::serve_http(args)
            .await
            .map(|()| ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
        Some(cli::Command::CeilingGrpc(args)) => ceilings::serve_grpc(args)
            .await
            .map(|()| ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
        None => run::run(cli.run).await,
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scim-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
