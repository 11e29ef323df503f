//! One measured load: the requests, the CPU each process of the stack spent on them,
//! the progress line, and the memory checkpoint after a block; and the two ceilings.

use anyhow::Context as _;

use crate::ceilings::{self, Ceilings};
use crate::cli::Plan;
use crate::load::{self, LoadResult, Planned, Shape, Source};
use crate::procfs::{cpu_of, postgres_cpu};
use crate::report::{Checkpoint, Row};
use crate::scenarios::Scenario;
use crate::stack::Stack;

fn shape(plan: &Plan) -> Shape {
    Shape {
        connections: plan.connections,
        warmup: plan.warmup,
        duration: plan.duration,
    }
}

/// Memory of every service of `stack` now.
pub(crate) fn checkpoint(label: &str, stack: &Stack, main_stack: bool) -> Checkpoint {
    Checkpoint {
        label: label.to_owned(),
        memory: stack
            .services()
            .iter()
            .map(|s| (s.name.to_owned(), s.memory()))
            .collect(),
        main_stack,
    }
}

/// Whose CPU time a measurement counts.
#[derive(Debug, Clone, Copy)]
enum Probe {
    /// One process (gone: `None`).
    Process(Option<u32>),
    /// Every PostgreSQL server process.
    PostgresServer,
}

impl Probe {
    fn cpu(self) -> Option<std::time::Duration> {
        match self {
            Probe::Process(pid) => pid.and_then(cpu_of),
            Probe::PostgresServer => postgres_cpu(),
        }
    }
}

/// What the stack's CPU is spent by: each service (replicas under one name), and the
/// PostgreSQL server when the stack runs on it.
fn processes(stack: &Stack) -> Vec<(String, Probe)> {
    let mut out: Vec<(String, Probe)> = stack
        .services()
        .iter()
        .map(|s| (s.name.to_owned(), Probe::Process(s.pid())))
        .collect();
    if stack.postgres {
        out.push(("postgresql".to_owned(), Probe::PostgresServer));
    }
    out
}

/// Runs a load and records the CPU time `procs` used meanwhile, summed per name.
async fn observed(
    addr: std::net::SocketAddr,
    plan: &Plan,
    source: Source,
    procs: &[(String, Probe)],
) -> Result<LoadResult, load::LoadError> {
    let cpu = |procs: &[(String, Probe)]| -> Vec<Option<std::time::Duration>> {
        procs.iter().map(|(_, p)| p.cpu()).collect()
    };
    let before = cpu(procs);
    let mut result = load::run(addr, shape(plan), source).await?;
    let after = cpu(procs);
    let mut per_name: Vec<(String, std::time::Duration)> = Vec::new();
    for ((name, _), (b, a)) in procs.iter().zip(before.into_iter().zip(after)) {
        let (Some(b), Some(a)) = (b, a) else { continue };
        match per_name.iter_mut().find(|(n, _)| n == name) {
            Some((_, d)) => *d += a.saturating_sub(b),
            None => per_name.push((name.clone(), a.saturating_sub(b))),
        }
    }
    result.cpu = per_name;
    Ok(result)
}

/// Runs one scenario and prints a progress line.
pub(crate) async fn timed(stack: &Stack, plan: &Plan, s: Scenario) -> anyhow::Result<Row> {
    let result = observed(stack.gateway, plan, s.source, &processes(stack))
        .await
        .with_context(|| format!("running {}", s.title))?;
    progress(&s.title, &result);
    Ok(Row {
        key: s.key,
        title: s.title,
        goal: s.goal,
        result,
    })
}

fn progress(title: &str, r: &LoadResult) {
    let cpu: Vec<String> = r
        .cpu_per_request_ms()
        .iter()
        .map(|(n, ms)| format!("{n} {ms:.3}"))
        .collect();
    eprintln!(
        "  {title}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors; CPU ms/request: {}",
        r.rps(),
        r.p50_ms(),
        r.p99_ms(),
        r.errors,
        cpu.join(", ")
    );
}

/// Runs the wanted scenarios of a block, then takes a memory checkpoint.
pub(crate) async fn run_block(
    stack: &Stack,
    plan: &Plan,
    label: &str,
    block: Vec<Scenario>,
    rows: &mut Vec<Row>,
    checkpoints: &mut Vec<Checkpoint>,
    main_stack: bool,
) -> anyhow::Result<()> {
    let mut ran = false;
    for s in block.into_iter().filter(|s| plan.wants(&s.key)) {
        rows.push(timed(stack, plan, s).await?);
        ran = true;
    }
    if ran {
        checkpoints.push(checkpoint(label, stack, main_stack));
    }
    Ok(())
}

/// Measures ceilings (a) and (b) once each.
pub(crate) async fn measure_ceilings(
    c: &Ceilings,
    plan: &Plan,
    token: &str,
) -> anyhow::Result<(LoadResult, LoadResult)> {
    let mut out = Vec::new();
    for (name, path) in [
        ("ceiling (a)", ceilings::PATH_A),
        ("ceiling (b)", ceilings::PATH_B),
    ] {
        let host = c.http_addr.to_string();
        let token = token.to_owned();
        // Same headers as a real scenario request, token included, so both sides parse
        // the same bytes.
        let source: Source = std::sync::Arc::new(move |_| {
            Planned::measured(load::request(
                http::Method::GET,
                &host,
                path,
                Some(&token),
                None,
            ))
        });
        let procs: Vec<(String, Probe)> = c
            .processes()
            .into_iter()
            .map(|(n, pid)| (n, Probe::Process(pid)))
            .collect();
        let r = observed(c.http_addr, plan, source, &procs)
            .await
            .with_context(|| format!("measuring {name}"))?;
        progress(name, &r);
        out.push(r);
    }
    let b = out.pop().context("ceiling (b) missing")?;
    let a = out.pop().context("ceiling (a) missing")?;
    Ok((a, b))
}
