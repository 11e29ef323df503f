//! Group PATCH translation: Okta §1.6/§2.10 and Entra §5.2 bodies.

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::member_change::Kind as Change;
use serde_json::{Value, json};

use super::*;
use crate::error::ScimType;
use crate::scim::group::MAX_MEMBERS_PER_REQUEST;

const GID: &str = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b";

fn body(list: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list})
}

fn translate(b: Value) -> GroupPatch {
    let ops = parse_patch_request(&b).unwrap();
    group_patch(&ops, GID).unwrap()
}

fn translate_err(list: Value) -> ScimType {
    let ops = parse_patch_request(&body(list.clone())).unwrap();
    group_patch(&ops, GID)
        .expect_err(&list.to_string())
        .scim_type()
        .unwrap()
}

fn member(value: &str, display: Option<&str>) -> pb::Member {
    pb::Member {
        value: value.into(),
        r#type: "User".into(),
        display: display.map(str::to_owned),
    }
}

fn add(members: Vec<pb::Member>) -> pb::MemberChange {
    pb::MemberChange {
        kind: Some(Change::Add(pb::MemberList { members })),
    }
}

fn replace(members: Vec<pb::Member>) -> pb::MemberChange {
    pb::MemberChange {
        kind: Some(Change::Replace(pb::MemberList { members })),
    }
}

fn remove(values: &[&str]) -> pb::MemberChange {
    pb::MemberChange {
        kind: Some(Change::Remove(pb::MemberValues {
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        })),
    }
}

#[test]
fn row_02_okta_rename_reconcile_without_path() {
    let p = translate(body(json!([{"op": "replace",
        "value": {"id": GID, "displayName": "Test SCIMv2"}}])));
    assert_eq!(
        p,
        GroupPatch {
            display_name: Some("Test SCIMv2".into()),
            ..Default::default()
        }
    );
    assert_eq!(
        translate_err(json!([{"op": "replace", "value": {"id": "other", "displayName": "x"}}])),
        ScimType::Mutability
    );
}

#[test]
fn okta_membership_delta_keeps_order() {
    // OKTA-REF20 §2.10, verbatim.
    let p = translate(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{
            "op": "remove",
            "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"
          },
          {
            "op": "add",
            "path": "members",
            "value": [{
                "value": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
                "display": "test.user@okta.local"
            }]
        }]
    }));
    assert!(p.touches_members);
    assert_eq!(
        p.member_changes,
        vec![
            remove(&["89bb1940-b905-4575-9e7f-6f887cfb368e"]),
            add(vec![member(
                "23a35c27-23d3-4c03-b4c5-6443c09e7173",
                Some("test.user@okta.local")
            )]),
        ]
    );
    assert_eq!(p.display_name, None);
}

#[test]
fn okta_push_now_replaces_members() {
    let p = translate(
        json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
     "Operations":[{"op":"replace","path":"members","value":[
        {"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"},
        {"value":"89bb1940-b905-4575-9e7f-6f887cfb368e","display":"test.user@okta.local"}]}]}),
    );
    assert_eq!(
        p.member_changes,
        vec![replace(vec![
            member(
                "23a35c27-23d3-4c03-b4c5-6443c09e7173",
                Some("test.user@okta.local")
            ),
            member(
                "89bb1940-b905-4575-9e7f-6f887cfb368e",
                Some("test.user@okta.local")
            ),
        ])]
    );
}

#[test]
fn row_03_replace_members_with_empty_list_empties_the_group() {
    let p = translate(body(
        json!([{"op": "replace", "path": "members", "value": []}]),
    ));
    assert_eq!(p.member_changes, vec![replace(vec![])]);
    assert!(p.touches_members);
}

#[test]
fn row_04_filtered_remove_names_the_member() {
    let p = translate(body(
        json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
    ));
    assert_eq!(p.member_changes, vec![remove(&["u1"])]);
    let p = translate(body(json!([{"op": "remove",
        "path": "members[value eq \"u1\" or value eq \"u2\" or VALUE EQ \"u1\"]"}])));
    assert_eq!(p.member_changes, vec![remove(&["u1", "u2"])]);
}

#[test]
fn row_05_add_never_replaces_and_filtered_remove_never_clears() {
    let p = translate(body(json!([
        {"op": "add", "path": "members", "value": [{"value": "u1"}]},
        {"op": "remove", "path": "members[value eq \"u2\"]"}
    ])));
    assert!(matches!(p.member_changes[0].kind, Some(Change::Add(_))));
    assert!(matches!(p.member_changes[1].kind, Some(Change::Remove(_))));
    assert!(!p.member_changes.iter().any(|c| matches!(
        c.kind,
        Some(Change::RemoveAll(_)) | Some(Change::Replace(_))
    )));
}

#[test]
fn row_06_entra_remove_with_value_list_removes_only_those() {
    let p = translate(body(json!([{"op": "Remove", "path": "members",
                                   "value": [{"$ref": null, "value": "u1091"}]}])));
    assert_eq!(p.member_changes, vec![remove(&["u1091"])]);
}

#[test]
fn remove_members_without_value_removes_all() {
    let p = translate(body(json!([{"op": "remove", "path": "members"}])));
    assert_eq!(
        p.member_changes,
        vec![pb::MemberChange {
            kind: Some(Change::RemoveAll(true))
        }]
    );
}

#[test]
fn row_07_entra_capitalised_ops_and_ref_null() {
    let p = translate(body(json!([
        {"op": "Add", "path": "members",
         "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"},
                   {"$ref": null, "value": "f648f8d5ea4e4cd38e9c"},
                   {"value": "g2", "type": "Group"}]},
        {"op": "Replace", "path": "displayName", "value": "1879db59-updatedDisplayName"}
    ])));
    assert_eq!(
        p.display_name.as_deref(),
        Some("1879db59-updatedDisplayName")
    );
    let Some(Change::Add(list)) = &p.member_changes[0].kind else {
        panic!()
    };
    assert_eq!(
        list.members.len(),
        2,
        "duplicates within a request collapse"
    );
    assert_eq!(list.members[1].r#type, "Group");
}

#[test]
fn external_id_changes() {
    let p = translate(body(
        json!([{"op": "replace", "path": "externalId", "value": "e1"}]),
    ));
    assert_eq!(p.external_id, Some(Some("e1".into())));
    let p = translate(body(json!([{"op": "remove", "path": "externalId"}])));
    assert_eq!(p.external_id, Some(None));
    let p = translate(body(
        json!([{"op": "replace", "value": {"externalId": ""}}]),
    ));
    assert_eq!(p.external_id, Some(None));
    assert!(!p.touches_members);
}

#[test]
fn path_less_members_follow_the_op() {
    let p = translate(body(json!([
        {"op": "add", "value": {"members": [{"value": "a"}]}},
        {"op": "replace", "value": {"members": [{"value": "b"}], "displayName": "N"}}
    ])));
    assert_eq!(
        p.member_changes,
        vec![
            add(vec![member("a", None)]),
            replace(vec![member("b", None)])
        ]
    );
    assert_eq!(p.display_name.as_deref(), Some("N"));
}

#[test]
fn errors() {
    assert_eq!(translate_err(json!([{"op": "remove"}])), ScimType::NoTarget);
    assert_eq!(
        translate_err(json!([{"op": "remove", "path": "displayName"}])),
        ScimType::InvalidValue
    );
    assert_eq!(
        translate_err(json!([{"op": "replace", "path": "displayName", "value": ""}])),
        ScimType::InvalidValue
    );
    assert_eq!(
        translate_err(json!([{"op": "replace", "path": "nosuch", "value": "x"}])),
        ScimType::InvalidPath
    );
    assert_eq!(
        translate_err(json!([{"op": "remove", "path": "members[type eq \"User\"]"}])),
        ScimType::InvalidPath
    );
    assert_eq!(
        translate_err(
            json!([{"op": "replace", "path": "members[value eq \"a\"].display",
                              "value": "x"}])
        ),
        ScimType::InvalidPath
    );
    assert_eq!(
        translate_err(json!([{"op": "replace", "path": "meta", "value": {}}])),
        ScimType::Mutability
    );
    assert_eq!(
        translate_err(json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}])),
        ScimType::InvalidValue
    );
    assert_eq!(
        translate_err(json!([{"op": "replace", "value": {"bogus": 1}}])),
        ScimType::InvalidPath
    );
}

#[test]
fn member_limit_counts_the_whole_request() {
    let half: Vec<Value> = (0..MAX_MEMBERS_PER_REQUEST / 2 + 1)
        .map(|i| json!({"value": format!("u{i}")}))
        .collect();
    let half2: Vec<Value> = (0..MAX_MEMBERS_PER_REQUEST / 2 + 1)
        .map(|i| json!({"value": format!("v{i}")}))
        .collect();
    assert_eq!(
        translate_err(json!([
            {"op": "add", "path": "members", "value": half},
            {"op": "add", "path": "members", "value": half2}
        ])),
        ScimType::InvalidValue
    );
}
