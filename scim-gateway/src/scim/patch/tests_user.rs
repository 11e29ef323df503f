//! User PATCH as the gateway reads it: the PatchOp message and its typed operations.
//! What the operations do to a user is tested with the engine, in identity-service.

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::patch_value::Kind as ValueKind;
use serde_json::{Value, json};

use super::*;
use crate::error::ScimType;

const ID: &str = "23a35c27-23d3-4c03-b4c5-6443c09e7173";

fn ops(list: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list})
}

fn typed(list: Value) -> Vec<pb::UserPatchOperation> {
    user_operations(&parse_patch_request(&ops(list)).unwrap(), ID).unwrap()
}

fn value(op: &pb::UserPatchOperation) -> Option<&ValueKind> {
    op.value.as_ref().and_then(|v| v.kind.as_ref())
}

#[test]
fn values_without_a_path_become_one_operation_per_attribute() {
    let t = typed(json!([{"op": "Replace", "value": {
        "active": "False",
        "name": {"givenName": "Ann", "familyName": null},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "m-1"},
        "id": ID,
    }}]));
    let mut got: Vec<(String, Option<ValueKind>)> = t
        .iter()
        .map(|o| {
            assert_eq!(o.op, pb::PatchOp::Replace as i32);
            (o.attribute.clone(), value(o).cloned())
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("active".into(), Some(ValueKind::BoolValue(false))),
            ("name.familyName".into(), None),
            (
                "name.givenName".into(),
                Some(ValueKind::StringValue("Ann".into()))
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value".into(),
                Some(ValueKind::StringValue("m-1".into()))
            ),
        ]
    );
}

#[test]
fn value_paths_keep_their_filter_relative_to_the_value() {
    let t = typed(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@example.com"},
        {"op": "remove", "path": "emails", "value": [{"value": "b@example.com"}]},
    ]));
    assert_eq!(t[0].attribute, "emails.value");
    let f = t[0].value_filter.as_ref().expect("a filter");
    assert_eq!(scim_model::filter_shape::filter_shape(f), "type eq ?");
    assert_eq!(t[1].op, pb::PatchOp::Remove as i32);
    match value(&t[1]) {
        Some(ValueKind::Elements(e)) => {
            assert_eq!(e.elements[0].value.as_deref(), Some("b@example.com"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn restating_the_id_is_no_change_and_anything_else_is_refused() {
    assert!(typed(json!([{"op": "replace", "path": "id", "value": ID}])).is_empty());
    let parsed = parse_patch_request(&ops(json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "id", "value": "other"}
    ])))
    .unwrap();
    assert_eq!(
        user_operations(&parsed, ID).unwrap_err().scim_type(),
        Some(ScimType::Mutability)
    );
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
