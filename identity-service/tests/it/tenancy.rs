//! Tenant isolation: a tenant-A token never sees, changes or deletes tenant-B data.

use scim_proto::identity::v1 as pb;
use tonic::Code;

use crate::filters::{eq, names};
use crate::harness::*;

#[tokio::test]
async fn another_tenants_data_is_invisible_and_untouchable() {
    let srv = TestServer::start().await;
    let mut a = srv.client("tenant-a", RW);
    let mut b = srv.client("tenant-b", RW);
    let b_user = create_user(&mut b, user("shared-name")).await;
    let b_group = create_group(&mut b, "Shared", vec![member(&b_user.id)]).await;
    let a_user = create_user(&mut a, user("shared-name")).await;
    let a_group = create_group(&mut a, "Shared", vec![]).await;
    assert_ne!(a_user.id, b_user.id, "names are unique per tenant only");

    // Reads.
    assert_eq!(
        code(
            a.get_user(pb::GetUserRequest {
                id: b_user.id.clone()
            })
            .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            a.get_group(pb::GetGroupRequest {
                id: b_group.id.clone(),
                include_members: true
            })
            .await
        ),
        Code::NotFound
    );
    assert!(
        names(&mut a, eq("id", &b_user.id))
            .await
            .unwrap()
            .is_empty()
    );
    let by_name = a
        .list_users(pb::ListUsersRequest {
            filter: Some(eq("userName", "shared-name")),
            page: None,
            include_groups: true,
            sort: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_name.users.len(), 1);
    assert_eq!(by_name.users[0].id, a_user.id);
    let all = a
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.page.unwrap().total_results, 1);
    let groups = a
        .list_groups(pb::ListGroupsRequest {
            filter: Some(eq("members", &b_user.id)),
            page: None,
            include_members: false,
            sort: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(groups.page.unwrap().total_results, 0);

    // Writes by id.
    let replace = pb::ReplaceUserRequest {
        user: Some(pb::User {
            id: b_user.id.clone(),
            user_name: "hijacked".into(),
            ..Default::default()
        }),
        expected_version: 0,
        keep_active_if_unset: false,
    };
    assert_eq!(code(a.replace_user(replace).await), Code::NotFound);
    let update = pb::UpdateUserRequest {
        user: Some(pb::User {
            id: b_user.id.clone(),
            user_name: "hijacked".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["user_name".into()],
        }),
        expected_version: 0,
    };
    assert_eq!(code(a.update_user(update).await), Code::NotFound);
    assert_eq!(
        code(
            a.delete_user(pb::DeleteUserRequest {
                id: b_user.id.clone(),
                expected_version: 0
            })
            .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            a.delete_group(pb::DeleteGroupRequest {
                id: b_group.id.clone(),
                expected_version: 0
            })
            .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(modify(&mut a, &b_group.id, vec![remove(&[&b_user.id])]).await),
        Code::NotFound
    );
    assert_eq!(
        code(
            a.update_group(pb::UpdateGroupRequest {
                skip_unknown_members: false,
                id: b_group.id.clone(),
                display_name: Some("x".into()),
                ..Default::default()
            })
            .await
        ),
        Code::NotFound
    );

    // Membership calls naming B's users or groups in A's group.
    assert_eq!(
        code(modify(&mut a, &a_group.id, vec![add(vec![member(&b_user.id)])]).await),
        Code::InvalidArgument
    );
    let b_group_as_member = pb::Member {
        value: b_group.id.clone(),
        r#type: "Group".into(),
        display: None,
    };
    assert_eq!(
        code(modify(&mut a, &a_group.id, vec![add(vec![b_group_as_member])]).await),
        Code::InvalidArgument
    );
    let removal = modify(&mut a, &a_group.id, vec![remove(&[&b_user.id])])
        .await
        .unwrap();
    assert_eq!(removal.removed, 0);

    // B's data is unchanged.
    let b_view = b
        .get_user(pb::GetUserRequest {
            id: b_user.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b_view.user_name, "shared-name");
    assert_eq!(b_view.meta.unwrap().version, 1);
    let b_group_view = get_group(&mut b, &b_group.id).await;
    assert_eq!(member_values(&b_group_view), vec![b_user.id.clone()]);
    assert_eq!(b_group_view.meta.unwrap().version, 1);
}
