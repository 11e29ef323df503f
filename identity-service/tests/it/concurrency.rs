//! Concurrent writers lose nothing.

use std::collections::BTreeSet;

use scim_proto::identity::v1 as pb;

use crate::harness::*;

const TASKS: usize = 16;
const PER_TASK: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_member_adds_to_one_group_lose_nothing() {
    let srv = TestServer::start().await;
    let mut c = srv.client("t", RW);
    let group = create_group(&mut c, "Busy", vec![]).await;
    let mut batches = Vec::new();
    for t in 0..TASKS {
        let mut ids = Vec::new();
        for i in 0..PER_TASK {
            ids.push(create_user(&mut c, user(&format!("t{t}-u{i}"))).await.id);
        }
        batches.push(ids);
    }
    let expected: BTreeSet<String> = batches.iter().flatten().cloned().collect();

    let tasks: Vec<_> = batches
        .into_iter()
        .map(|ids| {
            let mut c = c.clone();
            let group_id = group.id.clone();
            tokio::spawn(async move {
                // One call per member, so the tasks interleave as much as possible.
                for id in ids {
                    let r = modify(&mut c, &group_id, vec![add(vec![member(&id)])])
                        .await
                        .expect("add member");
                    assert_eq!(r.added, 1);
                }
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        t.expect("task");
    }

    let g = get_group(&mut c, &group.id).await;
    assert_eq!(g.member_count, (TASKS * PER_TASK) as i64);
    let values: BTreeSet<String> = member_values(&g).into_iter().collect();
    assert_eq!(values, expected);
    assert_eq!(
        g.meta.unwrap().version,
        1 + (TASKS * PER_TASK) as i64,
        "one version per change"
    );
}

/// `UpdateUser` with a mask naming one field.
fn update(id: &str, field: &str, user: pb::User, expected_version: i64) -> pb::UpdateUserRequest {
    pb::UpdateUserRequest {
        user: Some(pb::User {
            id: id.into(),
            ..user
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec![field.into()],
        }),
        expected_version,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_different_fields_are_all_kept() {
    let srv = TestServer::start().await;
    let c = srv.client("t", RW);
    let created = create_user(&mut c.clone(), user("racer")).await;
    // Without a version check: nothing may be lost, whatever the interleaving.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let mut c = c.clone();
            let id = created.id.clone();
            tokio::spawn(async move {
                let req = if i % 2 == 0 {
                    update(
                        &id,
                        "title",
                        pb::User {
                            title: Some(format!("title-{i}")),
                            ..Default::default()
                        },
                        0,
                    )
                } else {
                    update(
                        &id,
                        "nick_name",
                        pb::User {
                            nick_name: Some(format!("nick-{i}")),
                            ..Default::default()
                        },
                        0,
                    )
                };
                c.update_user(req).await.expect("update").into_inner()
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
    let read = c
        .clone()
        .get_user(pb::GetUserRequest { id: created.id })
        .await
        .unwrap()
        .into_inner();
    assert!(read.title.is_some() && read.nick_name.is_some(), "{read:?}");
    assert_eq!(
        read.meta.unwrap().version,
        9,
        "each update one version, none lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_writers_naming_one_version_exactly_one_wins() {
    let srv = TestServer::start().await;
    let c = srv.client("t", RW);
    let created = create_user(&mut c.clone(), user("versioned")).await;
    let version = created.meta.unwrap().version;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let mut c = c.clone();
            let id = created.id.clone();
            tokio::spawn(async move {
                c.update_user(update(
                    &id,
                    "title",
                    pb::User {
                        title: Some(format!("t{i}")),
                        ..Default::default()
                    },
                    version,
                ))
                .await
                .map(|_| ())
                .map_err(|s| s.code())
            })
        })
        .collect();
    let results: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(tonic::Code::FailedPrecondition)),
        "{results:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_creates_of_one_user_name_exactly_one_wins() {
    let srv = TestServer::start().await;
    let c = srv.client("t", RW);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let mut c = c.clone();
            tokio::spawn(async move {
                // Case differs: the name is unique case-insensitively.
                let name = if i % 2 == 0 {
                    "Same@Example.test"
                } else {
                    "same@example.TEST"
                };
                c.create_user(pb::CreateUserRequest {
                    user: Some(user(name)),
                })
                .await
                .map(|_| ())
                .map_err(|s| s.code())
            })
        })
        .collect();
    let results: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(tonic::Code::AlreadyExists)),
        "{results:?}"
    );
}
