//! User PATCH: every shape of the IdP wire notes (Okta §1.6/§2.5, RFC §4.5, Entra §5.2).

use scim_proto::identity::v1 as pb;
use serde_json::{Value, json};

use super::*;
use crate::error::{ScimError, ScimType};
use crate::scim::user::{user_from_json, user_to_json};
use scim_model::ENTERPRISE_USER_SCHEMA;

const BASE: &str = "https://h/scim/v2";
const ID: &str = "23a35c27-23d3-4c03-b4c5-6443c09e7173";

fn current() -> Value {
    let mut u = user_from_json(&json!({
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"value": "test.user@okta.local", "type": "work", "primary": true}],
        "displayName": "Test User",
        "title": "Engineer",
        "active": true
    }))
    .unwrap();
    u.id = ID.into();
    user_to_json(&u, BASE)
}

fn ops(list: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list})
}

/// Parses, applies and decodes, the way the PATCH route does.
fn try_patch(doc: &Value, body: Value) -> Result<(Value, pb::User), ScimError> {
    let parsed = parse_patch_request(&body)?;
    let mut doc = doc.clone();
    apply_user_patch(&mut doc, &parsed)?;
    let user = user_from_json(&doc)?;
    Ok((doc, user))
}

fn patch(body: Value) -> pb::User {
    try_patch(&current(), body).unwrap().1
}

fn patch_err(body: Value) -> ScimType {
    try_patch(&current(), body.clone())
        .map(|_| ())
        .expect_err(&body.to_string())
        .scim_type()
        .unwrap()
}

fn email<'a>(u: &'a pb::User, ty: &str) -> Option<&'a pb::MultiValue> {
    u.emails.iter().find(|e| e.r#type.as_deref() == Some(ty))
}

#[test]
fn row_01_okta_deactivate_and_reactivate_without_path() {
    let u = patch(ops(json!([{"op": "replace", "value": {"active": false}}])));
    assert_eq!(u.active, Some(false));
    assert_eq!(u.user_name, "test.user@okta.local");
    assert_eq!(u.title.as_deref(), Some("Engineer"));
    let (doc, _) = try_patch(
        &current(),
        ops(json!([{"op": "replace", "value": {"active": false}}])),
    )
    .unwrap();
    let (_, u) = try_patch(
        &doc,
        ops(json!([{"op": "replace", "value": {"active": true}}])),
    )
    .unwrap();
    assert_eq!(u.active, Some(true));
}

#[test]
fn password_sync_with_and_without_path() {
    let u = patch(ops(
        json!([{"op": "replace", "value": {"password": "n3w-Secret"}}]),
    ));
    assert_eq!(u.password.as_deref(), Some("n3w-Secret"));
    let u = patch(ops(
        json!([{"op": "replace", "path": "password", "value": "x2"}]),
    ));
    assert_eq!(u.password.as_deref(), Some("x2"));
}

#[test]
fn row_07_capitalised_ops() {
    let u = patch(ops(json!([
        {"op": "Replace", "path": "displayName", "value": "New"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "Remove", "path": "title"}
    ])));
    assert_eq!(u.display_name.as_deref(), Some("New"));
    assert_eq!(u.nick_name.as_deref(), Some("Babs"));
    assert_eq!(u.title, None);
}

#[test]
fn row_08_entra_string_booleans() {
    let u = patch(ops(
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    ));
    assert_eq!(u.active, Some(false));
    let u = patch(ops(
        json!([{"op": "replace", "path": "active", "value": false}]),
    ));
    assert_eq!(u.active, Some(false));
    let u = patch(ops(
        json!([{"op": "replace", "path": "emails[type eq \"work\"].primary",
                              "value": "False"}]),
    ));
    assert!(!email(&u, "work").unwrap().primary);
    assert_eq!(
        patch_err(ops(
            json!([{"op": "replace", "path": "active", "value": "nope"}])
        )),
        ScimType::InvalidValue
    );
}

#[test]
fn entra_default_mode_one_op_per_attribute() {
    let u = patch(ops(json!([
        {"op": "Replace", "path": "displayName", "value": "Bjfe"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Kkom"},
        {"op": "Replace", "path": "name.familyName", "value": "Unua"},
        {"op": "Replace", "path": "externalId", "value": "ext-1"},
        {"op": "Replace",
         "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
         "value": "Aklq"}
    ])));
    assert_eq!(u.display_name.as_deref(), Some("Bjfe"));
    let work = email(&u, "work").unwrap();
    assert_eq!(work.value, "new@x.com");
    assert!(work.primary, "the other sub-attributes of the element stay");
    let name = u.name.unwrap();
    assert_eq!(name.given_name.as_deref(), Some("Kkom"));
    assert_eq!(name.family_name.as_deref(), Some("Unua"));
    assert_eq!(u.external_id.as_deref(), Some("ext-1"));
    assert_eq!(
        u.enterprise.unwrap().employee_number.as_deref(),
        Some("Aklq")
    );
}

#[test]
fn entra_flag_mode_dotted_and_urn_keys() {
    let u = patch(ops(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x.com"},
        {"op": "replace", "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
        }}
    ])));
    assert_eq!(u.display_name.as_deref(), Some("Bjfe"));
    assert_eq!(email(&u, "work").unwrap().value, "w@x.com");
    assert_eq!(u.name.unwrap().given_name.as_deref(), Some("Kkom"));
    assert_eq!(
        u.enterprise.unwrap().employee_number.as_deref(),
        Some("Aklq")
    );
}

#[test]
fn path_less_nested_objects_merge() {
    let u = patch(ops(
        json!([{"op": "replace", "value": {"name": {"givenName": "Other"}}}]),
    ));
    let name = u.name.unwrap();
    assert_eq!(name.given_name.as_deref(), Some("Other"));
    assert_eq!(name.family_name.as_deref(), Some("User"));
    let u = patch(ops(json!([{"op": "replace", "path": "name",
                              "value": {"familyName": null, "middleName": "M"}}])));
    let name = u.name.unwrap();
    assert_eq!(name.family_name, None);
    assert_eq!(name.given_name.as_deref(), Some("Test"));
    assert_eq!(name.middle_name.as_deref(), Some("M"));
    let u = patch(ops(json!([{"op": "add", "value": {
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "R&D", "manager": {"value": "m-1"}
        }
    }}])));
    let e = u.enterprise.unwrap();
    assert_eq!(e.department.as_deref(), Some("R&D"));
    assert_eq!(e.manager.unwrap().value, "m-1");
}

#[test]
fn core_urn_as_object_key_wraps_core_attributes() {
    let u = patch(ops(json!([{"op": "replace", "value": {
        "urn:ietf:params:scim:schemas:core:2.0:User": {"displayName": "Wrapped", "active": "false"}
    }}])));
    assert_eq!(u.display_name.as_deref(), Some("Wrapped"));
    assert_eq!(u.active, Some(false));
    assert_eq!(
        patch_err(ops(
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User"}])
        )),
        ScimType::InvalidPath
    );
}

#[test]
fn path_less_id_must_match() {
    let u = patch(ops(
        json!([{"op": "replace", "value": {"id": ID, "active": false}}]),
    ));
    assert_eq!(u.active, Some(false));
    assert_eq!(
        patch_err(ops(json!([{"op": "replace", "value": {"id": "other"}}]))),
        ScimType::Mutability
    );
}

#[test]
fn read_only_targets_are_mutability_errors() {
    for path in [
        "id",
        "meta",
        "meta.created",
        "groups",
        "schemas",
        "Groups.value",
    ] {
        assert_eq!(
            patch_err(ops(json!([{"op": "replace", "path": path, "value": "x"}]))),
            ScimType::Mutability,
            "{path}"
        );
    }
    assert_eq!(
        patch_err(ops(
            json!([{"op": "add", "value": {"groups": [{"value": "g"}]}}])
        )),
        ScimType::Mutability
    );
}

#[test]
fn unknown_and_malformed_paths_are_invalid_path() {
    for path in [
        "nosuch",
        "name.nosuch",
        "emails[type eq \"work\"",
        "emails[type eq work]",
    ] {
        assert_eq!(
            patch_err(ops(json!([{"op": "replace", "path": path, "value": "x"}]))),
            ScimType::InvalidPath,
            "{path}"
        );
    }
    assert_eq!(
        patch_err(ops(json!([{"op": "replace", "value": {"nosuch": 1}}]))),
        ScimType::InvalidPath
    );
}

#[test]
fn remove_without_path_is_no_target() {
    assert_eq!(
        patch_err(ops(json!([{"op": "remove"}]))),
        ScimType::NoTarget
    );
}

#[test]
fn row_11_value_filter_paths_create_missing_elements() {
    let u = patch(ops(json!([
        {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555-1"},
        {"op": "add", "path": "addresses[type eq \"work\"].postalCode", "value": "91608"},
        {"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x.com"}}
    ])));
    assert_eq!(u.phone_numbers.len(), 1);
    assert_eq!(u.phone_numbers[0].value, "555-1");
    assert_eq!(u.phone_numbers[0].r#type.as_deref(), Some("mobile"));
    assert_eq!(u.addresses[0].postal_code.as_deref(), Some("91608"));
    assert_eq!(u.addresses[0].r#type.as_deref(), Some("work"));
    assert_eq!(email(&u, "home").unwrap().value, "h@x.com");
    assert_eq!(email(&u, "work").unwrap().value, "test.user@okta.local");
}

#[test]
fn row_11_enterprise_urn_paths() {
    let u = patch(ops(json!([
        {"op": "add",
         "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
         "value": "Tour Operations"},
        {"op": "replace",
         "path": "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:costCenter",
         "value": "4130"}
    ])));
    let e = u.enterprise.unwrap();
    assert_eq!(e.department.as_deref(), Some("Tour Operations"));
    assert_eq!(e.cost_center.as_deref(), Some("4130"));
}

#[test]
fn filtered_element_replace_keeps_its_identity() {
    let u = patch(ops(
        json!([{"op": "replace", "path": "emails[type eq \"work\"]",
                              "value": {"value": "n@x.com"}}]),
    ));
    let work = email(&u, "work").unwrap();
    assert_eq!(work.value, "n@x.com");
    assert!(!work.primary, "replace swaps the whole element");
}

#[test]
fn filtered_replace_without_eq_values_and_no_match_is_no_target() {
    assert_eq!(
        patch_err(ops(
            json!([{"op": "replace", "path": "emails[value co \"@nowhere\"].type",
                              "value": "home"}])
        )),
        ScimType::NoTarget
    );
}

#[test]
fn filtered_removes() {
    let u = patch(ops(
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
    ));
    assert!(u.emails.is_empty());
    let u = patch(ops(
        json!([{"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"}]),
    ));
    assert_eq!(
        u.emails.len(),
        1,
        "a remove that matches nothing changes nothing"
    );
    let u = patch(ops(
        json!([{"op": "remove", "path": "emails[type eq \"work\"].value"}]),
    ));
    assert!(u.emails.is_empty(), "an element without value is dropped");
    let u = patch(ops(
        json!([{"op": "remove", "path": "emails[type eq \"WORK\"].primary"}]),
    ));
    assert!(!u.emails[0].primary);
}

#[test]
fn removes_with_plain_paths() {
    let u = patch(ops(json!([{"op": "remove", "path": "name.familyName"}])));
    let name = u.name.unwrap();
    assert_eq!(name.family_name, None);
    assert_eq!(name.given_name.as_deref(), Some("Test"));
    let u = patch(ops(json!([{"op": "remove", "path": "emails"}])));
    assert!(u.emails.is_empty());
    let u = patch(ops(json!([{"op": "remove", "path": "emails",
                              "value": [{"value": "TEST.USER@okta.local"}]}])));
    assert!(u.emails.is_empty());
    let u = patch(ops(json!([{"op": "remove",
        "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}])));
    assert_eq!(u.enterprise, None);
}

#[test]
fn add_to_multi_valued_appends_with_de_dupe() {
    let u = patch(ops(json!([{"op": "add", "path": "emails", "value": [
        {"value": "TEST.USER@OKTA.LOCAL", "display": "again"},
        {"value": "second@x.com", "type": "home"}
    ]}])));
    assert_eq!(u.emails.len(), 2);
    assert_eq!(u.emails[0].display.as_deref(), Some("again"));
    assert!(u.emails[0].primary);
    assert_eq!(u.emails[1].value, "second@x.com");
    let u = patch(ops(json!([{"op": "add", "value": {"emails": [
        {"value": "p@x.com", "primary": true}
    ]}}])));
    assert_eq!(u.emails.iter().filter(|e| e.primary).count(), 1);
    assert!(u.emails[1].primary, "the new primary wins");
}

#[test]
fn replace_of_multi_valued_replaces_the_list() {
    let u = patch(ops(json!([{"op": "replace", "path": "emails",
                              "value": [{"value": "only@x.com", "type": "home"}]}])));
    assert_eq!(u.emails.len(), 1);
    assert_eq!(u.emails[0].value, "only@x.com");
}

#[test]
fn empty_string_or_null_clears() {
    for value in [json!(""), Value::Null] {
        let u = patch(ops(json!([
            {"op": "replace", "path": "title", "value": value},
            {"op": "replace", "path": "name.givenName", "value": value},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": value}
        ])));
        assert_eq!(u.title, None);
        assert_eq!(u.name.unwrap().given_name, None);
        assert!(u.emails.is_empty());
    }
    let u = patch(ops(
        json!([{"op": "replace", "value": {"displayName": null, "name": null}}]),
    ));
    assert_eq!(u.display_name, None);
    assert_eq!(u.name, None);
}

#[test]
fn row_09_manager_as_string_or_object() {
    const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let (doc, u) = try_patch(
        &current(),
        ops(json!([{"op": "Add", "path": MANAGER, "value": "m-1"}])),
    )
    .unwrap();
    assert_eq!(
        u.enterprise
            .as_ref()
            .unwrap()
            .manager
            .as_ref()
            .unwrap()
            .value,
        "m-1"
    );
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"value": "m-1"})
    );
    let (doc, u) = try_patch(
        &doc,
        ops(json!([{"op": "Replace", "path": MANAGER, "value": {"value": "m-2"}}])),
    )
    .unwrap();
    assert_eq!(u.enterprise.unwrap().manager.unwrap().value, "m-2");
    let (_, u) = try_patch(
        &doc,
        ops(json!([{"op": "Replace", "path": MANAGER, "value": ""}])),
    )
    .unwrap();
    assert_eq!(u.enterprise, None);
    // Entra's legacy form: bare `manager` path and a one-element list with `$ref`.
    let u = patch(ops(json!([{"op": "Add", "path": "manager",
        "value": [{"$ref": "http://example.com/Users/m-3", "value": "m-3"}]}])));
    assert_eq!(u.enterprise.unwrap().manager.unwrap().value, "m-3");
    let u = patch(ops(
        json!([{"op": "add", "path": format!("{MANAGER}.value"), "value": "m-4"}]),
    ));
    assert_eq!(u.enterprise.unwrap().manager.unwrap().value, "m-4");
}

#[test]
fn failed_patch_leaves_the_document_untouched() {
    let before = current();
    let mut doc = before.clone();
    let parsed = parse_patch_request(&ops(json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "id", "value": "other"}
    ])))
    .unwrap();
    assert!(apply_user_patch(&mut doc, &parsed).is_err());
    assert_eq!(doc, before);
}

#[test]
fn parse_patch_request_rules() {
    let parsed = parse_patch_request(&json!({
        "SCHEMAS": ["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],
        "operations": [{"OP": "REPLACE", "Path": "title", "Value": "x"},
                       {"op": "remove", "path": null}]
    }))
    .unwrap();
    assert_eq!(
        parsed,
        vec![
            PatchOp {
                op: PatchKind::Replace,
                path: Some("title".into()),
                value: Some(json!("x"))
            },
            PatchOp {
                op: PatchKind::Remove,
                path: None,
                value: None
            },
        ]
    );
    let err = |body: Value| parse_patch_request(&body).unwrap_err().scim_type().unwrap();
    assert_eq!(
        err(json!({"Operations": [{"op": "add"}]})),
        ScimType::InvalidSyntax
    );
    assert_eq!(err(json!([])), ScimType::InvalidSyntax);
    assert_eq!(err(ops(json!("x"))), ScimType::InvalidSyntax);
    assert_eq!(err(ops(json!([]))), ScimType::InvalidValue);
    assert_eq!(err(ops(json!([{"op": "move"}]))), ScimType::InvalidValue);
    assert_eq!(
        err(ops(json!([{"op": "add", "path": 5}]))),
        ScimType::InvalidPath
    );
    let many: Vec<Value> = (0..=MAX_PATCH_OPERATIONS)
        .map(|_| json!({"op": "remove", "path": "title"}))
        .collect();
    assert_eq!(err(ops(Value::Array(many))), ScimType::InvalidValue);
}

#[test]
fn random_patches_never_panic() {
    use crate::scim::test_support::XorShift;
    const PATHS: &[&str] = &[
        "emails",
        "[",
        "]",
        "type eq \"work\"",
        ".value",
        ".primary",
        "name",
        ".givenName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ":manager",
        ":department",
        "addresses",
        " or ",
        "not (",
        ")",
        "value co \"x\"",
        "active",
        "id",
        "groups",
        "\"",
        "phoneNumbers",
        ".",
        "é",
        "members",
    ];
    let values = [
        json!(null),
        json!(""),
        json!("x"),
        json!(true),
        json!("False"),
        json!(5),
        json!([]),
        json!([{"value": "a", "type": "work", "primary": true}]),
        json!({"value": "m", "givenName": "g"}),
        json!([[1]]),
        json!({"emails": "x"}),
    ];
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for _ in 0..3000 {
        let path = rng.sentence(PATHS, 6);
        let op = rng.pick(&["add", "remove", "replace"]);
        let value = values[(rng.next() % values.len() as u64) as usize].clone();
        let with_path = json!({"op": op, "path": path, "value": value});
        let without = json!({"op": op, "value": {path.clone(): value}});
        for operation in [with_path, without] {
            if let Ok(parsed) = parse_patch_request(&ops(json!([operation]))) {
                let mut doc = current();
                if apply_user_patch(&mut doc, &parsed).is_ok() {
                    let _ = user_from_json(&doc);
                }
                let _ = group_patch(&parsed, ID);
            }
        }
    }
}
