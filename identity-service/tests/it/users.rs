//! User RPCs: create, get, replace, update, delete; uniqueness, versions, passwords.

use diesel::prelude::*;
use scim_proto::identity::v1 as pb;
use tonic::Code;

use crate::harness::*;

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

async fn get(c: &mut Client, id: &str) -> Result<pb::User, tonic::Status> {
    c.get_user(pb::GetUserRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn create_assigns_id_meta_and_defaults() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let u = create_user(
        &mut c,
        pb::User {
            id: "client-chosen".into(),
            user_name: "Alice@Example.com".into(),
            display_name: Some("Alice".into()),
            ..Default::default()
        },
    )
    .await;
    assert!(!u.id.is_empty());
    assert_ne!(u.id, "client-chosen");
    assert_eq!(u.user_name, "Alice@Example.com", "returned as stored");
    assert_eq!(u.active, Some(true), "unset active means true");
    let meta = u.meta.unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(meta.created, meta.last_modified);
    let fetched = get(&mut c, &u.id).await.unwrap();
    assert_eq!(fetched, u);
    assert_eq!(code(get(&mut c, "no-such-id").await), Code::NotFound);
}

#[tokio::test]
async fn user_names_are_unique_case_insensitively() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    create_user(&mut c, user("Bob@Example.com")).await;
    let err = c
        .create_user(pb::CreateUserRequest {
            user: Some(user("bob@EXAMPLE.com")),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("userName"));
    assert!(
        !err.message().to_lowercase().contains("bob"),
        "no personal data in messages"
    );
    // Unicode case folding, not only ASCII.
    create_user(&mut c, user("ÅSA")).await;
    assert_eq!(
        code(
            c.create_user(pb::CreateUserRequest {
                user: Some(user("åsa"))
            })
            .await
        ),
        Code::AlreadyExists
    );
}

#[tokio::test]
async fn invalid_users_are_refused() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    for u in [None, Some(user("")), Some(user("   "))] {
        assert_eq!(
            code(c.create_user(pb::CreateUserRequest { user: u }).await),
            Code::InvalidArgument
        );
    }
    let mut with_empty_password = user("p");
    with_empty_password.password = Some(String::new());
    assert_eq!(
        code(
            c.create_user(pb::CreateUserRequest {
                user: Some(with_empty_password)
            })
            .await
        ),
        Code::InvalidArgument
    );
}

#[tokio::test]
async fn passwords_are_hashed_and_never_returned() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let mut u = user("pw");
    u.password = Some("s3cret-Pa55".into());
    let created = create_user(&mut c, u).await;
    assert_eq!(created.password, None);
    assert_eq!(get(&mut c, &created.id).await.unwrap().password, None);
    let stored = stored_hash(&srv, &created.id);
    assert!(
        stored.as_deref().unwrap().starts_with("$argon2id$"),
        "{stored:?}"
    );
    assert!(identity_service::password::verify(
        "s3cret-Pa55",
        stored.as_deref().unwrap()
    ));

    // A replace without a password keeps it; an update naming `password` unset clears it.
    let mut replacement = user("pw");
    replacement.id = created.id.clone();
    let replaced = c
        .replace_user(pb::ReplaceUserRequest {
            user: Some(replacement),
            expected_version: 0,
            keep_active_if_unset: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.password, None);
    assert_eq!(stored_hash(&srv, &created.id), stored);
    let mut change = pb::User {
        id: created.id.clone(),
        password: Some("another-one".into()),
        ..Default::default()
    };
    c.update_user(pb::UpdateUserRequest {
        user: Some(change.clone()),
        update_mask: mask(&["password"]),
        expected_version: 0,
    })
    .await
    .unwrap();
    let second = stored_hash(&srv, &created.id).unwrap();
    assert!(identity_service::password::verify("another-one", &second));
    change.password = None;
    let cleared = c
        .update_user(pb::UpdateUserRequest {
            user: Some(change),
            update_mask: mask(&["password"]),
            expected_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.password, None);
    assert_eq!(stored_hash(&srv, &created.id), None);
}

pub(crate) fn stored_hash(srv: &TestServer, id: &str) -> Option<String> {
    use identity_service::db::schema::users::dsl;
    let mut direct = srv.direct();
    scim_storage::with_conn!(&mut direct.conn(), |c| dsl::users
        .filter(dsl::id.eq(id))
        .select(dsl::password_hash)
        .first::<Option<String>>(c))
    .unwrap()
}

#[tokio::test]
async fn replace_is_a_full_put() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let created = create_user(
        &mut c,
        pb::User {
            user_name: "r".into(),
            title: Some("Old".into()),
            active: Some(false),
            ..Default::default()
        },
    )
    .await;
    let put = |keep: bool, active: Option<bool>| pb::ReplaceUserRequest {
        user: Some(pb::User {
            id: created.id.clone(),
            user_name: "R2".into(),
            nick_name: Some("n".into()),
            active,
            ..Default::default()
        }),
        expected_version: 0,
        keep_active_if_unset: keep,
    };
    let kept = c.replace_user(put(true, None)).await.unwrap().into_inner();
    assert_eq!(kept.user_name, "R2");
    assert_eq!(kept.title, None, "absent attributes are cleared");
    assert_eq!(kept.nick_name.as_deref(), Some("n"));
    assert_eq!(kept.active, Some(false), "kept when asked to");
    assert_eq!(kept.meta.unwrap().version, 2);
    let defaulted = c.replace_user(put(false, None)).await.unwrap().into_inner();
    assert_eq!(defaulted.active, Some(true), "unset means true otherwise");
    assert_eq!(defaulted.meta.unwrap().version, 3);
    // The same PUT again changes nothing and keeps the version.
    let again = c.replace_user(put(false, None)).await.unwrap().into_inner();
    assert_eq!(again.meta.unwrap().version, 3);
}

#[tokio::test]
async fn update_changes_only_masked_fields() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let created = create_user(
        &mut c,
        pb::User {
            user_name: "m".into(),
            title: Some("T".into()),
            name: Some(pb::Name {
                given_name: Some("G".into()),
                family_name: Some("F".into()),
                ..Default::default()
            }),
            enterprise: Some(pb::EnterpriseUser {
                department: Some("D".into()),
                cost_center: Some("C".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let update = |paths: &[&str], user: pb::User| pb::UpdateUserRequest {
        user: Some(pb::User {
            id: created.id.clone(),
            ..user
        }),
        update_mask: mask(paths),
        expected_version: 0,
    };
    let source = pb::User {
        user_name: "ignored".into(),
        title: Some("ignored".into()),
        active: Some(false),
        name: Some(pb::Name {
            given_name: Some("G2".into()),
            ..Default::default()
        }),
        enterprise: Some(pb::EnterpriseUser {
            department: Some("D2".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let u = c
        .update_user(update(
            &["name.given_name", "enterprise.department", "active"],
            source,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(u.user_name, "m");
    assert_eq!(u.title.as_deref(), Some("T"));
    assert_eq!(u.active, Some(false));
    let name = u.name.unwrap();
    assert_eq!(
        (name.given_name.as_deref(), name.family_name.as_deref()),
        (Some("G2"), Some("F"))
    );
    let ent = u.enterprise.unwrap();
    assert_eq!(
        (ent.department.as_deref(), ent.cost_center.as_deref()),
        (Some("D2"), Some("C"))
    );
    // camelCase paths work; a named but unset field is cleared.
    let cleared = c
        .update_user(update(&["title"], pb::User::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.title, None);
    for bad in [&["bogus"][..], &[][..], &["groups"][..]] {
        assert_eq!(
            code(c.update_user(update(bad, pb::User::default())).await),
            Code::InvalidArgument
        );
    }
    assert_eq!(
        code(
            c.update_user(update(&["userName"], pb::User::default()))
                .await
        ),
        Code::InvalidArgument,
        "userName is required"
    );
}

#[tokio::test]
async fn renames_respect_uniqueness() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    create_user(&mut c, user("taken")).await;
    let other = create_user(&mut c, user("other")).await;
    let err = c
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                id: other.id.clone(),
                user_name: "TAKEN".into(),
                ..Default::default()
            }),
            update_mask: mask(&["userName"]),
            expected_version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    // Changing only the case of one's own name is fine.
    let renamed = c
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                id: other.id.clone(),
                user_name: "OTHER".into(),
                ..Default::default()
            }),
            update_mask: mask(&["user_name"]),
            expected_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.user_name, "OTHER");
}

#[tokio::test]
async fn stale_versions_are_failed_preconditions() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let u = create_user(&mut c, user("v")).await;
    let replace = |v: i64| pb::ReplaceUserRequest {
        user: Some(pb::User {
            id: u.id.clone(),
            user_name: "v".into(),
            title: Some(format!("t{v}")),
            ..Default::default()
        }),
        expected_version: v,
        keep_active_if_unset: false,
    };
    assert_eq!(
        code(c.replace_user(replace(7)).await),
        Code::FailedPrecondition
    );
    let r = c.replace_user(replace(1)).await.unwrap().into_inner();
    assert_eq!(r.meta.unwrap().version, 2);
    let update = pb::UpdateUserRequest {
        user: Some(pb::User {
            id: u.id.clone(),
            ..Default::default()
        }),
        update_mask: mask(&["title"]),
        expected_version: 1,
    };
    assert_eq!(code(c.update_user(update).await), Code::FailedPrecondition);
    let delete = |v: i64| pb::DeleteUserRequest {
        id: u.id.clone(),
        expected_version: v,
    };
    assert_eq!(
        code(c.delete_user(delete(1)).await),
        Code::FailedPrecondition
    );
    c.delete_user(delete(2)).await.unwrap();
    assert_eq!(code(get(&mut c, &u.id).await), Code::NotFound);
    assert_eq!(code(c.delete_user(delete(0)).await), Code::NotFound);
}

#[tokio::test]
async fn get_returns_groups_and_list_only_when_asked() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let u = create_user(&mut c, user("g")).await;
    let g = create_group(&mut c, "Team", vec![member(&u.id)]).await;
    let fetched = get(&mut c, &u.id).await.unwrap();
    assert_eq!(fetched.groups.len(), 1);
    assert_eq!(fetched.groups[0].value, g.id);
    assert_eq!(fetched.groups[0].display, "Team");
    assert_eq!(fetched.groups[0].r#type, "direct");
    let list = |include_groups| pb::ListUsersRequest {
        filter: None,
        page: None,
        include_groups,
        sort: None,
    };
    let without = c.list_users(list(false)).await.unwrap().into_inner();
    assert!(without.users[0].groups.is_empty());
    let with = c.list_users(list(true)).await.unwrap().into_inner();
    assert_eq!(with.users[0].groups.len(), 1);
}

#[tokio::test]
async fn every_attribute_round_trips() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let mv = |v: &str| pb::MultiValue {
        value: v.into(),
        display: Some(format!("{v} display")),
        r#type: Some("work".into()),
        primary: true,
    };
    let full = pb::User {
        user_name: "full".into(),
        external_id: Some("e".into()),
        name: Some(pb::Name {
            formatted: Some("Ms. A B C III".into()),
            family_name: Some("C".into()),
            given_name: Some("A".into()),
            middle_name: Some("B".into()),
            honorific_prefix: Some("Ms.".into()),
            honorific_suffix: Some("III".into()),
        }),
        display_name: Some("A C".into()),
        nick_name: Some("ac".into()),
        profile_url: Some("https://x/ac".into()),
        title: Some("t".into()),
        user_type: Some("Employee".into()),
        preferred_language: Some("en-GB".into()),
        locale: Some("en-GB".into()),
        timezone: Some("Europe/London".into()),
        active: Some(true),
        emails: vec![mv("a@x")],
        phone_numbers: vec![mv("+1")],
        ims: vec![mv("im")],
        photos: vec![mv("https://p")],
        addresses: vec![pb::Address {
            formatted: Some("f".into()),
            street_address: Some("s".into()),
            locality: Some("l".into()),
            region: Some("r".into()),
            postal_code: Some("p".into()),
            country: Some("GB".into()),
            r#type: Some("work".into()),
            primary: true,
        }],
        entitlements: vec![mv("ent")],
        roles: vec![mv("role")],
        x509_certificates: vec![mv("MIIB")],
        enterprise: Some(pb::EnterpriseUser {
            employee_number: Some("1".into()),
            cost_center: Some("cc".into()),
            organization: Some("o".into()),
            division: Some("d".into()),
            department: Some("dep".into()),
            manager: Some(pb::Manager {
                value: "m".into(),
                display_name: Some("M".into()),
            }),
        }),
        ..Default::default()
    };
    let created = create_user(&mut c, full.clone()).await;
    let fetched = get(&mut c, &created.id).await.unwrap();
    let strip = |mut u: pb::User| {
        u.id.clear();
        u.meta = None;
        u
    };
    assert_eq!(strip(fetched), full);
}
