//! `sortBy` and `sortOrder` (RFC 7644 §3.4.2.3) through the whole stack: every sortable
//! attribute, both orders, with ties and missing values, walked by index and by cursor,
//! against an order the test computes itself.

use std::cmp::Ordering;

use e2e::TestStack;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Fixed-width text of an RFC 3339 UTC time, so that text order is time order (the
/// fraction is as long as it needs to be on the wire).
fn instant(t: &str) -> String {
    let t = t.trim_end_matches('Z');
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    format!("{whole}.{frac:0<9}")
}

/// The value `attr` sorts `r` by, as RFC 7644 says: case-insensitive unless caseExact.
fn key(r: &Value, attr: &str) -> Option<String> {
    match attr {
        "userName" | "displayName" => r[attr].as_str().map(str::to_lowercase),
        "externalId" => r[attr].as_str().map(str::to_owned),
        "meta.created" => r["meta"]["created"].as_str().map(instant),
        "meta.lastModified" => r["meta"]["lastModified"].as_str().map(instant),
        // A multi-valued attribute sorts by its primary value, else its first.
        "emails.value" => {
            let emails = r["emails"].as_array()?;
            let primary = emails.iter().find(|e| e["primary"] == true);
            primary
                .or(emails.first())
                .and_then(|e| e["value"].as_str())
                .map(str::to_lowercase)
        }
        _ => unreachable!(),
    }
}

/// `resources` (in creation order) in the order the RFC gives `attr`: missing values
/// last when ascending and first when descending, ties in creation order (reversed
/// when descending).
fn reference(resources: &[Value], attr: &str, descending: bool) -> Vec<String> {
    let mut indexed: Vec<(usize, &Value)> = resources.iter().enumerate().collect();
    indexed.sort_by(|(i, a), (j, b)| {
        let ascending = match (key(a, attr), key(b, attr)) {
            (Some(x), Some(y)) => x.cmp(&y).then(i.cmp(j)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => i.cmp(j),
        };
        if descending {
            ascending.reverse()
        } else {
            ascending
        }
    });
    indexed
        .into_iter()
        .map(|(_, r)| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn ids_of(stack: &TestStack, token: &str, path: &str) -> (Vec<String>, Value) {
    let (status, _, body) = stack.scim(Method::GET, path, token, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    let ids = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, body)
}

/// The whole list of `endpoint` sorted as asked, by cursor pages of 3 and by index
/// pages of 4; both walks must agree.
async fn sorted(stack: &TestStack, token: &str, endpoint: &str, query: &str) -> Vec<String> {
    let mut by_cursor = Vec::new();
    let mut cursor = String::new();
    loop {
        let (ids, body) = ids_of(
            stack,
            token,
            &format!("{endpoint}?{query}&count=3&cursor={cursor}"),
        )
        .await;
        by_cursor.extend(ids);
        match body.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let mut by_index = Vec::new();
    let mut start = 1;
    loop {
        let (ids, body) = ids_of(
            stack,
            token,
            &format!("{endpoint}?{query}&count=4&startIndex={start}"),
        )
        .await;
        let n = ids.len();
        by_index.extend(ids);
        start += 4;
        if n == 0 || start > body["totalResults"].as_u64().unwrap() as usize {
            break;
        }
    }
    assert_eq!(
        by_cursor, by_index,
        "{endpoint}?{query}: cursor and index walks"
    );
    by_cursor
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sortable_attribute_in_both_orders_matches_the_reference() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    // Ties in displayName (in any case) and externalId, some without either, and
    // userNames whose case order differs from their byte order.
    let people = [
        ("carol", Some("Team B"), Some("E-3")),
        ("Alice", Some("team a"), None),
        ("bob", None, Some("E-1")),
        ("dave", Some("Team A"), Some("E-3")),
        ("Eve", Some("team b"), Some("e-2")),
        ("frank", None, None),
        ("ALBERT", Some("Team A"), Some("E-1")),
    ];
    // E-mails: a primary that is not first, none primary, none at all, and a tie.
    let emails = [
        json!([{"value": "z@x"}, {"value": "Carol@x", "primary": true}]),
        json!([{"value": "b@x"}, {"value": "a@x"}]),
        json!(null),
        json!([{"value": "carol@X"}]),
        json!([{"value": "m@x", "primary": true}]),
        json!(null),
        json!([{"value": "A@x"}]),
    ];
    for ((user_name, display, external), emails) in people.into_iter().zip(emails) {
        let mut body = json!({"userName": user_name});
        if !emails.is_null() {
            body["emails"] = emails;
        }
        if let Some(d) = display {
            body["displayName"] = json!(d);
        }
        if let Some(e) = external {
            body["externalId"] = json!(e);
        }
        let (status, _, _) = stack
            .scim(Method::POST, "/Users", &token, Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // Change two users so that lastModified differs from creation order.
    let (_, all) = ids_of(&stack, &token, "/Users?count=100").await;
    let created = all["Resources"].as_array().unwrap().clone();
    for r in [&created[0], &created[3]] {
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                           "Operations": [{"op": "replace", "path": "nickName", "value": "x"}]});
        let (status, _, _) = stack
            .scim(
                Method::PATCH,
                &format!("/Users/{}", r["id"].as_str().unwrap()),
                &token,
                Some(&patch),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, all) = ids_of(&stack, &token, "/Users?count=100").await;
    let users = all["Resources"].as_array().unwrap().clone();
    for attr in [
        "userName",
        "displayName",
        "externalId",
        "meta.created",
        "meta.lastModified",
        "emails.value",
    ] {
        for (order, descending) in [("ascending", false), ("descending", true)] {
            let got = sorted(
                &stack,
                &token,
                "/Users",
                &format!("sortBy={attr}&sortOrder={order}"),
            )
            .await;
            assert_eq!(got, reference(&users, attr, descending), "{attr} {order}");
        }
    }
    // sortOrder defaults to ascending; a filtered list sorts its matches.
    let got = sorted(&stack, &token, "/Users", "sortBy=USERNAME").await;
    assert_eq!(got, reference(&users, "userName", false));
    let with_external: Vec<Value> = users
        .iter()
        .filter(|u| u["externalId"].is_string())
        .cloned()
        .collect();
    let got = sorted(
        &stack,
        &token,
        "/Users",
        "filter=externalId%20pr&sortBy=displayName&sortOrder=descending",
    )
    .await;
    assert_eq!(got, reference(&with_external, "displayName", true));
    let one: Vec<Value> = users
        .iter()
        .filter(|u| u["externalId"] == "E-3")
        .cloned()
        .collect();
    let got = sorted(
        &stack,
        &token,
        "/Users",
        "filter=externalId%20eq%20%22E-3%22&sortBy=userName&sortOrder=descending",
    )
    .await;
    assert_eq!(got, reference(&one, "userName", true));

    // Groups sort by their own attributes.
    for name in ["Sales", "admins", "Engineering", "board"] {
        let body = json!({"displayName": name, "externalId": name.len().to_string()});
        let (status, _, _) = stack
            .scim(Method::POST, "/Groups", &token, Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, all) = ids_of(&stack, &token, "/Groups?count=100").await;
    let groups = all["Resources"].as_array().unwrap().clone();
    for attr in [
        "displayName",
        "externalId",
        "meta.created",
        "meta.lastModified",
    ] {
        for (order, descending) in [("ascending", false), ("descending", true)] {
            let got = sorted(
                &stack,
                &token,
                "/Groups",
                &format!("sortBy={attr}&sortOrder={order}&excludedAttributes=members"),
            )
            .await;
            assert_eq!(
                got,
                reference(&groups, attr, descending),
                "groups {attr} {order}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsortable_requests_say_what_can_be_sorted() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (_, _, spc) = stack
        .scim(Method::GET, "/ServiceProviderConfig", &token, None)
        .await;
    assert_eq!(spc["sort"]["supported"], true);
    for path in [
        "/Users?sortBy=name.givenName",
        "/Groups?sortBy=userName",
        "/Users?sortBy=userName&sortOrder=sideways",
    ] {
        let (status, _, err) = stack.scim(Method::GET, path, &token, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(err["scimType"], "invalidValue", "{path}");
    }
    let (_, _, err) = stack
        .scim(Method::GET, "/Users?sortBy=name.givenName", &token, None)
        .await;
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("userName, displayName")
    );
    // A cursor is good only for the order it was issued in.
    for i in 0..3 {
        stack
            .scim(
                Method::POST,
                "/Users",
                &token,
                Some(&json!({"userName": format!("s{i}")})),
            )
            .await;
    }
    let (_, page) = ids_of(&stack, &token, "/Users?sortBy=userName&count=1&cursor=").await;
    let next = page["nextCursor"].as_str().unwrap();
    for other in [
        format!("/Users?sortBy=userName&sortOrder=descending&cursor={next}"),
        format!("/Users?cursor={next}"),
    ] {
        let (status, _, err) = stack.scim(Method::GET, &other, &token, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{other}");
        assert_eq!(err["scimType"], "invalidCursor");
    }
    let body = json!({"sortBy": "userName"});
    let (status, _, _) = stack
        .scim(Method::POST, "/.search", &token, Some(&body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
