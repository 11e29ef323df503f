//! The operator flow with the real `scimctl` binary: up → provider create → token → /readyz.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace's `scimctl` binary, built next to this test binary.
fn scimctl_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = dir.join("scimctl");
    assert!(
        bin.exists(),
        "build scimctl first (cargo build -p scimctl): {}",
        bin.display()
    );
    bin
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scimctl_up_provider_create_token_and_readyz() {
    // On PostgreSQL runs, `up --database-url` with both services in one database.
    let db = scim_storage::testing::TestDatabase::new("unused.db");
    let dir = db.dir();
    let mut up = Command::new(scimctl_bin());
    up.args(["up", "--data-dir"]).arg(dir);
    if db.backend() == scim_storage::Backend::Postgres {
        up.args(["--database-url", db.url()]);
    }
    let port = free_port();
    let mut child = up
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--identity-listen",
            "127.0.0.1:0",
            "--auth-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("scimctl up starts");
    let stdout = child.stdout.take().unwrap();
    let _guard = KillOnDrop(child);

    // `up` prints the SCIM base URL and the token URL once it is serving.
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = String::new();
    for _ in 0..5 {
        let line = lines.next().expect("output").expect("utf-8");
        printed.push_str(&line);
        printed.push('\n');
    }
    assert!(
        printed.contains(&format!("http://127.0.0.1:{port}/scim/v2")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("http://127.0.0.1:{port}/oauth2/token")),
        "{printed}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("operator.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "operator credentials readable by their owner only"
        );
    }

    let out = Command::new(scimctl_bin())
        .args([
            "provider",
            "create",
            "--name",
            "okta",
            "--output",
            "json",
            "--data-dir",
        ])
        .arg(dir)
        .output()
        .expect("provider create runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["client_id", "client_secret", "scim_base_url", "token_url"]
    );

    let http = reqwest::Client::new();
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&ttl=60",
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap()
    );
    let token_url = created["token_url"]
        .as_str()
        .unwrap()
        .replace("/oauth2/token", "/iso/oauth2/token");
    let resp = http
        .post(token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token: Value = resp.json().await.unwrap();
    assert_eq!(token["expires_in"], 3600);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "readyz never became 200");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let users = http
        .get(created["scim_base_url"].as_str().unwrap().to_owned() + "/Users?startIndex=1&count=2")
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200);

    // The operator's view of the directory works too.
    let out = Command::new(scimctl_bin())
        .args(["users", "list", "--output", "json", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["totalResults"], 0);

    // Sorted, as SCIM's sortBy and sortOrder sort.
    for name in ["bea@x", "Cy@x", "abe@x"] {
        let r = http
            .post(created["scim_base_url"].as_str().unwrap().to_owned() + "/Users")
            .bearer_auth(token["access_token"].as_str().unwrap())
            .json(&serde_json::json!({"userName": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let list = |args: &[&str]| {
        let out = Command::new(scimctl_bin())
            .args(["users", "list", "--output", "json", "--data-dir"])
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = list(&["--sort-by", "userName", "--descending"]);
    assert!(ok, "{stderr}");
    let listed: Value = serde_json::from_slice(&stdout).unwrap();
    let names: Vec<&str> = listed["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Cy@x", "bea@x", "abe@x"]);
    let (ok, _, stderr) = list(&["--sort-by", "name.givenName"]);
    assert!(!ok);
    assert!(stderr.contains("--sort-by may name userName"), "{stderr}");
}
