//! Cursor paging (RFC 9865) through the whole stack: a walk that stays exact while the
//! directory changes under it, the root search's walk over users then groups, and the
//! errors for cursors this server did not issue.

use std::collections::{HashMap, HashSet};

use e2e::TestStack;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn create_user(stack: &TestStack, token: &str, name: &str) -> String {
    let (status, _, u) = stack
        .scim(
            Method::POST,
            "/Users",
            token,
            Some(&json!({"userName": name})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_str().unwrap().to_owned()
}

/// Walks `path` (which already has its query) by cursor in pages of `count`, calling
/// `between` after each page; returns every id seen, in order.
async fn walk(
    stack: &TestStack,
    token: &str,
    path: &str,
    count: usize,
    mut between: impl AsyncFnMut(usize),
) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut cursor = String::new();
    let mut seen = Vec::new();
    for page in 0.. {
        let url = format!("{path}{sep}count={count}&cursor={cursor}");
        let (status, _, body) = stack.scim(Method::GET, &url, token, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("startIndex").is_none(), "{body}");
        let resources = body["Resources"].as_array().unwrap();
        assert!(resources.len() <= count);
        assert_eq!(body["itemsPerPage"], resources.len());
        seen.extend(
            resources
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match body.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
        between(page).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_under_inserts_and_deletes_returns_every_lasting_user_once() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let mut ids = Vec::new();
    for i in 0..120 {
        ids.push(create_user(&stack, &token, &format!("walk{i:03}@example.com")).await);
    }
    // Users 0, 7, 14, … are deleted during the walk, from the far end first so that some
    // are gone before the walk reaches them; new users arrive after every page.
    let doomed: Vec<String> = ids.iter().step_by(7).rev().cloned().collect();
    let mut doomed_iter = doomed.clone().into_iter();
    let mut added = Vec::new();
    let seen = walk(&stack, &token, "/Users", 10, async |page| {
        for _ in 0..2 {
            if let Some(id) = doomed_iter.next() {
                let (status, _, _) = stack
                    .scim(Method::DELETE, &format!("/Users/{id}"), &token, None)
                    .await;
                assert_eq!(status, StatusCode::NO_CONTENT);
            }
        }
        for k in 0..3 {
            added.push(create_user(&stack, &token, &format!("new{page}.{k}@example.com")).await);
        }
    })
    .await;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &seen {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|&c| c == 1), "a user was served twice");
    let doomed: HashSet<&String> = doomed.iter().collect();
    for id in ids.iter().filter(|id| !doomed.contains(id)) {
        assert_eq!(
            counts.get(id.as_str()),
            Some(&1),
            "lasting user {id} missed"
        );
    }
    // Users created during the walk come after it in creation order: it reaches them.
    assert!(added.iter().all(|id| counts.contains_key(id.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_group_and_root_search_walks() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let mut users = Vec::new();
    for i in 0..25 {
        let name = if i % 2 == 0 {
            format!("even{i}@x")
        } else {
            format!("odd{i}@x")
        };
        users.push(create_user(&stack, &token, &name).await);
    }
    let mut groups = Vec::new();
    for i in 0..7 {
        let (_, _, g) = stack
            .scim(
                Method::POST,
                "/Groups",
                &token,
                Some(&json!({"displayName": format!("g{i}")})),
            )
            .await;
        groups.push(g["id"].as_str().unwrap().to_owned());
    }
    let even = walk(
        &stack,
        &token,
        "/Users?filter=userName%20sw%20%22even%22",
        4,
        async |_| {},
    )
    .await;
    let want: Vec<String> = users.iter().step_by(2).cloned().collect();
    assert_eq!(even, want);
    assert_eq!(
        walk(&stack, &token, "/Groups", 3, async |_| {}).await,
        groups
    );

    // The root search: every user, then every group, by cursor through POST.
    let mut cursor = String::new();
    let mut seen = Vec::new();
    let mut total = None;
    loop {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                          "cursor": cursor, "count": 6});
        let (status, _, page) = stack
            .scim(Method::POST, "/.search", &token, Some(&body))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        total.get_or_insert(page["totalResults"].clone());
        assert_eq!(page["totalResults"], 32);
        seen.extend(
            page["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let want: Vec<String> = users.iter().chain(&groups).cloned().collect();
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_this_server_did_not_issue_are_invalid_cursor() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    for i in 0..3 {
        create_user(&stack, &token, &format!("c{i}@x")).await;
    }
    let (_, _, first) = stack
        .scim(Method::GET, "/Users?cursor=&count=1", &token, None)
        .await;
    let next = first["nextCursor"].as_str().unwrap().to_owned();
    let (_, _, spc) = stack
        .scim(Method::GET, "/ServiceProviderConfig", &token, None)
        .await;
    assert_eq!(spc["pagination"]["cursor"], true);
    assert_eq!(spc["pagination"]["index"], true);
    for path in [
        "/Users?cursor=not-a-cursor".to_owned(),
        // A cursor of another list, and of the same list with another filter.
        format!("/Groups?cursor={next}"),
        format!("/Users?cursor={next}&filter=userName%20pr"),
    ] {
        let (status, _, err) = stack.scim(Method::GET, &path, &token, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(err["scimType"], "invalidCursor", "{path}: {err}");
    }
    let (status, _, err) = stack
        .scim(Method::GET, "/Users?cursor=&startIndex=1", &token, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["scimType"], "invalidValue");
    let body = json!({"cursor": "x.y"});
    let (status, _, err) = stack
        .scim(Method::POST, "/.search", &token, Some(&body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["scimType"], "invalidCursor");
    // Index paging is unchanged for Okta and Entra.
    let (_, _, page) = stack
        .scim(Method::GET, "/Users?startIndex=2&count=1", &token, None)
        .await;
    assert_eq!(page["startIndex"], 2);
    assert!(page.get("nextCursor").is_none());
}

/// Walks `path` forward by `nextCursor`, then back from the last page by
/// `previousCursor`: the pages met on the way back are the forward pages, reversed.
async fn there_and_back(stack: &TestStack, token: &str, path: &str, count: usize) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let page = async |cursor: &str| {
        let url = format!("{path}{sep}count={count}&cursor={cursor}");
        let (status, _, body) = stack.scim(Method::GET, &url, token, None).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let ids: Vec<String> = body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        let cursor = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        (ids, cursor("nextCursor"), cursor("previousCursor"))
    };
    let mut forward = Vec::new();
    let (first, mut next, previous) = page("").await;
    assert!(
        previous.is_none(),
        "{path}: the first page has no previousCursor"
    );
    forward.push(first);
    let mut last_previous = None;
    while let Some(c) = next {
        let (ids, n, p) = page(&c).await;
        assert!(p.is_some(), "{path}: a later page has a previousCursor");
        forward.push(ids);
        next = n;
        last_previous = p;
    }
    let mut backward = vec![forward.last().unwrap().clone()];
    let mut previous = last_previous;
    while let Some(c) = previous {
        let (ids, n, p) = page(&c).await;
        assert!(
            n.is_some(),
            "{path}: a page before another has a nextCursor"
        );
        backward.push(ids);
        previous = p;
    }
    backward.reverse();
    assert_eq!(
        backward, forward,
        "{path}: the walk back meets the same pages"
    );
    forward.concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_cursors_walk_back_over_the_same_pages() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    for i in 0..23 {
        let mut body = json!({"userName": format!("back{i:02}@x")});
        if i % 3 != 0 {
            body["displayName"] = json!(format!("Name {}", i % 4));
        }
        if i % 2 == 0 {
            body["externalId"] = json!(if i % 4 == 0 { "E-0" } else { "E-2" });
        }
        let (status, _, _) = stack
            .scim(Method::POST, "/Users", &token, Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    for i in 0..5 {
        let body = json!({"displayName": format!("group {i}")});
        stack
            .scim(Method::POST, "/Groups", &token, Some(&body))
            .await;
    }
    let all = there_and_back(&stack, &token, "/Users", 5).await;
    assert_eq!(all.len(), 23);
    let by_name = there_and_back(
        &stack,
        &token,
        "/Users?sortBy=displayName&sortOrder=descending",
        4,
    )
    .await;
    assert_eq!(by_name.len(), 23);
    // A scanned filter, sorted; an index-narrowed filter; groups.
    let scanned = there_and_back(
        &stack,
        &token,
        "/Users?filter=userName%20sw%20%22back1%22&sortBy=externalId",
        3,
    )
    .await;
    assert_eq!(scanned.len(), 10);
    let narrowed = there_and_back(
        &stack,
        &token,
        "/Users?filter=externalId%20eq%20%22E-2%22&sortBy=userName&sortOrder=descending",
        2,
    )
    .await;
    assert_eq!(narrowed.len(), 6);
    assert_eq!(there_and_back(&stack, &token, "/Groups", 2).await.len(), 5);
}
