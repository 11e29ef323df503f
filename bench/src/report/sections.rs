//! The sections of the report after its tables: PostgreSQL, memory, tracing, method.

use std::fmt::Write as _;

use super::*;

impl Report {
    pub(super) fn postgres_section(&self, s: &mut String) {
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

    pub(super) fn memory_section(&self, s: &mut String) {
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

    pub(super) fn tracing_section(&self, s: &mut String) {
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

    pub(super) fn method_section(&self, s: &mut String) {
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
change); the profile PATCH replaces `name.givenName` and `emails[type eq \"work\"].value` \
with values new on every request, as Entra does when a profile changes; PUT rewrites the whole \
user with a new displayName. POST creates new users with unique \
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
over the walks. The walk also checks that every user is seen exactly once. The cursor walk \
is the same walk paged by `cursor` and `nextCursor` (RFC 9865), right after it.
- **Bulk.** One `POST /Bulk` of 100 user creates against the same 100 creates as `POST /Users` \
requests one after the other on one connection, after the user writes; five rounds, alternating \
which goes first, each with userNames of its own; medians over the rounds.
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
