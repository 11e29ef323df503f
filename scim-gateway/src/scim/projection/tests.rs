//! Projection tests.

use serde_json::{Value, json};

use super::*;
use scim_model::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": "u1",
        "externalId": "x1",
        "userName": "ann@example.com",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "active": true,
        "emails": [{"value": "ann@example.com", "type": "work", "primary": true},
                   {"value": "ann@home.example", "type": "home"}],
        ENTERPRISE_USER_SCHEMA: {"department": "R&D", "employeeNumber": "7"},
        "meta": {"resourceType": "User", "location": "https://h/Users/u1"}
    })
}

fn projected(attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let mut v = user();
    project(&mut v, ResourceKind::User, attributes, excluded).unwrap();
    v
}

/// `meta` is always returned, like `id` and `schemas`.
fn with_meta(mut expected: Value) -> Value {
    if let Some(m) = user().get("meta") {
        expected["meta"] = m.clone();
    }
    expected
}

#[test]
fn no_parameters_change_nothing() {
    assert_eq!(projected(None, None), user());
    assert_eq!(projected(Some(" "), Some("")), user());
}

#[test]
fn attributes_keep_only_named_plus_always_returned() {
    let v = projected(Some("userName"), None);
    assert_eq!(
        v,
        with_meta(json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "ann@example.com"}))
    );
}

#[test]
fn attributes_are_case_insensitive_and_urn_qualified() {
    let v = projected(
        Some("USERNAME, urn:ietf:params:scim:schemas:core:2.0:User:active,meta"),
        None,
    );
    assert_eq!(v["userName"], "ann@example.com");
    assert_eq!(v["active"], true);
    assert_eq!(v["meta"]["resourceType"], "User");
    assert!(v.get("emails").is_none());
    assert!(v.get(ENTERPRISE_USER_SCHEMA).is_none());
}

#[test]
fn sub_attributes_select_within_complex_and_multi_valued() {
    let v = projected(Some("name.givenName,emails.value"), None);
    assert_eq!(v["name"], json!({"givenName": "Ann"}));
    assert_eq!(
        v["emails"],
        json!([{"value": "ann@example.com"}, {"value": "ann@home.example"}])
    );
    assert!(v.get("userName").is_none());
}

#[test]
fn extension_attributes_and_whole_schema() {
    let v = projected(
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        None,
    );
    assert_eq!(v[ENTERPRISE_USER_SCHEMA], json!({"department": "R&D"}));
    assert_eq!(v["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    let v = projected(Some(ENTERPRISE_USER_SCHEMA), None);
    assert_eq!(v[ENTERPRISE_USER_SCHEMA]["employeeNumber"], "7");
    assert!(v.get("userName").is_none());
}

#[test]
fn excluded_attributes_drop_but_never_id() {
    let v = projected(None, Some("emails,name.familyName,id,schemas,meta"));
    assert!(v.get("emails").is_none());
    assert_eq!(v["name"], json!({"givenName": "Ann"}));
    assert_eq!(v["id"], "u1");
    assert!(v.get("schemas").is_some());
    assert!(v.get("meta").is_none());
    let v = projected(None, Some(ENTERPRISE_USER_SCHEMA));
    assert!(v.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(v["schemas"], json!([USER_SCHEMA]));
    let v = projected(
        None,
        Some(
            "department,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        ),
    );
    assert!(v.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(v["schemas"], json!([USER_SCHEMA]));
}

#[test]
fn unknown_names_are_ignored() {
    assert_eq!(projected(None, Some("nosuch,urn:x:y")), user());
    let v = projected(Some("nosuch"), None);
    assert_eq!(v, with_meta(json!({"schemas": [USER_SCHEMA], "id": "u1"})));
}

#[test]
fn groups_exclude_members() {
    let mut g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g",
                       "displayName": "G", "members": [{"value": "u", "display": "d"}]});
    project(&mut g, ResourceKind::Group, None, Some("members")).unwrap();
    assert!(g.get("members").is_none());
    assert_eq!(g["displayName"], "G");
}

#[test]
fn members_requested_follows_both_parameters() {
    assert!(members_requested(None, None));
    assert!(!members_requested(None, Some("members")));
    assert!(!members_requested(None, Some("displayName, Members")));
    assert!(members_requested(None, Some("members.display")));
    assert!(!members_requested(Some("displayName"), None));
    assert!(members_requested(Some("displayName,members"), None));
    assert!(members_requested(Some("members.value"), None));
    assert!(members_requested(
        Some("urn:ietf:params:scim:schemas:core:2.0:Group:members"),
        None
    ));
    assert!(members_requested(
        Some("urn:ietf:params:scim:schemas:core:2.0:Group"),
        None
    ));
    assert!(!members_requested(Some("members"), Some("members")));
}
