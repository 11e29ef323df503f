//! [`WholeStack`]: the whole stack as one `scimctl up` process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::procs::Proc;

/// The whole stack as one process, `scimctl up`, as an operator runs it on one machine.
#[derive(Debug)]
pub struct WholeStack {
    /// The `scimctl up` process; [`Proc::kill`] takes every service down at once.
    pub proc: Proc,
    /// The gateway's port on loopback.
    pub port: u16,
    data_dir: PathBuf,
}

impl WholeStack {
    /// `scimctl up` on `data_dir` (and on the PostgreSQL database at `database_url`, when
    /// given), serving on `port`, with its log in `logs`; returns once `/readyz` is 200.
    pub async fn start(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        port: u16,
        logs: &std::path::Path,
    ) -> WholeStack {
        let mut args: Vec<String> = vec![
            "up".into(),
            "--data-dir".into(),
            data_dir.to_string_lossy().into_owned(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--identity-listen".into(),
            "127.0.0.1:0".into(),
            "--auth-listen".into(),
            "127.0.0.1:0".into(),
        ];
        if let Some(url) = database_url {
            args.extend(["--database-url".into(), url.to_owned()]);
        }
        let proc = Proc::spawn("scimctl", "scimctl-up", &args, logs);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return WholeStack {
                    proc,
                    port,
                    data_dir: data_dir.to_owned(),
                };
            }
            assert!(
                Instant::now() < deadline,
                "scimctl up never became ready; log in {}",
                logs.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The SCIM base URL.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/scim/v2", self.port)
    }

    /// A token for the operator `scimctl up` bootstrapped in its data directory.
    pub async fn operator_token(&self) -> String {
        let text =
            std::fs::read_to_string(self.data_dir.join("operator.json")).expect("operator.json");
        let op: Value = serde_json::from_str(&text).expect("json");
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/oauth2/token", self.port))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", op["client_id"].as_str().expect("client_id")),
                (
                    "client_secret",
                    op["client_secret"].as_str().expect("client_secret"),
                ),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        v["access_token"].as_str().expect("access_token").to_owned()
    }
}
