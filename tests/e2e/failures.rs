//! One regression test per interoperability failure that other SCIM servers shipped
//! (idp-wire-behaviour.md §7). Each test replays the request that broke them.

use e2e::TestStack;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn setup() -> (TestStack, String) {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    (stack, token)
}

async fn new_user(stack: &TestStack, token: &str, name: &str) -> String {
    let body = json!({"schemas":[USER],"userName":name,"active":true,
        "emails":[{"value":format!("{name}@example.com"),"type":"work","primary":true}]});
    let (status, _, v) = stack.scim(Method::POST, "/Users", token, Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn new_group(stack: &TestStack, token: &str, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let body = json!({"schemas":[GROUP],"displayName":name,"members":members});
    let (status, _, v) = stack
        .scim(Method::POST, "/Groups", token, Some(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn patch(stack: &TestStack, token: &str, path: &str, ops: Value) -> (StatusCode, Value) {
    let body = json!({"schemas":[PATCH],"Operations":ops});
    let (s, _, v) = stack.scim(Method::PATCH, path, token, Some(&body)).await;
    (s, v)
}

async fn member_values(stack: &TestStack, token: &str, gid: &str) -> Vec<String> {
    let (_, _, g) = stack
        .scim(Method::GET, &format!("/Groups/{gid}"), token, None)
        .await;
    let mut v: Vec<String> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_01_path_less_replace_of_active_deactivates() {
    let (stack, token) = setup().await;
    let id = new_user(&stack, &token, "r1").await;
    let (s, v) = patch(
        &stack,
        &token,
        &format!("/Users/{id}"),
        json!([{"op":"replace","value":{"active":false}}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["active"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_02_group_reconcile_with_id_and_display_name_is_accepted() {
    let (stack, token) = setup().await;
    let gid = new_group(&stack, &token, "r2", &[]).await;
    let (s, v) = patch(
        &stack,
        &token,
        &format!("/Groups/{gid}"),
        json!([{"op":"replace","value":{"id":gid,"displayName":"r2 renamed"}}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["displayName"], "r2 renamed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_03_replace_members_with_an_empty_list_clears_the_group() {
    let (stack, token) = setup().await;
    let u = new_user(&stack, &token, "r3").await;
    let gid = new_group(&stack, &token, "r3", &[&u]).await;
    let (s, _) = patch(
        &stack,
        &token,
        &format!("/Groups/{gid}"),
        json!([{"op":"replace","path":"members","value":[]}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(member_values(&stack, &token, &gid).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_04_filtered_remove_really_removes_the_member() {
    let (stack, token) = setup().await;
    let (a, b) = (
        new_user(&stack, &token, "r4a").await,
        new_user(&stack, &token, "r4b").await,
    );
    let gid = new_group(&stack, &token, "r4", &[&a, &b]).await;
    let (s, _) = patch(
        &stack,
        &token,
        &format!("/Groups/{gid}"),
        json!([{"op":"remove","path":format!("members[value eq \"{a}\"]")}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(member_values(&stack, &token, &gid).await, vec![b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_05_filtered_remove_keeps_others_and_add_appends() {
    let (stack, token) = setup().await;
    let (a, b, c) = (
        new_user(&stack, &token, "r5a").await,
        new_user(&stack, &token, "r5b").await,
        new_user(&stack, &token, "r5c").await,
    );
    let gid = new_group(&stack, &token, "r5", &[&a, &b]).await;
    patch(
        &stack,
        &token,
        &format!("/Groups/{gid}"),
        json!([{"op":"add","path":"members","value":[{"value":c}]}]),
    )
    .await;
    let mut expected = vec![a.clone(), b.clone(), c.clone()];
    expected.sort();
    assert_eq!(
        member_values(&stack, &token, &gid).await,
        expected,
        "add appends"
    );
    patch(
        &stack,
        &token,
        &format!("/Groups/{gid}"),
        json!([{"op":"remove","path":format!("members[value eq \"{b}\"]")}]),
    )
    .await;
    let mut expected = vec![a, c];
    expected.sort();
    assert_eq!(
        member_values(&stack, &token, &gid).await,
        expected,
        "remove keeps the rest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_06_entra_remove_with_a_value_list_removes_only_those() {
    let (stack, token) = setup().await;
    let (a, b) = (
        new_user(&stack, &token, "r6a").await,
        new_user(&stack, &token, "r6b").await,
    );
    let gid = new_group(&stack, &token, "r6", &[&a, &b]).await;
    let (s, _) = patch(
        &stack,
        &token,
        &format!("/Groups/{gid}"),
        json!([{"op":"Remove","path":"members","value":[{"$ref":null,"value":a}]}]),
    )
    .await;
    assert!(s.is_success());
    assert_eq!(member_values(&stack, &token, &gid).await, vec![b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_07_capitalised_ops_are_applied() {
    let (stack, token) = setup().await;
    let id = new_user(&stack, &token, "r7").await;
    for op in ["Replace", "REPLACE", "Add"] {
        let (s, v) = patch(
            &stack,
            &token,
            &format!("/Users/{id}"),
            json!([{"op":op,"path":"title","value":op}]),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["title"], op, "{op} applied, not silently dropped");
    }
    let (s, v) = patch(
        &stack,
        &token,
        &format!("/Users/{id}"),
        json!([{"op":"Remove","path":"title"}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v.get("title").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_08_string_booleans_are_accepted() {
    let (stack, token) = setup().await;
    let id = new_user(&stack, &token, "r8").await;
    for (value, expected) in [("False", false), ("True", true), ("false", false)] {
        let (s, v) = patch(
            &stack,
            &token,
            &format!("/Users/{id}"),
            json!([{"op":"Replace","path":"active","value":value}]),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["active"], expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_09_manager_as_a_bare_id_is_returned_in_rfc_form() {
    let (stack, token) = setup().await;
    let (id, boss) = (
        new_user(&stack, &token, "r9").await,
        new_user(&stack, &token, "r9boss").await,
    );
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let (s, v) = patch(
        &stack,
        &token,
        &format!("/Users/{id}"),
        json!([{"op":"add","path":path,"value":boss}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let manager = &v["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"];
    assert!(manager.is_object(), "manager is an object: {manager}");
    assert_eq!(manager["value"], boss.as_str());
    // In a POST body too.
    let body = json!({"schemas":[USER,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"r9b",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":boss}});
    let (s, _, v) = stack
        .scim(Method::POST, "/Users", &token, Some(&body))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        v["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        boss.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_10_scim_json_bodies_are_accepted() {
    let (stack, token) = setup().await;
    let r = stack
        .http
        .post(format!("{}/Users", stack.scim))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(serde_json::to_vec(&json!({"schemas":[USER],"userName":"r10"})).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_11_value_filter_and_extension_paths_are_supported() {
    let (stack, token) = setup().await;
    let id = new_user(&stack, &token, "r11").await;
    let (s, v) = patch(&stack, &token, &format!("/Users/{id}"), json!([
        {"op":"replace","path":"emails[type eq \"work\"].value","value":"new@example.com"},
        {"op":"add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0100"},
        {"op":"replace","path":"addresses[type eq \"work\"].postalCode","value":"12345"},
        {"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"R&D"}
    ])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["emails"][0]["value"], "new@example.com");
    assert_eq!(v["phoneNumbers"][0]["value"], "+1 555 0100");
    assert_eq!(v["phoneNumbers"][0]["type"], "mobile");
    assert_eq!(v["addresses"][0]["postalCode"], "12345");
    assert_eq!(
        v["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "R&D"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_12_a_filter_without_match_is_200_with_an_empty_list() {
    let (stack, token) = setup().await;
    let (s, _, v) = stack
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22nobody%22",
            &token,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["totalResults"], 0);
    assert_eq!(v["Resources"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_13_get_users_without_any_parameter_lists_users() {
    let (stack, token) = setup().await;
    new_user(&stack, &token, "r13").await;
    let (s, _, v) = stack.scim(Method::GET, "/Users", &token, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["totalResults"], 1);
    assert_eq!(v["Resources"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_14_an_unsupported_filter_is_refused_not_ignored() {
    let (stack, token) = setup().await;
    new_user(&stack, &token, "r14").await;
    for q in [
        "userName%20eq%20%22r14%22%20and",
        "userName%20eq%20r14",
        "noSuchAttr%20eq%20%22x%22",
        "userName%20eq%20%22r14%22)",
    ] {
        let (s, _, v) = stack
            .scim(Method::GET, &format!("/Users?filter={q}"), &token, None)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(v["scimType"], "invalidFilter");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_15_user_name_is_case_insensitive_but_returned_as_stored() {
    let (stack, token) = setup().await;
    new_user(&stack, &token, "Runscope123Abcdefgh@atko.com").await;
    let (s, _, v) = stack
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22RUNSCOPE123ABCDEFGH%40ATKO.COM%22",
            &token,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["totalResults"], 1);
    assert_eq!(
        v["Resources"][0]["userName"],
        "Runscope123Abcdefgh@atko.com"
    );
    let body = json!({"schemas":[USER],"userName":"runscope123abcdefgh@ATKO.com"});
    let (s, _, v) = stack
        .scim(Method::POST, "/Users", &token, Some(&body))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["scimType"], "uniqueness");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_16_paging_metadata_is_accurate() {
    let (stack, token) = setup().await;
    for i in 0..3 {
        new_user(&stack, &token, &format!("r16-{i}")).await;
    }
    let (_, _, v) = stack
        .scim(Method::GET, "/Users?startIndex=1&count=100", &token, None)
        .await;
    assert_eq!(
        v["itemsPerPage"], 3,
        "items in this page, not the requested count"
    );
    assert_eq!(v["totalResults"], 3);
    assert!(v["totalResults"].is_i64() && v["startIndex"].is_i64() && v["itemsPerPage"].is_i64());
    let (_, _, v) = stack
        .scim(Method::GET, "/Users?startIndex=2&count=1", &token, None)
        .await;
    assert_eq!(
        v["totalResults"], 3,
        "total of all matches, not of the page"
    );
    assert_eq!(v["itemsPerPage"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_17_401_carries_a_scim_error_body() {
    let (stack, _) = setup().await;
    let r = stack
        .http
        .get(format!(
            "{}/Users?filter=userName%20eq%20%22X%22",
            stack.scim
        ))
        .header("authorization", "non-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "401");
    assert!(!v["detail"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_18_both_put_and_patch_deactivate() {
    let (stack, token) = setup().await;
    let id = new_user(&stack, &token, "r18").await;
    let (_, _, mut current) = stack
        .scim(Method::GET, &format!("/Users/{id}"), &token, None)
        .await;
    current["active"] = false.into();
    let (s, _, v) = stack
        .scim(Method::PUT, &format!("/Users/{id}"), &token, Some(&current))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["active"], false);
    let (s, v) = patch(
        &stack,
        &token,
        &format!("/Users/{id}"),
        json!([{"op":"replace","value":{"active":true}}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_19_members_in_post_and_put_are_stored() {
    let (stack, token) = setup().await;
    let (a, b) = (
        new_user(&stack, &token, "r19a").await,
        new_user(&stack, &token, "r19b").await,
    );
    let gid = new_group(&stack, &token, "r19", &[&a]).await;
    assert_eq!(member_values(&stack, &token, &gid).await, vec![a.clone()]);
    let put = json!({"schemas":[GROUP],"displayName":"r19","members":[{"value":b}]});
    let (s, _, _) = stack
        .scim(Method::PUT, &format!("/Groups/{gid}"), &token, Some(&put))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(member_values(&stack, &token, &gid).await, vec![b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_20_group_put_with_member_display_is_accepted() {
    let (stack, token) = setup().await;
    let a = new_user(&stack, &token, "r20").await;
    let gid = new_group(&stack, &token, "r20", &[]).await;
    let put = json!({"schemas":[GROUP],"id":gid,"displayName":"r20","members":[{"value":a,"display":"r20@example.com"}]});
    let (s, _, v) = stack
        .scim(Method::PUT, &format!("/Groups/{gid}"), &token, Some(&put))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["members"][0]["display"], "r20@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_21_raw_and_bearer_authorization_forms_both_work() {
    let (stack, token) = setup().await;
    for value in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        token.clone(),
    ] {
        let r = stack
            .http
            .get(format!("{}/Users", stack.scim))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_22_read_only_groups_in_post_and_put_are_ignored() {
    let (stack, token) = setup().await;
    let gid = new_group(&stack, &token, "r22", &[]).await;
    let body = json!({"schemas":[USER],"userName":"r22","groups":[{"value":gid}]});
    let (s, _, v) = stack
        .scim(Method::POST, "/Users", &token, Some(&body))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(
        v["groups"].as_array().is_none_or(|g| g.is_empty()),
        "groups are not writable"
    );
    let id = v["id"].as_str().unwrap();
    let put = json!({"schemas":[USER],"userName":"r22","groups":[{"value":gid}]});
    let (s, _, _) = stack
        .scim(Method::PUT, &format!("/Users/{id}"), &token, Some(&put))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(member_values(&stack, &token, &gid).await.is_empty());
}
