//! `PatchUser`: typed PATCH operations applied inside one transaction — atomic, with the
//! version check, no lost update under concurrent writers, the password hashed, and the
//! SCIM error type carried in the status.

use scim_model::{ERROR_INFO_DOMAIN, ScimType};
use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::patch_value::Kind as ValueKind;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::harness::*;
use crate::users::stored_hash;

fn op(op: pb::PatchOp, attribute: &str, value: Option<ValueKind>) -> pb::UserPatchOperation {
    pb::UserPatchOperation {
        op: op as i32,
        attribute: attribute.into(),
        value_filter: None,
        value: value.map(|k| pb::PatchValue { kind: Some(k) }),
    }
}

fn text(s: &str) -> Option<ValueKind> {
    Some(ValueKind::StringValue(s.into()))
}

fn email(value: &str) -> pb::PatchElement {
    pb::PatchElement {
        value: Some(value.into()),
        ..Default::default()
    }
}

fn type_eq(t: &str) -> pb::Filter {
    use pb::filter::Kind;
    use pb::filter_value::Kind as V;
    pb::Filter {
        kind: Some(Kind::Compare(pb::Comparison {
            attribute: "type".into(),
            op: pb::CompareOp::Eq as i32,
            value: Some(pb::FilterValue {
                kind: Some(V::StringValue(t.into())),
            }),
        })),
    }
}

async fn patch(
    c: &mut Client,
    id: &str,
    expected_version: i64,
    operations: Vec<pb::UserPatchOperation>,
) -> Result<pb::User, tonic::Status> {
    c.patch_user(pb::PatchUserRequest {
        id: id.into(),
        expected_version,
        operations,
    })
    .await
    .map(|r| r.into_inner())
}

fn scim_type(s: &tonic::Status) -> Option<ScimType> {
    let info = s.get_details_error_info()?;
    assert_eq!(info.domain, ERROR_INFO_DOMAIN);
    ScimType::parse(&info.reason)
}

fn version(u: &pb::User) -> i64 {
    u.meta.as_ref().map_or(0, |m| m.version)
}

#[tokio::test]
async fn a_patch_changes_what_it_names_and_nothing_else() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let mut u = user("ann");
    u.title = Some("Engineer".into());
    u.display_name = Some("Ann".into());
    let created = create_user(&mut c, u).await;
    let patched = patch(
        &mut c,
        &created.id,
        0,
        vec![
            op(pb::PatchOp::Replace, "TITLE", text("CTO")),
            op(pb::PatchOp::Add, "name.givenName", text("Ann")),
            op(
                pb::PatchOp::Add,
                "emails",
                Some(ValueKind::Elements(pb::PatchElements {
                    elements: vec![email("ann@example.com")],
                })),
            ),
            op(
                pb::PatchOp::Replace,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                text("R&D"),
            ),
            op(
                pb::PatchOp::Replace,
                "active",
                Some(ValueKind::BoolValue(false)),
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(patched.title.as_deref(), Some("CTO"));
    assert_eq!(patched.display_name.as_deref(), Some("Ann"), "untouched");
    assert_eq!(
        patched.name.as_ref().unwrap().given_name.as_deref(),
        Some("Ann")
    );
    assert_eq!(patched.emails[0].value, "ann@example.com");
    assert_eq!(
        patched.enterprise.as_ref().unwrap().department.as_deref(),
        Some("R&D")
    );
    assert_eq!(patched.active, Some(false));
    assert_eq!(version(&patched), 2, "one PATCH, one version");
}

#[tokio::test]
async fn a_failing_operation_leaves_the_user_as_it_was() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let created = create_user(&mut c, user("bea")).await;
    // The first operation would succeed; the second has no target (a filter without
    // `eq` values that matches nothing), so neither is written.
    let mut no_target = op(pb::PatchOp::Replace, "emails.value", text("b@example.com"));
    no_target.value_filter = Some(pb::Filter {
        kind: Some(pb::filter::Kind::Not(Box::new(pb::NotFilter {
            operand: Some(Box::new(type_eq("home"))),
        }))),
    });
    let err = patch(
        &mut c,
        &created.id,
        0,
        vec![
            op(pb::PatchOp::Replace, "title", text("Changed")),
            no_target,
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(scim_type(&err), Some(ScimType::NoTarget));
    assert!(err.message().contains("operation 1"), "{}", err.message());
    let after = c
        .get_user(pb::GetUserRequest {
            id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.title, None);
    assert_eq!(version(&after), 1);

    // With `eq` values the same filtered write creates the value (what Entra expects).
    let mut create = op(pb::PatchOp::Replace, "emails.value", text("b@example.com"));
    create.value_filter = Some(type_eq("work"));
    let u = patch(&mut c, &created.id, 0, vec![create]).await.unwrap();
    assert_eq!(u.emails[0].value, "b@example.com");
    assert_eq!(u.emails[0].r#type.as_deref(), Some("work"));
}

#[tokio::test]
async fn bad_operations_are_refused_with_their_scim_type() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let created = create_user(&mut c, user("cat")).await;
    let cases = [
        (
            op(pb::PatchOp::Replace, "nosuch", text("x")),
            ScimType::InvalidPath,
        ),
        (
            op(pb::PatchOp::Replace, "meta.created", text("x")),
            ScimType::Mutability,
        ),
        (
            op(pb::PatchOp::Replace, "groups", None),
            ScimType::Mutability,
        ),
        (
            op(pb::PatchOp::Replace, "active", text("yes")),
            ScimType::InvalidValue,
        ),
        (
            op(pb::PatchOp::Unspecified, "title", text("x")),
            ScimType::InvalidValue,
        ),
    ];
    for (o, want) in cases {
        let shown = format!("{o:?}");
        let err = patch(&mut c, &created.id, 0, vec![o]).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{shown}");
        assert_eq!(scim_type(&err), Some(want), "{shown}");
    }
    let err = patch(&mut c, &created.id, 0, vec![]).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = patch(
        &mut c,
        "no-such-id",
        0,
        vec![op(pb::PatchOp::Remove, "title", None)],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // A read-only caller cannot patch.
    let mut ro = srv.client("t", RO);
    let err = patch(
        &mut ro,
        &created.id,
        0,
        vec![op(pb::PatchOp::Remove, "title", None)],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn the_version_is_checked_in_the_transaction_and_kept_when_nothing_changes() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let created = create_user(&mut c, user("dan")).await;
    let set = || vec![op(pb::PatchOp::Replace, "title", text("T"))];
    let err = patch(&mut c, &created.id, 7, set()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let first = patch(&mut c, &created.id, 1, set()).await.unwrap();
    assert_eq!(version(&first), 2);
    let again = patch(&mut c, &created.id, 2, set()).await.unwrap();
    assert_eq!(version(&again), 2, "the same value again is no change");
    let err = patch(&mut c, &created.id, 1, set()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "a stale version");
}

#[tokio::test]
async fn concurrent_patches_without_a_version_lose_nothing() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let created = create_user(&mut c, user("eve")).await;
    const WRITERS: usize = 16;
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let mut c = srv.client("t", RW);
        let id = created.id.clone();
        tasks.push(tokio::spawn(async move {
            let add = op(
                pb::PatchOp::Add,
                "emails",
                Some(ValueKind::Elements(pb::PatchElements {
                    elements: vec![email(&format!("w{i}@example.com"))],
                })),
            );
            patch(&mut c, &id, 0, vec![add]).await
        }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .expect("every writer succeeds, none is asked to retry");
    }
    let after = c
        .get_user(pb::GetUserRequest { id: created.id })
        .await
        .unwrap()
        .into_inner();
    let mut emails: Vec<String> = after.emails.iter().map(|e| e.value.clone()).collect();
    emails.sort();
    let mut want: Vec<String> = (0..WRITERS).map(|i| format!("w{i}@example.com")).collect();
    want.sort();
    assert_eq!(emails, want, "every add survived");
    assert_eq!(version(&after), 1 + WRITERS as i64);
}

#[tokio::test]
async fn a_patched_password_is_hashed_and_a_removed_one_cleared() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let created = create_user(&mut c, user("fay")).await;
    let u = patch(
        &mut c,
        &created.id,
        0,
        vec![op(pb::PatchOp::Replace, "password", text("n3w-Secret"))],
    )
    .await
    .unwrap();
    assert_eq!(u.password, None, "never returned");
    let hash = stored_hash(&srv, &created.id).expect("a hash");
    assert!(identity_service::password::verify("n3w-Secret", &hash));
    patch(
        &mut c,
        &created.id,
        0,
        vec![op(pb::PatchOp::Remove, "password", None)],
    )
    .await
    .unwrap();
    assert_eq!(stored_hash(&srv, &created.id), None);
}
