//! A membership change costs O(changed members), not O(group size).

use diesel::RunQueryDsl as _;
use scim_proto::identity::v1 as pb;

use crate::harness::*;

const BIG: usize = 10_000;
const SMALL: usize = 10;

/// Inserts `n` users of `tenant` straight into the database in one statement; creating
/// them one RPC at a time would make this test slow without testing anything more.
fn bulk_users(srv: &TestServer, tenant: &str, prefix: &str, n: usize) -> Vec<String> {
    let sql = if srv.on_postgres() {
        format!(
            "INSERT INTO users (id, tenant, user_name, user_name_norm, active, version, \
                 created_at, updated_at, attributes) \
             SELECT '{prefix}-' || i, '{tenant}', '{prefix}' || i, '{prefix}' || i, true, 1, \
                 '2026-01-01 00:00:00', '2026-01-01 00:00:00', ''::bytea \
             FROM generate_series(1, {n}) AS i"
        )
    } else {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
             INSERT INTO users (id, tenant, user_name, user_name_norm, active, version, \
                 created_at, updated_at, attributes) \
             SELECT '{prefix}-' || i, '{tenant}', '{prefix}' || i, '{prefix}' || i, 1, 1, \
                 '2026-01-01 00:00:00', '2026-01-01 00:00:00', X'' FROM n"
        )
    };
    let mut direct = srv.direct();
    scim_storage::with_conn!(&mut direct.conn(), |c| diesel::sql_query(&sql).execute(c))
        .expect("bulk insert");
    (1..=n).map(|i| format!("{prefix}-{i}")).collect()
}

async fn fill(c: &mut Client, group_id: &str, ids: &[String]) {
    for chunk in ids.chunks(1000) {
        let r = modify(
            c,
            group_id,
            vec![add(chunk.iter().map(|id| member(id)).collect())],
        )
        .await
        .expect("fill");
        assert_eq!(r.added, chunk.len() as i64);
    }
}

/// The statements one call issues.
async fn statements<F, Fut>(srv: &TestServer, call: F) -> Vec<String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = pb::ModifyMembersResponse>,
{
    let log = srv.record_queries();
    call().await;
    srv.stop_recording();
    log.lock().unwrap().clone()
}

/// A statement that reads or deletes memberships of a group without naming members.
fn reads_whole_group(sql: &str) -> bool {
    sql.contains("FROM `memberships`")
        && !sql.contains("`member_value` IN")
        && !sql.contains("`member_value` =")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_cost_the_same_for_10_and_10000_members() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let big_ids = bulk_users(&srv, "t", "big", BIG);
    let small_ids = bulk_users(&srv, "t", "small", SMALL);
    let extra = bulk_users(&srv, "t", "extra", 2);
    let big = create_group(&mut c, "Big", vec![]).await;
    let small = create_group(&mut c, "Small", vec![]).await;
    fill(&mut c, &big.id, &big_ids).await;
    fill(&mut c, &small.id, &small_ids).await;

    let mut per_group = Vec::new();
    for (group, member_id) in [(&small, &extra[0]), (&big, &extra[1])] {
        let mut c1 = c.clone();
        let added = statements(&srv, || async move {
            let r = modify(&mut c1, &group.id, vec![add(vec![member(member_id)])])
                .await
                .unwrap();
            assert_eq!(r.added, 1);
            r
        })
        .await;
        let mut c2 = c.clone();
        let removed = statements(&srv, || async move {
            let r = modify(&mut c2, &group.id, vec![remove(&[member_id])])
                .await
                .unwrap();
            assert_eq!(r.removed, 1);
            r
        })
        .await;
        for sql in added.iter().chain(&removed) {
            assert!(!reads_whole_group(sql), "reads the whole group: {sql}");
        }
        assert!(
            added
                .iter()
                .any(|s| s.contains("INSERT INTO `memberships`")),
            "{added:#?}"
        );
        if std::env::var_os("SHOW_SQL").is_some() {
            eprintln!("{added:#?}\n{removed:#?}");
        }
        per_group.push((added.len(), removed.len()));
    }
    assert_eq!(
        per_group[0], per_group[1],
        "statement counts do not grow with the group"
    );

    let g = get_group(&mut c, &big.id).await;
    assert_eq!(g.member_count, BIG as i64);
    assert_eq!(g.members.len(), BIG);
}

#[tokio::test]
async fn reading_groups_without_members_never_reads_memberships() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let u = create_user(&mut c, user("m")).await;
    let g = create_group(&mut c, "G", vec![member(&u.id)]).await;
    let log = srv.record_queries();
    let got = c
        .get_group(pb::GetGroupRequest {
            id: g.id.clone(),
            include_members: false,
        })
        .await
        .unwrap()
        .into_inner();
    let listed = c
        .list_groups(pb::ListGroupsRequest {
            filter: Some(crate::filters::eq("displayName", "g")),
            page: None,
            include_members: false,
            sort: None,
        })
        .await
        .unwrap()
        .into_inner();
    c.list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap();
    srv.stop_recording();
    assert_eq!((got.member_count, listed.groups[0].member_count), (1, 1));
    let sql = log.lock().unwrap().clone();
    assert!(sql.iter().any(|s| s.contains("FROM `groups`")), "{sql:#?}");
    assert!(!sql.iter().any(|s| s.contains("memberships")), "{sql:#?}");

    // With members, the table is read (so the check above can fail).
    let log = srv.record_queries();
    get_group(&mut c, &g.id).await;
    srv.stop_recording();
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|s| s.contains("FROM `memberships`"))
    );
}

/// On PostgreSQL, a lookup prepared while the table was empty is planned again as an
/// index lookup once statistics exist (what autovacuum or an `ANALYZE` after a bulk load
/// gives; docs/SCALING.md). The test replays what a pooled connection does: prepare on
/// an empty table, execute six times (PostgreSQL then keeps a generic plan), let the
/// table grow, look at the plan used before and after `ANALYZE`.
#[tokio::test]
async fn plans_prepared_on_empty_tables_become_index_lookups_once_analyzed() {
    use diesel::connection::SimpleConnection as _;
    let srv = TestServer::start().await;
    if !srv.on_postgres() {
        // SQLite plans each statement on preparation, from the schema alone.
        return;
    }
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }
    let mut direct = srv.direct();
    let scim_storage::testing::Direct::Pg(c) = &mut direct else {
        unreachable!("a PostgreSQL server")
    };
    let plan = |c: &mut diesel::PgConnection| -> String {
        let plan: Vec<Line> = diesel::sql_query("EXPLAIN EXECUTE taken('t', 'p42')")
            .load(c)
            .unwrap();
        plan.into_iter()
            .map(|l| l.line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    c.batch_execute(
        "PREPARE taken(text, text) AS \
         SELECT id FROM users WHERE tenant = $1 AND user_name_norm = $2;",
    )
    .unwrap();
    for _ in 0..6 {
        c.batch_execute("EXECUTE taken('t', 'nobody')").unwrap();
    }
    c.batch_execute(
        "INSERT INTO users (id, tenant, user_name, user_name_norm, active, version, \
             created_at, updated_at, attributes) \
         SELECT 'p-' || i, 't', 'p' || i, 'p' || i, true, 1, \
             '2026-01-01 00:00:00', '2026-01-01 00:00:00', ''::bytea \
         FROM generate_series(1, 5000) AS i",
    )
    .unwrap();
    // The unique (tenant, userName) index answers in one probe; any other plan reads
    // every row of the tenant (a sequential scan, or the tenant's seq index with a
    // filter).
    let by_name =
        |plan: &str| plan.contains("using users_tenant_user_name") && !plan.contains("Filter");
    let kept = plan(c);
    assert!(
        !by_name(&kept),
        "the pitfall this guards against is gone: {kept}"
    );
    c.batch_execute("ANALYZE users").unwrap();
    let replanned = plan(c);
    assert!(by_name(&replanned), "{replanned}");
}
