//! Okta's provisioning sequences (idp-wire-behaviour.md §2.13), in both flavours: OIN
//! template apps (PATCH) and App Integration Wizard apps (PUT for everything).

use e2e::TestStack;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The body Okta sends on assignment (§2.2).
fn okta_user(login: &str, okta_id: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": login,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": login, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": okta_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// S1: the existence check answers an empty list, then the POST creates the user.
async fn assign_new_user(stack: &TestStack, token: &str, login: &str) -> Value {
    let q = format!(
        "/Users?filter=userName%20eq%20%22{}%22&startIndex=1&count=100",
        login.replace('@', "%40")
    );
    let (status, _, list) = stack.scim(Method::GET, &q, token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["Resources"], json!([]));
    let (status, headers, created) = stack
        .scim(
            Method::POST,
            "/Users",
            token,
            Some(&okta_user(login, "00ujl29u0le5T6Aj10h7")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        headers["location"].to_str().unwrap(),
        created["meta"]["location"].as_str().unwrap()
    );
    assert_eq!(created["userName"], login);
    assert_eq!(created["active"], true);
    assert!(
        created.get("password").is_none(),
        "password is never returned"
    );
    created
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oin_flavour_user_lifecycle() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    // S0: test API credentials.
    let (status, _, list) = stack
        .scim(Method::GET, "/Users?startIndex=1&count=2", &token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    let (status, _, _) = stack
        .scim(Method::GET, "/Groups?startIndex=1&count=100", &token, None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // S1
    let created = assign_new_user(&stack, &token, "test.user@okta.local").await;
    let id = created["id"].as_str().unwrap().to_owned();

    // S2: the user already exists; the lookup matches case-insensitively and links.
    let (_, _, list) = stack
        .scim(
            Method::GET,
            "/Users?filter=userName+eq+%22TEST.USER%40OKTA.LOCAL%22&startIndex=1&count=100",
            &token,
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], id.as_str());
    assert_eq!(
        list["Resources"][0]["userName"], "test.user@okta.local",
        "stored case returned"
    );

    // S3: profile edit — GET then PUT of the whole object back.
    let (_, _, mut current) = stack
        .scim(Method::GET, &format!("/Users/{id}"), &token, None)
        .await;
    current["name"]["givenName"] = "Another".into();
    current["name"]["middleName"] = "Excited".into();
    let (status, _, updated) = stack
        .scim(Method::PUT, &format!("/Users/{id}"), &token, Some(&current))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"]["givenName"], "Another");
    assert_eq!(updated["active"], true);

    // S4: deactivate with a path-less replace.
    let deactivate =
        json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"active":false}}]});
    let (status, _, patched) = stack
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            &token,
            Some(&deactivate),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["active"], false);
    // Still readable and filterable while inactive.
    let (status, _, got) = stack
        .scim(Method::GET, &format!("/Users/{id}"), &token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["active"], false);
    let (_, _, list) = stack
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22test.user%40okta.local%22",
            &token,
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 1);

    // S5: reactivate, same id.
    let reactivate =
        json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"active":true}}]});
    let (_, _, patched) = stack
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            &token,
            Some(&reactivate),
        )
        .await;
    assert_eq!(patched["active"], true);
    assert_eq!(patched["id"], id.as_str());

    // Password sync with and without a path.
    for body in [
        json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"password":"n3w-Secret"}}]}),
        json!({"schemas":[PATCH],"Operations":[{"op":"replace","path":"password","value":"0ther-Secret"}]}),
    ] {
        let (status, _, v) = stack
            .scim(Method::PATCH, &format!("/Users/{id}"), &token, Some(&body))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(v.get("password").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiw_flavour_uses_put_for_everything() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let created = assign_new_user(&stack, &token, "aiw.user@okta.local").await;
    let id = created["id"].as_str().unwrap();
    // S4 (AIW): GET + PUT with active false; S5: PUT with active true.
    for active in [false, true] {
        let (_, _, mut current) = stack
            .scim(Method::GET, &format!("/Users/{id}"), &token, None)
            .await;
        current["active"] = active.into();
        let (status, _, v) = stack
            .scim(Method::PUT, &format!("/Users/{id}"), &token, Some(&current))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["active"], active);
    }
    // A PUT without `active` keeps the current state (here: deactivate first).
    let (_, _, mut current) = stack
        .scim(Method::GET, &format!("/Users/{id}"), &token, None)
        .await;
    current["active"] = false.into();
    stack
        .scim(Method::PUT, &format!("/Users/{id}"), &token, Some(&current))
        .await;
    current.as_object_mut().unwrap().remove("active");
    current["title"] = "Engineer".into();
    let (_, _, v) = stack
        .scim(Method::PUT, &format!("/Users/{id}"), &token, Some(&current))
        .await;
    assert_eq!(v["active"], false, "omitted active keeps the state");
    assert_eq!(v["title"], "Engineer");

    // S7 (AIW): POST the group, then PUT with members; S8/S10: PUT the full list.
    let u2 = assign_new_user(&stack, &token, "second@okta.local").await;
    let (status, _, g) = stack
        .scim(
            Method::POST,
            "/Groups",
            &token,
            Some(&json!({"schemas":[GROUP],"displayName":"Test SCIMv2","members":[]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = g["id"].as_str().unwrap();
    let put = json!({"schemas":[GROUP],"id":gid,"displayName":"Test SCIMv2","members":[
        {"value": id, "display": "aiw.user@okta.local"},
        {"value": u2["id"], "display": "second@okta.local"}]});
    let (status, _, g) = stack
        .scim(Method::PUT, &format!("/Groups/{gid}"), &token, Some(&put))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    // S9 (AIW): rename by PUT; S10: membership overwrite to one member.
    let put = json!({"schemas":[GROUP],"displayName":"Renamed","members":[{"value": id, "display": "aiw.user@okta.local"}]});
    let (_, _, g) = stack
        .scim(Method::PUT, &format!("/Groups/{gid}"), &token, Some(&put))
        .await;
    assert_eq!(g["displayName"], "Renamed");
    assert_eq!(
        g["members"],
        json!([{"value": id, "display": "aiw.user@okta.local", "type": "User", "$ref": format!("{}/Users/{id}", stack.scim)}])
    );
    // S11
    let (status, _, _) = stack
        .scim(Method::DELETE, &format!("/Groups/{gid}"), &token, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oin_flavour_group_push() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let a = assign_new_user(&stack, &token, "a@okta.local").await;
    let b = assign_new_user(&stack, &token, "b@okta.local").await;
    let (a, b) = (
        a["id"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
    );

    // S7: lookup by name, create with members, reconcile rename, then add the same members.
    let (_, _, list) = stack
        .scim(
            Method::GET,
            "/Groups?filter=displayName%20eq%20%22Droids%22&startIndex=1&count=100",
            &token,
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 0);
    let body = json!({"schemas":[GROUP],"displayName":"Droids","members":[{"value":a,"display":"a@okta.local"}]});
    let (status, _, g) = stack
        .scim(Method::POST, "/Groups", &token, Some(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(
        g["members"][0]["display"], "a@okta.local",
        "display stored and echoed"
    );
    let reconcile = json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"id":gid,"displayName":"Droids"}}]});
    let (status, _, _) = stack
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            &token,
            Some(&reconcile),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let add = json!({"schemas":[PATCH],"Operations":[{"op":"add","path":"members","value":[
        {"value":a,"display":"a@okta.local"},{"value":b,"display":"b@okta.local"}]}]});
    let (status, _, g) = stack
        .scim(Method::PATCH, &format!("/Groups/{gid}"), &token, Some(&add))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        g["members"].as_array().unwrap().len(),
        2,
        "add is idempotent"
    );

    // S8: remove one by filter and add back, in one request.
    let delta = json!({"schemas":[PATCH],"Operations":[
        {"op":"remove","path":format!("members[value eq \"{a}\"]")},
        {"op":"add","path":"members","value":[{"value":a,"display":"a@okta.local"}]}]});
    let (_, _, g) = stack
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            &token,
            Some(&delta),
        )
        .await;
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    let remove = json!({"schemas":[PATCH],"Operations":[{"op":"remove","path":format!("members[value eq \"{b}\"]")}]});
    let (_, _, g) = stack
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            &token,
            Some(&remove),
        )
        .await;
    assert_eq!(
        g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].clone())
            .collect::<Vec<_>>(),
        vec![json!(a)]
    );

    // S9: rename.
    let rename = json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"id":gid,"displayName":"Droids 2"}}]});
    let (_, _, g) = stack
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            &token,
            Some(&rename),
        )
        .await;
    assert_eq!(g["displayName"], "Droids 2");

    // The user sees its group.
    let (_, _, u) = stack
        .scim(Method::GET, &format!("/Users/{a}"), &token, None)
        .await;
    assert_eq!(u["groups"][0]["value"], gid.as_str());
    assert_eq!(u["groups"][0]["display"], "Droids 2");

    // S10: Push Now with an empty group clears it.
    let push =
        json!({"schemas":[PATCH],"Operations":[{"op":"replace","path":"members","value":[]}]});
    let (status, _, g) = stack
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            &token,
            Some(&push),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g["members"], json!([]));

    // S12: import groups.
    let (_, _, list) = stack
        .scim(Method::GET, "/Groups?startIndex=1&count=100", &token, None)
        .await;
    assert_eq!(list["totalResults"], 1);
    // S11: unlink and delete.
    let (status, _, _) = stack
        .scim(Method::DELETE, &format!("/Groups/{gid}"), &token, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = stack
        .scim(Method::GET, &format!("/Groups/{gid}"), &token, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_walks_every_user_once_in_pages_of_one_hundred() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..250 {
        let (status, _, v) = stack
            .scim(
                Method::POST,
                "/Users",
                &token,
                Some(&okta_user(
                    &format!("user{i:03}@okta.local"),
                    &format!("00u{i}"),
                )),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        ids.insert(v["id"].as_str().unwrap().to_owned());
    }
    // Deactivated users are still listed (Okta decides what to import).
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let (status, _, page) = stack
            .scim(
                Method::GET,
                &format!("/Users?startIndex={start}&count=100"),
                &token,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["totalResults"], 250);
        assert_eq!(page["startIndex"], start);
        let res = page["Resources"].as_array().unwrap();
        assert_eq!(page["itemsPerPage"], res.len());
        if res.is_empty() {
            break;
        }
        seen.extend(res.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        start += 100;
    }
    assert_eq!(seen.len(), 250, "no repeats");
    assert_eq!(
        seen.into_iter().collect::<std::collections::BTreeSet<_>>(),
        ids,
        "no skips"
    );
}
