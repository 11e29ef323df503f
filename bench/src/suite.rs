//! One stack's run of the scenarios: the preload, every wanted scenario, the import
//! walk, the membership and token scenarios, and the memory checkpoints between them.

use std::time::Instant;

use anyhow::Context as _;

use crate::api::{self, Api};
use crate::cli::Plan;
use crate::measure::{checkpoint, run_block};
use crate::preload;
use crate::report::{Checkpoint, PRELOAD_LABEL, Row};
use crate::scenarios::{self, Dataset, Scenario};
use crate::stack::Stack;
use crate::walk;

/// Users loaded before identity-service's memory is read for the growth target.
const RSS_BASELINE_USERS: usize = 10_000;

/// Users loaded before the first `ANALYZE` of a PostgreSQL preload.
const PRELOAD_FIRST_ANALYZE: usize = 1_000;

/// What one stack's run of the scenarios measured.
pub(crate) struct Suite {
    pub(crate) rows: Vec<Row>,
    pub(crate) walk: Option<walk::WalkResult>,
    pub(crate) cursor_walk: Option<walk::WalkResult>,
    pub(crate) bulk: Option<crate::bulk::BulkResult>,
    pub(crate) checkpoints: Vec<Checkpoint>,
    pub(crate) users_total: usize,
    pub(crate) preload: std::time::Duration,
    pub(crate) identity_at_10k: Option<crate::procfs::Memory>,
    pub(crate) dataset: Dataset,
}

/// Preloads the directory, then runs every wanted scenario, the import walk and the
/// membership and token scenarios on `stack`. `main_stack` marks its memory
/// checkpoints as the ones the RSS targets are judged on.
pub(crate) async fn suite(
    stack: &Stack,
    api: &Api,
    creds: &(String, String),
    plan: &Plan,
    main_stack: bool,
    analyze: Option<&scim_storage::testing::TestDatabase>,
) -> anyhow::Result<Suite> {
    eprintln!("preloading {} users", plan.users);
    let began = Instant::now();
    let conns = plan.connections;
    let first = plan.users.min(RSS_BASELINE_USERS);
    // On PostgreSQL, fresh statistics while the tables grow, as autovacuum gives a
    // server where it is on (it analyzes a table once a tenth of it has changed): plans
    // the services prepared while the tables were empty are made again with them. A
    // server with autovacuum off (as a test machine may be) would otherwise keep
    // planning every userName check as a scan of the tenant, and the preload would slow
    // down quadratically.
    let refresh_statistics = || -> anyhow::Result<()> {
        if let Some(db) = analyze {
            for schema in ["identity", "auth"] {
                db.execute(schema, "ANALYZE")
                    .context("ANALYZE during the preload")?;
            }
        }
        Ok(())
    };
    let warm = first.min(PRELOAD_FIRST_ANALYZE);
    let mut ids = preload::users(api, 0..warm, conns, |i| api::user_json(i, 0)).await?;
    refresh_statistics()?;
    ids.extend(preload::users(api, warm..first, conns, |i| api::user_json(i, 0)).await?);
    refresh_statistics()?;
    let mut identity_at_10k = None;
    if plan.users > first {
        identity_at_10k = stack
            .services()
            .iter()
            .find(|s| s.name == "identity-service")
            .and_then(|s| s.memory());
        ids.extend(preload::users(api, first..plan.users, conns, |i| api::user_json(i, 0)).await?);
    }
    let spares = preload::users(api, plan.users..plan.users + conns, conns, |i| {
        api::user_json(i, 0)
    })
    .await?;
    let mut groups = Vec::new();
    let group_sizes: Vec<usize> = plan
        .group_sizes
        .iter()
        .copied()
        .filter(|s| plan.wants(&format!("group_add_{s}")))
        .collect();
    for &size in &group_sizes {
        eprintln!("preloading a group of {size}");
        let gid = preload::group(api, &format!("bench-group-{size}"), &ids[..size]).await?;
        groups.push((size, gid));
    }
    let preload_time = began.elapsed();
    eprintln!("preload done in {:.1} s", preload_time.as_secs_f64());
    // What an operator does after a bulk load, and autovacuum within a minute or so.
    refresh_statistics()?;
    let mut checkpoints = vec![checkpoint(PRELOAD_LABEL, stack, main_stack)];

    let dataset = Dataset {
        api: api.clone(),
        ids: std::sync::Arc::new(ids),
        spares: std::sync::Arc::new(spares),
        groups,
        client_id: creds.0.clone(),
        client_secret: creds.1.clone(),
        tag: chrono::Utc::now().format("%Y%m%d%H%M%S").to_string(),
    };
    let users_total = dataset.ids.len() + dataset.spares.len();

    let mut rows = Vec::new();
    let blocks: [(&str, Vec<Scenario>); 2] = [
        ("lookups and pages", {
            let mut v = scenarios::lookups(&dataset);
            v.push(scenarios::page_near_end(&dataset));
            v
        }),
        ("user writes", scenarios::writes(&dataset)),
    ];
    let mut walk = None;
    let mut cursor_walk = None;
    for (label, block) in blocks {
        run_block(
            stack,
            plan,
            label,
            block,
            &mut rows,
            &mut checkpoints,
            main_stack,
        )
        .await?;
        if walk.is_none() && plan.wants("walk") {
            // Right after the reads and before any write, on the preloaded directory.
            eprintln!("import walk");
            let w = walk::import_walk(api, plan.walks, walk::Paging::Index)
                .await
                .context("import walk")?;
            eprintln!(
                "  {} pages, first {:.2} ms, last {:.2} ms",
                w.pages.len(),
                w.first().as_secs_f64() * 1e3,
                w.last().as_secs_f64() * 1e3
            );
            walk = Some(w);
            checkpoints.push(checkpoint("import walk", stack, main_stack));
            eprintln!("cursor walk");
            let w = walk::import_walk(api, plan.walks, walk::Paging::Cursor)
                .await
                .context("cursor walk")?;
            eprintln!(
                "  {} pages, first {:.2} ms, last {:.2} ms",
                w.pages.len(),
                w.first().as_secs_f64() * 1e3,
                w.last().as_secs_f64() * 1e3
            );
            cursor_walk = Some(w);
        }
    }
    let mut bulk = None;
    if plan.wants("bulk") {
        eprintln!("Bulk: one request of 100 creates against 100 POSTs");
        let b = crate::bulk::compare(api, crate::bulk::ROUNDS, &dataset.tag)
            .await
            .context("Bulk comparison")?;
        eprintln!(
            "  100 POSTs {:.1} ms, one Bulk request {:.1} ms: {:.2} ×",
            b.posts_median().as_secs_f64() * 1e3,
            b.bulk_median().as_secs_f64() * 1e3,
            b.speedup()
        );
        bulk = Some(b);
    }
    let groups = scenarios::group_adds(&dataset);
    run_block(
        stack,
        plan,
        "group PATCH",
        groups,
        &mut rows,
        &mut checkpoints,
        main_stack,
    )
    .await?;
    let token = vec![scenarios::token(&dataset)];
    run_block(
        stack,
        plan,
        "token",
        token,
        &mut rows,
        &mut checkpoints,
        main_stack,
    )
    .await?;

    Ok(Suite {
        rows,
        walk,
        cursor_walk,
        bulk,
        checkpoints,
        users_total,
        preload: preload_time,
        identity_at_10k,
        dataset,
    })
}
