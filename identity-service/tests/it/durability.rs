//! An acknowledged write survives `kill -9` of the real binary.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use scim_authn::test_support::{TEST_AUDIENCE, TEST_ISSUER, TestIssuer};
use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::identity_service_client::IdentityServiceClient;
use scim_storage::testing::TestDatabase;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{Bearer, RW, user};

/// Starts the binary and waits for the line that says where it listens.
async fn spawn(db: &str, keys: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_identity-service"))
        .args(["--listen", "127.0.0.1:0", "--jwt-issuer", TEST_ISSUER])
        .args(["--jwt-audience", TEST_AUDIENCE])
        .arg("--database-url")
        .arg(db)
        .arg("--jwt-public-keys-file")
        .arg(keys)
        .env("RUST_LOG", "warn")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn identity-service");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the service starts within a minute")
        .expect("read stdout")
        .expect("a ready line");
    let addr = line
        .strip_prefix("identity-service listening on ")
        .expect("ready line format")
        .parse()
        .expect("address");
    (child, addr)
}

async fn client(addr: SocketAddr, token: &str) -> crate::harness::Client {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let value = format!("Bearer {token}").parse().unwrap();
    IdentityServiceClient::with_interceptor(channel, Bearer(Some(value)))
}

#[tokio::test]
async fn an_acknowledged_user_survives_sigkill() {
    let test_db = TestDatabase::new("identity.db");
    let db = test_db.url();
    let keys = test_db.dir().join("keys.json");
    let issuer = TestIssuer::new();
    std::fs::write(
        &keys,
        serde_json::to_string(&[issuer.key().public()]).unwrap(),
    )
    .unwrap();
    let token = issuer.mint("t", RW);

    let (mut first, addr) = spawn(db, &keys).await;
    let mut c = client(addr, &token).await;
    let created = c
        .create_user(pb::CreateUserRequest {
            user: Some(user("durable")),
        })
        .await
        .expect("create acknowledged")
        .into_inner();
    first.kill().await.expect("SIGKILL");

    let (mut second, addr) = spawn(db, &keys).await;
    let mut c = client(addr, &token).await;
    let found = c
        .get_user(pb::GetUserRequest {
            id: created.id.clone(),
        })
        .await
        .expect("the user is still there")
        .into_inner();
    assert_eq!(found.user_name, "durable");
    second.kill().await.expect("stop");
}

#[tokio::test]
async fn sigterm_stops_the_binary_cleanly() {
    let test_db = TestDatabase::new("identity.db");
    let db = test_db.url();
    let keys = test_db.dir().join("keys.json");
    let issuer = TestIssuer::new();
    std::fs::write(
        &keys,
        serde_json::to_string(&[issuer.key().public()]).unwrap(),
    )
    .unwrap();
    let (mut child, addr) = spawn(db, &keys).await;
    // The server answers before the signal...
    let mut c = client(addr, &issuer.mint("t", RW)).await;
    c.list_users(pb::ListUsersRequest::default())
        .await
        .expect("serving");
    let pid = child.id().expect("pid").to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("run kill");
    assert!(sent.success());
    // ...and exits with success after it.
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits within 30 s")
        .expect("wait");
    assert!(status.success(), "{status:?}");
}
