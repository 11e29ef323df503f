//! Concurrent writers lose nothing.

use std::collections::BTreeSet;

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
