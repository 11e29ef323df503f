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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_inside_the_http2_preface_is_closed() {
    // While the first bytes could still be HTTP/2's preface, hyper waits for the rest
    // with no timeout of its own.
    let stack = tight_stack().await;
    let mut conn = TcpStream::connect(addr(&stack)).await.unwrap();
    conn.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    assert!(
        closed_within(&mut conn, Duration::from_secs(5)).await,
        "a half-sent preface held the connection"
    );
}

/// Idle connections opened against the gateway binary at once.
const IDLE_FLOOD: usize = 10_000;

/// The gateway's default connection limit (`--max-connections`).
const DEFAULT_MAX_CONNECTIONS: usize = 2048;

/// This process's soft limit on open files, from `/proc/self/limits`.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Open file descriptors of process `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_connections_keep_no_client_out_and_memory_bounded() {
    let limit = open_file_limit().unwrap_or(0);
    assert!(
        limit > IDLE_FLOOD + 1000,
        "this test holds {IDLE_FLOOD} sockets; raise the open-file limit (ulimit -n) above {limit}"
    );
    // The real binary, so its memory and descriptors are its own: the default
    // connection limit and a two-second header read timeout. Nothing here needs the
    // upstreams.
    let logs = tempfile::tempdir().unwrap();
    let port = e2e::procs::free_port();
    let gateway = e2e::procs::Proc::spawn(
        "scim-gateway",
        "gateway",
        &[
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--identity-url".into(),
            "http://127.0.0.1:9".into(),
            "--auth-url".into(),
            "http://127.0.0.1:9".into(),
            "--jwt-issuer".into(),
            "http://scim.flood.test".into(),
            "--header-read-timeout-secs".into(),
            "2".into(),
        ],
        logs.path(),
    );
    let pid = gateway.pid().expect("running");
    let url = format!("http://127.0.0.1:{port}/healthz");
    let http = reqwest::Client::new();
    let up = Instant::now();
    while !http
        .get(&url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            up.elapsed() < Duration::from_secs(20),
            "the gateway never came up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(http);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (before, _) = gateway.memory_kib().expect("gateway memory");
    let fds_before = open_fds(pid);

    // The gateway's descriptors, sampled while the flood lasts.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = tokio::spawn({
        let done = done.clone();
        async move {
            let mut most = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(open_fds(pid));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            most
        }
    });

    // Every connection is opened at once and held by this client. The gateway takes
    // up to its limit, closes each after the header timeout and takes the next; the
    // kernel keeps the rest in the listen backlog or drops their handshakes, which
    // cost the gateway nothing.
    let target = format!("127.0.0.1:{port}");
    let flood: Vec<_> = (0..IDLE_FLOOD)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move {
                let connect = TcpStream::connect(&target);
                let Ok(Ok(mut conn)) = tokio::time::timeout(Duration::from_secs(20), connect).await
                else {
                    return None;
                };
                Some(closed_within(&mut conn, Duration::from_secs(25)).await)
            })
        })
        .collect();

    // Meanwhile, a well-behaved client is answered: it queues behind the flood's
    // connections, which the gateway drops at the header timeout, a limit's worth at a
    // time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut waits = Vec::new();
    for i in 0..5 {
        let started = Instant::now();
        let r = reqwest::Client::new()
            .get(&url)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} was kept out: {e}"));
        assert!(r.status().is_success(), "request {i}: {}", r.status());
        waits.push(started.elapsed());
    }

    let (mut closed, mut held, mut refused) = (0, 0, 0);
    for task in flood {
        match task.await.unwrap() {
            Some(true) => closed += 1,
            Some(false) => held += 1,
            None => refused += 1,
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let most_fds = sampler.await.unwrap();
    // Connections the clients just closed may still wait in the backlog; the gateway
    // takes and drops them within moments.
    let settle = Instant::now();
    while open_fds(pid) > fds_before + 64 && settle.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fds_after = open_fds(pid);
    let (after, peak) = gateway.memory_kib().expect("gateway memory");
    eprintln!(
        "gateway: RSS {before} KiB before, peak {peak} KiB, {after} KiB after; descriptors \
         {fds_before} before, at most {most_fds}, {fds_after} after; of {IDLE_FLOOD} \
         connections {closed} closed by the gateway, {held} never served (backlog), \
         {refused} not established; the other client waited {waits:?}"
    );

    let worst = waits.iter().max().copied().unwrap_or_default();
    assert!(
        worst < Duration::from_secs(20),
        "a request waited {worst:?} behind {IDLE_FLOOD} idle connections"
    );
    // The limit holds, and the gateway keeps turning connections over.
    assert!(
        most_fds <= fds_before + DEFAULT_MAX_CONNECTIONS + 16,
        "{most_fds} descriptors open at once (from {fds_before})"
    );
    assert!(
        closed > DEFAULT_MAX_CONNECTIONS,
        "only {closed} idle connections were taken and closed"
    );
    // Nothing the gateway accepted is left open once the clients are gone (a few
    // descriptors come and go with its own upstream connection attempts).
    assert!(
        fds_after <= fds_before + 64,
        "{fds_after} descriptors left open (from {fds_before})"
    );
    // Memory is bounded by the connection limit, not by the number of clients.
    assert!(
        peak.saturating_sub(before) < 64 * 1024,
        "the gateway grew from {before} KiB to a peak of {peak} KiB"
    );
}
