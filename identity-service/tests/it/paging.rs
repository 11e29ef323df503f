//! Paging: index walks and token walks without skips or repeats, bounds and caps.

use std::collections::BTreeSet;

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::CompareOp;
use tonic::Code;

use crate::filters::{cmp, s};
use crate::harness::*;

const USERS: usize = 260;

async fn seed(c: &mut Client, n: usize) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for i in 0..n {
        let u = pb::User {
            user_name: format!("user{i:04}"),
            title: Some(if i % 2 == 0 { "even" } else { "odd" }.into()),
            ..Default::default()
        };
        ids.insert(create_user(c, u).await.id);
    }
    ids
}

fn page(start_index: i64, count: i64, token: &str) -> Option<pb::PageRequest> {
    Some(pb::PageRequest {
        start_index,
        count,
        page_token: token.into(),
    })
}

async fn list(
    c: &mut Client,
    filter: Option<pb::Filter>,
    page: Option<pb::PageRequest>,
) -> Result<pb::ListUsersResponse, tonic::Status> {
    c.list_users(pb::ListUsersRequest {
        filter,
        page,
        include_groups: false,
        sort: None,
    })
    .await
    .map(|r| r.into_inner())
}

/// Walks `startIndex = 1, 101, 201, ...` as Okta does and checks the facts of each page.
async fn walk_by_index(c: &mut Client, filter: Option<pb::Filter>, expected: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let r = list(c, filter.clone(), page(start, 100, "")).await.unwrap();
        let info = r.page.unwrap();
        assert_eq!(info.total_results, expected as i64);
        assert_eq!(info.start_index, start);
        if r.users.is_empty() {
            break;
        }
        seen.extend(r.users.into_iter().map(|u| u.id));
        start += 100;
    }
    seen
}

async fn walk_by_token(c: &mut Client, filter: Option<pb::Filter>, expected: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let r = list(c, filter.clone(), page(1, 70, &token)).await.unwrap();
        let info = r.page.unwrap();
        assert_eq!(info.total_results, expected as i64);
        // A continuation page does not count the rows before it.
        let want = if token.is_empty() { 1 } else { 0 };
        assert_eq!(info.start_index, want);
        seen.extend(r.users.into_iter().map(|u| u.id));
        if info.next_page_token.is_empty() {
            break;
        }
        token = info.next_page_token;
    }
    seen
}

fn assert_exact(seen: &[String], expected: &BTreeSet<String>) {
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats");
    assert_eq!(&unique, expected, "no skips");
}

#[tokio::test]
async fn walks_cover_every_user_exactly_once_in_a_stable_order() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let ids = seed(&mut c, USERS).await;

    let by_index = walk_by_index(&mut c, None, USERS).await;
    assert_exact(&by_index, &ids);
    // A second walk hits the cursor cache and must give the same order.
    assert_eq!(walk_by_index(&mut c, None, USERS).await, by_index);
    let by_token = walk_by_token(&mut c, None, USERS).await;
    assert_eq!(by_token, by_index, "both walks follow creation order");

    // Filtered walks (no index applies, so the tenant is scanned).
    let odd = Some(cmp("title", CompareOp::Eq, s("ODD")));
    let expected: BTreeSet<String> = by_index.iter().skip(1).step_by(2).cloned().collect();
    assert_exact(
        &walk_by_index(&mut c, odd.clone(), USERS / 2).await,
        &expected,
    );
    assert_exact(
        &walk_by_index(&mut c, odd.clone(), USERS / 2).await,
        &expected,
    );
    assert_exact(&walk_by_token(&mut c, odd, USERS / 2).await, &expected);
}

#[tokio::test]
async fn index_walks_survive_deletes_and_creates_between_pages() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let ids = seed(&mut c, 150).await;
    let first = list(&mut c, None, page(1, 100, "")).await.unwrap();
    // A user on the first page goes away and a new one arrives before page two.
    let gone = first.users[0].id.clone();
    c.delete_user(pb::DeleteUserRequest {
        id: gone.clone(),
        expected_version: 0,
    })
    .await
    .unwrap();
    let fresh = create_user(&mut c, user("late")).await.id;
    let second = list(&mut c, None, page(101, 100, "")).await.unwrap();
    assert_eq!(second.page.unwrap().total_results, 150);
    let mut seen: BTreeSet<String> = first.users.into_iter().map(|u| u.id).collect();
    seen.extend(second.users.iter().map(|u| u.id.clone()));
    let mut expected = ids.clone();
    expected.insert(fresh);
    // Index positions shift by one after the delete: the walk may see one user twice
    // or miss one, but never more; a token walk is exact.
    assert!(expected.difference(&seen).count() <= 1);
}

#[tokio::test]
async fn count_zero_start_beyond_end_and_the_cap() {
    let srv = TestServer::start_with(&["--max-page-size", "25"]).await;
    let mut c = srv.client("t", RW);
    seed(&mut c, 30).await;

    let totals_only = list(&mut c, None, page(1, 0, "")).await.unwrap();
    assert!(totals_only.users.is_empty());
    let info = totals_only.page.unwrap();
    assert_eq!(
        (info.total_results, info.next_page_token.as_str()),
        (30, "")
    );

    let beyond = list(&mut c, None, page(31, 10, "")).await.unwrap();
    assert!(beyond.users.is_empty());
    assert_eq!(beyond.page.unwrap().total_results, 30);

    let capped = list(&mut c, None, page(1, 1000, "")).await.unwrap();
    assert_eq!(capped.users.len(), 25);
    assert!(!capped.page.unwrap().next_page_token.is_empty());

    let floored = list(&mut c, None, page(-3, 5, "")).await.unwrap();
    assert_eq!(floored.page.unwrap().start_index, 1);
    assert_eq!(floored.users.len(), 5);

    // Extreme positions are answered, never a panic.
    for start in [i64::MAX, i64::MAX - 1] {
        let far = list(&mut c, None, page(start, 25, "")).await.unwrap();
        assert!(far.users.is_empty());
    }
    let odd = Some(cmp("userName", CompareOp::Sw, s("user")));
    assert!(
        list(&mut c, odd, page(i64::MAX, 25, ""))
            .await
            .unwrap()
            .users
            .is_empty()
    );

    let default_page = list(&mut c, None, None).await.unwrap();
    assert_eq!(
        default_page.users.len(),
        25,
        "no page means the largest page"
    );

    let last = list(&mut c, None, page(26, 25, "")).await.unwrap();
    assert_eq!(last.users.len(), 5);
    assert!(
        last.page.unwrap().next_page_token.is_empty(),
        "the last page has no token"
    );
}

#[tokio::test]
async fn tokens_are_bound_to_their_list() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    seed(&mut c, 5).await;
    create_group(&mut c, "G1", vec![]).await;
    create_group(&mut c, "G2", vec![]).await;
    let token = list(&mut c, None, page(1, 2, ""))
        .await
        .unwrap()
        .page
        .unwrap()
        .next_page_token;
    assert!(!token.is_empty());
    let other_filter = Some(cmp("title", CompareOp::Pr, None));
    assert_eq!(
        code(list(&mut c, other_filter, page(1, 2, &token)).await),
        Code::InvalidArgument
    );
    let groups = c
        .list_groups(pb::ListGroupsRequest {
            filter: None,
            page: page(1, 1, &token),
            include_members: false,
            sort: None,
        })
        .await;
    assert_eq!(code(groups), Code::InvalidArgument);
    assert_eq!(
        code(list(&mut c, None, page(1, 2, "%%garbage%%")).await),
        Code::InvalidArgument
    );
    // A token from tenant t used by tenant u reveals nothing.
    let mut u = srv.client("u", RW);
    let r = list(&mut u, None, page(1, 2, &token)).await.unwrap();
    assert!(r.users.is_empty());
    assert_eq!(r.page.unwrap().total_results, 0);
}

#[tokio::test]
async fn group_lists_page_too() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let mut ids = BTreeSet::new();
    for i in 0..12 {
        ids.insert(create_group(&mut c, &format!("g{i}"), vec![]).await.id);
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let r = c
            .list_groups(pb::ListGroupsRequest {
                filter: None,
                page: page(start, 5, ""),
                include_members: false,
                sort: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.page.unwrap().total_results, 12);
        if r.groups.is_empty() {
            break;
        }
        start += r.groups.len() as i64;
        seen.extend(r.groups.into_iter().map(|g| g.id));
    }
    assert_exact(&seen, &ids);
}

/// Every page at every `startIndex` (no cursor knows these positions) against the
/// creation order a token walk gives, as users come and go.
async fn assert_random_pages(c: &mut Client, order: &[String]) {
    for start in [2_i64, 64, 65, 66, 128, 129, 150, 191, 255] {
        for count in [1_i64, 7, 64, 100] {
            let r = list(c, None, page(start, count, "")).await.unwrap();
            let info = r.page.unwrap();
            assert_eq!(info.total_results, order.len() as i64, "start {start}");
            assert_eq!(info.start_index, start);
            let got: Vec<String> = r.users.into_iter().map(|u| u.id).collect();
            let from = (start as usize - 1).min(order.len());
            let to = (from + count as usize).min(order.len());
            assert_eq!(got, order[from..to], "start {start} count {count}");
        }
    }
}

#[tokio::test]
async fn any_start_index_is_a_seek_that_follows_creates_and_deletes() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    seed(&mut c, 200).await;
    let mut order = walk_by_token(&mut c, None, 200).await;
    assert_random_pages(&mut c, &order).await;

    // Once the order index is known, a deep page needs neither COUNT nor an OFFSET over
    // the rows before it: one bounded statement (plus the transaction).
    let log = srv.record_queries();
    let r = list(&mut c, None, page(180, 10, "")).await.unwrap();
    srv.stop_recording();
    assert_eq!(r.users.len(), 10);
    let sql = log.lock().unwrap().clone();
    assert!(
        sql.iter().all(|q| !q.to_uppercase().contains("COUNT(")),
        "no COUNT with a warm order index: {sql:?}"
    );
    assert!(
        sql.iter().any(|q| q.contains("`seq` >= ")),
        "seeks from a sample: {sql:?}"
    );

    // Creates and deletes move positions: the index must not be used stale.
    for victim in [order[0].clone(), order[100].clone(), order[199].clone()] {
        c.delete_user(pb::DeleteUserRequest {
            id: victim.clone(),
            expected_version: 0,
        })
        .await
        .unwrap();
        order.retain(|id| *id != victim);
    }
    assert_random_pages(&mut c, &order).await;
    for i in 0..60 {
        order.push(create_user(&mut c, user(&format!("late{i}"))).await.id);
    }
    assert_random_pages(&mut c, &order).await;
    // Updates keep positions and the index.
    let first = c
        .get_user(pb::GetUserRequest {
            id: order[5].clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut patch = first.clone();
    patch.display_name = Some("changed".into());
    c.replace_user(pb::ReplaceUserRequest {
        user: Some(patch),
        expected_version: 0,
        keep_active_if_unset: true,
    })
    .await
    .unwrap();
    assert_random_pages(&mut c, &order).await;
}

#[tokio::test]
async fn a_page_reads_its_users_groups_with_statements_that_stay_prepared() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let ids: Vec<String> = seed(&mut c, 30).await.into_iter().collect();
    let order = walk_by_token(&mut c, None, 30).await;
    assert_eq!(order.iter().collect::<BTreeSet<_>>(), ids.iter().collect());
    let first = create_group(
        &mut c,
        "First",
        order[0..10].iter().map(|id| member(id)).collect(),
    )
    .await;
    let second = create_group(
        &mut c,
        "Second",
        order[5..15].iter().map(|id| member(id)).collect(),
    )
    .await;

    let log = srv.record_queries();
    // A deep page (a skip inside the order index) and a first page, both with groups.
    for (start, count) in [(4_i64, 20_i64), (1, 30)] {
        let r = c
            .list_users(pb::ListUsersRequest {
                filter: None,
                page: page(start, count, ""),
                include_groups: true,
                sort: None,
            })
            .await
            .unwrap()
            .into_inner();
        let from = start as usize - 1;
        let got: Vec<&str> = r.users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(got, order[from..from + count as usize], "start {start}");
        for (i, u) in r.users.iter().enumerate() {
            let pos = from + i;
            let mut expected = Vec::new();
            if pos < 10 {
                expected.push(first.id.as_str());
            }
            if (5..15).contains(&pos) {
                expected.push(second.id.as_str());
            }
            let groups: Vec<&str> = u.groups.iter().map(|g| g.value.as_str()).collect();
            assert_eq!(groups, expected, "groups of user {pos}");
        }
    }
    srv.stop_recording();
    // Same SQL text for any page size and start: no IN list with one placeholder per
    // user, and on SQLite no bound LIMIT/OFFSET either (SQLite prepares those again on
    // every call; PostgreSQL plans a bound LIMIT once, and needs it to stop sending rows).
    let sql = log.lock().unwrap().clone();
    let postgres = srv.on_postgres();
    for q in &sql {
        let (text, _) = q.split_once(" -- binds:").unwrap_or((q, ""));
        let upper = text.to_uppercase();
        assert!(
            !upper.contains("IN (?") && !upper.contains("IN ($"),
            "statement text depends on the page: {q}"
        );
        assert!(
            postgres || (!upper.contains(" LIMIT ") && !upper.contains(" OFFSET ")),
            "statement text depends on the page: {q}"
        );
    }
    let one_set = if postgres { "= ANY(" } else { "json_each(" };
    assert!(
        sql.iter().any(|q| q.contains(one_set)),
        "memberships of the page in one statement: {sql:?}"
    );
    // The page's memberships come from an index alone, and nothing is sorted by the
    // database: its own plan for each recorded statement.
    let mut db = srv.direct();
    let membership_plans: Vec<Vec<String>> = sql
        .iter()
        .filter(|q| q.contains("`memberships`") && q.contains(one_set))
        .map(|q| query_plan(&mut db, q))
        .collect();
    assert!(!membership_plans.is_empty(), "{sql:?}");
    for plan in membership_plans {
        assert!(
            reads_index_alone(&plan, "memberships_tenant_member_group"),
            "memberships not read from the covering index: {plan:?}"
        );
        assert!(
            !sorts(&plan),
            "the page's groups are sorted by the database: {plan:?}"
        );
    }
}
