//! Group RPCs and memberships.

use diesel::prelude::*;
use scim_proto::identity::v1 as pb;
use tonic::Code;

use crate::harness::*;

async fn users(c: &mut Client, n: usize, prefix: &str) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(create_user(c, user(&format!("{prefix}{i}"))).await.id);
    }
    ids
}

fn members(ids: &[String]) -> Vec<pb::Member> {
    ids.iter().map(|id| member(id)).collect()
}

fn membership_rows(srv: &TestServer, group_id: &str) -> i64 {
    use identity_service::db::schema::memberships::dsl;
    let mut direct = srv.direct();
    scim_storage::with_conn!(&mut direct.conn(), |c| dsl::memberships
        .filter(dsl::group_id.eq(group_id))
        .count()
        .get_result(c))
    .unwrap()
}

#[tokio::test]
async fn create_get_list_and_delete() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let ids = users(&mut c, 2, "u").await;
    let created = c
        .create_group(pb::CreateGroupRequest {
            skip_unknown_members: false,
            group: Some(pb::Group {
                id: "ignored".into(),
                display_name: "Engineering".into(),
                external_id: Some("okta-1".into()),
                members: vec![
                    pb::Member {
                        value: ids[0].clone(),
                        r#type: "User".into(),
                        display: Some("u0".into()),
                    },
                    member(&ids[1]),
                    member(&ids[1]),
                ],
                ..Default::default()
            }),
            include_members: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(created.id, "ignored");
    assert_eq!(created.member_count, 2, "duplicates collapse");
    assert_eq!(created.members.len(), 2);
    assert_eq!(created.meta.as_ref().unwrap().version, 1);
    let first = created.members.iter().find(|m| m.value == ids[0]).unwrap();
    assert_eq!(
        (first.r#type.as_str(), first.display.as_deref()),
        ("User", Some("u0"))
    );

    let without = c
        .get_group(pb::GetGroupRequest {
            id: created.id.clone(),
            include_members: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(without.members.is_empty());
    assert_eq!(without.member_count, 2);

    let listed = c
        .list_groups(pb::ListGroupsRequest {
            filter: None,
            page: None,
            include_members: true,
            sort: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].members.len(), 2);

    c.delete_group(pb::DeleteGroupRequest {
        id: created.id.clone(),
        expected_version: 1,
    })
    .await
    .unwrap();
    assert_eq!(
        membership_rows(&srv, &created.id),
        0,
        "member rows go with the group"
    );
    assert_eq!(
        code(
            c.get_group(pb::GetGroupRequest {
                id: created.id.clone(),
                include_members: false
            })
            .await
        ),
        Code::NotFound
    );
}

#[tokio::test]
async fn display_names_are_unique_case_insensitively() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    create_group(&mut c, "Sales", vec![]).await;
    let other = create_group(&mut c, "Other", vec![]).await;
    let err = c
        .create_group(pb::CreateGroupRequest {
            skip_unknown_members: false,
            group: Some(pb::Group {
                display_name: "SALES".into(),
                ..Default::default()
            }),
            include_members: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("displayName"));
    let rename = c
        .update_group(pb::UpdateGroupRequest {
            skip_unknown_members: false,
            id: other.id.clone(),
            display_name: Some("sales".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(code(rename), Code::AlreadyExists);
    assert_eq!(
        code(
            c.create_group(pb::CreateGroupRequest {
                skip_unknown_members: false,
                group: Some(pb::Group::default()),
                include_members: false
            })
            .await
        ),
        Code::InvalidArgument
    );
}

#[tokio::test]
async fn member_changes_are_idempotent_and_counted() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let ids = users(&mut c, 4, "m").await;
    let g = create_group(&mut c, "G", vec![]).await;

    let r = modify(&mut c, &g.id, vec![add(members(&ids[..3]))])
        .await
        .unwrap();
    assert_eq!(
        (r.added, r.removed, r.group.as_ref().unwrap().member_count),
        (3, 0, 3)
    );
    let v = r.group.unwrap().meta.unwrap().version;
    // Adding the same members again changes nothing, not even the version.
    let again = modify(&mut c, &g.id, vec![add(members(&ids[..3]))])
        .await
        .unwrap();
    assert_eq!((again.added, again.removed), (0, 0));
    assert_eq!(again.group.unwrap().meta.unwrap().version, v);
    // A new display is stored.
    let display = modify(
        &mut c,
        &g.id,
        vec![add(vec![pb::Member {
            value: ids[0].clone(),
            r#type: String::new(),
            display: Some("Zero".into()),
        }])],
    )
    .await
    .unwrap();
    assert_eq!(display.added, 0);
    assert_eq!(display.group.unwrap().meta.unwrap().version, v + 1);
    let full = get_group(&mut c, &g.id).await;
    let zero = full.members.iter().find(|m| m.value == ids[0]).unwrap();
    assert_eq!(zero.display.as_deref(), Some("Zero"));

    let removed = modify(&mut c, &g.id, vec![remove(&[&ids[1], &ids[1], "absent"])])
        .await
        .unwrap();
    assert_eq!((removed.added, removed.removed), (0, 1));
    let removed_again = modify(&mut c, &g.id, vec![remove(&[&ids[1]])])
        .await
        .unwrap();
    assert_eq!(removed_again.removed, 0);

    let replaced = modify(&mut c, &g.id, vec![replace(members(&ids[2..4]))])
        .await
        .unwrap();
    assert_eq!((replaced.added, replaced.removed), (1, 1));
    assert_eq!(replaced.group.unwrap().member_count, 2);
    let replaced_again = modify(&mut c, &g.id, vec![replace(members(&ids[2..4]))])
        .await
        .unwrap();
    assert_eq!((replaced_again.added, replaced_again.removed), (0, 0));
    let mut expected = ids[2..4].to_vec();
    expected.sort();
    assert_eq!(member_values(&get_group(&mut c, &g.id).await), expected);

    let all = pb::MemberChange {
        kind: Some(pb::member_change::Kind::RemoveAll(true)),
    };
    let emptied = modify(&mut c, &g.id, vec![all]).await.unwrap();
    assert_eq!(
        (emptied.removed, emptied.group.unwrap().member_count),
        (2, 0)
    );
    assert_eq!(membership_rows(&srv, &g.id), 0);
}

#[tokio::test]
async fn changes_in_one_request_are_atomic() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let ids = users(&mut c, 2, "a").await;
    let g = create_group(&mut c, "G", vec![member(&ids[0])]).await;
    let bad = modify(
        &mut c,
        &g.id,
        vec![remove(&[&ids[0]]), add(vec![member("not-a-user")])],
    )
    .await;
    assert_eq!(code(bad), Code::InvalidArgument);
    assert_eq!(
        member_values(&get_group(&mut c, &g.id).await),
        vec![ids[0].clone()]
    );
    // UpdateGroup applies rename and member changes together.
    let updated = c
        .update_group(pb::UpdateGroupRequest {
            skip_unknown_members: false,
            id: g.id.clone(),
            expected_version: 1,
            display_name: Some("Renamed".into()),
            external_id: Some("x".into()),
            member_changes: vec![add(vec![member(&ids[1])])],
            include_members: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.display_name, "Renamed");
    assert_eq!(updated.external_id.as_deref(), Some("x"));
    assert_eq!(updated.members.len(), 2);
    assert_eq!(updated.meta.unwrap().version, 2);
    let cleared = c
        .update_group(pb::UpdateGroupRequest {
            skip_unknown_members: false,
            id: g.id.clone(),
            external_id: Some(String::new()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.external_id, None);
}

#[tokio::test]
async fn invalid_members_are_refused() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let u = create_user(&mut c, user("u")).await;
    let g = create_group(&mut c, "G", vec![]).await;
    let bad = |m: pb::Member| add(vec![m]);
    for change in [
        bad(member("unknown-id")),
        bad(member("")),
        bad(pb::Member {
            value: u.id.clone(),
            r#type: "Group".into(),
            display: None,
        }),
        bad(pb::Member {
            value: u.id.clone(),
            r#type: "Robot".into(),
            display: None,
        }),
        bad(pb::Member {
            value: g.id.clone(),
            r#type: "Group".into(),
            display: None,
        }),
        pb::MemberChange { kind: None },
    ] {
        assert_eq!(
            code(modify(&mut c, &g.id, vec![change]).await),
            Code::InvalidArgument
        );
    }
    assert_eq!(
        code(modify(&mut c, "no-such-group", vec![]).await),
        Code::NotFound
    );
}

#[tokio::test]
async fn groups_nest_and_deleting_a_group_leaves_its_parents_consistent() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let child = create_group(&mut c, "Child", vec![]).await;
    let parent = create_group(
        &mut c,
        "Parent",
        vec![pb::Member {
            value: child.id.clone(),
            r#type: "Group".into(),
            display: None,
        }],
    )
    .await;
    assert_eq!(parent.member_count, 1);
    c.delete_group(pb::DeleteGroupRequest {
        id: child.id.clone(),
        expected_version: 0,
    })
    .await
    .unwrap();
    let after = get_group(&mut c, &parent.id).await;
    assert_eq!(after.member_count, 0);
    assert!(after.members.is_empty());
    assert_eq!(after.meta.unwrap().version, 2);
}

#[tokio::test]
async fn deleting_a_user_removes_its_memberships() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let ids = users(&mut c, 2, "d").await;
    let g1 = create_group(&mut c, "G1", members(&ids)).await;
    let g2 = create_group(&mut c, "G2", members(&ids[..1])).await;
    c.delete_user(pb::DeleteUserRequest {
        id: ids[0].clone(),
        expected_version: 0,
    })
    .await
    .unwrap();
    let a = get_group(&mut c, &g1.id).await;
    assert_eq!(member_values(&a), vec![ids[1].clone()]);
    assert_eq!(a.member_count, 1);
    assert_eq!(a.meta.unwrap().version, 2);
    let b = get_group(&mut c, &g2.id).await;
    assert_eq!((b.member_count, b.members.len()), (0, 0));
    assert_eq!(membership_rows(&srv, &g2.id), 0);
}

#[tokio::test]
async fn stale_versions_on_groups_are_failed_preconditions() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let u = create_user(&mut c, user("v")).await;
    let g = create_group(&mut c, "V", vec![]).await;
    let stale = c
        .modify_members(pb::ModifyMembersRequest {
            skip_unknown_members: false,
            group_id: g.id.clone(),
            expected_version: 5,
            changes: vec![add(vec![member(&u.id)])],
        })
        .await;
    assert_eq!(code(stale), Code::FailedPrecondition);
    let ok = c
        .modify_members(pb::ModifyMembersRequest {
            skip_unknown_members: false,
            group_id: g.id.clone(),
            expected_version: 1,
            changes: vec![add(vec![member(&u.id)])],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.group.unwrap().meta.unwrap().version, 2);
    let replace_req = |v: i64| pb::ReplaceGroupRequest {
        skip_unknown_members: false,
        group: Some(pb::Group {
            id: g.id.clone(),
            display_name: "V2".into(),
            ..Default::default()
        }),
        expected_version: v,
        include_members: true,
    };
    assert_eq!(
        code(c.replace_group(replace_req(1)).await),
        Code::FailedPrecondition
    );
    let replaced = c.replace_group(replace_req(2)).await.unwrap().into_inner();
    assert_eq!(replaced.display_name, "V2");
    assert!(
        replaced.members.is_empty(),
        "replace sets the whole member list"
    );
    assert_eq!(replaced.member_count, 0);
    let update = pb::UpdateGroupRequest {
        skip_unknown_members: false,
        id: g.id.clone(),
        expected_version: 2,
        display_name: Some("V3".into()),
        ..Default::default()
    };
    assert_eq!(code(c.update_group(update).await), Code::FailedPrecondition);
    let delete = |v: i64| pb::DeleteGroupRequest {
        id: g.id.clone(),
        expected_version: v,
    };
    assert_eq!(
        code(c.delete_group(delete(2)).await),
        Code::FailedPrecondition
    );
    c.delete_group(delete(3)).await.unwrap();
}

#[tokio::test]
async fn unknown_members_fail_the_request_unless_skipping_was_asked_for() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let ids = users(&mut c, 1, "u").await;
    let g = create_group(&mut c, "g", vec![]).await;
    let request = |skip| pb::ModifyMembersRequest {
        skip_unknown_members: skip,
        group_id: g.id.clone(),
        expected_version: 0,
        changes: vec![add(vec![member("no-such-user"), member(&ids[0])])],
    };
    assert_eq!(
        code(c.modify_members(request(false)).await),
        Code::InvalidArgument
    );
    assert!(
        member_values(&get_group(&mut c, &g.id).await).is_empty(),
        "nothing applied"
    );
    let r = c.modify_members(request(true)).await.unwrap().into_inner();
    assert_eq!(r.added, 1);
    assert_eq!(
        member_values(&get_group(&mut c, &g.id).await),
        vec![ids[0].clone()]
    );
    // Another tenant's user is as unknown as a made-up id.
    let mut other = srv.client("other", RW);
    let foreign = create_user(&mut other, user("x")).await.id;
    let r = c
        .modify_members(pb::ModifyMembersRequest {
            skip_unknown_members: true,
            group_id: g.id.clone(),
            expected_version: 0,
            changes: vec![add(vec![member(&foreign)])],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.added, 0);
    assert_eq!(membership_rows(&srv, &g.id), 1);
}
