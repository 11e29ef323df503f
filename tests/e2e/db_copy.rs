//! `scimctl db copy`: SQLite → PostgreSQL → SQLite, with the stack stopped in between
//! and started again on the copy at the same address. Every resource reads back
//! byte-for-byte the same (ids, ETags, timestamps, members, listing order), a token
//! minted before the move still works, and client secrets still mint.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::procs::{bin, free_port};
use scim_storage::Backend;
use scim_storage::testing::TestDatabase;
use serde_json::{Value, json};

struct Up {
    child: Child,
}

impl Up {
    /// `scimctl up` on `dir` (and `database`, if given) at `port`, once ready.
    async fn start(dir: &Path, database: Option<&str>, port: u16) -> Up {
        let mut cmd = Command::new(bin("scimctl"));
        cmd.args(["up", "--data-dir"])
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args([
                "--identity-listen",
                "127.0.0.1:0",
                "--auth-listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(url) = database {
            cmd.args(["--database-url", url]);
        }
        let up = Up {
            child: cmd.spawn().expect("scimctl up"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                && r.status() == 200
            {
                return up;
            }
            assert!(Instant::now() < deadline, "the stack never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, and wait until it has stopped.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "scimctl up stopped with {status:?}");
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scimctl(args: &[&str]) -> std::process::Output {
    Command::new(bin("scimctl"))
        .args(args)
        .output()
        .expect("scimctl runs")
}

fn copy(from: &str, to: &str) -> std::process::Output {
    scimctl(&["db", "copy", "--from", from, "--to", to])
}

/// A provider of `tenant` and a token for it: `(client_id, secret, token)`.
async fn provider(dir: &Path, port: u16, tenant: &str) -> (String, String, String) {
    let dir = dir.to_string_lossy();
    let out = scimctl(&[
        "provider",
        "create",
        "--name",
        tenant,
        "--tenant",
        tenant,
        "--output",
        "json",
        "--data-dir",
        &dir,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (id, secret) = (
        p["client_id"].as_str().unwrap().to_owned(),
        p["client_secret"].as_str().unwrap().to_owned(),
    );
    let token = mint(port, &id, &secret).await.expect("token");
    (id, secret, token)
}

async fn mint(port: u16, id: &str, secret: &str) -> Option<String> {
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("ttl", "120"),
        ])
        .send()
        .await
        .ok()?;
    (resp.status() == 200).then_some(())?;
    Some(
        resp.json::<Value>().await.ok()?["access_token"]
            .as_str()?
            .to_owned(),
    )
}

async fn scim(
    port: u16,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://127.0.0.1:{port}/scim/v2{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, etag, body)
}

/// Everything a tenant's IdP can read: every user and group (JSON and ETag) and the
/// listing order, through the gateway.
async fn snapshot(port: u16, token: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for kind in ["Users", "Groups"] {
        let (_, _, list) = scim(
            port,
            reqwest::Method::GET,
            &format!("/{kind}?startIndex=1&count=1000"),
            token,
            None,
        )
        .await;
        out.push((format!("{kind} list"), list.clone()));
        for r in list["Resources"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap();
            let (status, etag, body) = scim(
                port,
                reqwest::Method::GET,
                &format!("/{kind}/{id}"),
                token,
                None,
            )
            .await;
            assert_eq!(status, 200);
            out.push((etag, body));
        }
    }
    out
}

async fn populate(port: u16, token: &str, prefix: &str) {
    let mut ids = Vec::new();
    for i in 0..12 {
        let (status, _, u) = scim(
            port,
            reqwest::Method::POST,
            "/Users",
            token,
            Some(json!({
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                ],
                "userName": format!("{prefix}{i}@example.test"),
                "name": {"givenName": "Given", "familyName": format!("Family{i}")},
                "emails": [{"value": format!("{prefix}{i}@example.test"), "type": "work", "primary": true}],
                "password": "correct horse battery staple",
                "active": i % 3 != 0,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
            })),
        )
        .await;
        assert_eq!(status, 201, "{u}");
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    // A change, so versions and timestamps differ from creation.
    let (status, _, _) = scim(
        port,
        reqwest::Method::PATCH,
        &format!("/Users/{}", ids[1]),
        token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]
        })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = scim(
        port,
        reqwest::Method::DELETE,
        &format!("/Users/{}", ids[2]),
        token,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let members = |range: std::ops::Range<usize>| -> Vec<Value> {
        ids[range]
            .iter()
            .filter(|id| **id != ids[2])
            .map(|id| json!({"value": id}))
            .collect()
    };
    let (status, _, inner) = scim(
        port,
        reqwest::Method::POST,
        "/Groups",
        token,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": format!("{prefix} inner"), "members": members(3..8)}),
        ),
    )
    .await;
    assert_eq!(status, 201);
    let mut outer_members = members(0..4);
    outer_members.push(json!({"value": inner["id"]}));
    let (status, _, _) = scim(
        port,
        reqwest::Method::POST,
        "/Groups",
        token,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": format!("{prefix} outer"), "externalId": "ext-1",
                    "members": outer_members}),
        ),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_moves_to_postgresql_and_back_unchanged() {
    let pg = TestDatabase::on(Backend::Postgres, "unused.db");
    let dir = pg.dir().join("sqlite-data");
    let back = pg.dir().join("sqlite-again");
    let dir_s = dir.to_string_lossy().into_owned();
    let port = free_port();

    let up = Up::start(&dir, None, port).await;
    let (okta_id, okta_secret, okta) = provider(&dir, port, "default").await;
    let (_, _, entra) = provider(&dir, port, "acme").await;
    populate(port, &okta, "o").await;
    populate(port, &entra, "e").await;
    let before = [snapshot(port, &okta).await, snapshot(port, &entra).await];

    // A running stack is refused.
    let refused = copy(&dir_s, pg.url());
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop it first"));
    up.stop();

    let moved = copy(&dir_s, pg.url());
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    let summary = String::from_utf8_lossy(&moved.stdout);
    assert!(summary.contains("copied and verified"), "{summary}");
    // A target that holds data is refused.
    let again = copy(&dir_s, pg.url());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // The same address, now on PostgreSQL.
    let up = Up::start(&dir, Some(pg.url()), port).await;
    assert_eq!(
        [snapshot(port, &okta).await, snapshot(port, &entra).await],
        before,
        "every resource, ETag and the listing order are unchanged on PostgreSQL"
    );
    assert!(
        mint(port, &okta_id, &okta_secret).await.is_some(),
        "the client secret still mints"
    );
    // New writes keep coming after the copied rows.
    let (status, _, fresh) = scim(
        port,
        reqwest::Method::POST,
        "/Users",
        &okta,
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "after-the-move"})),
    )
    .await;
    assert_eq!(status, 201, "{fresh}");
    let (_, _, list) = scim(
        port,
        reqwest::Method::GET,
        "/Users?startIndex=1&count=1000",
        &okta,
        None,
    )
    .await;
    let last = list["Resources"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last["id"], fresh["id"],
        "a new user lists after the copied ones"
    );
    let (status, _, _) = scim(
        port,
        reqwest::Method::DELETE,
        &format!("/Users/{}", fresh["id"].as_str().unwrap()),
        &okta,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let on_pg = [snapshot(port, &okta).await, snapshot(port, &entra).await];
    up.stop();

    // And back to SQLite, in a new directory.
    let returned = copy(pg.url(), &back.to_string_lossy());
    assert!(
        returned.status.success(),
        "{}",
        String::from_utf8_lossy(&returned.stderr)
    );
    let up = Up::start(&back, None, port).await;
    assert_eq!(
        [snapshot(port, &okta).await, snapshot(port, &entra).await],
        on_pg,
        "and unchanged back on SQLite"
    );
    up.stop();
}
