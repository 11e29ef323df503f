//! Slow and abusive clients: connections that send nothing, headers a byte at a time,
//! bodies that never finish. None of them may hold the gateway for long or keep other
//! clients out.

use std::time::{Duration, Instant};

use e2e::TestStack;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A gateway with one-second header and body timeouts and room for 64 connections.
async fn tight_stack() -> TestStack {
    TestStack::spawn_with(|c| {
        c.header_read_timeout_secs = 1;
        c.body_read_timeout_secs = 1;
        c.max_connections = 64;
    })
    .await
}

fn addr(stack: &TestStack) -> String {
    stack.url.trim_start_matches("http://").to_owned()
}

/// Whether the server closes `conn` within `within` (a read sees the end or an error).
async fn closed_within(conn: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // hyper may answer before it closes; keep reading to the end.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_byte_at_a_time_clients_neither_hold_connections_nor_keep_others_out() {
    let stack = tight_stack().await;
    let target = addr(&stack);
    // Two and a half times the connection limit: half never send a byte, half send
    // their headers one byte every 200 ms. Each holds a slot for about a second, so a
    // client arriving after them all waits a few seconds at most.
    let mut idle = Vec::new();
    for _ in 0..80 {
        idle.push(TcpStream::connect(&target).await.unwrap());
    }
    let mut slow = Vec::new();
    for _ in 0..80 {
        let target = target.clone();
        slow.push(tokio::spawn(async move {
            let Ok(mut conn) = TcpStream::connect(&target).await else {
                return;
            };
            let request =
                b"GET /scim/v2/Users HTTP/1.1\r\nHost: gateway\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaa";
            for byte in request {
                if conn.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }

    // A well-behaved client still gets every answer, within a few header timeouts.
    for i in 0..10 {
        let started = Instant::now();
        let r = reqwest::Client::new()
            .get(format!("{}/healthz", stack.url))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} was kept out: {e}"));
        assert!(r.status().is_success(), "request {i}: {}", r.status());
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "request {i} waited {:?}",
            started.elapsed()
        );
    }
    // The idle connections are closed by the server.
    for conn in idle.iter_mut().take(10) {
        assert!(
            closed_within(conn, Duration::from_secs(5)).await,
            "an idle connection was kept open"
        );
    }
    for task in slow {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_finishes_is_refused_with_a_scim_400() {
    let stack = tight_stack().await;
    let token = stack.tenant_token("default").await;
    let mut conn = TcpStream::connect(addr(&stack)).await.unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{{\"schemas\":"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("no answer within five seconds")
            .unwrap();
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("application/scim+json"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}
