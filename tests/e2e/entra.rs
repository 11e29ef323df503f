//! Microsoft Entra ID's traffic (idp-wire-behaviour.md §5), with and without the
//! `aadOptscim062020` flag.

use e2e::TestStack;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": format!("{user_name}@testuser.com")}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_and_lookups_by_every_matching_attribute() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    // Test Connection: a random GUID that matches nothing → 200 + empty ListResponse.
    let (status, headers, list) = stack
        .scim(
            Method::GET,
            "/Users?filter=userName+eq+%2200aa00aa-bb11-cc22-dd33-44ee44ee44ee%22",
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/scim+json");
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["Resources"], json!([]));

    let (status, _, created) = stack
        .scim(
            Method::POST,
            "/Users",
            &token,
            Some(&entra_user("Test_User_1", "0a21f0f2-8d2a")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    for q in [
        "/Users?filter=externalId%20eq%20%220a21f0f2-8d2a%22",
        "/Users?filter=userName%20eq%20%22test_user_1%22",
        "/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22Test_User_1%40testuser.com%22",
        "/Users?filter=externalId%20eq%20%220a21f0f2-8d2a%22%20and%20userName%20eq%20%22Test_User_1%22",
    ] {
        let (status, _, list) = stack.scim(Method::GET, q, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert_eq!(list["totalResults"], 1, "{q}");
        assert_eq!(list["Resources"][0]["id"], id);
    }
    // externalId is case-exact.
    let (_, _, list) = stack
        .scim(
            Method::GET,
            "/Users?filter=externalId%20eq%20%220A21F0F2-8D2A%22",
            &token,
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 0);
    // Entra's documented unquoted value is refused, never broadened.
    let (status, _, err) = stack
        .scim(
            Method::GET,
            "/Users?filter=externalId%20eq%20jyoung",
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["scimType"], "invalidFilter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_mode_patches_with_capitalised_ops_and_string_booleans() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (_, _, created) = stack
        .scim(
            Method::POST,
            "/Users",
            &token,
            Some(&entra_user("babs", "ext-1")),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let (_, _, manager) = stack
        .scim(
            Method::POST,
            "/Users",
            &token,
            Some(&entra_user("boss", "ext-2")),
        )
        .await;
    let manager_id = manager["id"].as_str().unwrap();

    let body = json!({"schemas":[PATCH],"Operations":[
        {"op":"Add","path":"nickName","value":"Babs"},
        {"op":"Replace","path":"displayName","value":"Barbara"},
        {"op":"Replace","path":"emails[type eq \"work\"].value","value":"barbara@example.com"},
        {"op":"Replace","path":"name.givenName","value":"Barbara"},
        {"op":"Replace","path":"name.familyName","value":"Jensen"},
        {"op":"Replace","path":"externalId","value":"ext-1b"},
        {"op":"Replace","path":format!("{ENTERPRISE}:employeeNumber"),"value":"701984"},
        {"op":"Add","path":format!("{ENTERPRISE}:manager"),"value":manager_id}
    ]});
    let (status, _, v) = stack
        .scim(Method::PATCH, &format!("/Users/{id}"), &token, Some(&body))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["nickName"], "Babs");
    assert_eq!(v["displayName"], "Barbara");
    assert_eq!(v["emails"][0]["value"], "barbara@example.com");
    assert_eq!(v["name"]["familyName"], "Jensen");
    assert_eq!(v["externalId"], "ext-1b");
    assert_eq!(v[ENTERPRISE]["employeeNumber"], "701984");
    assert_eq!(
        v[ENTERPRISE]["manager"]["value"], manager_id,
        "manager returned in RFC form"
    );

    // Disable with a string boolean.
    let disable =
        json!({"schemas":[PATCH],"Operations":[{"op":"Replace","path":"active","value":"False"}]});
    let (status, _, v) = stack
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            &token,
            Some(&disable),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["active"], false);
    // The validator clears the manager with an empty replace.
    let clear = json!({"schemas":[PATCH],"Operations":[{"op":"Replace","path":format!("{ENTERPRISE}:manager"),"value":""}]});
    let (_, _, v) = stack
        .scim(Method::PATCH, &format!("/Users/{id}"), &token, Some(&clear))
        .await;
    assert!(
        v.get(ENTERPRISE).and_then(|e| e.get("manager")).is_none(),
        "{v}"
    );
    // Hard delete after the soft delete.
    let (status, _, _) = stack
        .scim(Method::DELETE, &format!("/Users/{id}"), &token, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = stack
        .scim(Method::GET, &format!("/Users/{id}"), &token, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_mode_path_less_replace_with_dotted_and_urn_keys() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (_, _, created) = stack
        .scim(
            Method::POST,
            "/Users?aadOptscim062020",
            &token,
            Some(&entra_user("kkom", "e1")),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let body = json!({"schemas":[PATCH],"Operations":[
        {"op":"replace","path":"emails[type eq \"work\"].value","value":"kkom@example.com"},
        {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
            format!("{ENTERPRISE}:employeeNumber"):"Aklq"}}]});
    let (status, _, v) = stack
        .scim(
            Method::PATCH,
            &format!("/Users/{id}?aadOptscim062020"),
            &token,
            Some(&body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["displayName"], "Bjfe");
    assert_eq!(v["name"]["givenName"], "Kkom");
    assert_eq!(v["name"]["familyName"], "Unua");
    assert_eq!(
        v["name"]["formatted"], "givenName familyName",
        "untouched sub-attributes stay"
    );
    assert_eq!(v[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(v["emails"][0]["value"], "kkom@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_in_both_modes() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let mut ids = Vec::new();
    for n in ["u1", "u2", "u3"] {
        let (_, _, u) = stack
            .scim(Method::POST, "/Users", &token, Some(&entra_user(n, n)))
            .await;
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    let create = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group",
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId":"8aa1a0c0","displayName":"Sales","meta":{"resourceType":"Group"}});
    let (status, _, g) = stack
        .scim(Method::POST, "/Groups", &token, Some(&create))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = g["id"].as_str().unwrap();
    // Lookup with excludedAttributes=members.
    let (_, _, list) = stack
        .scim(
            Method::GET,
            "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22sales%22",
            &token,
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 1);
    assert!(list["Resources"][0].get("members").is_none());
    let (_, _, one) = stack
        .scim(
            Method::GET,
            &format!("/Groups/{gid}?excludedAttributes=members"),
            &token,
            None,
        )
        .await;
    assert!(one.get("members").is_none());
    // Add several members with `$ref: null`.
    let add = json!({"schemas":[PATCH],"Operations":[{"op":"Add","path":"members","value":[
        {"$ref":null,"value":ids[0]},{"$ref":null,"value":ids[1]},{"$ref":null,"value":ids[2]}]}]});
    let (status, _, _) = stack
        .scim(Method::PATCH, &format!("/Groups/{gid}"), &token, Some(&add))
        .await;
    assert!(status == StatusCode::OK || status == StatusCode::NO_CONTENT);
    // Default mode: Remove + path members + value list removes only those.
    let remove = json!({"schemas":[PATCH],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":ids[0]}]}]});
    stack
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            &token,
            Some(&remove),
        )
        .await;
    // Flag mode: filtered remove.
    let remove = json!({"schemas":[PATCH],"Operations":[{"op":"remove","path":format!("members[value eq \"{}\"]", ids[1])}]});
    stack
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            &token,
            Some(&remove),
        )
        .await;
    let (_, _, g) = stack
        .scim(Method::GET, &format!("/Groups/{gid}"), &token, None)
        .await;
    let members: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![ids[2].as_str()]);
    // Rename by path.
    let rename = json!({"schemas":[PATCH],"Operations":[{"op":"Replace","path":"displayName","value":"Sales EMEA"}]});
    let (status, _, _) = stack
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            &token,
            Some(&rename),
        )
        .await;
    assert!(status == StatusCode::OK || status == StatusCode::NO_CONTENT);
    let (_, _, g) = stack
        .scim(Method::GET, &format!("/Groups/{gid}"), &token, None)
        .await;
    assert_eq!(g["displayName"], "Sales EMEA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_attributes_and_a_malformed_extension_urn_are_tolerated() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "userName": "nulls", "active": true, "addresses": null, "phoneNumbers": null, "title": null,
        "displayName": "Nulls"
    });
    let (status, _, v) = stack
        .scim(Method::POST, "/Users", &token, Some(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert!(v.get("title").is_none());
}
