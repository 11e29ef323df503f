//! User decoding and encoding: the Okta and Entra bodies of the IdP wire notes, the
//! leniency rules and the limits.

use prost_types::Timestamp;
use scim_proto::identity::v1 as pb;
use serde_json::{Value, json};

use super::*;
use crate::error::ScimType;
use scim_model::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

const BASE: &str = "https://h/scim/v2";

fn okta_post() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

fn stored(mut u: pb::User) -> pb::User {
    u.id = "23a35c27-23d3-4c03-b4c5-6443c09e7173".into();
    u.password = None;
    u.meta = Some(pb::Meta {
        created: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        last_modified: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        version: 1,
    });
    u
}

fn invalid_value(v: Value) -> String {
    let e = user_from_json(&v).expect_err("should fail");
    assert_eq!(e.scim_type(), Some(ScimType::InvalidValue), "{v}");
    e.to_string()
}

#[test]
fn okta_create_round_trips() {
    let u = user_from_json(&okta_post()).unwrap();
    assert_eq!(u.user_name, "test.user@okta.local");
    assert_eq!(u.external_id.as_deref(), Some("00ujl29u0le5T6Aj10h7"));
    assert_eq!(u.password.as_deref(), Some("1mz050nq"));
    assert_eq!(u.active, Some(true));
    assert_eq!(u.emails.len(), 1);
    assert!(u.emails[0].primary);
    let name = u.name.clone().unwrap();
    assert_eq!(name.given_name.as_deref(), Some("Test"));

    let out = user_to_json(&stored(u), BASE);
    assert_eq!(
        out,
        json!({
            "schemas": [USER_SCHEMA],
            "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "userName": "test.user@okta.local",
            "name": {"familyName": "User", "givenName": "Test"},
            "displayName": "Test User",
            "locale": "en-US",
            "active": true,
            "emails": [{"value": "test.user@okta.local", "type": "work", "primary": true}],
            "meta": {
                "resourceType": "User",
                "created": "2023-11-14T22:13:20Z",
                "lastModified": "2023-11-14T22:13:20Z",
                "location": "https://h/scim/v2/Users/23a35c27-23d3-4c03-b4c5-6443c09e7173",
                "version": "W/\"1\""
            }
        })
    );
}

#[test]
fn password_is_never_rendered() {
    let mut u = user_from_json(&okta_post()).unwrap();
    u.id = "u".into();
    let out = user_to_json(&u, BASE);
    assert!(out.get("password").is_none());
    assert!(!out.to_string().contains("1mz050nq"));
}

#[test]
fn put_of_our_own_get_is_accepted() {
    let u = stored(user_from_json(&okta_post()).unwrap());
    let mut echoed = user_to_json(&u, BASE);
    // Okta's 2018 PUT echoed a meta with non-RFC dates; it must be ignored.
    echoed["meta"] = json!({"created": "04-12-2018 00:00:00", "version": "v1.0"});
    let back = user_from_json(&echoed).unwrap();
    let mut want = u.clone();
    want.id = String::new();
    want.meta = None;
    assert_eq!(back, want);
}

#[test]
fn entra_create_round_trips() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{"primary": true, "type": "work",
                    "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName",
                 "givenName": "givenName"},
        "roles": []
    });
    let u = user_from_json(&body).unwrap();
    assert_eq!(
        u.user_name,
        "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    );
    assert!(u.roles.is_empty());
    assert!(u.enterprise.is_none());
    let out = user_to_json(&stored(u), BASE);
    assert_eq!(out["userName"], body["userName"]);
    assert_eq!(out["name"], body["name"]);
    assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    assert!(out.get("roles").is_none());
}

#[test]
fn entra_nulls_and_malformed_urn_are_tolerated() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "userName": "jyoung",
        "externalId": null,
        "active": true,
        "addresses": null,
        "phoneNumbers": null,
        "title": null,
        "manager": null,
        "displayName": "Jo Young",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": null, "manager": null
        }
    });
    let u = user_from_json(&body).unwrap();
    assert_eq!(u.title, None);
    assert_eq!(u.external_id, None);
    assert!(u.addresses.is_empty() && u.phone_numbers.is_empty());
    assert_eq!(u.enterprise, None);
}

#[test]
fn names_are_case_insensitive_and_booleans_lenient() {
    let u = user_from_json(&json!({
        "USERNAME": "Ann",
        "Name": {"GivenName": "Ann", "FAMILYNAME": "Lee"},
        "Active": "False",
        "Emails": [{"Value": "a@x", "Primary": "True", "TYPE": "work"},
                   {"value": "b@x", "primary": "false"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "R&D"}
    }))
    .unwrap();
    assert_eq!(u.user_name, "Ann");
    assert_eq!(u.name.unwrap().family_name.as_deref(), Some("Lee"));
    assert_eq!(u.active, Some(false));
    assert!(u.emails[0].primary && !u.emails[1].primary);
    assert_eq!(u.emails[0].r#type.as_deref(), Some("work"));
    assert_eq!(u.enterprise.unwrap().department.as_deref(), Some("R&D"));
}

#[test]
fn enterprise_extension_renders_with_its_urn() {
    let body = json!({
        "userName": "a",
        ENTERPRISE_USER_SCHEMA: {
            "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
            "division": "Theme Park", "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d",
                        "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
                        "displayName": "John Smith"}
        }
    });
    let mut u = user_from_json(&body).unwrap();
    u.id = "u".into();
    let out = user_to_json(&u, BASE);
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    let e = &out[ENTERPRISE_USER_SCHEMA];
    assert_eq!(e["employeeNumber"], "701984");
    assert_eq!(e["department"], "Tour Operations");
    assert_eq!(
        e["manager"],
        json!({"value": "26118915-6090-4610-87e4-49d8ca9f808d",
               "$ref": "https://h/scim/v2/Users/26118915-6090-4610-87e4-49d8ca9f808d",
               "displayName": "John Smith"})
    );
}

#[test]
fn row_09_manager_as_bare_string_is_accepted_and_returned_in_rfc_form() {
    let mut u = user_from_json(&json!({
        "userName": "a",
        ENTERPRISE_USER_SCHEMA: {"manager": "m-1"}
    }))
    .unwrap();
    let m = u.enterprise.clone().unwrap().manager.unwrap();
    assert_eq!(m.value, "m-1");
    u.id = "u".into();
    let out = user_to_json(&u, BASE);
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"value": "m-1", "$ref": "https://h/scim/v2/Users/m-1"})
    );
}

#[test]
fn row_08_string_false_for_active_is_a_boolean() {
    let u = user_from_json(&json!({"userName": "a", "active": "False"})).unwrap();
    assert_eq!(u.active, Some(false));
    let u = user_from_json(&json!({"userName": "a", "active": "TRUE"})).unwrap();
    assert_eq!(u.active, Some(true));
    invalid_value(json!({"userName": "a", "active": "nope"}));
}

#[test]
fn row_15_user_name_is_returned_exactly_as_stored() {
    let mut u = user_from_json(&json!({"userName": "RunscopeJane.DOE@atko.com"})).unwrap();
    u.id = "u".into();
    assert_eq!(
        user_to_json(&u, BASE)["userName"],
        "RunscopeJane.DOE@atko.com"
    );
}

#[test]
fn row_22_read_only_groups_in_post_are_ignored() {
    let mut body = okta_post();
    body["groups"] = json!([{"value": "g1", "display": "Admins"}]);
    body["id"] = json!("client-chosen");
    let u = user_from_json(&body).unwrap();
    assert!(u.groups.is_empty());
    assert!(u.id.is_empty());
}

#[test]
fn active_is_rendered_when_set_and_groups_get_refs() {
    let unset = pb::User {
        id: "u".into(),
        user_name: "a".into(),
        ..Default::default()
    };
    assert!(
        user_to_json(&unset, BASE).get("active").is_none(),
        "removed, not invented"
    );
    let u = pb::User {
        id: "u".into(),
        user_name: "a".into(),
        active: Some(true),
        groups: vec![pb::GroupRef {
            value: "g1".into(),
            display: "Admins".into(),
            r#type: "direct".into(),
        }],
        ..Default::default()
    };
    let out = user_to_json(&u, BASE);
    assert_eq!(out["active"], true);
    assert_eq!(
        out["groups"],
        json!([{"value": "g1", "$ref": "https://h/scim/v2/Groups/g1",
                "display": "Admins", "type": "direct"}])
    );
    let inactive = pb::User {
        active: Some(false),
        ..u
    };
    assert_eq!(user_to_json(&inactive, BASE)["active"], false);
}

#[test]
fn every_attribute_round_trips() {
    let body = json!({
        "userName": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen",
                 "givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms.",
                 "honorificSuffix": "III"},
        "displayName": "Babs Jensen", "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen", "title": "Tour Guide",
        "userType": "Employee", "preferredLanguage": "en-US", "locale": "en-US",
        "timezone": "America/Los_Angeles", "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true,
                    "display": "work mail"}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work", "primary": false}],
        "ims": [{"value": "someaimhandle", "type": "aim", "primary": false}],
        "photos": [{"value": "https://photos.example.com/profilephoto.jpg", "type": "photo", "primary": false}],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza",
                       "locality": "Hollywood", "region": "CA", "postalCode": "91608",
                       "country": "US", "formatted": "100 Universal City Plaza", "primary": true}],
        "entitlements": [{"value": "e1", "primary": false}],
        "roles": [{"value": "r1", "type": "t", "primary": false}],
        "x509Certificates": [{"value": "MIIDQzCC", "primary": false}]
    });
    let mut u = user_from_json(&body).unwrap();
    u.id = "u".into();
    let out = user_to_json(&u, BASE);
    for key in body.as_object().unwrap().keys() {
        assert_eq!(out[key], body[key], "{key}");
    }
}

#[test]
fn wrong_types_name_the_attribute() {
    assert!(invalid_value(json!({"userName": 5})).contains("userName"));
    assert!(invalid_value(json!({"userName": "a", "title": true})).contains("title"));
    assert!(invalid_value(json!({"userName": "a", "name": "x"})).contains("name"));
    assert!(
        invalid_value(json!({"userName": "a", "name": {"givenName": 1}}))
            .contains("name.givenName")
    );
    assert!(invalid_value(json!({"userName": "a", "emails": "x"})).contains("emails"));
    assert!(
        invalid_value(json!({"userName": "a", "emails": [{"value": 5}]})).contains("emails.value")
    );
    assert!(
        invalid_value(json!({"userName": "a", "emails": [{"value": "a", "primary": 3}]}))
            .contains("emails.primary")
    );
    assert!(
        invalid_value(json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"manager": 5}}))
            .contains("manager")
    );
    assert!(
        invalid_value(json!({"userName": "a", ENTERPRISE_USER_SCHEMA: "x"})).contains("enterprise")
    );
}

#[test]
fn user_name_is_required() {
    invalid_value(json!({}));
    invalid_value(json!({"userName": ""}));
    invalid_value(json!({"userName": "   "}));
    invalid_value(json!({"userName": null}));
    let e = user_from_json(&json!("x")).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax));
}

#[test]
fn limits_are_enforced() {
    let long = "a".repeat(MAX_STRING_BYTES + 1);
    assert!(invalid_value(json!({"userName": long})).contains("4096"));
    assert!(user_from_json(&json!({"userName": "a".repeat(MAX_STRING_BYTES)})).is_ok());
    let many: Vec<Value> = (0..=MAX_VALUES)
        .map(|i| json!({"value": format!("{i}@x")}))
        .collect();
    assert!(invalid_value(json!({"userName": "a", "emails": many})).contains("100"));
}

#[test]
fn empty_values_are_absent() {
    let u = user_from_json(&json!({
        "userName": "a", "title": "", "emails": [{"type": "work"}, {"value": ""}],
        "addresses": [{"type": "work"}], "name": {"givenName": ""}
    }))
    .unwrap();
    assert_eq!(u.title, None);
    assert!(u.emails.is_empty());
    assert!(u.addresses.is_empty());
    assert_eq!(u.name, None);
}

/// Parses JSON, failing on an object that names a key twice (`Value` would silently
/// keep the last one).
fn parse_strict(bytes: &[u8]) -> Value {
    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    struct Strict(Value);
    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Strict;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("JSON")
                }
                fn visit_bool<E>(self, b: bool) -> Result<Strict, E> {
                    Ok(Strict(b.into()))
                }
                fn visit_i64<E>(self, n: i64) -> Result<Strict, E> {
                    Ok(Strict(n.into()))
                }
                fn visit_u64<E>(self, n: u64) -> Result<Strict, E> {
                    Ok(Strict(n.into()))
                }
                fn visit_str<E>(self, s: &str) -> Result<Strict, E> {
                    Ok(Strict(s.into()))
                }
                fn visit_unit<E>(self) -> Result<Strict, E> {
                    Ok(Strict(Value::Null))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Strict, A::Error> {
                    let mut out = Vec::new();
                    while let Some(Strict(v)) = a.next_element()? {
                        out.push(v);
                    }
                    Ok(Strict(Value::Array(out)))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Strict, A::Error> {
                    let mut out = serde_json::Map::new();
                    while let Some((k, Strict(v))) = a.next_entry::<String, Strict>()? {
                        if out.insert(k.clone(), v).is_some() {
                            return Err(serde::de::Error::custom(format!("duplicate key {k}")));
                        }
                    }
                    Ok(Strict(Value::Object(out)))
                }
            }
            d.deserialize_any(V)
        }
    }
    serde_json::from_slice::<Strict>(bytes).unwrap().0
}

#[test]
fn the_written_document_is_the_value_without_duplicate_keys() {
    let body = json!({
        "userName": "bjensen", "externalId": "x1",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs", "active": false,
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "555", "primary": false}],
        "addresses": [{"type": "work", "locality": "Hollywood", "primary": true}],
        "roles": [{"value": "r1", "primary": false}],
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "7", "manager": {"value": "m1"}}
    });
    let mut u = stored(user_from_json(&body).unwrap());
    u.groups = vec![pb::GroupRef {
        value: "g1".into(),
        display: "Admins".into(),
        r#type: "direct".into(),
    }];
    let written = serde_json::to_vec(&UserJson::new(&u, BASE)).unwrap();
    let parsed = parse_strict(&written);
    assert_eq!(parsed, user_to_json(&u, BASE));
    assert_eq!(parsed["groups"][0]["$ref"], format!("{BASE}/Groups/g1"));
    assert_eq!(
        parsed[ENTERPRISE_USER_SCHEMA]["manager"]["$ref"],
        format!("{BASE}/Users/m1")
    );
    assert_eq!(parsed["meta"]["location"], format!("{BASE}/Users/{}", u.id));
    assert_eq!(
        parsed["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
    );
    assert_eq!(parsed["active"], false);
}
