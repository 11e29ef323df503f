//! Two replicas of every service on one database (the PostgreSQL deployment; on SQLite
//! runs, processes sharing one file per service), two gateways balancing over them:
//! the replicas agree as one service would.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use e2e::replica_stack::ReplicaStack;
use reqwest::Method;
use scim_proto::auth::v1 as authpb;
use scim_proto::auth::v1::auth_service_client::AuthServiceClient;
use serde_json::{Value, json};

/// Whether `check` holds within `within`, tried every 100 ms.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn bearer<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

async fn auth_client(url: &str) -> AuthServiceClient<tonic::transport::Channel> {
    AuthServiceClient::connect(url.to_owned())
        .await
        .expect("auth replica reachable")
}

/// A provider registered through auth replica 0, and a token for it that works
/// through both gateways (the other replica learns of the provider on its reload).
async fn provider_token(stack: &ReplicaStack, name: &str) -> (String, String, String) {
    let admin = stack.operator_token().await;
    let created = auth_client(&stack.auth[0])
        .await
        .create_provider(bearer(
            authpb::CreateProviderRequest {
                name: name.into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("provider created")
        .into_inner();
    let id = created.provider.expect("provider").client_id;
    let secret = created.client_secret;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Both gateways, several times: each balances over both auth replicas.
        let mut tokens = Vec::new();
        for g in [0, 1, 0, 1] {
            let resp = stack.token(g, &id, &secret).await;
            if resp.status() == 200 {
                let v: Value = resp.json().await.unwrap();
                tokens.push(v["access_token"].as_str().unwrap().to_owned());
            }
        }
        if let (4, Some(token)) = (tokens.len(), tokens.pop()) {
            return (id, secret, token);
        }
        assert!(
            Instant::now() < deadline,
            "a new provider is usable on every auth replica within its refresh"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates an empty group through gateway 0 and returns its id.
async fn created_group(stack: &ReplicaStack, token: &str, name: &str) -> String {
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
    });
    let (status, _, group) = stack
        .scim(0, Method::POST, "/Groups", token, Some(&group), None)
        .await;
    assert_eq!(status, 201, "{group}");
    group["id"].as_str().expect("id").to_owned()
}

/// A group's member ids and its `meta.version`, read through `gateway`.
async fn group_members(
    stack: &ReplicaStack,
    gateway: usize,
    group_id: &str,
    token: &str,
) -> (BTreeSet<String>, String) {
    let (_, _, read) = stack
        .scim(
            gateway,
            Method::GET,
            &format!("/Groups/{group_id}"),
            token,
            None,
            None,
        )
        .await;
    let members = read["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["value"].as_str().expect("value").to_owned())
        .collect();
    let version = read["meta"]["version"]
        .as_str()
        .expect("version")
        .to_owned();
    (members, version)
}

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "active": true,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_gateway_writes_the_other_reads_at_once_totals_included() {
    let stack = ReplicaStack::start().await;
    let (_, _, token) = provider_token(&stack, "okta").await;
    // Each gateway lists first, so that both identity replicas have cached positions
    // and totals of the list.
    for g in 0..2 {
        for _ in 0..4 {
            let (status, _, list) = stack
                .scim(
                    g,
                    Method::GET,
                    "/Users?startIndex=1&count=10",
                    &token,
                    None,
                    None,
                )
                .await;
            assert_eq!(status, 200);
            assert_eq!(list["totalResults"], 0);
        }
    }
    let mut ids = Vec::new();
    for i in 0..6 {
        let (status, headers, created) = stack
            .scim(
                0,
                Method::POST,
                "/Users",
                &token,
                Some(&user(&format!("u{i}"))),
                None,
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        // Read through the other gateway at once, several times (either identity
        // replica may answer): the same resource, the same ETag.
        for _ in 0..4 {
            let (status, read_headers, read) = stack
                .scim(1, Method::GET, &format!("/Users/{id}"), &token, None, None)
                .await;
            assert_eq!(status, 200);
            let without_location = |mut v: Value| {
                // Each gateway names itself in `meta.location`.
                v["meta"].as_object_mut().unwrap().remove("location");
                v
            };
            assert_eq!(without_location(read), without_location(created.clone()));
            assert_eq!(read_headers["etag"], headers["etag"]);
        }
        ids.push(id);
    }
    for g in 0..2 {
        for _ in 0..4 {
            let (_, _, list) = stack
                .scim(
                    g,
                    Method::GET,
                    "/Users?startIndex=1&count=10",
                    &token,
                    None,
                    None,
                )
                .await;
            assert_eq!(list["totalResults"], 6, "gateway {g}: {list}");
            let listed: Vec<&str> = list["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap())
                .collect();
            assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
    // A second create of a taken userName is refused, whichever replica takes it.
    let (status, _, error) = stack
        .scim(1, Method::POST, "/Users", &token, Some(&user("U0")), None)
        .await;
    assert_eq!(status, 409, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_membership_changes_over_both_replicas_lose_nothing() {
    let stack = ReplicaStack::start().await;
    let (_, _, token) = provider_token(&stack, "okta").await;
    let group_id = created_group(&stack, &token, "Everyone").await;
    let mut ids = Vec::new();
    for i in 0..16 {
        let (status, _, u) = stack
            .scim(
                i % 2,
                Method::POST,
                "/Users",
                &token,
                Some(&user(&format!("m{i}"))),
                None,
            )
            .await;
        assert_eq!(status, 201);
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    let stack = std::sync::Arc::new(stack);
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let stack = stack.clone();
            let (token, group_id, id) = (token.clone(), group_id.clone(), id.clone());
            tokio::spawn(async move {
                let patch = json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}],
                });
                stack
                    .scim(
                        i % 2,
                        Method::PATCH,
                        &format!("/Groups/{group_id}"),
                        &token,
                        Some(&patch),
                        None,
                    )
                    .await
                    .0
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        let status = t.unwrap();
        assert!(status == 204 || status == 200, "{status}");
    }
    for g in 0..2 {
        let (members, version) = group_members(&stack, g, &group_id, &token).await;
        let members: BTreeSet<&str> = members.iter().map(String::as_str).collect();
        assert_eq!(
            members,
            ids.iter().map(String::as_str).collect::<BTreeSet<_>>()
        );
        assert_eq!(version, "W/\"17\"", "one version per change");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etag_conflict_is_detected_across_replicas() {
    let stack = ReplicaStack::start().await;
    let (_, _, token) = provider_token(&stack, "okta").await;
    let (_, headers, created) = stack
        .scim(0, Method::POST, "/Users", &token, Some(&user("etag")), None)
        .await;
    let id = created["id"].as_str().unwrap();
    let first = headers["etag"].to_str().unwrap().to_owned();
    let patch = |title: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": title}],
        })
    };
    let (status, headers, _) = stack
        .scim(
            1,
            Method::PATCH,
            &format!("/Users/{id}"),
            &token,
            Some(&patch("a")),
            Some(&first),
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(headers["etag"].to_str().unwrap(), first);
    // The stale ETag through the other gateway, whichever replica answers.
    for g in [0, 1, 0, 1] {
        let (status, _, error) = stack
            .scim(
                g,
                Method::PATCH,
                &format!("/Users/{id}"),
                &token,
                Some(&patch("b")),
                Some(&first),
            )
            .await;
        assert_eq!(status, 412, "{error}");
    }
    let (_, _, read) = stack
        .scim(0, Method::GET, &format!("/Users/{id}"), &token, None, None)
        .await;
    assert_eq!(read["title"], "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_through_one_auth_replica_is_refused_by_both_gateways_within_seconds() {
    let stack = ReplicaStack::start().await;
    let (id, secret, token) = provider_token(&stack, "okta").await;
    for g in 0..2 {
        let (status, _, _) = stack
            .scim(g, Method::GET, "/Users", &token, None, None)
            .await;
        assert_eq!(status, 200);
    }
    auth_client(&stack.auth[1])
        .await
        .revoke(authpb::RevokeRequest {
            token: token.clone(),
            jti: String::new(),
            client_id: id,
            client_secret: secret,
        })
        .await
        .expect("revoked");
    let started = Instant::now();
    for g in 0..2 {
        let refused = eventually(Duration::from_secs(5), || async {
            stack
                .scim(g, Method::GET, "/Users", &token, None, None)
                .await
                .0
                == 401
        })
        .await;
        assert!(refused, "gateway {g} still accepts the revoked token");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_is_bootstrapped_once_and_lockouts_count_across_replicas() {
    let stack = ReplicaStack::start().await;
    let admin = stack.operator_token().await;
    for url in &stack.auth {
        let listed = auth_client(url)
            .await
            .list_providers(bearer(authpb::ListProvidersRequest {}, &admin))
            .await
            .unwrap()
            .into_inner();
        let operators = listed
            .providers
            .iter()
            .filter(|p| p.name == "operator")
            .count();
        assert_eq!(
            operators, 1,
            "two replicas given the bootstrap file, one operator"
        );
    }

    let (id, secret, _) = provider_token(&stack, "okta").await;
    // Five wrong secrets spread over both gateways (and so over both auth replicas)
    // lock the client id everywhere: the right secret is refused through either.
    for i in 0..5 {
        let resp = stack.token(i % 2, &id, "not-the-secret").await;
        assert_eq!(resp.status(), 401, "failure {i}");
    }
    for g in 0..2 {
        let resp = stack.token(g, &id, &secret).await;
        assert_eq!(
            resp.status(),
            429,
            "gateway {g} lets guesses through after a lockout"
        );
        assert!(resp.headers().contains_key("retry-after"));
    }
    // The lockout ends by itself.
    let unlocked = eventually(Duration::from_secs(5), || async {
        stack.token(1, &id, &secret).await.status() == 200
    })
    .await;
    assert!(unlocked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_changes_and_key_rotation_through_one_replica_reach_every_replica() {
    let stack = ReplicaStack::start().await;
    let admin = stack.operator_token().await;
    let (id, secret, _) = provider_token(&stack, "entra").await;

    let rotated = auth_client(&stack.auth[0])
        .await
        .rotate_signing_key(bearer(authpb::RotateSigningKeyRequest {}, &admin))
        .await
        .expect("rotated")
        .into_inner();
    // Within the refresh, tokens of either replica carry the new key, and both
    // gateways accept them.
    let new_kid = rotated.current_kid.clone();
    let caught_up = eventually(Duration::from_secs(10), || async {
        for g in [0, 1, 0, 1] {
            let resp = stack.token(g, &id, &secret).await;
            if resp.status() != 200 {
                return false;
            }
            let token = resp.json::<Value>().await.unwrap()["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let header = token.split('.').next().unwrap();
            let header: Value = serde_json::from_slice(
                &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                    .unwrap(),
            )
            .unwrap();
            if header["kid"] != new_kid.as_str() {
                return false;
            }
            for gw in 0..2 {
                if stack
                    .scim(gw, Method::GET, "/Users", &token, None, None)
                    .await
                    .0
                    != 200
                {
                    return false;
                }
            }
        }
        true
    })
    .await;
    assert!(
        caught_up,
        "a rotated key signs and verifies on every replica"
    );

    auth_client(&stack.auth[1])
        .await
        .disable_provider(bearer(
            authpb::DisableProviderRequest {
                client_id: id.clone(),
            },
            &admin,
        ))
        .await
        .expect("disabled");
    let refused_everywhere = eventually(Duration::from_secs(10), || async {
        for g in [0, 1, 0, 1] {
            if stack.token(g, &id, &secret).await.status() != 401 {
                return false;
            }
        }
        true
    })
    .await;
    assert!(refused_everywhere, "a disabled provider mints nowhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_identity_replica_under_write_load_loses_no_acknowledged_write() {
    let mut stack = ReplicaStack::start().await;
    let (_, _, token) = provider_token(&stack, "okta").await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let http = stack.http.clone();
            let gateway = stack.gateways[w % 2].clone();
            let token = token.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut refused = Vec::new();
                let until = Instant::now() + Duration::from_secs(4);
                let mut i = 0;
                while Instant::now() < until {
                    i += 1;
                    let resp = http
                        .post(format!("{gateway}/scim/v2/Users"))
                        .bearer_auth(&token)
                        .header("content-type", "application/scim+json")
                        .timeout(Duration::from_secs(10))
                        .body(user(&format!("w{w}-{i}")).to_string())
                        .send()
                        .await;
                    match resp {
                        Ok(r) if r.status() == 201 => {
                            let v: Value = r.json().await.unwrap();
                            acknowledged.push(v["id"].as_str().unwrap().to_owned());
                        }
                        Ok(r) => refused.push((Instant::now(), r.status().as_u16())),
                        Err(_) => refused.push((Instant::now(), 0)),
                    }
                    // An IdP's pace, not a tight loop.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (acknowledged, refused)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let killed = Instant::now();
    stack.identity_procs[0].kill();
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    for w in futures::future::join_all(writers).await {
        let (a, r) = w.unwrap();
        acknowledged.extend(a);
        refused.extend(r);
    }
    assert!(
        acknowledged.len() > 20,
        "the load ran: {}",
        acknowledged.len()
    );
    // Only requests around the kill fail, as unavailable (503, retry), and within two
    // seconds the gateways route around the dead replica.
    let statuses: Vec<u16> = refused.iter().map(|(_, s)| *s).collect();
    assert!(
        statuses.iter().all(|s| *s == 503),
        "failures other than 503: {statuses:?}"
    );
    for (at, _) in &refused {
        assert!(*at >= killed, "a request failed before the kill");
        assert!(
            at.duration_since(killed) < Duration::from_secs(2),
            "still failing {:?} after the kill",
            at.duration_since(killed)
        );
    }
    // The gateways serve through the survivor...
    for g in 0..2 {
        let (status, _, body) = stack
            .scim(
                g,
                Method::POST,
                "/Users",
                &token,
                Some(&user(&format!("after-{g}"))),
                None,
            )
            .await;
        assert_eq!(status, 201, "gateway {g} after the kill: {body}");
    }
    // ...and every acknowledged write is there.
    for id in &acknowledged {
        let (status, _, _) = stack
            .scim(1, Method::GET, &format!("/Users/{id}"), &token, None, None)
            .await;
        assert_eq!(status, 200, "acknowledged user {id} lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_writers_adding_and_removing_on_one_group_end_with_exactly_the_expected_members() {
    let stack = ReplicaStack::start().await;
    let (_, _, token) = provider_token(&stack, "okta").await;
    let group_id = created_group(&stack, &token, "Churn").await;
    // Each writer owns two users, `a` and `b`, and changes only them.
    let mut owned = Vec::new();
    for i in 0..16 {
        let mut pair = Vec::new();
        for side in ["a", "b"] {
            let (status, _, u) = stack
                .scim(
                    i % 2,
                    Method::POST,
                    "/Users",
                    &token,
                    Some(&user(&format!("churn-{side}{i}"))),
                    None,
                )
                .await;
            assert_eq!(status, 201);
            pair.push(u["id"].as_str().unwrap().to_owned());
        }
        owned.push((pair[0].clone(), pair[1].clone()));
    }
    let stack = std::sync::Arc::new(stack);
    let tasks: Vec<_> = owned
        .iter()
        .enumerate()
        .map(|(i, (a, b))| {
            let stack = stack.clone();
            let (token, group_id) = (token.clone(), group_id.clone());
            // Add a, add b, remove a, add a again; even writers then remove b.
            let mut steps = vec![
                ("add", a.clone()),
                ("add", b.clone()),
                ("remove", a.clone()),
            ];
            steps.push(("add", a.clone()));
            if i % 2 == 0 {
                steps.push(("remove", b.clone()));
            }
            tokio::spawn(async move {
                for (op, id) in &steps {
                    let operation = if *op == "add" {
                        json!({"op": "add", "path": "members", "value": [{"value": id}]})
                    } else {
                        json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")})
                    };
                    let patch = json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [operation],
                    });
                    let (status, _, v) = stack
                        .scim(
                            i % 2,
                            Method::PATCH,
                            &format!("/Groups/{group_id}"),
                            &token,
                            Some(&patch),
                            None,
                        )
                        .await;
                    assert!(status == 204 || status == 200, "{op}: {status} {v}");
                }
                steps.len()
            })
        })
        .collect();
    let mut changes = 0;
    for t in futures::future::join_all(tasks).await {
        changes += t.unwrap();
    }
    let expected: BTreeSet<&str> = owned
        .iter()
        .enumerate()
        .flat_map(|(i, (a, b))| {
            let mut kept = vec![a.as_str()];
            if i % 2 == 1 {
                kept.push(b.as_str());
            }
            kept
        })
        .collect();
    for g in 0..2 {
        let (members, version) = group_members(&stack, g, &group_id, &token).await;
        let members: BTreeSet<&str> = members.iter().map(String::as_str).collect();
        assert_eq!(members, expected, "gateway {g}");
        assert_eq!(
            version,
            format!("W/\"{}\"", changes + 1),
            "one version per change"
        );
    }
}
