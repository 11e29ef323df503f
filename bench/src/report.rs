//! The results of a run, the verdict on each target of the issue, and the markdown that
//! becomes docs/BENCHMARKS.md.
//!
//! The report is only ever produced from measured values; there is no way to pass
//! numbers in by hand, which is what keeps the checked-in document honest.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::cli::Plan;
use crate::load::LoadResult;
use crate::machine::Machine;
use crate::scenarios::Goal;
use crate::stack::Memory;
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

    /// Every target of the issue with the run's verdict.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let mut v = Vec::new();
        let b = self.b_rps();
        for key in [
            "get_user",
            "filter_username",
            "filter_email",
            "post_user",
            "put_user",
            "patch_active",
            "page_near_end",
            "token",
        ] {
            if let Some(row) = self.row(key) {
                v.push(Verdict {
                    target: format!("{}: {}", row.title, self.goal_text(row.goal)),
                    measured: format!("{:.2} × (b)", ratio(row.result.rps(), b)),
                    met: self.row_met(row),
                });
            }
        }
        let scale_note = |n: usize| {
            if n >= TARGET_SCALE {
                String::new()
            } else {
                format!(
                    " (at {}; the target is set at {})",
                    thousands(n as u64),
                    thousands(TARGET_SCALE as u64)
                )
            }
        };
        if let Some(w) = &self.walk {
            v.push(Verdict {
                target: format!("Okta import walk: last page ≤ {WALK_LIMIT:.0} × first page"),
                measured: format!(
                    "{} ms / {} ms = {:.2}×{}",
                    ms(w.last()),
                    ms(w.first()),
                    w.last_over_first(),
                    scale_note(w.total)
                ),
                met: (!w.pages.is_empty()).then(|| w.last_over_first() <= WALK_LIMIT),
            });
        }
        if let (Some(small), Some(big)) = (
            self.smallest_group(),
            self.rows.iter().rfind(|r| r.key.starts_with("group_add_")),
        ) && small.key != big.key
        {
            let size = group_size(&big.key);
            v.push(Verdict {
                target: format!(
                    "add 1 member to the largest group ≤ 2 × adding to a {}-member group",
                    thousands(group_size(&small.key) as u64)
                ),
                measured: format!(
                    "p50 {:.2} ms at {} / {:.2} ms = {:.2}×{}",
                    big.result.p50_ms(),
                    thousands(size as u64),
                    small.result.p50_ms(),
                    ratio(big.result.p50_ms(), small.result.p50_ms()),
                    scale_note(size)
                ),
                met: self.row_met(big),
            });
        }
        for (name, kib) in self.peaks() {
            v.push(Verdict {
                target: format!("{name} peak RSS ≤ {RSS_LIMIT_MIB:.0} MiB"),
                measured: format!(
                    "{:.1} MiB at {} users",
                    mib(kib),
                    thousands(self.users_total as u64)
                ),
                met: (kib > 0).then(|| mib(kib) <= RSS_LIMIT_MIB),
            });
        }
        // Like for like: both figures are read right after a preload, before any
        // scenario, so the growth is the directory's, not a scenario's working set.
        let after_preload = self
            .checkpoints
            .iter()
            .find(|c| c.main_stack && c.label == PRELOAD_LABEL)
            .and_then(|c| c.memory.iter().find(|(n, _)| n == "identity-service"))
            .and_then(|(_, m)| *m);
        let growth_target =
            format!("identity-service RSS at 100,000 users ≤ {RSS_GROWTH_LIMIT} × at 10,000");
        v.push(match (self.identity_at_10k, after_preload) {
            (Some(at10k), Some(now)) if self.users_total >= TARGET_SCALE && at10k.peak_kib > 0 => {
                let growth = ratio(now.peak_kib as f64, at10k.peak_kib as f64);
                Verdict {
                    target: growth_target,
                    measured: format!(
                        "peak after preloading {} users {:.1} MiB / after the first 10,000 {:.1} MiB = {growth:.2}×",
                        thousands(self.users_total as u64),
                        mib(now.peak_kib),
                        mib(at10k.peak_kib),
                    ),
                    met: Some(growth <= RSS_GROWTH_LIMIT),
                }
            }
            _ => Verdict {
                target: growth_target,
                measured: "not measured: needs --users 100000".into(),
                met: None,
            },
        });
        for t in &self.tracing {
            v.push(Verdict {
                target: format!("tracing every trace costs ≤ 20% on {}", t.title),
                measured: format!("on/off = {:.2}", t.ratio()),
                met: Some(t.median_pair().1.ok > 0 && t.ratio() >= TRACING_MIN_RATIO),
            });
            if let Some(pair) = median_pair(&t.tenth) {
                let r = pair_ratio(pair);
                v.push(Verdict {
                    target: format!("tracing 10% of traces costs ≤ 3% on {}", t.title),
                    measured: format!("on/off = {r:.2}"),
                    met: Some(pair.1.ok > 0 && r >= TRACING_TENTH_MIN_RATIO),
                });
            }
        }
        for pg in &self.postgres {
            v.extend(self.pg_verdicts(pg, &scale_note));
        }
        v
    }

    /// The PostgreSQL targets of one PostgreSQL stack.
    fn pg_verdicts(&self, pg: &PgRun, scale_note: &dyn Fn(usize) -> String) -> Vec<Verdict> {
        let mut v = Vec::new();
        let b = self.b_rps();
        for (key, goal) in PG_GOALS {
            if let Some(row) = pg.row(key) {
                let x = ratio(row.result.rps(), b);
                v.push(Verdict {
                    target: format!("{}: {}: ≥ {goal:.2} × (b)", pg.label(), row.title),
                    measured: format!("{x:.2} × (b)"),
                    met: Some(row.result.ok > 0 && x >= goal),
                });
            }
        }
        if let Some(w) = &pg.walk {
            v.push(Verdict {
                target: format!(
                    "{}: Okta import walk: last page ≤ {WALK_LIMIT:.0} × first page",
                    pg.label()
                ),
                measured: format!(
                    "{} ms / {} ms = {:.2}×{}",
                    ms(w.last()),
                    ms(w.first()),
                    w.last_over_first(),
                    scale_note(w.total)
                ),
                met: (!w.pages.is_empty()).then(|| w.last_over_first() <= WALK_LIMIT),
            });
        }
        let groups: Vec<&Row> = pg
            .rows
            .iter()
            .filter(|r| r.key.starts_with("group_add_"))
            .collect();
        if let (Some(small), Some(big)) = (groups.first(), groups.last())
            && small.key != big.key
        {
            let size = group_size(&big.key);
            let r = ratio(big.result.p50_ms(), small.result.p50_ms());
            v.push(Verdict {
                target: format!(
                    "{}: add 1 member to the largest group ≤ 2 × adding to a {}-member group",
                    pg.label(),
                    thousands(group_size(&small.key) as u64)
                ),
                measured: format!(
                    "p50 {:.2} ms at {} / {:.2} ms = {r:.2}×{}",
                    big.result.p50_ms(),
                    thousands(size as u64),
                    small.result.p50_ms(),
                    scale_note(size)
                ),
                met: Some(big.result.ok > 0 && small.result.p50_ms() > 0.0 && r <= 2.0),
            });
        }
        v
    }

    /// Scenarios that had errors or no successful request: numbers from them are not
    /// trustworthy, and the smoke run fails on them.
    pub fn failures(&self) -> Vec<String> {
        let all =
            self.rows
                .iter()
                .map(|r| (r.title.as_str(), &r.result))
                .chain(self.ceiling_a.iter().map(|r| ("ceiling (a)", r)))
                .chain(self.ceiling_b.iter().map(|r| ("ceiling (b)", r)))
                .chain(
                    self.postgres
                        .iter()
                        .flat_map(|pg| pg.rows.iter().map(|r| (r.title.as_str(), &r.result))),
                )
                .chain(self.tracing.iter().flat_map(|t| {
                    t.pairs.iter().chain(&t.tenth).flat_map(move |(off, on)| {
                        [(t.title.as_str(), off), (t.title.as_str(), on)]
                    })
                }));
        let mut out: Vec<String> = all
            .filter(|(_, r)| r.errors > 0 || r.ok == 0)
            .map(|(title, r)| {
                format!(
                    "{title}: {} errors, {} ok; first error: {}",
                    r.errors,
                    r.ok,
                    r.first_error.as_deref().unwrap_or("none")
                )
            })
            .collect();
        if let Some(p) = self.walk.as_ref().and_then(|w| w.problem.as_ref()) {
            out.push(format!("import walk: {p}"));
        }
        for pg in &self.postgres {
            if let Some(p) = pg.walk.as_ref().and_then(|w| w.problem.as_ref()) {
                out.push(format!("{}: import walk: {p}", pg.label()));
            }
        }
        out
    }

    /// The whole report as markdown; `with_method` adds the method section of the doc.
    pub fn markdown(&self, with_method: bool) -> String {
        let mut s = String::new();
        self.header(&mut s);
        self.targets_table(&mut s);
        self.scenario_table(&mut s);
        self.walk_section(&mut s);
        self.cpu_section(&mut s);
        self.postgres_section(&mut s);
        self.memory_section(&mut s);
        self.tracing_section(&mut s);
        if with_method {
            self.method_section(&mut s);
        }
        s
    }

    fn header(&self, s: &mut String) {
        let p = &self.plan;
        let m = &self.machine;
        let _ = writeln!(
            s,
            "<!-- Generated by scim-bench (bench/). Do not edit by hand: rerun the command below. -->"
        );
        let _ = writeln!(s, "# Benchmarks\n");
        if !p.only.is_empty() {
            let _ = writeln!(s, "**Partial run**: only {}.\n", p.only.join(", "));
        }
        if p.smoke {
            let _ = writeln!(
                s,
                "**Smoke run**: tiny data and 1 s scenarios; it proves the harness works, the numbers mean little.\n"
            );
        }
        let _ = writeln!(
            s,
            "Measured {} at commit `{}`; the run took {:.1} minutes. To rerun:\n",
            self.date,
            m.commit,
            self.wall.as_secs_f64() / 60.0
        );
        let _ = writeln!(
            s,
            "```sh\ncargo build --release -p bench -p scimctl -p identity-service -p auth-service -p scim-gateway\n{}\n```\n",
            self.command
        );
        let _ = writeln!(s, "## Machine\n");
        let _ = writeln!(s, "| | |\n|---|---|");
        let _ = writeln!(s, "| CPUs | {} × {} |", m.cpus, m.cpu_model);
        let _ = writeln!(s, "| memory | {} |", m.memory);
        let _ = writeln!(s, "| kernel | {} |", m.kernel);
        let _ = writeln!(s, "| compiler | {} |", m.rustc);
        let _ = writeln!(s, "| load average at start | {} |", m.load);
        let _ = writeln!(
            s,
            "\nThe load generator, the three services and the ceiling processes share these CPUs.\n"
        );
        let _ = writeln!(s, "## Run\n");
        let sizes: Vec<String> = p.group_sizes.iter().map(|g| thousands(*g as u64)).collect();
        let _ = writeln!(
            s,
            "{} users preloaded through POST /Users ({} plus {} spare users for the membership scenarios) in {:.1} s; groups of {} members; {} connections; {} s per scenario after a {} ms warm-up.\n",
            thousands(self.users_total as u64),
            thousands(p.users as u64),
            self.users_total.saturating_sub(p.users),
            self.preload.as_secs_f64(),
            if sizes.is_empty() {
                "no".to_owned()
            } else {
                sizes.join(", ")
            },
            p.connections,
            p.duration.as_secs(),
            p.warmup.as_millis(),
        );
    }

    fn targets_table(&self, s: &mut String) {
        let _ = writeln!(s, "## Targets\n");
        let _ = writeln!(s, "| target | measured | met? |\n|---|---|---|");
        for v in self.verdicts() {
            let _ = writeln!(s, "| {} | {} | {} |", v.target, v.measured, yes_no(v.met));
        }
        let _ = writeln!(s);
        if self.verdicts().iter().any(|v| v.met == Some(false)) {
            // The profiles behind a miss are taken with perf outside this harness, so
            // they live in a page kept by hand; the report says where.
            let _ = writeln!(
                s,
                "What limits each target that is not met, the profile that shows it, and what \
                 was changed so far: `docs/PERFORMANCE.md`.\n"
            );
        }
    }

    fn scenario_table(&self, s: &mut String) {
        let (a, b) = (self.a_rps(), self.b_rps());
        let _ = writeln!(s, "## Scenarios\n");
        let _ = writeln!(
            s,
            "Ceilings: (a) {:.0} req/s, (b) {:.0} req/s (means of {} measurements taken at the start and the end of the run).\n",
            a,
            b,
            self.ceiling_a.len()
        );
        let _ = writeln!(
            s,
            "| scenario | req/s | p50 ms | p99 ms | errors | × (a) | × (b) | target | met? |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|---|");
        for (i, r) in self.ceiling_a.iter().enumerate() {
            self.table_row(s, &format!("ceiling (a) run {}", i + 1), r, "", None);
        }
        for (i, r) in self.ceiling_b.iter().enumerate() {
            self.table_row(s, &format!("ceiling (b) run {}", i + 1), r, "", None);
        }
        for row in &self.rows {
            self.table_row(
                s,
                &row.title,
                &row.result,
                &self.goal_text(row.goal),
                self.row_met(row),
            );
        }
        let _ = writeln!(s);
        let failures = self.failures();
        if !failures.is_empty() {
            let _ = writeln!(
                s,
                "Scenarios with errors (their numbers are not comparable):\n"
            );
            for f in failures {
                let _ = writeln!(s, "- {}", f.replace('\n', " "));
            }
            let _ = writeln!(s);
        }
    }

    fn table_row(
        &self,
        s: &mut String,
        title: &str,
        r: &LoadResult,
        goal: &str,
        met: Option<bool>,
    ) {
        let errors = if r.errors > 0 {
            format!("**{}**", r.errors)
        } else {
            "0".into()
        };
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {} | {} |",
            title.replace('|', "\\|"),
            r.rps(),
            r.p50_ms(),
            r.p99_ms(),
            errors,
            ratio(r.rps(), self.a_rps()),
            ratio(r.rps(), self.b_rps()),
            goal,
            yes_no(met)
        );
    }

    fn walk_section(&self, s: &mut String) {
        let Some(w) = &self.walk else { return };
        let _ = writeln!(s, "## Okta import walk\n");
        let _ = writeln!(
            s,
            "startIndex = 1, 101, 201, … with count=100 on one connection over {} users ({} pages), {} walks; each page's time is its median over the walks.\n",
            thousands(w.total as u64),
            w.pages.len(),
            w.walks
        );
        let _ = writeln!(
            s,
            "| first page | last page | slowest page | median page | last / first | whole walk |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|");
        let walk_s: Vec<String> = w
            .walk_times
            .iter()
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .collect();
        let _ = writeln!(
            s,
            "| {} ms | {} ms | {} ms | {} ms | {:.2} | {} |\n",
            ms(w.first()),
            ms(w.last()),
            ms(w.max()),
            ms(w.median_page()),
            w.last_over_first(),
            walk_s.join(", ")
        );
        // A coarse profile of the walk: ten evenly spaced pages show a trend with offset
        // that first/last alone could hide.
        if w.pages.len() > 2 {
            let step = (w.pages.len() - 1) as f64 / 9.0;
            let mut idx: Vec<usize> = (0..10)
                .map(|k| (k as f64 * step).round() as usize)
                .collect();
            idx.dedup();
            let cells: Vec<String> = idx
                .iter()
                .map(|&i| format!("{}: {} ms", i * 100 + 1, ms(w.pages[i])))
                .collect();
            let _ = writeln!(s, "Page time by startIndex: {}.\n", cells.join(" · "));
        }
    }

    fn cpu_section(&self, s: &mut String) {
        let _ = writeln!(s, "## CPU per request\n");
        let _ = writeln!(
            s,
            "User + system CPU milliseconds each server process used per request (from `/proc/<pid>/stat` around the whole run, warm-up included, divided by every request sent). It shows where the work is, whatever else the machine is doing.\n"
        );
        let _ = writeln!(s, "| scenario | ms per request |\n|---|---|");
        let named = self
            .ceiling_a
            .iter()
            .take(1)
            .map(|r| ("ceiling (a)", r))
            .chain(self.ceiling_b.iter().take(1).map(|r| ("ceiling (b)", r)))
            .chain(self.rows.iter().map(|r| (r.title.as_str(), &r.result)));
        for (title, r) in named {
            let parts = r.cpu_per_request_ms();
            if parts.is_empty() {
                continue;
            }
            let total: f64 = parts.iter().map(|(_, ms)| ms).sum();
            let cells: Vec<String> = parts.iter().map(|(n, ms)| format!("{n} {ms:.3}")).collect();
            let _ = writeln!(
                s,
                "| {} | {} = **{total:.3}** |",
                title.replace('|', "\\|"),
                cells.join(" + ")
            );
        }
        let _ = writeln!(s);
    }

    fn postgres_section(&self, s: &mut String) {
        if self.postgres.is_empty() {
            return;
        }
        let b = self.b_rps();
        let _ = writeln!(s, "## PostgreSQL\n");
        let _ = writeln!(
            s,
            "The same scenarios on one PostgreSQL database (both services, a schema each), after the SQLite stack and against the same ceilings: a fresh database per stack, preloaded the same way; {}. Ratios are to ceiling (b) of this run; CPU per request counts every PostgreSQL server process (backends, WAL writer, checkpointer) besides the services, every replica under its service's name.\n",
            self.postgres
                .iter()
                .map(|pg| format!(
                    "{} ({} users, preload {:.1} s)",
                    pg.label(),
                    thousands(pg.users_total as u64),
                    pg.preload.as_secs_f64()
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let mut head = "| scenario | SQLite × (b) |".to_owned();
        let mut rule = "|---|---:|".to_owned();
        for pg in &self.postgres {
            let _ = write!(
                head,
                " {} replica{} × (b) | req/s | p50 ms | CPU ms/request |",
                pg.replicas,
                if pg.replicas == 1 { "" } else { "s" }
            );
            rule.push_str("---:|---:|---:|---|");
        }
        head.push_str(" PostgreSQL target |");
        rule.push_str("---|");
        let _ = writeln!(s, "{head}\n{rule}");
        for row in &self.rows {
            let mut line = format!(
                "| {} | {:.2} |",
                row.title.replace('|', "\\|"),
                ratio(row.result.rps(), b)
            );
            for pg in &self.postgres {
                match pg.row(&row.key) {
                    Some(r) => {
                        let parts = r.result.cpu_per_request_ms();
                        let total: f64 = parts.iter().map(|(_, ms)| ms).sum();
                        let cells: Vec<String> =
                            parts.iter().map(|(n, ms)| format!("{n} {ms:.3}")).collect();
                        let errors = if r.result.errors > 0 {
                            format!(" (**{} errors**)", r.result.errors)
                        } else {
                            String::new()
                        };
                        let _ = write!(
                            line,
                            " {:.2}{errors} | {:.0} | {:.2} | {} = **{total:.3}** |",
                            ratio(r.result.rps(), b),
                            r.result.rps(),
                            r.result.p50_ms(),
                            cells.join(" + ")
                        );
                    }
                    None => line.push_str(" — | — | — | — |"),
                }
            }
            match pg_goal(&row.key) {
                Some(g) => {
                    let _ = write!(line, " ≥ {g:.2} × (b) |");
                }
                None => line.push_str(" |"),
            }
            let _ = writeln!(s, "{line}");
        }
        let _ = writeln!(s);
        for pg in &self.postgres {
            if let Some(w) = &pg.walk {
                let _ = writeln!(
                    s,
                    "{}: import walk over {} users, first page {} ms, last {} ms, median {} ms, last / first {:.2}.\n",
                    pg.label(),
                    thousands(w.total as u64),
                    ms(w.first()),
                    ms(w.last()),
                    ms(w.median_page()),
                    w.last_over_first()
                );
            }
        }
    }

    fn memory_section(&self, s: &mut String) {
        let _ = writeln!(s, "## Peak memory (VmHWM)\n");
        let names: Vec<String> = self
            .checkpoints
            .first()
            .map(|c| c.memory.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "Peak resident set (MiB) of each service process since it started, read after each block; current RSS in parentheses.\n"
        );
        let _ = writeln!(s, "| after | {} |", names.join(" | "));
        let _ = writeln!(s, "|---|{}", "---:|".repeat(names.len()));
        for cp in &self.checkpoints {
            let cells: Vec<String> = cp
                .memory
                .iter()
                .map(|(_, m)| match m {
                    Some(m) => format!("{:.1} ({:.1})", mib(m.peak_kib), mib(m.current_kib)),
                    None => "gone".into(),
                })
                .collect();
            let _ = writeln!(s, "| {} | {} |", cp.label, cells.join(" | "));
        }
        let refs: Vec<String> = self
            .ceiling_memory
            .iter()
            .filter_map(|(n, m)| m.map(|m| format!("{n} {:.1} MiB", mib(m.peak_kib))))
            .collect();
        if !refs.is_empty() {
            let _ = writeln!(
                s,
                "\nFor reference, the ceiling processes peaked at: {}.",
                refs.join(", ")
            );
        }
        let _ = writeln!(s);
    }

    fn tracing_section(&self, s: &mut String) {
        if self.tracing.is_empty() {
            return;
        }
        let _ = writeln!(s, "## Tracing on\n");
        let _ = writeln!(
            s,
            "Each pair restarts the stack without tracing and runs the lookups, then restarts it \
exporting every trace to the sink and runs them again, then once more exporting a tenth of the \
traces (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`). The \
verdict is the median pair's ratio; req/s and p50 are that pair's.\n"
        );
        let _ = writeln!(
            s,
            "| scenario | sampling | req/s off | req/s on | on / off | every pair's on / off | p50 ms off | p50 ms on | met? |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---|---:|---:|---|");
        for t in &self.tracing {
            for (label, pairs, limit) in [
                ("every trace", &t.pairs, TRACING_MIN_RATIO),
                ("10%", &t.tenth, TRACING_TENTH_MIN_RATIO),
            ] {
                let Some(median) = median_pair(pairs) else {
                    continue;
                };
                let (off, on) = median;
                let r = pair_ratio(median);
                let ratios: Vec<String> = pairs
                    .iter()
                    .map(|p| format!("{:.2}", pair_ratio(p)))
                    .collect();
                let _ = writeln!(
                    s,
                    "| {} | {label} | {:.0} | {:.0} | {:.2} | {} | {:.2} | {:.2} | {} |",
                    t.title.replace('|', "\\|"),
                    off.rps(),
                    on.rps(),
                    r,
                    ratios.join(", "),
                    off.p50_ms(),
                    on.p50_ms(),
                    yes_no(Some(r >= limit))
                );
            }
        }
        let spans: Vec<String> = self
            .spans
            .iter()
            .map(|(k, v)| format!("{k} {}", thousands(*v)))
            .collect();
        let _ = writeln!(
            s,
            "\nSpans received by the in-process OTLP sink: {}.\n",
            if spans.is_empty() {
                "none".to_owned()
            } else {
                spans.join(", ")
            }
        );
    }

    fn method_section(&self, s: &mut String) {
        let p = &self.plan;
        let _ = writeln!(s, "## Method\n");
        let text = format!(
            "\
- **Stack.** auth-service, identity-service and scim-gateway run from their release binaries, \
each in its own process, on a fresh data directory (SQLite files) and loopback ports. A provider \
is registered with `scimctl provider create`; every request carries a bearer token minted through \
`POST /oauth2/token`, and is verified by the gateway as in production.
- **Preload.** {users} users are created through `POST /Users` over {conns} connections, plus one \
spare user per connection that belongs to no group. Groups are created with `POST /Groups` and \
filled with `PATCH` `add members` in batches of 1,000.
- **Load.** A closed loop: {conns} tasks, each owning one keep-alive HTTP/1.1 connection and \
keeping exactly one request in flight. Every connection is open before the clock starts; a \
warm-up of {warm} ms is not recorded; then each scenario runs for {dur} s. requests/s = 2xx \
responses to requests started in the window / the window. Latencies go into an HDR histogram \
(microseconds, 3 significant digits) for p50/p99. A non-2xx response or a transport error counts \
as an error; scenarios with errors are listed under the table.
- **Scenarios.** Reads pick users by a hash of the request number, so they touch the whole \
directory. Writes cycle through the users, so no two connections write the same user at once: \
PATCH sets `active` to false on the first pass (and flips it on later passes so every PATCH is a \
change); PUT rewrites the whole user with a new displayName. POST creates new users with unique \
names for as long as it runs, so the scenarios after it (and the tracing reruns) see a directory \
larger by that many users. Pages near the end use startIndex in the last 200 users with count=100. The membership \
scenario gives each connection its own spare user and alternates adding and removing it, so the \
group stays within {conns} of its nominal size; only the adds are timed (throughput counts both). \
The token scenario sends client_credentials in the form body.
- **Ceilings.** (a) a separate process (this binary re-executed) running an axum handler that \
returns a fixed SCIM User of the same shape as a preloaded user; (b) the same process and handler, \
but the handler first makes one unary tonic call (grpc.health.v1 Check) over one long-lived \
channel to a trivial gRPC service in a third process. Both are loaded exactly like the scenarios, \
once at the start and once at the end of the run; the ratios use the mean.
- **Import walk.** Okta's import pattern on one connection, {walks} times; page times are medians \
over the walks. The walk also checks that every user is seen exactly once.
- **Memory.** VmHWM of `/proc/<pid>/status`: the peak resident set of the process since it \
started, read after each block of scenarios. The RSS targets are judged on the main stack (before \
the tracing restarts). On runs larger than 10,000 users, identity-service's peak is also read when \
the first 10,000 users are loaded; the growth target compares it with the peak after the \
whole preload, both before any scenario runs.
- **Tracing.** The stack is restarted on the same data in {pairs} round(s) of restarts: once \
without an OTLP endpoint, once with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an OTLP/gRPC \
sink inside the harness (it counts spans and drops them, reading no more of each export than \
that, so its own CPU stays small), and once more with that endpoint sampling 10% of the traces. \
The lookup scenarios run after each restart, each from a cold start; each restart with tracing \
gives an on/off ratio against the run without it, and the verdict is the median pair's.
- **Noise.** Everything shares one machine, so absolute numbers move from run to run by several \
per cent; compare medians and the ratios to the ceilings, which are measured side by side in the \
same run, rather than raw requests/s between runs or machines. The smoke run (`--smoke`, used by \
CI through `scripts/bench-smoke`) only proves the harness works.
",
            users = thousands(p.users as u64),
            pairs = p.tracing_pairs,
            conns = p.connections,
            warm = p.warmup.as_millis(),
            dur = p.duration.as_secs(),
            walks = p.walks,
        );
        s.push_str(&text);
    }
}

/// The member count encoded in a `group_add_N` key.
fn group_size(key: &str) -> usize {
    key.rsplit('_')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::histogram;

    /// A result with `ok` requests over one second, all at `p50_us` latency.
    fn result(ok: u64, p50_us: u64, errors: u64) -> LoadResult {
        let mut h = histogram().unwrap();
        for _ in 0..ok.min(1000) {
            h.record(p50_us).unwrap();
        }
        LoadResult {
            ok,
            errors,
            elapsed: Duration::from_secs(1),
            latency: h,
            first_error: (errors > 0).then(|| "500: boom".to_owned()),
            sent: ok + errors,
            cpu: vec![("scim-gateway".into(), Duration::from_millis(ok))],
        }
    }

    fn row(key: &str, goal: Option<Goal>, r: LoadResult) -> Row {
        Row {
            key: key.into(),
            title: key.into(),
            goal,
            result: r,
        }
    }

    fn mem(peak_mib: u64) -> Option<Memory> {
        Some(Memory {
            peak_kib: peak_mib * 1024,
            current_kib: peak_mib * 1024,
        })
    }

    fn report() -> Report {
        let plan = crate::cli::RunArgs {
            users: 10_000,
            duration: 10,
            connections: 32,
            big_group: vec![100, 10_000],
            walks: 3,
            smoke: false,
            no_tracing: false,
            tracing_pairs: 3,
            only: vec![],
            database: None,
            pg_replicas: vec![1, 2],
            bin_dir: None,
            soak: None,
            out: None,
        }
        .plan();
        Report {
            plan,
            command: "target/release/scim-bench".into(),
            machine: Machine::default(),
            date: "2026-01-01".into(),
            users_total: 10_032,
            preload: Duration::from_secs(30),
            wall: Duration::from_secs(300),
            ceiling_a: vec![result(20_000, 1000, 0)],
            ceiling_b: vec![result(10_000, 2000, 0), result(10_000, 2000, 0)],
            rows: vec![
                row("get_user", Some(Goal::OfB(0.60)), result(7_000, 3000, 0)),
                row("post_user", Some(Goal::OfB(0.25)), result(2_000, 9000, 0)),
                row("group_add_100", None, result(1_000, 4000, 0)),
                row(
                    "group_add_10000",
                    Some(Goal::VsSmallestGroup(2.0)),
                    result(500, 9000, 3),
                ),
            ],
            walk: Some(WalkResult {
                total: 10_032,
                pages: vec![
                    Duration::from_millis(2),
                    Duration::from_millis(3),
                    Duration::from_millis(5),
                ],
                walks: 3,
                walk_times: vec![Duration::from_secs(1)],
                problem: None,
            }),
            checkpoints: vec![
                Checkpoint {
                    label: "preload".into(),
                    memory: vec![
                        ("auth-service".into(), mem(20)),
                        ("identity-service".into(), mem(50)),
                    ],
                    main_stack: true,
                },
                Checkpoint {
                    label: "writes".into(),
                    memory: vec![
                        ("auth-service".into(), mem(21)),
                        ("identity-service".into(), mem(70)),
                    ],
                    main_stack: true,
                },
                Checkpoint {
                    label: "tracing on".into(),
                    memory: vec![
                        ("auth-service".into(), mem(200)),
                        ("identity-service".into(), mem(10)),
                    ],
                    main_stack: false,
                },
            ],
            identity_at_10k: None,
            ceiling_memory: vec![],
            tracing: vec![TracingRow {
                title: "GET /Users/{id}".into(),
                // Ratios 0.86, 1.00 and 0.50: the verdict is the median pair's.
                pairs: vec![
                    (result(7_000, 3000, 0), result(6_000, 3500, 0)),
                    (result(7_000, 3000, 0), result(7_000, 3000, 0)),
                    (result(7_000, 3000, 0), result(3_500, 6000, 0)),
                ],
                // Ratios 0.96, 0.99 and 0.90: the median, 0.96, misses 0.97.
                tenth: vec![
                    (result(7_000, 3000, 0), result(6_720, 3100, 0)),
                    (result(7_000, 3000, 0), result(6_930, 3000, 0)),
                    (result(7_000, 3000, 0), result(6_300, 3300, 0)),
                ],
            }],
            spans: BTreeMap::from([("scim-gateway".to_owned(), 42)]),
            postgres: vec![],
        }
    }

    fn verdict<'a>(v: &'a [Verdict], prefix: &str) -> &'a Verdict {
        v.iter()
            .find(|x| x.target.starts_with(prefix))
            .unwrap_or_else(|| panic!("no verdict {prefix}: {v:?}"))
    }

    #[test]
    fn ratios_use_the_mean_of_the_ceiling_runs() {
        let r = report();
        assert_eq!(r.b_rps(), 10_000.0);
        let v = r.verdicts();
        let get = verdict(&v, "get_user");
        assert_eq!(get.measured, "0.70 × (b)");
        assert_eq!(get.met, Some(true));
        assert_eq!(verdict(&v, "post_user").met, Some(false), "0.20 < 0.25");
    }

    #[test]
    fn group_growth_is_judged_on_p50_against_the_smallest_group() {
        let v = report().verdicts();
        let g = verdict(&v, "add 1 member");
        // 9 ms vs 4 ms is 2.25×.
        assert_eq!(g.met, Some(false), "{g:?}");
        assert!(
            g.measured.contains("the target is set at 100,000"),
            "{}",
            g.measured
        );
    }

    #[test]
    fn rss_is_judged_on_the_main_stack_peaks() {
        let r = report();
        assert_eq!(
            r.peaks(),
            vec![
                ("auth-service".into(), 21 * 1024),
                ("identity-service".into(), 70 * 1024)
            ]
        );
        let v = r.verdicts();
        assert_eq!(verdict(&v, "auth-service peak").met, Some(true));
        assert_eq!(verdict(&v, "identity-service peak").met, Some(false));
        assert_eq!(verdict(&v, "identity-service RSS at 100,000").met, None);
    }

    #[test]
    fn rss_growth_compares_the_two_preload_readings() {
        let mut r = report();
        r.users_total = 100_032;
        r.identity_at_10k = mem(40);
        // The preload checkpoint says 50 MiB: 1.25×, while the post-scenario peak
        // (70 MiB) must not be what is compared.
        let v = r.verdicts();
        let g = verdict(&v, "identity-service RSS at 100,000");
        assert_eq!(g.met, Some(true), "{g:?}");
        assert!(g.measured.ends_with("= 1.25×"), "{}", g.measured);
        r.identity_at_10k = mem(20);
        let v = r.verdicts();
        assert_eq!(
            verdict(&v, "identity-service RSS at 100,000").met,
            Some(false)
        );
    }

    #[test]
    fn walk_and_tracing_verdicts() {
        let v = report().verdicts();
        let w = verdict(&v, "Okta import walk");
        assert_eq!(w.met, Some(false), "5 ms / 2 ms = 2.5×");
        let t = verdict(&v, "tracing every trace");
        assert_eq!(t.measured, "on/off = 0.86");
        assert_eq!(t.met, Some(true), "0.86 is within the 20% allowed");
        let t = verdict(&v, "tracing 10% of traces");
        assert_eq!(t.measured, "on/off = 0.96");
        assert_eq!(t.met, Some(false), "0.96 is more than the 3% allowed");
    }

    #[test]
    fn scenarios_with_errors_are_failures_and_flagged() {
        let r = report();
        let f = r.failures();
        assert_eq!(f.len(), 1);
        assert!(f[0].starts_with("group_add_10000: 3 errors"), "{}", f[0]);
        let md = r.markdown(true);
        assert!(md.contains("| **3** |"));
        assert!(md.contains("Scenarios with errors"));
    }

    #[test]
    fn markdown_has_every_section_and_no_method_when_asked() {
        let r = report();
        let md = r.markdown(true);
        for section in [
            "# Benchmarks",
            "## Machine",
            "## Targets",
            "## Scenarios",
            "## Okta import walk",
            "## CPU per request",
            "## Peak memory",
            "## Tracing on",
            "## Method",
        ] {
            assert!(md.contains(section), "missing {section}");
        }
        assert!(md.contains("target/release/scim-bench"));
        assert!(md.contains("scim-gateway 42"));
        // get_user: 7,000 requests, 7 s of gateway CPU in the fixture.
        assert!(
            md.contains("| get_user | scim-gateway 1.000 = **1.000** |"),
            "{md}"
        );
        assert!(!r.markdown(false).contains("## Method"));
        // The fixture misses targets, so the report points at the findings page.
        assert!(r.verdicts().iter().any(|v| v.met == Some(false)));
        assert!(md.contains("`docs/PERFORMANCE.md`"), "{md}");
    }

    #[test]
    fn postgres_stacks_are_judged_on_their_own_targets() {
        let mut r = report();
        r.postgres = vec![PgRun {
            replicas: 2,
            rows: vec![
                // b = 10,000 req/s: 0.45 × (b) meets the lookup target, 0.15 × (b)
                // misses the write target.
                row("get_user", None, result(4_500, 3000, 0)),
                row("post_user", None, result(1_500, 9000, 0)),
            ],
            walk: None,
            preload: Duration::from_secs(40),
            users_total: 10_032,
        }];
        let v = r.verdicts();
        let find = |needle: &str| v.iter().find(|x| x.target.contains(needle)).unwrap();
        let get = find("PostgreSQL, 2 identity-service replicas: get_user");
        assert_eq!(get.met, Some(true), "{get:?}");
        assert_eq!(get.measured, "0.45 × (b)");
        let post = find("PostgreSQL, 2 identity-service replicas: post_user");
        assert_eq!(post.met, Some(false), "{post:?}");
        let md = r.markdown(false);
        assert!(md.contains("## PostgreSQL"), "{md}");
        assert!(md.contains("2 replicas × (b)"), "{md}");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn group_sizes_come_from_keys() {
        assert_eq!(group_size("group_add_100000"), 100_000);
        assert_eq!(group_size("token"), 0);
    }
}
