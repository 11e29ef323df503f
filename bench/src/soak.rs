//! `--soak MINUTES`: one stack under mixed Okta-like traffic for a long time, with the
//! resident memory of every service sampled as it goes.
//!
//! The target (issue #17): flat memory, the peak of the last quarter of the samples at
//! most 1.1 times the peak of the first quarter, for every service, and not one error.
//! The mix is what an Okta integration sends day to day: mostly lookups by `userName`
//! and reads by id, profile updates (PATCH and PUT), deactivations, membership pushes,
//! a page of an import now and then, and few creates and token requests. Creates are
//! kept rare so the directory stays near its preloaded size: memory that grows with the
//! data is not a leak, and a soak must tell the two apart.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http::Method;

use crate::api::{self, Api};
use crate::load::{self, LoadResult, Planned, Shape, Source, Tick};
use crate::preload;
use crate::procfs::memory_of;
use crate::stack::{Binaries, Ports, Storage};

/// Requests out of every [`CYCLE`] a connection sends, by kind.
const CYCLE: u64 = 400;

/// How much the last quarter's peak may exceed the first quarter's.
pub const FLAT_RSS: f64 = 1.1;

/// Samples taken over the run (more when the run is short, at most one a second).
const SAMPLES: u64 = 48;

/// Members of the group the membership pushes go to.
const GROUP_SIZE: usize = 100;

/// What one request of the mix is, from the connection's position in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    LookupUserName,
    GetById,
    LookupEmail,
    Page,
    PatchActive,
    Put,
    GroupAdd,
    GroupRemove,
    Create,
    Token,
}

/// The kind of the `local`-th request of a connection. Out of every 20: 6 `userName`
/// lookups, 3 reads by id, 1 e-mail lookup (Entra's), 1 page, 3 PATCHes of `active`,
/// 2 PUTs, a member added and then removed again, and 2 slots that are once per
/// [`CYCLE`] a create or a token request and otherwise a read by id.
fn kind(local: u64) -> Kind {
    match local % 20 {
        0..=5 => Kind::LookupUserName,
        6..=8 => Kind::GetById,
        9 => Kind::LookupEmail,
        10 => Kind::Page,
        11..=13 => Kind::PatchActive,
        14 | 15 => Kind::Put,
        16 => Kind::GroupAdd,
        17 => Kind::GroupRemove,
        18 if local % CYCLE == 18 => Kind::Create,
        19 if local % CYCLE == CYCLE - 1 => Kind::Token,
        _ => Kind::GetById,
    }
}

/// The directory the mix works on.
struct Directory {
    api: Api,
    ids: Vec<String>,
    /// One user per connection, added to and removed from the group by it alone.
    spares: Vec<String>,
    group: String,
    client_id: String,
    client_secret: String,
    tag: String,
}

/// SplitMix64, to spread reads and writes over the users.
fn mix(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn source(d: Arc<Directory>) -> Source {
    let form = api::token_form(&d.client_id, &d.client_secret, None);
    Arc::new(move |t: Tick| {
        let n = d.ids.len().max(1);
        let i = (mix(t.seq) % n as u64) as usize;
        let id = d.ids.get(i).map_or("missing", String::as_str);
        let user = format!("{}/Users/{id}", api::SCIM);
        let group = format!("{}/Groups/{}", api::SCIM, d.group);
        let spare = d
            .spares
            .get(t.conn % d.spares.len().max(1))
            .map_or("missing", String::as_str);
        let request = match kind(t.local) {
            Kind::LookupUserName => d.api.request(Method::GET, &api::username_lookup(i), None),
            Kind::GetById => d.api.request(Method::GET, &user, None),
            Kind::LookupEmail => d.api.request(Method::GET, &api::email_lookup(i), None),
            Kind::Page => d.api.request(
                Method::GET,
                &api::page(1 + (mix(t.seq ^ 1) % n as u64) as usize, 100),
                None,
            ),
            Kind::PatchActive => d.api.request(
                Method::PATCH,
                &user,
                Some(&api::patch_active(t.seq.is_multiple_of(2))),
            ),
            Kind::Put => d
                .api
                .request(Method::PUT, &user, Some(&api::user_json(i, t.seq + 1))),
            Kind::GroupAdd => {
                let body = api::patch_add_members([&spare.to_owned()]);
                d.api.request(Method::PATCH, &group, Some(&body))
            }
            Kind::GroupRemove => d.api.request(
                Method::PATCH,
                &group,
                Some(&api::patch_remove_member(spare)),
            ),
            Kind::Create => d.api.request(
                Method::POST,
                &format!("{}/Users", api::SCIM),
                Some(&api::new_user_json(&d.tag, t.seq)),
            ),
            Kind::Token => load::request(
                Method::POST,
                &d.api.host,
                api::TOKEN_PATH,
                None,
                Some((api::FORM, hyper::body::Bytes::clone(&form))),
            ),
        };
        Planned::measured(request)
    })
}

/// Resident memory of each service at one moment of the run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Since the load started.
    pub at: Duration,
    /// KiB resident per service, in the stack's order (`None`: the process is gone).
    pub rss_kib: Vec<Option<u64>>,
}

/// The memory verdict of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Flatness {
    /// Peak RSS of the first quarter of the samples, KiB.
    pub first_kib: u64,
    /// Peak RSS of the last quarter, KiB.
    pub last_kib: u64,
}

impl Flatness {
    /// Last quarter's peak over the first quarter's.
    pub fn ratio(&self) -> f64 {
        self.last_kib as f64 / self.first_kib.max(1) as f64
    }

    /// Whether the target holds.
    pub fn flat(&self) -> bool {
        self.ratio() <= FLAT_RSS
    }
}

/// The verdict for column `service` of `samples`; `None` with fewer than four samples
/// or a process that was gone in a quarter.
pub fn flatness(samples: &[Sample], service: usize) -> Option<Flatness> {
    let quarter = samples.len() / 4;
    if quarter == 0 {
        return None;
    }
    let peak = |part: &[Sample]| -> Option<u64> {
        part.iter()
            .map(|s| s.rss_kib.get(service).copied().flatten())
            .collect::<Option<Vec<u64>>>()
            .and_then(|v| v.into_iter().max())
    };
    Some(Flatness {
        first_kib: peak(&samples[..quarter])?,
        last_kib: peak(&samples[samples.len() - quarter..])?,
    })
}

/// Everything a soak measured, for its report.
struct Soak {
    minutes: f64,
    connections: usize,
    users: usize,
    services: Vec<&'static str>,
    samples: Vec<Sample>,
    result: LoadResult,
}

impl Soak {
    fn markdown(&self, command: &str, machine: &str, date: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Soak run\n");
        let _ = writeln!(
            out,
            "Generated by `{command}` on {date} ({machine}). Method: one stack on SQLite from \
             the release binaries, {} users and a group of {GROUP_SIZE} preloaded through \
             the API, then {:.1} minutes of mixed Okta-like traffic over {} connections \
             (per 20 requests of a connection: 6 `userName` lookups, 3 reads by id, 1 e-mail \
             lookup, 1 page of 100, 3 PATCHes of `active`, 2 PUTs, one member added and \
             removed; one create and one token request per {CYCLE}). Resident memory \
             (`VmRSS`) of every service is read {} times at even intervals. Target: the \
             last quarter's peak at most {FLAT_RSS} times the first quarter's, and no \
             error.\n",
            self.users,
            self.minutes,
            self.connections,
            self.samples.len(),
        );
        let r = &self.result;
        let _ = writeln!(
            out,
            "{} requests answered 2xx ({:.0}/s), {} errors{}; p50 {:.2} ms, p99 {:.2} ms.\n",
            r.ok,
            r.rps(),
            r.errors,
            r.first_error
                .as_ref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
            r.p50_ms(),
            r.p99_ms(),
        );
        let _ = writeln!(
            out,
            "| service | first quarter peak | last quarter peak | ratio | flat |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        for (i, name) in self.services.iter().enumerate() {
            match flatness(&self.samples, i) {
                Some(f) => {
                    let _ = writeln!(
                        out,
                        "| {name} | {:.1} MiB | {:.1} MiB | {:.3} | {} |",
                        f.first_kib as f64 / 1024.0,
                        f.last_kib as f64 / 1024.0,
                        f.ratio(),
                        if f.flat() { "yes" } else { "**no**" }
                    );
                }
                None => {
                    let _ = writeln!(out, "| {name} | – | – | – | too few samples |");
                }
            }
        }
        let _ = writeln!(out, "\n## RSS over time (MiB)\n");
        let _ = writeln!(out, "| minute | {} |", self.services.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(self.services.len()));
        for s in &self.samples {
            let cells: Vec<String> = s
                .rss_kib
                .iter()
                .map(|k| k.map_or("gone".into(), |k| format!("{:.1}", k as f64 / 1024.0)))
                .collect();
            let _ = writeln!(
                out,
                "| {:.2} | {} |",
                s.at.as_secs_f64() / 60.0,
                cells.join(" | ")
            );
        }
        out
    }

    /// Whether nothing failed and, when `memory` asks for it, every service stayed
    /// flat.
    fn passed(&self, memory: bool) -> bool {
        self.result.errors == 0
            && (!memory
                || (0..self.services.len()).all(|i| match flatness(&self.samples, i) {
                    Some(f) => f.flat(),
                    // A run too short to judge passes on its errors alone; a service that
                    // was gone does not pass.
                    None => self.samples.len() < 4,
                }))
    }
}

/// Runs the soak and writes its report; the exit code fails on any error, and on
/// memory that grew unless `smoke` (a run of seconds, which only proves the mode works:
/// its memory is still warming up).
pub async fn run(
    bins: &Binaries,
    smoke: bool,
    minutes: f64,
    users: usize,
    connections: usize,
    command: &str,
    out: Option<&std::path::Path>,
) -> anyhow::Result<std::process::ExitCode> {
    // Read before the run: the commit of the binaries, and the load before ours.
    let m = crate::machine::describe();
    let machine = format!(
        "{} CPUs, {}, {}, Linux {}, {}, commit {}, load {}",
        m.cpus, m.cpu_model, m.memory, m.kernel, m.rustc, m.commit, m.load
    );
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let data = tempfile::Builder::new()
        .prefix("scim-bench-soak-")
        .tempdir()
        .context("creating the data directory")?;
    let ports = Ports::pick()?;
    eprintln!("soak: starting the stack");
    let (stack, api, (client_id, client_secret)) =
        crate::run::start_stack(bins, data.path(), ports, None, None, &Storage::Sqlite).await?;
    eprintln!("soak: preloading {users} users");
    let users = users.max(GROUP_SIZE);
    let ids = preload::users(&api, 0..users, connections, |i| api::user_json(i, 0)).await?;
    let spares = preload::users(&api, users..users + connections, connections, |i| {
        api::user_json(i, 0)
    })
    .await?;
    let group = preload::group(&api, "soak-group", &ids[..GROUP_SIZE]).await?;
    let directory = Arc::new(Directory {
        api: api.clone(),
        ids,
        spares,
        group,
        client_id,
        client_secret,
        tag: format!("soak{}", chrono::Utc::now().format("%Y%m%d%H%M%S")),
    });

    let duration = Duration::from_secs_f64((minutes * 60.0).max(1.0));
    let interval = (duration / SAMPLES as u32).max(Duration::from_secs(1));
    let services: Vec<&'static str> = stack.services().iter().map(|s| s.name).collect();
    let pids: Vec<Option<u32>> = stack.services().iter().map(|s| s.pid()).collect();
    let sampler = tokio::spawn(async move {
        let began = Instant::now();
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(interval);
        while began.elapsed() < duration {
            tick.tick().await;
            samples.push(Sample {
                at: began.elapsed(),
                rss_kib: pids
                    .iter()
                    .map(|p| p.and_then(memory_of).map(|m| m.current_kib))
                    .collect(),
            });
        }
        samples
    });
    eprintln!("soak: {minutes} minutes of mixed traffic");
    let shape = Shape {
        connections,
        warmup: Duration::ZERO,
        duration,
    };
    let result = load::run(stack.gateway, shape, source(directory)).await?;
    let samples = sampler.await.context("the memory sampler failed")?;
    stack.stop().await;

    let soak = Soak {
        minutes,
        connections,
        users,
        services,
        samples,
        result,
    };
    let report = soak.markdown(command, &machine, &date);
    println!("{report}");
    if let Some(path) = out {
        std::fs::write(path, &report).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if soak.passed(!smoke) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(columns: &[&[u64]]) -> Vec<Sample> {
        (0..columns[0].len())
            .map(|i| Sample {
                at: Duration::from_secs(i as u64),
                rss_kib: columns.iter().map(|c| Some(c[i])).collect(),
            })
            .collect()
    }

    #[test]
    fn the_mix_has_the_documented_shares() {
        let mut count = std::collections::HashMap::new();
        for local in 0..CYCLE {
            *count.entry(kind(local)).or_insert(0u64) += 1;
        }
        let per_cycle = |k| count.get(&k).copied().unwrap_or(0);
        let twentieths = CYCLE / 20;
        assert_eq!(per_cycle(Kind::LookupUserName), 6 * twentieths);
        assert_eq!(per_cycle(Kind::PatchActive), 3 * twentieths);
        assert_eq!(per_cycle(Kind::GroupAdd), per_cycle(Kind::GroupRemove));
        assert_eq!(per_cycle(Kind::Create), 1);
        assert_eq!(per_cycle(Kind::Token), 1);
        assert_eq!(count.values().sum::<u64>(), CYCLE);
    }

    #[test]
    fn a_member_is_added_before_it_is_removed_on_each_connection() {
        for local in 0..CYCLE {
            if kind(local) == Kind::GroupRemove {
                assert_eq!(kind(local - 1), Kind::GroupAdd);
            }
        }
    }

    #[test]
    fn flat_memory_passes_and_growth_fails() {
        let flat = samples(&[&[100, 104, 102, 103, 101, 105, 104, 106]]);
        let f = flatness(&flat, 0).unwrap();
        assert_eq!((f.first_kib, f.last_kib), (104, 106));
        assert!(f.flat());
        let growing = samples(&[&[100, 110, 120, 130, 140, 150, 160, 170]]);
        let g = flatness(&growing, 0).unwrap();
        assert_eq!((g.first_kib, g.last_kib), (110, 170));
        assert!(!g.flat());
        assert!(
            flatness(&flat[..3], 0).is_none(),
            "too few samples to judge"
        );
    }

    #[test]
    fn a_service_gone_in_a_quarter_gets_no_verdict() {
        let mut s = samples(&[&[100, 100, 100, 100]]);
        s[3].rss_kib[0] = None;
        assert!(flatness(&s, 0).is_none());
    }
}
