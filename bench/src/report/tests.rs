//! The report's verdicts and markdown from made-up results.

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
        cursor_walk: Some(WalkResult {
            total: 10_032,
            pages: vec![Duration::from_millis(2), Duration::from_millis(3)],
            walks: 3,
            walk_times: vec![Duration::from_secs(1)],
            problem: None,
        }),
        bulk: Some(crate::bulk::BulkResult {
            posts: vec![Duration::from_millis(300), Duration::from_millis(200)],
            bulk: vec![Duration::from_millis(80), Duration::from_millis(90)],
            problem: Some("a Bulk request created 99 of 100 users".into()),
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
    let c = verdict(&v, "Cursor walk");
    assert_eq!(c.met, Some(true), "3 ms / 2 ms = 1.5×");
    let t = verdict(&v, "tracing every trace");
    assert_eq!(t.measured, "on/off = 0.86");
    assert_eq!(t.met, Some(true), "0.86 is within the 20% allowed");
    let t = verdict(&v, "tracing 10% of traces");
    assert_eq!(t.measured, "on/off = 0.96");
    assert_eq!(t.met, Some(false), "0.96 is more than the 3% allowed");
}

#[test]
fn the_bulk_verdict_is_the_ratio_of_medians() {
    let v = report().verdicts();
    let b = verdict(&v, "Bulk: one request of 100 creates");
    // Medians (the upper of two): 300 ms of POSTs against 90 ms.
    assert_eq!(b.met, Some(true), "{}", b.measured);
    assert!(b.measured.ends_with("3.33 ×"), "{}", b.measured);
}

#[test]
fn scenarios_with_errors_are_failures_and_flagged() {
    let r = report();
    let f = r.failures();
    assert_eq!(f.len(), 2);
    assert!(f[0].starts_with("group_add_10000: 3 errors"), "{}", f[0]);
    assert!(
        f[1].starts_with("Bulk: a Bulk request created 99"),
        "{}",
        f[1]
    );
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
        "## Cursor walk",
        "## Bulk",
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
