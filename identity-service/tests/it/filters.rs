//! Filter builders and end-to-end filter tests through ListUsers / ListGroups.

use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::CompareOp as Op;
use scim_proto::identity::v1::filter::Kind as F;
use scim_proto::identity::v1::filter_value::Kind as V;
use tonic::Code;

use crate::harness::*;

pub fn cmp(attr: &str, op: Op, value: Option<V>) -> pb::Filter {
    pb::Filter {
        kind: Some(F::Compare(pb::Comparison {
            attribute: attr.into(),
            op: op as i32,
            value: value.map(|k| pb::FilterValue { kind: Some(k) }),
        })),
    }
}

pub fn s(v: &str) -> Option<V> {
    Some(V::StringValue(v.into()))
}

pub fn eq(attr: &str, v: &str) -> pb::Filter {
    cmp(attr, Op::Eq, s(v))
}

fn and(operands: Vec<pb::Filter>) -> pb::Filter {
    pb::Filter {
        kind: Some(F::And(pb::AndFilter { operands })),
    }
}

fn or(operands: Vec<pb::Filter>) -> pb::Filter {
    pb::Filter {
        kind: Some(F::Or(pb::OrFilter { operands })),
    }
}

fn not(operand: pb::Filter) -> pb::Filter {
    pb::Filter {
        kind: Some(F::Not(Box::new(pb::NotFilter {
            operand: Some(Box::new(operand)),
        }))),
    }
}

fn vpath(attr: &str, inner: pb::Filter) -> pb::Filter {
    pb::Filter {
        kind: Some(F::ValuePath(Box::new(pb::ValuePathFilter {
            attribute: attr.into(),
            filter: Some(Box::new(inner)),
        }))),
    }
}

/// The user names matching `filter`, sorted.
pub async fn names(c: &mut Client, filter: pb::Filter) -> Result<Vec<String>, tonic::Status> {
    let r = c
        .list_users(pb::ListUsersRequest {
            filter: Some(filter),
            page: Some(pb::PageRequest {
                start_index: 1,
                count: 1000,
                page_token: String::new(),
            }),
            include_groups: false,
            sort: None,
        })
        .await?
        .into_inner();
    let total = r.page.as_ref().map(|p| p.total_results).unwrap_or(-1);
    assert_eq!(total, r.users.len() as i64, "total counts every match");
    let mut v: Vec<String> = r.users.into_iter().map(|u| u.user_name).collect();
    v.sort();
    Ok(v)
}

fn mv(value: &str, kind: &str, primary: bool) -> pb::MultiValue {
    pb::MultiValue {
        value: value.into(),
        display: None,
        r#type: Some(kind.into()),
        primary,
    }
}

async fn seed(c: &mut Client) -> (pb::User, pb::User, pb::User) {
    let alice = create_user(
        c,
        pb::User {
            user_name: "Alice".into(),
            external_id: Some("EXT-a".into()),
            title: Some("Staff Engineer".into()),
            active: Some(true),
            name: Some(pb::Name {
                family_name: Some("Liddell".into()),
                ..Default::default()
            }),
            emails: vec![
                mv("alice@Work.example", "work", true),
                mv("alice@home.example", "home", false),
            ],
            enterprise: Some(pb::EnterpriseUser {
                department: Some("Research".into()),
                employee_number: Some("100".into()),
                manager: Some(pb::Manager {
                    value: "MGR-1".into(),
                    display_name: Some("Boss".into()),
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let bob = create_user(
        c,
        pb::User {
            user_name: "bob".into(),
            title: Some("Designer".into()),
            active: Some(false),
            emails: vec![mv("bob@work.example", "home", false)],
            enterprise: Some(pb::EnterpriseUser {
                department: Some("Design".into()),
                employee_number: Some("200".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let carol = create_user(
        c,
        pb::User {
            user_name: "Carol".into(),
            external_id: Some("ext-c".into()),
            ..Default::default()
        },
    )
    .await;
    (alice, bob, carol)
}

fn v(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn every_operator_on_strings() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    seed(&mut c).await;
    let cases: Vec<(pb::Filter, Vec<String>)> = vec![
        (eq("userName", "ALICE"), v(&["Alice"])),
        (cmp("userName", Op::Ne, s("alice")), v(&["Carol", "bob"])),
        (cmp("title", Op::Co, s("ENGIN")), v(&["Alice"])),
        (cmp("title", Op::Sw, s("de")), v(&["bob"])),
        (cmp("title", Op::Ew, s("NEER")), v(&["Alice"])),
        (cmp("userName", Op::Gt, s("BOB")), v(&["Carol"])),
        (cmp("userName", Op::Ge, s("BOB")), v(&["Carol", "bob"])),
        (cmp("userName", Op::Lt, s("bob")), v(&["Alice"])),
        (cmp("userName", Op::Le, s("BOB")), v(&["Alice", "bob"])),
        (cmp("title", Op::Pr, None), v(&["Alice", "bob"])),
        (cmp("title", Op::Ne, s("designer")), v(&["Alice", "Carol"])),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            names(&mut c, filter.clone()).await.unwrap(),
            expected,
            "{filter:?}"
        );
    }
}

#[tokio::test]
async fn attribute_names_are_case_insensitive_and_urns_accepted() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    seed(&mut c).await;
    assert_eq!(
        names(&mut c, eq("USERNAME", "alice")).await.unwrap(),
        v(&["Alice"])
    );
    assert_eq!(
        names(
            &mut c,
            eq("urn:ietf:params:scim:schemas:core:2.0:User:userName", "bob")
        )
        .await
        .unwrap(),
        v(&["bob"])
    );
    assert_eq!(
        names(&mut c, eq("Name.FamilyName", "LIDDELL"))
            .await
            .unwrap(),
        v(&["Alice"])
    );
}

#[tokio::test]
async fn ids_and_external_ids_are_case_exact() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let (alice, ..) = seed(&mut c).await;
    assert_eq!(
        names(&mut c, eq("externalId", "EXT-a")).await.unwrap(),
        v(&["Alice"])
    );
    assert!(
        names(&mut c, eq("externalId", "ext-a"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(&mut c, eq("id", &alice.id)).await.unwrap(),
        v(&["Alice"])
    );
    assert!(
        names(&mut c, eq("id", &alice.id.to_uppercase()))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn logical_operators_and_booleans() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    seed(&mut c).await;
    let active = cmp("active", Op::Eq, Some(V::BoolValue(true)));
    assert_eq!(
        names(&mut c, active.clone()).await.unwrap(),
        v(&["Alice", "Carol"])
    );
    assert_eq!(
        names(&mut c, not(active.clone())).await.unwrap(),
        v(&["bob"])
    );
    assert_eq!(
        names(
            &mut c,
            and(vec![active.clone(), cmp("title", Op::Pr, None)])
        )
        .await
        .unwrap(),
        v(&["Alice"])
    );
    assert_eq!(
        names(
            &mut c,
            or(vec![eq("userName", "bob"), eq("userName", "carol")])
        )
        .await
        .unwrap(),
        v(&["Carol", "bob"])
    );
}

#[tokio::test]
async fn multi_valued_attributes_and_value_paths() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    seed(&mut c).await;
    // Any value matches; e-mail values are case-insensitive.
    assert_eq!(
        names(&mut c, eq("emails", "ALICE@home.example"))
            .await
            .unwrap(),
        v(&["Alice"])
    );
    assert_eq!(
        names(&mut c, eq("emails.value", "alice@work.example"))
            .await
            .unwrap(),
        v(&["Alice"])
    );
    assert_eq!(
        names(&mut c, eq("emails.type", "home")).await.unwrap(),
        v(&["Alice", "bob"])
    );
    // The value path needs one e-mail that is both work and that address (Entra's
    // `emails[type eq "work"].value eq ...`).
    let work = |addr: &str| vpath("emails", and(vec![eq("type", "work"), eq("value", addr)]));
    assert_eq!(
        names(&mut c, work("alice@work.example")).await.unwrap(),
        v(&["Alice"])
    );
    assert!(
        names(&mut c, work("bob@work.example"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        names(&mut c, work("alice@home.example"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(
            &mut c,
            vpath("emails", cmp("primary", Op::Eq, Some(V::BoolValue(true))))
        )
        .await
        .unwrap(),
        v(&["Alice"])
    );
}

#[tokio::test]
async fn enterprise_attributes() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    seed(&mut c).await;
    let ent = |a: &str| format!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:{a}");
    assert_eq!(
        names(&mut c, eq(&ent("department"), "research"))
            .await
            .unwrap(),
        v(&["Alice"])
    );
    assert_eq!(
        names(&mut c, cmp(&ent("employeeNumber"), Op::Gt, s("150")))
            .await
            .unwrap(),
        v(&["bob"])
    );
    assert_eq!(
        names(&mut c, eq(&ent("manager"), "MGR-1")).await.unwrap(),
        v(&["Alice"])
    );
    assert_eq!(
        names(&mut c, eq(&ent("manager.displayName"), "boss"))
            .await
            .unwrap(),
        v(&["Alice"])
    );
    assert_eq!(
        names(&mut c, cmp(&ent("manager.value"), Op::Pr, None))
            .await
            .unwrap(),
        v(&["Alice"])
    );
}

#[tokio::test]
async fn dates_compare_chronologically() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    seed(&mut c).await;
    assert_eq!(
        names(
            &mut c,
            cmp("meta.created", Op::Gt, s("2000-01-01T00:00:00Z"))
        )
        .await
        .unwrap()
        .len(),
        3
    );
    assert!(
        names(
            &mut c,
            cmp("meta.lastModified", Op::Lt, s("2000-01-01T00:00:00+02:00"))
        )
        .await
        .unwrap()
        .is_empty()
    );
    let future = prost_types::Timestamp {
        seconds: 4_000_000_000,
        nanos: 0,
    };
    assert_eq!(
        names(
            &mut c,
            cmp("meta.created", Op::Le, Some(V::DateValue(future)))
        )
        .await
        .unwrap()
        .len(),
        3
    );
}

#[tokio::test]
async fn bad_filters_are_invalid_arguments() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    for f in [
        eq("nonsense", "x"),
        eq("password", "x"),
        cmp("userName", Op::Eq, Some(V::BoolValue(true))),
        cmp("active", Op::Gt, Some(V::BoolValue(true))),
        cmp("meta.created", Op::Gt, s("not a date")),
        vpath("userName", eq("value", "x")),
        pb::Filter { kind: None },
    ] {
        let err = names(&mut c, f).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    }
    let err = names(&mut c, eq("nonsense", "x")).await.unwrap_err();
    assert!(
        err.message().contains("nonsense"),
        "the message names the attribute"
    );
}

#[tokio::test]
async fn group_filters() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let u = create_user(&mut c, user("u1")).await;
    let admins = create_group(&mut c, "Admins", vec![member(&u.id)]).await;
    create_group(&mut c, "Users", vec![]).await;
    let list = |f: pb::Filter| {
        let mut c = c.clone();
        async move {
            let r = c
                .list_groups(pb::ListGroupsRequest {
                    filter: Some(f),
                    page: None,
                    include_members: false,
                    sort: None,
                })
                .await
                .unwrap()
                .into_inner();
            assert!(r.groups.iter().all(|g| g.members.is_empty()));
            r.groups
                .into_iter()
                .map(|g| g.display_name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(eq("displayName", "ADMINS")).await, vec!["Admins"]);
    assert_eq!(list(eq("members", &u.id)).await, vec!["Admins"]);
    assert_eq!(
        list(vpath("members", eq("value", &u.id))).await,
        vec!["Admins"]
    );
    assert_eq!(list(eq("id", &admins.id)).await, vec!["Admins"]);
    assert_eq!(list(not(cmp("members", Op::Pr, None))).await, vec!["Users"]);
    let err = c
        .list_groups(pb::ListGroupsRequest {
            filter: Some(eq("userName", "x")),
            page: None,
            include_members: false,
            sort: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn an_email_lookup_reads_ids_from_the_email_index_alone() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    seed(&mut c).await;
    // One user with the same address twice: the index holds two rows for her.
    create_user(
        &mut c,
        pb::User {
            user_name: "dora".into(),
            emails: vec![
                mv("dora@example.test", "work", true),
                mv("DORA@example.test", "home", false),
            ],
            ..Default::default()
        },
    )
    .await;
    let log = srv.record_queries();
    let work = vpath(
        "emails",
        and(vec![eq("type", "work"), eq("value", "Dora@Example.test")]),
    );
    assert_eq!(names(&mut c, work).await.unwrap(), v(&["dora"]));
    assert_eq!(
        names(&mut c, eq("emails.value", "dora@example.test"))
            .await
            .unwrap(),
        v(&["dora"])
    );
    srv.stop_recording();
    let sql = log.lock().unwrap().clone();
    let mut db = srv.direct();
    let plans: Vec<Vec<String>> = sql
        .iter()
        .filter(|q| q.contains("FROM `user_emails`"))
        .map(|q| query_plan(&mut db, q))
        .collect();
    assert_eq!(plans.len(), 2, "{sql:?}");
    for plan in plans {
        assert!(
            reads_index_alone(&plan, "user_emails_tenant_value_user"),
            "e-mail rows sought one by one: {plan:?}"
        );
        assert!(
            !sorts(&plan),
            "distinct ids sorted by the database: {plan:?}"
        );
    }
}

/// Every lookup an IdP makes is served by an index on either backend: the database's
/// plan of each statement a lookup runs names an index, and never scans a table whole.
#[tokio::test]
async fn every_idp_lookup_is_an_index_lookup() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let u = create_user(
        &mut c,
        pb::User {
            user_name: "Ida@Example.test".into(),
            external_id: Some("okta-ida".into()),
            emails: vec![mv("ida@example.test", "work", true)],
            ..Default::default()
        },
    )
    .await;
    let g = create_group(&mut c, "Readers", vec![member(&u.id)]).await;
    let log = srv.record_queries();
    for filter in [
        eq("userName", "ida@example.TEST"),
        eq("externalId", "okta-ida"),
        eq("id", &u.id),
        eq("emails.value", "IDA@example.test"),
    ] {
        assert_eq!(
            names(&mut c, filter).await.unwrap(),
            v(&["Ida@Example.test"])
        );
    }
    for filter in [
        eq("displayName", "readers"),
        eq("externalId", "nothing"),
        eq("members.value", &u.id),
        eq("id", &g.id),
    ] {
        c.list_groups(pb::ListGroupsRequest {
            filter: Some(filter),
            page: None,
            include_members: false,
            sort: None,
        })
        .await
        .unwrap();
    }
    srv.stop_recording();
    let sql = log.lock().unwrap().clone();
    let mut db = srv.direct();
    let lookups: Vec<&String> = sql
        .iter()
        .filter(|q| q.starts_with("SELECT") && q.contains(" FROM "))
        .collect();
    assert!(lookups.len() >= 8, "{sql:?}");
    for q in lookups {
        let plan = query_plan(&mut db, q);
        let scans_whole_table = plan.iter().any(|step| {
            (step.starts_with("SCAN ") && !step.contains("USING")) || step.contains("Seq Scan")
        });
        assert!(!scans_whole_table, "{q}\n{plan:?}");
    }
}

#[tokio::test]
async fn a_refused_filter_says_invalid_filter_in_its_status() {
    use tonic_types::StatusExt as _;
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    for filter in [
        cmp("password", Op::Eq, Some(V::StringValue("x".into()))),
        cmp("active", Op::Co, Some(V::BoolValue(true))),
    ] {
        let err = c
            .list_users(pb::ListUsersRequest {
                filter: Some(filter),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let info = err.get_details_error_info().expect("an ErrorInfo detail");
        assert_eq!(info.domain, scim_model::ERROR_INFO_DOMAIN);
        assert_eq!(info.reason, "invalidFilter");
    }
}
