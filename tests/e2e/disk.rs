//! The disk filling up under SQLite: `scimctl up` with its data directory on a small
//! tmpfs, filled to the last byte while the stack runs. Writes must fail as SCIM 503 with
//! `Retry-After` (the operator frees space; the IdP retries), reads must keep working,
//! writes must come back by themselves once there is room, and nothing acknowledged may
//! be lost, also across a `kill -9` and restart.
//!
//! Mounting needs root (CI runs as root); elsewhere the test says so and fails, unless
//! `SCIM_TEST_NO_MOUNT=1` asks to leave it out.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::whole_stack::WholeStack;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A tmpfs of a fixed size, unmounted when dropped.
struct SmallDisk {
    mount_point: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    /// A tmpfs of `bytes` mounted on a new directory; `None` when mounting is not
    /// allowed here and the caller said that is acceptable.
    fn mount(bytes: u64) -> Option<SmallDisk> {
        let parent = tempfile::tempdir().expect("temp dir");
        let mount_point = parent.path().join("data");
        std::fs::create_dir(&mount_point).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&mount_point)
            .status();
        if status.is_ok_and(|s| s.success()) {
            return Some(SmallDisk {
                mount_point,
                _parent: parent,
            });
        }
        assert!(
            std::env::var("SCIM_TEST_NO_MOUNT").is_ok_and(|v| v == "1"),
            "mounting a tmpfs failed (the disk-full test needs root); \
             SCIM_TEST_NO_MOUNT=1 leaves the test out"
        );
        None
    }

    fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Writes a file that takes every byte still free; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.mount_point.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        // Large writes first, then smaller ones, so the last free page goes too.
        for chunk in [1 << 20, 4096, 1] {
            let block = vec![0xA5u8; chunk];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
    }
}

/// A user with enough in it that a few hundred fill a page or more each.
fn user(name: &str) -> Value {
    json!({
        "schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "displayName": "x".repeat(1000),
        "title": "t".repeat(1000),
    })
}

async fn post_user(
    http: &reqwest::Client,
    stack: &WholeStack,
    token: &str,
    name: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = http
        .post(format!("{}/Users", stack.base()))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(user(name).to_string())
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("request sent");
    let (status, headers) = (r.status(), r.headers().clone());
    let v = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, v)
}

/// Every user in `acked` (name → id) is there with its name.
async fn all_there(
    http: &reqwest::Client,
    stack: &WholeStack,
    token: &str,
    acked: &[(String, String)],
) {
    for (name, id) in acked {
        let r = http
            .get(format!("{}/Users/{id}", stack.base()))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        assert_eq!(r.status(), StatusCode::OK, "{name} is gone");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["userName"], name.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_keeps_reads_and_loses_nothing() {
    let Some(disk) = SmallDisk::mount(8 << 20) else {
        return;
    };
    let logs = tempfile::tempdir().expect("log dir");
    let port = e2e::procs::free_port();
    let mut stack = WholeStack::start(disk.path(), None, port, logs.path()).await;
    let token = stack.operator_token().await;
    let http = reqwest::Client::new();

    let mut acked: Vec<(String, String)> = Vec::new();
    for n in 0..20 {
        let name = format!("before-{n}");
        let (status, _, v) = post_user(&http, &stack, &token, &name).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        acked.push((name, v["id"].as_str().expect("id").to_owned()));
    }

    let filler = disk.fill();
    // The WAL may still have room in pages it already holds; keep writing until the
    // directory runs out of space, and from then on every write must be refused
    // properly. Nothing else is an acceptable answer.
    let mut refused = 0;
    let mut first_refusal = None;
    for n in 0..2000 {
        let name = format!("full-{n}");
        let (status, headers, v) = post_user(&http, &stack, &token, &name).await;
        match status {
            StatusCode::CREATED => {
                acked.push((name, v["id"].as_str().expect("id").to_owned()));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(
                    headers.contains_key("retry-after"),
                    "503 without Retry-After"
                );
                assert_eq!(v["status"], "503", "not a SCIM error: {v}");
                refused += 1;
                first_refusal.get_or_insert(n);
                if refused == 10 {
                    break;
                }
            }
            other => panic!("a write on a full disk answered {other}: {v}"),
        }
    }
    assert!(
        first_refusal.is_some(),
        "2000 writes on a full disk all succeeded: is the disk full?"
    );

    // The operator is told why, once per refused commit, in identity-service's log.
    let log = std::fs::read_to_string(logs.path().join("scimctl-up.log")).expect("log");
    assert!(
        log.contains("storage is full; writes are refused until space is freed"),
        "the log does not say the disk is full"
    );

    // Reads are served from what is there: each acknowledged user, and a list.
    all_there(&http, &stack, &token, &acked).await;
    let r = http
        .get(format!("{}/Users?count=5", stack.base()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request sent");
    assert_eq!(r.status(), StatusCode::OK);

    // Space back: writes resume without a restart.
    std::fs::remove_file(&filler).expect("remove filler");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let name = format!("after-{}", acked.len());
        let (status, _, v) = post_user(&http, &stack, &token, &name).await;
        if status == StatusCode::CREATED {
            acked.push((name, v["id"].as_str().expect("id").to_owned()));
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert!(Instant::now() < deadline, "writes did not resume: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for n in 0..5 {
        let name = format!("resumed-{n}");
        let (status, _, v) = post_user(&http, &stack, &token, &name).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        acked.push((name, v["id"].as_str().expect("id").to_owned()));
    }

    // And all of it survives a kill -9 and a start on the same data.
    stack.proc.kill();
    drop(stack);
    let stack = WholeStack::start(disk.path(), None, port, logs.path()).await;
    let token = stack.operator_token().await;
    all_there(&http, &stack, &token, &acked).await;
    let (status, _, v) = post_user(&http, &stack, &token, "before-0").await;
    assert_eq!(status, StatusCode::CONFLICT, "a name written twice: {v}");
}
