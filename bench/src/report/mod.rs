//! The results of a run, the verdict on each target of the issue, and the markdown that
//! becomes docs/BENCHMARKS.md.
//!
//! The report is only ever produced from measured values; there is no way to pass
//! numbers in by hand, which is what keeps the checked-in document honest.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::bulk::BulkResult;
use crate::cli::Plan;
use crate::load::LoadResult;
use crate::machine::Machine;
use crate::procfs::Memory;
use crate::scenarios::Goal;
use crate::walk::WalkResult;

/// Peak resident set every service must stay under at 10,000 users.
pub const RSS_LIMIT_MIB: f64 = 64.0;
/// Allowed growth of identity-service's peak from 10,000 to 100,000 users.
pub const RSS_GROWTH_LIMIT: f64 = 1.5;
/// Largest throughput loss tracing every trace may cost on the lookups.
pub const TRACING_MIN_RATIO: f64 = 0.80;
/// Largest throughput loss tracing a tenth of the traces may cost on the lookups.
pub const TRACING_TENTH_MIN_RATIO: f64 = 0.97;
/// Last import page no slower than this multiple of the first.
pub const WALK_LIMIT: f64 = 2.0;
/// How many times faster one Bulk request of 100 creates must be than 100 POSTs.
pub const BULK_SPEEDUP: f64 = 3.0;
/// Label of the checkpoint taken right after the preload.
pub const PRELOAD_LABEL: &str = "preload";
/// Size the walk and group targets are defined at.
pub const TARGET_SCALE: usize = 100_000;

/// One timed scenario's result.
#[derive(Debug, Clone)]
pub struct Row {
    /// Stable key.
    pub key: String,
    /// Title.
    pub title: String,
    /// Target, if any.
    pub goal: Option<Goal>,
    /// Measurement.
    pub result: LoadResult,
}

/// Memory of each service at one point of the run.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// When it was taken.
    pub label: String,
    /// Per service, in start order.
    pub memory: Vec<(String, Option<Memory>)>,
    /// Whether it belongs to the main (tracing-off, never restarted) stack, the one the
    /// RSS targets are judged on.
    pub main_stack: bool,
}

/// A lookup scenario run with tracing off and on, in one or more restart pairs.
#[derive(Debug, Clone)]
pub struct TracingRow {
    /// Title.
    pub title: String,
    /// Each pair: tracing off (services restarted without an OTLP endpoint), then
    /// tracing on (restarted exporting every trace to the in-process sink). Never empty.
    pub pairs: Vec<(LoadResult, LoadResult)>,
    /// The same tracing-off runs against tracing on at `parentbased_traceidratio` 0.1.
    pub tenth: Vec<(LoadResult, LoadResult)>,
}

/// One pair's throughput with tracing over throughput without.
fn pair_ratio((off, on): &(LoadResult, LoadResult)) -> f64 {
    ratio(on.rps(), off.rps())
}

/// The pair whose on/off ratio is the median (the lower middle one of an even number):
/// one noisy pair on a shared machine cannot decide the verdict.
pub fn median_pair(pairs: &[(LoadResult, LoadResult)]) -> Option<&(LoadResult, LoadResult)> {
    let mut order: Vec<&(LoadResult, LoadResult)> = pairs.iter().collect();
    order.sort_by(|a, b| pair_ratio(a).total_cmp(&pair_ratio(b)));
    order.get(order.len().checked_sub(1)? / 2).copied()
}

impl TracingRow {
    /// The median pair at full sampling.
    pub fn median_pair(&self) -> &(LoadResult, LoadResult) {
        median_pair(&self.pairs).expect("at least one pair")
    }

    /// Throughput with tracing over throughput without, of the median pair.
    pub fn ratio(&self) -> f64 {
        pair_ratio(self.median_pair())
    }
}

/// Targets on PostgreSQL, as fractions of ceiling (b) (the scenario keys they apply to).
pub const PG_GOALS: [(&str, f64); 7] = [
    ("get_user", 0.40),
    ("filter_username", 0.40),
    ("filter_email", 0.40),
    ("post_user", 0.20),
    ("put_user", 0.20),
    ("patch_active", 0.20),
    ("page_near_end", 0.07),
];

/// The scenarios run again on a PostgreSQL stack.
#[derive(Debug, Clone)]
pub struct PgRun {
    /// identity-service replicas behind the gateway.
    pub replicas: usize,
    /// Scenario results in run order.
    pub rows: Vec<Row>,
    /// Import walk.
    pub walk: Option<WalkResult>,
    /// How long the preload took.
    pub preload: Duration,
    /// Users in the directory when the scenarios started.
    pub users_total: usize,
}

impl PgRun {
    /// "PostgreSQL, 1 replica" / "PostgreSQL, 2 replicas".
    pub fn label(&self) -> String {
        let s = if self.replicas == 1 { "" } else { "s" };
        format!("PostgreSQL, {} identity-service replica{s}", self.replicas)
    }

    fn row(&self, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }
}

fn pg_goal(key: &str) -> Option<f64> {
    PG_GOALS.iter().find(|(k, _)| *k == key).map(|(_, g)| *g)
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Settings.
    pub plan: Plan,
    /// Command that reproduces the run.
    pub command: String,
    /// Where it ran.
    pub machine: Machine,
    /// When (UTC).
    pub date: String,
    /// Users in the directory when the scenarios started (preloaded plus spares).
    pub users_total: usize,
    /// How long the preload took.
    pub preload: Duration,
    /// How long the whole run took.
    pub wall: Duration,
    /// Ceiling (a) measurements (start and end of the run).
    pub ceiling_a: Vec<LoadResult>,
    /// Ceiling (b) measurements.
    pub ceiling_b: Vec<LoadResult>,
    /// Scenario results in run order.
    pub rows: Vec<Row>,
    /// Import walk.
    pub walk: Option<WalkResult>,
    /// The same walk by cursor (RFC 9865).
    pub cursor_walk: Option<WalkResult>,
    /// One Bulk request of 100 creates against 100 POSTs.
    pub bulk: Option<BulkResult>,
    /// Memory checkpoints.
    pub checkpoints: Vec<Checkpoint>,
    /// identity-service memory when 10,000 users were loaded, on runs larger than that.
    pub identity_at_10k: Option<Memory>,
    /// Memory of the ceiling processes at the end.
    pub ceiling_memory: Vec<(String, Option<Memory>)>,
    /// Tracing off/on pairs.
    pub tracing: Vec<TracingRow>,
    /// Spans the sink received, per service.
    pub spans: BTreeMap<String, u64>,
    /// The same scenarios on PostgreSQL stacks, when the run had `--database`.
    pub postgres: Vec<PgRun>,
}

/// One target of the issue and how the run did against it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What is required.
    pub target: String,
    /// What was measured.
    pub measured: String,
    /// Met, missed, or not measured in this run.
    pub met: Option<bool>,
}

fn ratio(x: f64, of: f64) -> f64 {
    if of > 0.0 { x / of } else { 0.0 }
}

fn mean_rps(runs: &[LoadResult]) -> f64 {
    if runs.is_empty() {
        return 0.0;
    }
    runs.iter().map(LoadResult::rps).sum::<f64>() / runs.len() as f64
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Thousands separators for whole numbers.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn yes_no(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    }
}

impl Report {
    /// Mean requests/s of ceiling (a).
    pub fn a_rps(&self) -> f64 {
        mean_rps(&self.ceiling_a)
    }

    /// Mean requests/s of ceiling (b).
    pub fn b_rps(&self) -> f64 {
        mean_rps(&self.ceiling_b)
    }

    fn row(&self, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }

    fn smallest_group(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.key.starts_with("group_add_"))
    }

    /// Whether a scenario met its own target.
    pub fn row_met(&self, row: &Row) -> Option<bool> {
        if row.result.ok == 0 {
            return row.goal.map(|_| false);
        }
        match row.goal? {
            Goal::OfB(min) => Some(ratio(row.result.rps(), self.b_rps()) >= min),
            Goal::VsSmallestGroup(max) => {
                let base = self.smallest_group()?.result.p50_ms();
                Some(base > 0.0 && row.result.p50_ms() / base <= max)
            }
        }
    }

    fn goal_text(&self, goal: Option<Goal>) -> String {
        match goal {
            Some(Goal::OfB(x)) => format!("≥ {x:.2} × (b)"),
            Some(Goal::VsSmallestGroup(x)) => {
                let base = self.smallest_group().map_or(0, |r| group_size(&r.key));
                format!("p50 ≤ {x:.0} × p50 at {}", thousands(base as u64))
            }
            None => String::new(),
        }
    }

    /// Peak memory per service over the main stack's checkpoints.
    pub fn peaks(&self) -> Vec<(String, u64)> {
        let mut peaks: Vec<(String, u64)> = Vec::new();
        for cp in self.checkpoints.iter().filter(|c| c.main_stack) {
            for (name, mem) in &cp.memory {
                let kib = mem.map_or(0, |m| m.peak_kib);
                match peaks.iter_mut().find(|(n, _)| n == name) {
                    Some((_, p)) => *p = (*p).max(kib),
                    None => peaks.push((name.clone(), kib)),
                }
            }
        }
        peaks
    }
}

/// The member count encoded in a `group_add_N` key.
fn group_size(key: &str) -> usize {
    key.rsplit('_')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

mod markdown;
mod sections;
mod verdicts;

#[cfg(test)]
mod tests;
