//! Sorted lists over gRPC: each indexed order is a walk of its index (the database never
//! sorts the rows itself), and a kind refuses a key it cannot be sorted by.

use scim_proto::identity::v1 as pb;
use tonic::Code;

use crate::harness::*;

fn sorted(key: pb::SortKey, descending: bool, token: &str) -> pb::ListUsersRequest {
    pb::ListUsersRequest {
        page: Some(pb::PageRequest {
            start_index: 1,
            count: 5,
            page_token: token.into(),
        }),
        sort: Some(pb::Sort {
            key: key as i32,
            descending,
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn each_indexed_order_walks_its_index_without_sorting() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    for i in 0..30 {
        let mut u = user(&format!("sort{i:02}@x"));
        if i % 3 != 0 {
            u.display_name = Some(format!("D{}", i % 5));
            u.external_id = Some(format!("E{}", i % 4));
            u.emails = vec![pb::MultiValue {
                value: format!("m{}@x", i % 7),
                primary: true,
                ..Default::default()
            }];
        }
        create_user(&mut c, u).await;
    }
    let keys = [
        pb::SortKey::UserName,
        pb::SortKey::DisplayName,
        pb::SortKey::ExternalId,
        pb::SortKey::PrimaryEmail,
        pb::SortKey::Created,
    ];
    let log = srv.record_queries();
    for key in keys {
        for descending in [false, true] {
            // The first page, then the one its token names, then back.
            let first = c
                .list_users(sorted(key, descending, ""))
                .await
                .unwrap()
                .into_inner();
            let next = first.page.unwrap().next_page_token;
            let second = c
                .list_users(sorted(key, descending, &next))
                .await
                .unwrap()
                .into_inner();
            let back = second.page.unwrap().previous_page_token;
            let again = c
                .list_users(sorted(key, descending, &back))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(again.users, first.users, "{key:?} {descending}");
        }
    }
    srv.stop_recording();
    let sql = log.lock().unwrap().clone();
    let mut db = srv.direct();
    let walks: Vec<&String> = sql
        .iter()
        .filter(|q| q.starts_with("SELECT") && q.contains("ORDER BY"))
        .collect();
    assert!(walks.len() >= keys.len() * 2 * 3, "{sql:?}");
    for q in walks {
        let plan = query_plan(&mut db, q);
        assert!(!sorts(&plan), "{q}\n{plan:?}");
    }
}

#[tokio::test]
async fn a_kind_refuses_a_key_it_cannot_be_sorted_by() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    for key in [
        pb::SortKey::UserName as i32,
        pb::SortKey::PrimaryEmail as i32,
        99,
    ] {
        let r = c
            .list_groups(pb::ListGroupsRequest {
                sort: Some(pb::Sort {
                    key,
                    descending: false,
                }),
                ..Default::default()
            })
            .await;
        assert_eq!(code(r), Code::InvalidArgument, "{key}");
    }
    let r = c
        .list_users(pb::ListUsersRequest {
            sort: Some(pb::Sort {
                key: 99,
                descending: true,
            }),
            ..Default::default()
        })
        .await;
    assert_eq!(code(r), Code::InvalidArgument);
}
