//! The verdict on each target of the issue, and the failures that make a run fail.

use super::*;

impl Report {
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
        if let Some(b) = &self.bulk {
            v.push(Verdict {
                target: format!(
                    "Bulk: one request of {n} creates ≥ {BULK_SPEEDUP:.0} × faster than {n} POSTs",
                    n = crate::bulk::CREATES
                ),
                measured: format!(
                    "{} ms against {} ms: {:.2} ×",
                    ms(b.bulk_median()),
                    ms(b.posts_median()),
                    b.speedup()
                ),
                met: (!b.bulk.is_empty()).then(|| b.speedup() >= BULK_SPEEDUP),
            });
        }
        for (title, walk) in [
            ("Okta import walk", &self.walk),
            ("Cursor walk", &self.cursor_walk),
        ] {
            if let Some(w) = walk {
                v.push(Verdict {
                    target: format!("{title}: last page ≤ {WALK_LIMIT:.0} × first page"),
                    measured: walk_measured(w, scale_note(w.total)),
                    met: walk_met(w),
                });
            }
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
                measured: walk_measured(w, scale_note(w.total)),
                met: walk_met(w),
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
        if let Some(p) = self.bulk.as_ref().and_then(|b| b.problem.as_ref()) {
            out.push(format!("Bulk: {p}"));
        }
        if let Some(p) = self.cursor_walk.as_ref().and_then(|w| w.problem.as_ref()) {
            out.push(format!("cursor walk: {p}"));
        }
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
}

/// A walk's last page over its first, as the verdicts show it.
fn walk_measured(w: &WalkResult, scale_note: String) -> String {
    format!(
        "{} ms / {} ms = {:.2}×{scale_note}",
        ms(w.last()),
        ms(w.first()),
        w.last_over_first()
    )
}

/// Whether a walk met the last-page target (`None` without pages).
fn walk_met(w: &WalkResult) -> Option<bool> {
    (!w.pages.is_empty()).then(|| w.last_over_first() <= WALK_LIMIT)
}
