//! The guessing throttle on client authentication.

use std::time::Duration;

use tonic::Code;

use crate::support::{TestServer, eventually};

#[tokio::test]
async fn five_bad_secrets_lock_the_client_id_out_until_the_lockout_expires() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let (other_id, other_secret) = server.provider("entra").await;

    for _ in 0..5 {
        let err = server.issue(&id, "guess", "", 0).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    // The sixth attempt is refused even with the right secret.
    let err = server.issue(&id, &secret, "", 0).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message().starts_with("retry after ") && err.message().ends_with(" seconds"),
        "{}",
        err.message()
    );
    let retry_after: u64 = err
        .metadata()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let in_message: u64 = err
        .message()
        .trim_start_matches("retry after ")
        .trim_end_matches(" seconds")
        .parse()
        .unwrap();
    assert_eq!(in_message, retry_after);

    // Other clients are not affected.
    assert!(server.issue(&other_id, &other_secret, "", 0).await.is_ok());

    // The lockout expires by itself (attempts while locked do not extend it).
    let recovered = eventually(Duration::from_secs(retry_after + 2), || async {
        server.issue(&id, &secret, "", 0).await.is_ok()
    })
    .await;
    assert!(recovered, "the right secret never worked again");

    // Success reset the count: a single bad secret no longer locks.
    assert_eq!(
        server.issue(&id, "guess", "", 0).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert!(server.issue(&id, &secret, "", 0).await.is_ok());
}

#[tokio::test]
async fn unknown_client_ids_are_throttled_too() {
    let server = TestServer::start().await;
    for _ in 0..5 {
        let err = server
            .issue("nobody-000000000000000", "x", "", 0)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let err = server
        .issue("nobody-000000000000000", "x", "", 0)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
}
