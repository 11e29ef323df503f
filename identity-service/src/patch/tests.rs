//! User PATCH: every shape of the IdP wire notes (Okta §1.6/§2.5, RFC §4.5, Entra §5.2),
//! written as the SCIM JSON an IdP sends and run the way a request runs: the gateway's
//! parser and typing (`scim_gateway::scim::patch`), then this engine on the user.

use scim_gateway::scim::patch::{group_patch, parse_patch_request, user_operations};
use scim_gateway::scim::user::{user_from_json, user_to_json};
use scim_model::{ENTERPRISE_USER_SCHEMA, ScimType};
use scim_proto::identity::v1 as pb;
use serde_json::{Value, json};

use super::*;
use crate::model;

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

/// The SCIM type a refusal from either side carries.
fn gateway(e: scim_gateway::error::ScimError) -> ScimType {
    e.scim_type().expect("a typed gateway error")
}

fn service(e: IdentityError) -> ScimType {
    match e {
        IdentityError::Refused { scim_type, .. } => scim_type,
        IdentityError::InvalidArgument(_) => ScimType::InvalidValue,
        other => panic!("unexpected {other:?}"),
    }
}

/// The user after `body`, with the password the PATCH leaves: the gateway reads and
/// types the operations, this engine applies them and the stored shape is checked, the
/// way `PatchUser` runs.
fn run(doc: &Value, body: Value) -> Result<(pb::User, PasswordEdit), ScimType> {
    let parsed = parse_patch_request(&body).map_err(gateway)?;
    let mut user = user_from_json(doc).map_err(gateway)?;
    user.id = ID.into();
    let typed = user_operations(&parsed, ID).map_err(gateway)?;
    if typed.is_empty() {
        return Ok((user, PasswordEdit::Keep));
    }
    let patch = UserPatch::check(typed).map_err(service)?;
    patch.apply(&mut user).map_err(service)?;
    model::normalise_user(&mut user).map_err(service)?;
    user.id = ID.into();
    Ok((user, patch.password()))
}

/// Applies `body` to `doc` and renders the result again.
fn try_patch(doc: &Value, body: Value) -> Result<(Value, pb::User), ScimType> {
    let (user, _) = run(doc, body)?;
    Ok((user_to_json(&user, BASE), user))
}

fn patch(body: Value) -> pb::User {
    try_patch(&current(), body).unwrap().1
}

fn patch_err(body: Value) -> ScimType {
    try_patch(&current(), body.clone())
        .map(|_| ())
        .expect_err(&body.to_string())
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
    let password = |body| run(&current(), body).unwrap().1;
    assert_eq!(
        password(ops(
            json!([{"op": "replace", "value": {"password": "n3w-Secret"}}])
        )),
        PasswordEdit::Set("n3w-Secret".into())
    );
    assert_eq!(
        password(ops(
            json!([{"op": "replace", "path": "password", "value": "x2"}])
        )),
        PasswordEdit::Set("x2".into())
    );
    assert_eq!(
        password(ops(json!([
            {"op": "replace", "path": "password", "value": "x2"},
            {"op": "remove", "path": "password"}
        ]))),
        PasswordEdit::Clear
    );
    assert_eq!(
        password(ops(
            json!([{"op": "replace", "path": "title", "value": "x"}])
        )),
        PasswordEdit::Keep
    );
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
        doc[ENTERPRISE_USER_SCHEMA]["manager"]["value"],
        json!("m-1")
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
fn a_refused_operation_fails_the_whole_patch_before_anything_is_sent() {
    // The gateway refuses the second operation, so no typed operation leaves it.
    let parsed = parse_patch_request(&ops(json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "id", "value": "other"}
    ])))
    .unwrap();
    assert_eq!(
        user_operations(&parsed, ID).map_err(gateway).unwrap_err(),
        ScimType::Mutability
    );
}

#[test]
fn random_patches_never_panic() {
    use rand::seq::IndexedRandom as _;
    use rand::{Rng as _, SeedableRng as _};
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
    // Seeded, so a failure reproduces.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x2545_f491_4f6c_dd1d);
    for _ in 0..3000 {
        let pieces = rng.random_range(0..=6);
        let path: String = (0..pieces)
            .filter_map(|_| PATHS.choose(&mut rng).copied())
            .collect();
        let op = ["add", "remove", "replace"].choose(&mut rng).copied();
        let value = values.choose(&mut rng).cloned().unwrap_or_default();
        let with_path = json!({"op": op, "path": path, "value": value});
        let without = json!({"op": op, "value": {path.clone(): value}});
        for operation in [with_path, without] {
            let body = ops(json!([operation]));
            if let Ok(parsed) = parse_patch_request(&body) {
                let _ = group_patch(&parsed, ID);
            }
            // Whatever it answers, the engine answers; a changed user renders again.
            if let Ok((user, _)) = run(&current(), body) {
                let _ = user_to_json(&user, BASE);
            }
        }
    }
}
