//! `POST /Bulk` (RFC 7644 §3.7) through the whole stack: `bulkId` references in any
//! order, `failOnErrors`, partial failure, circular references, versions and limits.

use e2e::TestStack;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn bulk(ops: Value) -> Value {
    json!({"schemas": [BULK], "Operations": ops})
}

fn create_user(bulk_id: &str, user_name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id,
           "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}})
}

fn create_group(bulk_id: &str, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"method": "POST", "path": "/Groups", "bulkId": bulk_id,
           "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name, "members": members}})
}

/// Sends a Bulk request and returns its status and `Operations`.
async fn send(stack: &TestStack, token: &str, body: &Value) -> (StatusCode, Vec<Value>) {
    let (status, headers, v) = stack.scim(Method::POST, "/Bulk", token, Some(body)).await;
    assert_eq!(headers["content-type"], "application/scim+json");
    if status != StatusCode::OK {
        return (status, vec![v]);
    }
    assert_eq!(v["schemas"], json!([BULK_RESPONSE]));
    (status, v["Operations"].as_array().unwrap().clone())
}

/// Each operation's `status`, in response order.
fn status_of(ops: &[Value]) -> Vec<&str> {
    ops.iter().map(|o| o["status"].as_str().unwrap()).collect()
}

async fn user_names(stack: &TestStack, token: &str) -> Vec<String> {
    let (_, _, list) = stack
        .scim(Method::GET, "/Users?count=1000", token, None)
        .await;
    let mut names: Vec<String> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_names_users_created_later_in_the_same_request() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    // The group comes first and names both users by bulkId; RFC 7644 §3.7.2 allows it.
    let (status, ops) = send(
        &stack,
        &token,
        &bulk(json!([
            create_group("g", "Engineering", &["bulkId:alice", "bulkId:bob"]),
            create_user("alice", "alice@example.com"),
            create_user("bob", "bob@example.com"),
        ])),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ops.len(), 3);
    for (op, bulk_id) in ops.iter().zip(["g", "alice", "bob"]) {
        assert_eq!(op["method"], "POST");
        assert_eq!(op["bulkId"], bulk_id);
        assert_eq!(op["status"], "201", "{op}");
        let location = op["location"].as_str().unwrap();
        assert_eq!(location, op["response"]["meta"]["location"]);
        assert!(op["version"].as_str().unwrap().starts_with("W/\""));
    }
    let alice = ops[1]["response"]["id"].as_str().unwrap();
    let bob = ops[2]["response"]["id"].as_str().unwrap();
    let group = ops[0]["response"]["id"].as_str().unwrap();
    let (_, _, g) = stack
        .scim(Method::GET, &format!("/Groups/{group}"), &token, None)
        .await;
    let mut members: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort();
    let mut want = vec![alice, bob];
    want.sort();
    assert_eq!(members, want);

    // A later request updates and deletes by id, with versions for If-Match.
    let alice_version = ops[1]["version"].as_str().unwrap();
    let (_, ops) = send(
        &stack,
        &token,
        &bulk(json!([
            {"method": "PATCH", "path": format!("/Users/{alice}"), "version": "W/\"999\"",
             "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "path": "active", "value": false}]}},
            {"method": "PATCH", "path": format!("/Users/{alice}"), "version": alice_version,
             "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "path": "active", "value": false}]}},
            {"method": "DELETE", "path": format!("/Users/{bob}")},
        ])),
    )
    .await;
    assert_eq!(ops[0]["status"], "412", "{}", ops[0]);
    assert_eq!(ops[0]["response"]["status"], "412");
    assert_eq!(ops[1]["status"], "200", "{}", ops[1]);
    assert_eq!(ops[1]["response"]["active"], false);
    assert_ne!(ops[1]["version"], alice_version);
    assert_eq!(ops[2]["status"], "204");
    assert!(
        ops[2]["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Users/{bob}"))
    );
    assert!(ops[2].get("response").is_none());
    assert_eq!(user_names(&stack, &token).await, ["alice@example.com"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_failure_reports_each_operation_and_keeps_the_rest() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (status, ops) = send(
        &stack,
        &token,
        &bulk(json!([
            create_user("ok", "ok@example.com"),
            // No userName: refused by the same checks a POST /Users gets.
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"displayName": "x"}},
            // Depends on the failed create.
            create_group("g", "Needs bad", &["bulkId:bad"]),
            // Names a bulkId nobody defines.
            create_group("h", "Needs nobody", &["bulkId:nobody"]),
            {"method": "GET", "path": "/Users"},
            {"method": "DELETE", "path": "/Users/no-such-user"},
        ])),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let statuses = status_of(&ops);
    assert_eq!(
        statuses,
        ["201", "400", "409", "409", "400", "404"],
        "{ops:?}"
    );
    assert_eq!(ops[1]["response"]["scimType"], "invalidValue");
    assert!(
        ops[1].get("location").is_none(),
        "a failed POST has no location"
    );
    assert!(
        ops[2]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("`bad`"),
        "{}",
        ops[2]
    );
    assert!(
        ops[3]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("`nobody`")
    );
    assert_eq!(ops[4]["response"]["scimType"], "invalidSyntax");
    assert_eq!(user_names(&stack, &token).await, ["ok@example.com"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_errors_stops_starting_operations() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (status, _, _) = stack
        .scim(
            Method::POST,
            "/Users",
            &token,
            Some(&json!({"userName": "taken@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut body = bulk(json!([
        create_user("a", "a@example.com"),
        create_user("dup", "taken@example.com"),
        // A DELETE runs after everything before it, so the budget is spent by then.
        {"method": "DELETE", "path": "/Users/no-such-user"},
        create_user("c", "c@example.com"),
    ]));
    body["failOnErrors"] = json!(1);
    let (status, ops) = send(&stack, &token, &body).await;
    assert_eq!(status, StatusCode::OK);
    let statuses = status_of(&ops);
    assert_eq!(statuses, ["201", "409"], "{ops:?}");
    assert_eq!(ops[1]["response"]["scimType"], "uniqueness");
    assert_eq!(
        user_names(&stack, &token).await,
        ["a@example.com", "taken@example.com"]
    );

    // Without failOnErrors every operation runs.
    body.as_object_mut().unwrap().remove("failOnErrors");
    body["Operations"][0] = create_user("a", "a2@example.com");
    let (_, ops) = send(&stack, &token, &body).await;
    let statuses = status_of(&ops);
    assert_eq!(statuses, ["201", "409", "404", "201"], "{ops:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circular_references_are_reported_not_followed() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (status, ops) = send(
        &stack,
        &token,
        &bulk(json!([
            create_group("x", "X", &["bulkId:y"]),
            create_group("y", "Y", &["bulkId:x"]),
            create_user("u", "u@example.com"),
        ])),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let statuses = status_of(&ops);
    assert_eq!(statuses, ["409", "409", "201"]);
    let detail = ops[0]["response"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("circular") && detail.contains("x → y → x"),
        "{detail}"
    );
    let (_, _, groups) = stack.scim(Method::GET, "/Groups", &token, None).await;
    assert_eq!(groups["totalResults"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_advertised_and_enforced() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (_, _, spc) = stack
        .scim(Method::GET, "/ServiceProviderConfig", &token, None)
        .await;
    assert_eq!(spc["bulk"]["supported"], true);
    let max_ops = spc["bulk"]["maxOperations"].as_u64().unwrap() as usize;
    let max_bytes = spc["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
    assert_eq!(max_ops, 1000);

    let too_many: Vec<Value> = (0..=max_ops)
        .map(|i| create_user(&format!("u{i}"), &format!("u{i}@example.com")))
        .collect();
    let (status, err) = send(&stack, &token, &bulk(json!(too_many))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(err[0]["status"], "413");
    assert!(err[0]["detail"].as_str().unwrap().contains("maxOperations"));

    let padding = "x".repeat(max_bytes);
    let big = bulk(json!([{"method": "POST", "path": "/Users", "bulkId": "a",
                           "data": {"userName": "a", "nickName": padding}}]));
    let (status, err) = send(&stack, &token, &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        err[0]["detail"]
            .as_str()
            .unwrap()
            .contains("maxPayloadSize")
    );
    assert!(user_names(&stack, &token).await.is_empty(), "nothing ran");

    // The whole request is refused when it is not a BulkRequest.
    let (status, err) = send(&stack, &token, &json!({"Operations": "all of them"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err[0]["scimType"], "invalidSyntax");
    let (status, err) = send(
        &stack,
        &token,
        &bulk(json!([create_user("a", "a@x"), create_user("a", "b@x")])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err[0]["detail"].as_str().unwrap().contains("bulkId `a`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_act_for_the_caller_only() {
    let stack = TestStack::spawn().await;
    let acme = stack.tenant_token("acme").await;
    let globex = stack.tenant_token("globex").await;
    let (_, ops) = send(
        &stack,
        &acme,
        &bulk(json!([create_user("a", "a@acme.example")])),
    )
    .await;
    let id = ops[0]["response"]["id"].as_str().unwrap();
    // Another tenant cannot reach acme's user through Bulk either.
    let (_, ops) = send(
        &stack,
        &globex,
        &bulk(json!([{"method": "DELETE", "path": format!("/Users/{id}")}])),
    )
    .await;
    assert_eq!(ops[0]["status"], "404");
    assert_eq!(user_names(&stack, &acme).await, ["a@acme.example"]);
    assert!(user_names(&stack, &globex).await.is_empty());

    // A read-only token may not send a Bulk request; no token at all is 401.
    let reader = stack
        .provider_with_scopes("reader", "acme", &["scim:read"])
        .await;
    let reader = stack.token_for(&reader).await;
    let body = bulk(json!([create_user("b", "b@acme.example")]));
    let (status, _) = send(&stack, &reader, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(&stack, "not-a-token", &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_counts_each_operation() {
    // One request a second with a burst of two: the Bulk request takes one, its first
    // operation the other, and the rest are told to wait.
    let stack = TestStack::spawn_with(|c| c.rate_limit_per_provider = 1).await;
    let token = stack.tenant_token("default").await;
    let ops: Vec<Value> = (0..4)
        .map(|i| create_user(&format!("u{i}"), &format!("u{i}@example.com")))
        .collect();
    let (status, ops) = send(&stack, &token, &bulk(json!(ops))).await;
    assert_eq!(status, StatusCode::OK);
    let mut statuses = status_of(&ops);
    statuses.sort();
    assert_eq!(statuses, ["201", "429", "429", "429"], "{ops:?}");
}
