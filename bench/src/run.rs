//! One benchmark run from start to finish: ceilings, stack, preload, scenarios, the
//! tracing rerun, and the report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;

use crate::api::{self, Api};
use crate::ceilings::Ceilings;
use crate::cli::{Plan, RunArgs};
use crate::machine;
use crate::measure::{checkpoint, measure_ceilings, timed};
use crate::otlp_sink::OtlpSink;
use crate::report::{PgRun, Report, TracingRow};
use crate::scenarios::{self, Dataset};
use crate::stack::{Binaries, Otlp, Ports, Stack, Storage};
use crate::suite::{Suite, suite};

/// Starts the stack and returns it with an API handle holding a fresh token.
pub(crate) async fn start_stack(
    bins: &Binaries,
    data: &std::path::Path,
    ports: Ports,
    otlp: Option<&Otlp>,
    creds: Option<(&str, &str)>,
    storage: &Storage,
) -> anyhow::Result<(Stack, Api, (String, String))> {
    let stack = Stack::start(bins, data, ports, otlp, storage).await?;
    for s in stack.services() {
        // For attaching a profiler (`perf record -p PID`) to one service.
        eprintln!("  {} pid {}", s.name, s.pid().unwrap_or(0));
    }
    let (id, secret) = match creds {
        Some((i, s)) => (i.to_owned(), s.to_owned()),
        None => {
            let p = stack.register_provider(bins, "bench").await?;
            (p.client_id, p.client_secret)
        }
    };
    let token = api::mint_token(stack.gateway, &id, &secret)
        .await
        .context("minting the benchmark token")?;
    let api = Api {
        addr: stack.gateway,
        host: stack.gateway.to_string(),
        token,
    };
    Ok((stack, api, (id, secret)))
}

/// The scenarios on a fresh PostgreSQL database of `server` with `replicas`
/// identity-service replicas; the database is dropped afterwards.
async fn postgres_suite(
    bins: &Binaries,
    server: &str,
    replicas: usize,
    plan: &Plan,
) -> anyhow::Result<PgRun> {
    let server_url = server.to_owned();
    let db = tokio::task::spawn_blocking(move || {
        scim_storage::testing::TestDatabase::create_on(&server_url)
    })
    .await
    .context("creating the benchmark database")?;
    let data = tempfile::Builder::new()
        .prefix("scim-bench-pg-")
        .tempdir()
        .context("creating the data directory")?;
    let ports = Ports::pick()?;
    let extra_ports = (1..replicas)
        .map(|_| Ports::pick().map(|p| p.identity))
        .collect::<Result<Vec<_>, _>>()?;
    let storage = Storage::Postgres {
        url: db.url().to_owned(),
        extra_ports,
    };
    eprintln!("PostgreSQL, {replicas} identity-service replica(s): starting the stack");
    let (stack, api, creds) = start_stack(bins, data.path(), ports, None, None, &storage).await?;
    let run = suite(&stack, &api, &creds, plan, false, Some(&db)).await?;
    stack.stop().await;
    drop(db);
    Ok(PgRun {
        replicas,
        rows: run.rows,
        walk: run.walk,
        preload: run.preload,
        users_total: run.users_total,
    })
}

/// The benchmark run; the exit code says whether the harness itself worked.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let plan = args.plan();
    let exe = std::env::current_exe().context("locating this binary")?;
    let bin_dir: PathBuf = match &args.bin_dir {
        Some(d) => d.clone(),
        None => exe
            .parent()
            .context("binary has no directory")?
            .to_path_buf(),
    };
    let bins = Binaries::locate(&bin_dir)?;
    if let Some(minutes) = args.soak {
        return crate::soak::run(
            &bins,
            args.smoke,
            minutes,
            args.users,
            args.connections.max(1),
            &args.command_line(),
            args.out.as_deref(),
        )
        .await;
    }
    let machine = machine::describe();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();

    eprintln!("starting the ceiling processes");
    let ceilings = Ceilings::spawn(&exe).await?;

    let data = tempfile::Builder::new()
        .prefix("scim-bench-")
        .tempdir()
        .context("creating the data directory")?;
    let ports = Ports::pick()?;
    eprintln!("starting the stack");
    let (stack, api, creds) =
        start_stack(&bins, data.path(), ports, None, None, &Storage::Sqlite).await?;

    eprintln!("ceilings, first measurement");
    let (a1, b1) = measure_ceilings(&ceilings, &plan, &api.token).await?;

    let main = suite(&stack, &api, &creds, &plan, true, None).await?;
    let Suite {
        rows,
        walk,
        cursor_walk,
        bulk,
        mut checkpoints,
        users_total,
        preload: preload_time,
        identity_at_10k,
        dataset,
    } = main;

    eprintln!("ceilings, second measurement");
    let (a2, b2) = measure_ceilings(&ceilings, &plan, &api.token).await?;
    stack.stop().await;

    let mut tracing = Vec::new();
    let mut spans = Default::default();
    if plan.tracing && plan.wants("tracing") {
        let lookup_dataset = |api: Api| Dataset {
            api,
            ..dataset.clone()
        };
        let sink = OtlpSink::start().await.context("starting the OTLP sink")?;
        let endpoint = sink.endpoint();
        for pair in 1..=plan.tracing_pairs {
            // Memory is reported for the first pair; the later ones repeat it.
            let first = pair == 1;
            eprintln!("pair {pair}: restarting without tracing");
            let (stack, api, _) = start_stack(
                &bins,
                data.path(),
                ports,
                None,
                Some((&creds.0, &creds.1)),
                &Storage::Sqlite,
            )
            .await?;
            let mut off = Vec::new();
            for s in scenarios::lookups(&lookup_dataset(api)) {
                off.push(timed(&stack, &plan, s).await?);
            }
            if first {
                checkpoints.push(checkpoint("restart, tracing off, lookups", &stack, false));
            }
            stack.stop().await;

            // Every trace, then a tenth of the traces, each against the same tracing-off
            // run just before.
            for (ratio, label) in [(None, "every trace"), (Some(0.1), "10% of traces")] {
                eprintln!(
                    "pair {pair}: restarting with tracing to the in-process OTLP sink, {label}"
                );
                let otlp = Otlp {
                    endpoint: endpoint.clone(),
                    ratio,
                };
                let (stack, api, _) = start_stack(
                    &bins,
                    data.path(),
                    ports,
                    Some(&otlp),
                    Some((&creds.0, &creds.1)),
                    &Storage::Sqlite,
                )
                .await?;
                let lookups = scenarios::lookups(&lookup_dataset(api));
                for (i, (s, off)) in lookups.into_iter().zip(&off).enumerate() {
                    let on = timed(&stack, &plan, s).await?;
                    if first && ratio.is_none() {
                        tracing.push(TracingRow {
                            title: on.title,
                            pairs: Vec::new(),
                            tenth: Vec::new(),
                        });
                    }
                    let pairs = match ratio {
                        None => &mut tracing[i].pairs,
                        Some(_) => &mut tracing[i].tenth,
                    };
                    pairs.push((off.result.clone(), on.result));
                }
                if first && ratio.is_none() {
                    checkpoints.push(checkpoint("restart, tracing on, lookups", &stack, false));
                }
                // Stopping flushes the exporters, so the counts are complete afterwards.
                stack.stop().await;
            }
        }
        spans = sink.counts.snapshot();
    }

    let mut postgres = Vec::new();
    if let Some(server) = &args.database {
        for &replicas in &args.pg_replicas {
            postgres.push(postgres_suite(&bins, server, replicas.max(1), &plan).await?);
        }
    }

    let ceiling_memory = ceilings
        .memory()
        .into_iter()
        .map(|(n, m)| (n.to_owned(), m))
        .collect();
    ceilings.stop().await;

    let report = Report {
        plan,
        command: args.command_line(),
        machine,
        date,
        users_total,
        preload: preload_time,
        wall: started.elapsed(),
        ceiling_a: vec![a1, a2],
        ceiling_b: vec![b1, b2],
        rows,
        walk,
        cursor_walk,
        bulk,
        checkpoints,
        identity_at_10k,
        ceiling_memory,
        tracing,
        spans,
        postgres,
    };
    println!("{}", report.markdown(false));
    if let Some(out) = &args.out {
        std::fs::write(out, report.markdown(true))
            .with_context(|| format!("writing {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    let failures = report.failures();
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("the harness saw errors:");
        for f in failures {
            eprintln!("  {f}");
        }
        Ok(ExitCode::FAILURE)
    }
}
