//! Faults of real processes under the gateways: a service frozen (SIGSTOP) and thawed,
//! killed (SIGKILL) and started again, while requests keep coming. Every test is bounded
//! in time; what a client may see while a service is away is a SCIM 503 (or OAuth
//! `temporarily_unavailable`) with `Retry-After`, and recovery needs no gateway restart.

use std::time::{Duration, Instant};

use e2e::replica_stack::ReplicaStack;
use e2e::whole_stack::WholeStack;
use reqwest::{Method, StatusCode};
use scim_gateway::upstream::READ_DEADLINE;
use serde_json::{Value, json};

/// How much later than its deadline a refused request may answer on a loaded machine.
const SLACK: Duration = Duration::from_secs(3);

fn user(name: &str) -> Value {
    json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":name})
}

/// Creates a user through gateway 0 and returns its id.
async fn created(stack: &ReplicaStack, token: &str, name: &str) -> String {
    let (status, _, v) = stack
        .scim(0, Method::POST, "/Users", token, Some(&user(name)), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["id"].as_str().expect("id").to_owned()
}

/// Asks `GET path` through `gateway` until it answers 200, at most `within`; panics on
/// any answer but 200 or 503 with `Retry-After`.
async fn until_ok(stack: &ReplicaStack, gateway: usize, token: &str, path: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (status, headers, v) = stack
            .scim(gateway, Method::GET, path, token, None, None)
            .await;
        if status == StatusCode::OK {
            return;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert!(
            headers.contains_key("retry-after"),
            "503 without Retry-After"
        );
        assert!(Instant::now() < deadline, "no recovery within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_directory_answers_503_within_the_deadline_and_recovers_after_sigcont() {
    let stack = ReplicaStack::start().await;
    let token = stack.operator_token().await;
    let id = created(&stack, &token, "frozen").await;
    let path = format!("/Users/{id}");

    for p in &stack.identity_procs {
        p.signal("STOP");
    }
    for gateway in [0, 1] {
        let started = Instant::now();
        let (status, headers, v) = stack
            .scim(gateway, Method::GET, &path, &token, None, None)
            .await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert!(headers.contains_key("retry-after"));
        assert!(
            took < READ_DEADLINE + SLACK,
            "gateway {gateway} answered after {took:?}"
        );
    }
    for p in &stack.identity_procs {
        p.signal("CONT");
    }
    for gateway in [0, 1] {
        until_ok(&stack, gateway, &token, &path, Duration::from_secs(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_frozen_replica_is_routed_around() {
    let stack = ReplicaStack::start().await;
    let token = stack.operator_token().await;
    let id = created(&stack, &token, "around").await;
    let path = format!("/Users/{id}");

    stack.identity_procs[0].signal("STOP");
    // The health checker notices within its probe timeout; from then on every read
    // goes to the other replica. Until then a read may wait out its deadline.
    let frozen_at = Instant::now();
    let mut served_late = 0;
    while frozen_at.elapsed() < Duration::from_secs(6) {
        let started = Instant::now();
        let (status, _, v) = stack.scim(0, Method::GET, &path, &token, None, None).await;
        let took = started.elapsed();
        assert!(took < READ_DEADLINE + SLACK, "a read took {took:?}");
        if frozen_at.elapsed() > Duration::from_secs(3) {
            assert_eq!(status, StatusCode::OK, "still failing after 3 s: {v}");
            served_late += 1;
        } else {
            assert!(
                status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
                "{status}: {v}"
            );
        }
    }
    assert!(served_late > 10, "{served_late} reads after the switch");
    stack.identity_procs[0].signal("CONT");
    stack.wait_until_all_up(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_killed_and_started_again_is_back_without_a_gateway_restart() {
    let mut stack = ReplicaStack::start().await;
    let token = stack.operator_token().await;
    let id = created(&stack, &token, "restarted").await;
    let path = format!("/Users/{id}");

    for p in &mut stack.identity_procs {
        p.kill();
    }
    // While it is away: 503 with Retry-After, reads and writes alike, and fast.
    for (method, body) in [
        (Method::GET, None),
        (Method::POST, Some(user("while-down"))),
    ] {
        let started = Instant::now();
        let target = if method == Method::GET {
            path.as_str()
        } else {
            "/Users"
        };
        let (status, headers, v) = stack
            .scim(0, method.clone(), target, &token, body.as_ref(), None)
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method}: {v}");
        assert!(headers.contains_key("retry-after"), "{method}");
        assert!(
            started.elapsed() < SLACK,
            "{method} took {:?}",
            started.elapsed()
        );
    }
    for p in &mut stack.identity_procs {
        p.restart();
    }
    // The same token, the same gateways: back within seconds, the user still there.
    for gateway in [0, 1] {
        until_ok(&stack, gateway, &token, &path, Duration::from_secs(15)).await;
    }
    created(&stack, &token, "after-restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_token_service_down_issued_tokens_keep_working_and_new_ones_wait() {
    let mut stack = ReplicaStack::start().await;
    let token = stack.operator_token().await;
    let (client_id, secret) = stack.operator();
    let id = created(&stack, &token, "tokens").await;
    let path = format!("/Users/{id}");

    // Every replica fetches the keys within 100 ms of reaching the auth-service, whether
    // or not it has met a token yet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for p in &mut stack.auth_procs {
        p.kill();
    }
    // Tokens are verified with the keys the gateways and identity-services hold.
    for i in 0..8 {
        let (status, _, v) = stack
            .scim(i % 2, Method::GET, &path, &token, None, None)
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "an issued token stopped working: {v}"
        );
    }
    let started = Instant::now();
    let r = stack.token(0, &client_id, &secret).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    assert!(started.elapsed() < SLACK, "took {:?}", started.elapsed());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "temporarily_unavailable", "{v}");

    for p in &mut stack.auth_procs {
        p.restart();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = stack.token(0, &client_id, &secret).await;
        if r.status() == StatusCode::OK {
            break;
        }
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            Instant::now() < deadline,
            "the token endpoint did not come back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _, _) = stack.scim(1, Method::GET, &path, &token, None, None).await;
    assert_eq!(status, StatusCode::OK);
}

/// `scimctl up` on `db`'s directory (and on its PostgreSQL database when the run uses
/// one), serving on `port`.
async fn whole_stack(db: &scim_storage::testing::TestDatabase, port: u16) -> WholeStack {
    let url = (db.backend() == scim_storage::Backend::Postgres).then(|| db.url());
    WholeStack::start(db.dir(), url, port, db.dir()).await
}

/// The version an ETag (`W/"n"`) names.
fn version_of(headers: &reqwest::header::HeaderMap) -> u64 {
    headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(|e| e.trim_start_matches("W/").trim_matches('"').to_owned())
        .and_then(|v| v.parse().ok())
        .expect("an ETag with a version")
}

/// What the stack acknowledged about one user.
#[derive(Debug, Clone)]
struct Acked {
    id: String,
    version: u64,
    deactivated: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_whole_stack_under_write_load_loses_no_acknowledged_write() {
    let db = scim_storage::testing::TestDatabase::new("unused.db");
    let port = e2e::procs::free_port();
    let ledger = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        String,
        Acked,
    >::new()));
    for round in 0..3 {
        let mut stack = whole_stack(&db, port).await;
        let base = stack.base();
        let token = stack.operator_token().await;
        let writers: Vec<_> = (0..6)
            .map(|w| {
                let (ledger, token, base) = (ledger.clone(), token.clone(), base.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    for n in 0.. {
                        let name = format!("r{round}-w{w}-{n}");
                        let Ok(r) = http
                            .post(format!("{base}/Users"))
                            .bearer_auth(&token)
                            .header("content-type", "application/scim+json")
                            .body(user(&name).to_string())
                            .send()
                            .await
                        else {
                            return;
                        };
                        if r.status() != StatusCode::CREATED {
                            return;
                        }
                        let version = version_of(r.headers());
                        let Ok(v) = r.json::<Value>().await else {
                            return;
                        };
                        let id = v["id"].as_str().unwrap().to_owned();
                        ledger.lock().unwrap().insert(
                            name.clone(),
                            Acked {
                                id: id.clone(),
                                version,
                                deactivated: false,
                            },
                        );
                        let patch = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations":[{"op":"replace","path":"active","value":false}]});
                        let Ok(r) = http
                            .patch(format!("{base}/Users/{id}"))
                            .bearer_auth(&token)
                            .header("content-type", "application/scim+json")
                            .body(patch.to_string())
                            .send()
                            .await
                        else {
                            return;
                        };
                        if r.status() != StatusCode::OK {
                            return;
                        }
                        let version = version_of(r.headers());
                        ledger.lock().unwrap().insert(
                            name,
                            Acked {
                                id,
                                version,
                                deactivated: true,
                            },
                        );
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        stack.proc.kill();
        for w in writers {
            tokio::time::timeout(Duration::from_secs(30), w)
                .await
                .expect("a writer hung after the kill")
                .unwrap();
        }
        drop(stack);

        // Started again on the same data: everything acknowledged is there.
        let stack = whole_stack(&db, port).await;
        let token = stack.operator_token().await;
        let http = reqwest::Client::new();
        let acked = ledger.lock().unwrap().clone();
        assert!(
            acked.len() > 10,
            "round {round}: only {} writes",
            acked.len()
        );
        for (name, a) in &acked {
            let r = http
                .get(format!("{base}/Users/{}", a.id))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "round {round}: {name} lost");
            let version = version_of(r.headers());
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["userName"], name.as_str());
            assert!(version >= a.version, "{name}: version went back");
            if a.deactivated {
                assert_eq!(v["active"], false, "{name}: an acknowledged PATCH was lost");
            }
        }
        // Uniqueness still holds for every name written.
        let (name, _) = acked.iter().next().unwrap();
        let r = http
            .post(format!("{base}/Users"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(user(name).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT, "{name} created twice");
    }
}

/// What one request of the background load got.
#[derive(Debug, Clone)]
struct Outcome {
    at: Instant,
    what: &'static str,
    status: StatusCode,
    retry_after: bool,
    body: String,
}

/// Eight clients through both gateways, each in turn reading a user, creating one (named
/// after `phase`) and asking for a token, until `stop` is set.
fn background_load(
    phase: &'static str,
    stack: &ReplicaStack,
    token: &str,
    user_path: &str,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    let (client_id, secret) = stack.operator();
    (0..8)
        .map(|c| {
            let gateway = stack.gateways[c % 2].clone();
            let (token, user_path, stop) = (token.to_owned(), user_path.to_owned(), stop.clone());
            let (client_id, secret) = (client_id.clone(), secret.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut seen = Vec::new();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let (what, request) = match n % 3 {
                        0 => (
                            "read",
                            http.get(format!("{gateway}/scim/v2{user_path}"))
                                .bearer_auth(&token),
                        ),
                        1 => (
                            "create",
                            http.post(format!("{gateway}/scim/v2/Users"))
                                .bearer_auth(&token)
                                .header("content-type", "application/scim+json")
                                .body(user(&format!("load-{phase}-{c}-{n}")).to_string()),
                        ),
                        _ => (
                            "token",
                            http.post(format!("{gateway}/oauth2/token")).form(&[
                                ("grant_type", "client_credentials"),
                                ("client_id", client_id.as_str()),
                                ("client_secret", secret.as_str()),
                            ]),
                        ),
                    };
                    let Ok(r) = request.timeout(Duration::from_secs(20)).send().await else {
                        seen.push(Outcome {
                            at: Instant::now(),
                            what,
                            status: StatusCode::IM_A_TEAPOT,
                            retry_after: false,
                            body: "no answer from the gateway".into(),
                        });
                        continue;
                    };
                    let status = r.status();
                    let retry_after = r.headers().contains_key("retry-after");
                    let body = r.text().await.unwrap_or_default();
                    seen.push(Outcome {
                        at: Instant::now(),
                        what,
                        status,
                        retry_after,
                        body,
                    });
                    if !status.is_success() {
                        // A client backs off a little when told to retry.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                seen
            })
        })
        .collect()
}

/// Every outcome is a success or the documented refusal of a service that is away:
/// SCIM 503 with `Retry-After` and a SCIM error body, or OAuth 503
/// `temporarily_unavailable` with `Retry-After`.
fn only_documented_refusals(outcomes: &[Outcome]) {
    for o in outcomes {
        if o.status.is_success() {
            continue;
        }
        assert_eq!(
            o.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{} answered {}: {}",
            o.what,
            o.status,
            o.body
        );
        assert!(o.retry_after, "{}: 503 without Retry-After", o.what);
        let v: Value = serde_json::from_str(&o.body).unwrap_or(Value::Null);
        if o.what == "token" {
            assert_eq!(v["error"], "temporarily_unavailable", "{}", o.body);
        } else {
            assert_eq!(v["status"], "503", "not a SCIM error: {}", o.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_killed_and_restarted_under_load_give_only_503s_and_recover() {
    let mut stack = ReplicaStack::start().await;
    let token = stack.operator_token().await;
    let id = created(&stack, &token, "under-load").await;
    let user_path = format!("/Users/{id}");
    // Every replica holds the keys before anything is killed.
    tokio::time::sleep(Duration::from_millis(500)).await;

    for service in ["identity", "auth"] {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let load = background_load(service, &stack, &token, &user_path, &stop);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let procs = match service {
            "identity" => &mut stack.identity_procs,
            _ => &mut stack.auth_procs,
        };
        let killed = Instant::now();
        for p in procs.iter_mut() {
            p.kill();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let restarted = Instant::now();
        for p in procs.iter_mut() {
            p.restart();
        }
        stack.wait_until_all_up(Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut outcomes = Vec::new();
        for task in load {
            outcomes.extend(task.await.unwrap());
        }

        only_documented_refusals(&outcomes);
        let of = |what: &str, from: Instant, to: Instant| -> Vec<&Outcome> {
            outcomes
                .iter()
                .filter(|o| o.what == what && o.at > from && o.at < to)
                .collect()
        };
        // While the service was away, what needs it was refused, and what does not
        // need it kept working: tokens while the directory is down, reads and writes
        // with an issued token while the token service is down.
        let away = of(
            if service == "identity" {
                "read"
            } else {
                "token"
            },
            killed + Duration::from_millis(300),
            restarted,
        );
        assert!(
            away.iter()
                .any(|o| o.status == StatusCode::SERVICE_UNAVAILABLE),
            "{service} down: nothing was refused"
        );
        let independent = of(
            if service == "identity" {
                "token"
            } else {
                "read"
            },
            killed,
            restarted,
        );
        assert!(
            !independent.is_empty() && independent.iter().all(|o| o.status.is_success()),
            "{service} down: what does not need it failed too"
        );
        // Recovery within seconds of the restart, with no gateway restarted.
        let recovered = outcomes
            .iter()
            .filter(|o| o.at > restarted && o.status.is_success())
            .filter(|o| {
                o.what
                    == if service == "identity" {
                        "create"
                    } else {
                        "token"
                    }
            })
            .map(|o| o.at - restarted)
            .min()
            .unwrap_or_else(|| panic!("{service}: nothing succeeded after the restart"));
        assert!(
            recovered < Duration::from_secs(15),
            "{service}: back only after {recovered:?}"
        );
        let refused = outcomes.iter().filter(|o| !o.status.is_success()).count();
        eprintln!(
            "{service} killed for 2 s under load: {} requests, {refused} refused with 503, \
             first success {recovered:?} after the restart",
            outcomes.len()
        );
    }
}
