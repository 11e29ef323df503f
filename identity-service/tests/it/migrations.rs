//! Migrations: replicas starting together migrate exactly once; a binary older than the
//! database's schema refuses to start.

use identity_service::db::{Database, MIGRATIONS, OpenError};
use scim_storage::testing::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_migrate_exactly_once() {
    let test_db = TestDatabase::new("identity.db");
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = test_db.url().to_owned();
            tokio::spawn(async move {
                let db = Database::open(&url, 2).await?;
                db.migrate().await?;
                Ok::<_, OpenError>(db)
            })
        })
        .collect();
    let mut dbs = Vec::new();
    for s in futures::future::join_all(starts).await {
        dbs.push(s.unwrap().expect("every replica starts"));
    }
    let applied = scim_storage::migrate::applied(dbs[0].pool(), &MIGRATIONS).unwrap();
    let latest = scim_storage::migrate::latest_known(&MIGRATIONS, dbs[0].pool()).unwrap();
    let mut unique = applied.clone();
    unique.dedup();
    assert_eq!(applied, unique, "each version recorded once");
    assert_eq!(applied.last(), Some(&latest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_older_than_the_schema_refuses_to_start() {
    let test_db = TestDatabase::new("identity.db");
    let db = Database::open(test_db.url(), 2).await.unwrap();
    db.migrate().await.unwrap();
    // What a newer release would have left behind.
    test_db
        .execute(
            identity_service::db::PG_SCHEMA,
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000000')",
        )
        .unwrap();
    let err = Database::open(test_db.url(), 2)
        .await
        .unwrap()
        .migrate()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("29991231000000"), "{err}");
    assert!(err.contains("newer than this release"), "{err}");
}
