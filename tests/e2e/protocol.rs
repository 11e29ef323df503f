//! RFC 7644 protocol details: lists, ETags, errors, media types, bounds, back-pressure.

use e2e::TestStack;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(name: &str) -> Value {
    json!({"schemas":[USER],"userName":name,"emails":[{"value":format!("{name}@example.com"),"type":"work","primary":true}]})
}

async fn seed(stack: &TestStack, token: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (status, _, v) = stack
            .scim(
                Method::POST,
                "/Users",
                token,
                Some(&user(&format!("u{i:02}"))),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parameters_follow_rfc_7644() {
    let stack = TestStack::spawn_with(|c| c.max_page_size = 5).await;
    let token = stack.tenant_token("default").await;
    seed(&stack, &token, 7).await;
    let get = |q: &'static str| {
        let stack = &stack;
        let token = token.clone();
        async move { stack.scim(Method::GET, q, &token, None).await }
    };
    // startIndex < 1 is 1; count above the maximum is capped.
    let (_, _, v) = get("/Users?startIndex=0&count=100").await;
    assert_eq!(
        (
            v["startIndex"].clone(),
            v["itemsPerPage"].clone(),
            v["totalResults"].clone()
        ),
        (json!(1), json!(5), json!(7))
    );
    // count=0 gives totals only; negative count is 0.
    for q in ["/Users?count=0", "/Users?count=-1"] {
        let (_, _, v) = get(q).await;
        assert_eq!(v["totalResults"], 7);
        assert_eq!(v["itemsPerPage"], 0);
        assert_eq!(v["Resources"], json!([]));
    }
    // Beyond the end: empty page, total unchanged.
    let (status, _, v) = get("/Users?startIndex=50&count=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["Resources"], json!([]));
    assert_eq!(v["totalResults"], 7);
    // Non-integers are refused; unknown parameters ignored; names case-insensitive.
    let (status, _, v) = get("/Users?count=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["scimType"], "invalidValue");
    let (status, _, v) = get("/Users?STARTINDEX=2&Count=2&whatever=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["startIndex"], 2);
    assert_eq!(v["itemsPerPage"], 2);
    // Attribute projection.
    let (_, _, v) = get("/Users?attributes=userName&count=1").await;
    let keys: Vec<&String> = v["Resources"][0].as_object().unwrap().keys().collect();
    assert!(keys.contains(&&"userName".to_string()) && keys.contains(&&"id".to_string()));
    assert!(!keys.contains(&&"emails".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_post_on_users_and_root() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    seed(&stack, &token, 3).await;
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter":"userName sw \"u0\"","startIndex":1,"count":10,"attributes":["userName"]});
    for path in ["/Users/.search", "/.search"] {
        let (status, _, v) = stack.scim(Method::POST, path, &token, Some(&body)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
        assert_eq!(v["totalResults"], 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_and_preconditions() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (_, headers, created) = stack
        .scim(Method::POST, "/Users", &token, Some(&user("etag")))
        .await;
    let id = created["id"].as_str().unwrap();
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, "W/\"1\"");
    assert_eq!(created["meta"]["version"], etag.as_str());
    // If-None-Match → 304.
    let r = stack
        .http
        .get(format!("{}/Users/{id}", stack.scim))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // A PATCH bumps the version; the old ETag is then stale for PUT, PATCH and DELETE.
    let body =
        json!({"schemas":[PATCH],"Operations":[{"op":"replace","path":"title","value":"x"}]});
    let r = stack
        .http
        .patch(format!("{}/Users/{id}", stack.scim))
        .bearer_auth(&token)
        .header("if-match", &etag)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    for method in [Method::PATCH, Method::PUT, Method::DELETE] {
        let mut req = stack
            .http
            .request(method.clone(), format!("{}/Users/{id}", stack.scim))
            .bearer_auth(&token)
            .header("if-match", &etag);
        if method != Method::DELETE {
            req = req.json(&if method == Method::PUT {
                user("etag")
            } else {
                body.clone()
            });
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED, "{method}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], "412");
    }
    // The same PATCH again changes nothing: the version stays, with or without If-Match.
    for if_match in [None, Some("W/\"2\"")] {
        let mut req = stack
            .http
            .patch(format!("{}/Users/{id}", stack.scim))
            .bearer_auth(&token)
            .json(&body);
        if let Some(v) = if_match {
            req = req.header("if-match", v);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["etag"], "W/\"2\"");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["title"], "x");
        assert_eq!(v["userName"], "etag", "a PATCH of title leaves the rest");
    }
    // A PATCH of a user that does not exist is a 404, not a create.
    let r = stack
        .http
        .patch(format!("{}/Users/no-such-user", stack.scim))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_a_scim_error_body() {
    let stack = TestStack::spawn_with(|c| c.max_body_bytes = 4096).await;
    let token = stack.tenant_token("default").await;
    let ids = seed(&stack, &token, 1).await;
    let patch_path = format!("/Users/{}", ids[0]);
    let raw = |method: Method, path: &str, ct: Option<&str>, body: Vec<u8>| {
        let mut req = stack
            .http
            .request(method, format!("{}{path}", stack.scim))
            .bearer_auth(&token);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.body(body).send()
    };
    let cases: Vec<(reqwest::Response, u16, Option<&str>)> = vec![
        (raw(Method::POST, "/Users", Some("application/json"), b"{not json".to_vec()).await.unwrap(), 400, Some("invalidSyntax")),
        (raw(Method::POST, "/Users", Some("text/plain"), b"{}".to_vec()).await.unwrap(), 415, None),
        (raw(Method::POST, "/Users", Some("application/json"), vec![b' '; 10_000]).await.unwrap(), 413, None),
        (raw(Method::POST, "/Users", Some("application/json"), serde_json::to_vec(&user("u00")).unwrap()).await.unwrap(), 409, Some("uniqueness")),
        (raw(Method::GET, "/Users/010101001010101011001010101011", None, vec![]).await.unwrap(), 404, None),
        (raw(Method::GET, "/Users/00919288221112222", None, vec![]).await.unwrap(), 404, None),
        (raw(Method::GET, "/Nope", None, vec![]).await.unwrap(), 404, None),
        // Rejected before any handler runs: an id that is not UTF-8 once decoded, a
        // query string that does not decode, a method the route lacks.
        (raw(Method::GET, "/Users/%FF%FE", None, vec![]).await.unwrap(), 404, None),
        (raw(Method::DELETE, "/Groups/%C3%28", None, vec![]).await.unwrap(), 404, None),
        (raw(Method::GET, "/Schemas/%FF", None, vec![]).await.unwrap(), 404, None),
        (raw(Method::GET, "/Users?filter=%FF%FE", None, vec![]).await.unwrap(), 400, None),
        (raw(Method::GET, "/Users?startIndex=%zz", None, vec![]).await.unwrap(), 400, None),
        (raw(Method::PUT, "/Users", Some("application/json"), b"{}".to_vec()).await.unwrap(), 405, None),
        (raw(Method::POST, &patch_path, Some("application/json"), b"{}".to_vec()).await.unwrap(), 405, None),
        (raw(Method::DELETE, "/Schemas", None, vec![]).await.unwrap(), 405, None),
        (raw(Method::POST, "/ServiceProviderConfig", Some("application/json"), b"{}".to_vec()).await.unwrap(), 405, None),
        (raw(Method::POST, "/Bulk", Some("application/json"), b"{}".to_vec()).await.unwrap(), 400, Some("invalidSyntax")),
        (raw(Method::GET, "/Bulk", None, vec![]).await.unwrap(), 405, None),
        (raw(Method::GET, "/Users?filter=userName%20zz%20%22x%22", None, vec![]).await.unwrap(), 400, Some("invalidFilter")),
        (raw(Method::GET, &format!("/Users?filter={}", "userName%20eq%20%22x%22%20or%20".repeat(200) + "id%20pr"), None, vec![]).await.unwrap(), 400, Some("invalidFilter")),
        (raw(Method::PATCH, &patch_path, Some("application/json"), br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove"}]}"#.to_vec()).await.unwrap(), 400, Some("noTarget")),
    ];
    for (resp, status, scim_type) in cases {
        assert_eq!(resp.status().as_u16(), status, "{:?}", resp.url().path());
        assert_eq!(
            resp.headers()["content-type"],
            "application/scim+json",
            "{status}"
        );
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            v["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        assert_eq!(v["status"], status.to_string());
        assert!(!v["detail"].as_str().unwrap_or_default().is_empty());
        if let Some(t) = scim_type {
            assert_eq!(v["scimType"], t, "{status}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_types_trailing_slashes_and_bodiless_content_types() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    for ct in [
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "application/json",
        "application/json;charset=UTF-8",
    ] {
        let r = stack
            .http
            .post(format!("{}/Users/", stack.scim))
            .bearer_auth(&token)
            .header("content-type", ct)
            .body(serde_json::to_vec(&user(&format!("ct-{}", ct.len()))).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{ct}");
        assert_eq!(r.headers()["content-type"], "application/scim+json");
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // A DELETE with a Content-Type and no body (Okta) is fine.
        let r = stack
            .http
            .delete(format!("{}/Users/{id}", stack.scim))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json; charset=utf-8")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_is_all_or_nothing() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (_, _, created) = stack
        .scim(Method::POST, "/Users", &token, Some(&user("atomic")))
        .await;
    let id = created["id"].as_str().unwrap();
    let body = json!({"schemas":[PATCH],"Operations":[
        {"op":"replace","path":"title","value":"changed"},
        {"op":"replace","path":"noSuchAttribute","value":"x"}]});
    let (status, _, v) = stack
        .scim(Method::PATCH, &format!("/Users/{id}"), &token, Some(&body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["scimType"], "invalidPath");
    let (_, _, after) = stack
        .scim(Method::GET, &format!("/Users/{id}"), &token, None)
        .await;
    assert!(
        after.get("title").is_none(),
        "first operation was not applied"
    );
    assert_eq!(after["meta"]["version"], "W/\"1\"");

    // Refused by identity-service, inside its transaction, not by the gateway: a value
    // filter with nothing to create a value from matches nothing. The IdP still gets
    // the SCIM type, and the first operation is still not applied.
    let body = json!({"schemas":[PATCH],"Operations":[
        {"op":"replace","path":"title","value":"changed"},
        {"op":"replace","path":"emails[not (type eq \"work\")].display","value":"x"}]});
    let (status, _, v) = stack
        .scim(Method::PATCH, &format!("/Users/{id}"), &token, Some(&body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["scimType"], "noTarget", "{v}");
    let (_, _, after) = stack
        .scim(Method::GET, &format!("/Users/{id}"), &token, None)
        .await;
    assert!(after.get("title").is_none());
    assert_eq!(after["meta"]["version"], "W/\"1\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_the_directory_refuses_is_invalid_filter_on_the_wire() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    // The catalogue knows `meta.location`, so the gateway's parser takes the filter;
    // the directory keeps no location to compare and refuses it. The type survives.
    let (status, _, v) = stack
        .scim(
            Method::GET,
            "/Users?filter=meta.location%20eq%20%22x%22",
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["scimType"], "invalidFilter", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_patch_on_a_large_group_answers_204() {
    let stack = TestStack::spawn_with(|c| c.group_patch_body_limit = 3).await;
    let token = stack.tenant_token("default").await;
    let ids = seed(&stack, &token, 5).await;
    let members: Vec<Value> = ids[..4].iter().map(|i| json!({"value": i})).collect();
    let (_, _, g) = stack
        .scim(Method::POST, "/Groups", &token, Some(&json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"big","members":members})))
        .await;
    let gid = g["id"].as_str().unwrap();
    let add = json!({"schemas":[PATCH],"Operations":[{"op":"add","path":"members","value":[{"value":ids[4]}]}]});
    let (status, headers, body) = stack
        .scim(Method::PATCH, &format!("/Groups/{gid}"), &token, Some(&add))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    assert!(headers.contains_key("etag"));
    let (_, _, g) = stack
        .scim(Method::GET, &format!("/Groups/{gid}"), &token, None)
        .await;
    assert_eq!(g["members"].as_array().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_429_with_an_integer_retry_after() {
    let stack = TestStack::spawn_with(|c| c.rate_limit_per_provider = 2).await;
    let token = stack.tenant_token("default").await;
    let mut limited = None;
    for _ in 0..20 {
        let (status, headers, body) = stack.scim(Method::GET, "/Users", &token, None).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((headers, body));
            break;
        }
    }
    let (headers, body) = limited.expect("rate limit reached");
    let secs: u64 = headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("integer");
    assert!(secs >= 1);
    assert_eq!(body["status"], "429");
}

/// A gateway of its own in front of `stack`'s auth-service and the identity-service at
/// `identity_url`.
async fn gateway_with_identity(stack: &TestStack, identity_url: &str) -> scim_gateway::Server {
    let mut c = scim_gateway::Config::for_tests(
        identity_url.to_owned(),
        format!("http://{}", stack.auth_addr),
    );
    c.jwt_issuer = Some(stack.url.clone());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", stack.auth_addr))
        .unwrap()
        .connect_lazy();
    let verifier = scim_authn::remote::remote_verifier(
        channel,
        stack.url.clone(),
        e2e::AUDIENCE.to_owned(),
        std::time::Duration::from_secs(1),
    );
    scim_gateway::Server::build(&c, verifier).await.unwrap()
}

/// A directory that dies in the middle of calls: it takes each call and then, by turns,
/// resets its stream or drops the whole connection without an answer.
async fn dying_directory() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut turn = 0u32;
        while let Ok((socket, _)) = listener.accept().await {
            turn += 1;
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(socket).await else {
                    return;
                };
                let Some(Ok((_request, mut respond))) = conn.accept().await else {
                    return;
                };
                if turn % 2 == 1 {
                    respond.send_reset(h2::Reason::INTERNAL_ERROR);
                    // Deliver the reset, then go away with the connection.
                    let flush = futures::future::poll_fn(|cx| conn.poll_closed(cx));
                    let _ =
                        tokio::time::timeout(std::time::Duration::from_millis(100), flush).await;
                }
                // Otherwise the connection simply goes with the process.
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_dies_mid_call_gives_503_with_retry_after() {
    let addr = dying_directory().await;
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let gw = gateway_with_identity(&stack, &format!("http://{addr}")).await;
    let base = format!("http://{}/scim/v2", gw.local_addr());
    tokio::spawn(gw.run_until(std::future::pending()));
    for i in 0..6 {
        let r = stack
            .http
            .get(format!("{base}/Users/{i}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "call {i}");
        assert!(r.headers().contains_key("retry-after"), "call {i}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], "503");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_directory_gives_503_with_retry_after_within_the_call_deadline() {
    // A process that is alive but does not answer (as under SIGSTOP): the kernel
    // accepts its connections, nothing ever reads or writes them.
    let frozen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = frozen.local_addr().unwrap();
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let gw = gateway_with_identity(&stack, &format!("http://{addr}")).await;
    let base = format!("http://{}/scim/v2", gw.local_addr());
    tokio::spawn(gw.run_until(std::future::pending()));
    let body = serde_json::to_vec(&user("frozen")).unwrap();
    for (method, path, deadline) in [
        (Method::GET, "/Users", scim_gateway::upstream::READ_DEADLINE),
        (
            Method::POST,
            "/Users",
            scim_gateway::upstream::WRITE_DEADLINE,
        ),
    ] {
        let started = std::time::Instant::now();
        let mut req = stack
            .http
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(&token);
        if method == Method::POST {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.clone());
        }
        let r = req.send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(
            r.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}"
        );
        assert!(r.headers().contains_key("retry-after"), "{method} {path}");
        assert!(
            took >= deadline && took < deadline + std::time::Duration::from_secs(3),
            "{method} {path} answered after {took:?}, deadline {deadline:?}"
        );
    }
    drop(frozen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_directory_gives_503_with_retry_after() {
    // Point the gateway at a port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let gw = gateway_with_identity(&stack, &format!("http://{dead}")).await;
    let url = format!("http://{}/scim/v2/Users", gw.local_addr());
    tokio::spawn(gw.run_until(std::future::pending()));
    let r = stack
        .http
        .get(url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let secs: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("integer Retry-After");
    assert!(secs >= 1);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "503");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_token_cannot_write() {
    let stack = TestStack::spawn().await;
    let p = stack
        .provider_with_scopes("reader", "default", &["scim:read"])
        .await;
    let token = stack.token_for(&p).await;
    let (status, _, _) = stack.scim(Method::GET, "/Users", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, v) = stack
        .scim(Method::POST, "/Users", &token, Some(&user("nope")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["status"], "403");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_describes_the_server() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let (status, _, spc) = stack
        .scim(Method::GET, "/ServiceProviderConfig", &token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    let (_, _, schemas) = stack.scim(Method::GET, "/Schemas", &token, None).await;
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&USER) && ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:Group"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    let (status, _, one) = stack
        .scim(Method::GET, &format!("/Schemas/{USER}"), &token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let user_name = one["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(user_name["uniqueness"], "server");
    let (_, _, rts) = stack
        .scim(Method::GET, "/ResourceTypes", &token, None)
        .await;
    assert_eq!(rts["totalResults"], 2);
    let (status, _, rt) = stack
        .scim(Method::GET, "/ResourceTypes/User", &token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rt["endpoint"], "/Users");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_that_name_nothing_are_left_out_and_the_rest_applied() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let ids = seed(&stack, &token, 1).await;
    let (_, _, g) = stack
        .scim(Method::POST, "/Groups", &token, Some(&json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"fake-member-id"}]})))
        .await;
    let gid = g["id"].as_str().unwrap();
    assert_eq!(g["members"], json!([]));
    let add = json!({"schemas":[PATCH],"Operations":[{"op":"add","path":"members","value":[{"value":"fake-member-id"},{"value":ids[0]}]}]});
    let (status, _, g) = stack
        .scim(Method::PATCH, &format!("/Groups/{gid}"), &token, Some(&add))
        .await;
    assert_eq!(status, StatusCode::OK);
    let members: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![ids[0].as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_active_leaves_it_unset_and_other_writes_keep_it_so() {
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let ids = seed(&stack, &token, 1).await;
    let path = format!("/Users/{}", ids[0]);
    let body = json!({"schemas":[PATCH],"Operations":[{"op":"remove","path":"active"}]});
    let (status, _, v) = stack.scim(Method::PATCH, &path, &token, Some(&body)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(v.get("active").is_none(), "{v}");
    let (_, _, v) = stack.scim(Method::GET, &path, &token, None).await;
    assert!(v.get("active").is_none());
    // A filter on active no longer matches it either way.
    let (_, _, list) = stack
        .scim(
            Method::GET,
            "/Users?filter=active%20eq%20true",
            &token,
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 0);
    // Setting it again works.
    let body = json!({"schemas":[PATCH],"Operations":[{"op":"replace","value":{"active":true}}]});
    let (_, _, v) = stack.scim(Method::PATCH, &path, &token, Some(&body)).await;
    assert_eq!(v["active"], true);
}

/// Sixteen PATCHes of one user at once, without `If-Match`, each changing something
/// else (what an IdP sends when profile updates land together): all succeed, none is
/// lost. With one shared stale `If-Match`, exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_without_if_match_all_succeed_and_none_is_lost() {
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const NAME_PARTS: [&str; 6] = [
        "givenName",
        "familyName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
        "formatted",
    ];
    const ENTERPRISE_ATTRS: [&str; 5] = [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ];
    let stack = TestStack::spawn().await;
    let token = stack.tenant_token("default").await;
    let id = seed(&stack, &token, 1).await.remove(0);
    let path = format!("/Users/{id}");
    // Attributes a PATCH can only change by reading the user first.
    let mut ops: Vec<(String, Value)> = Vec::new();
    for (i, sub) in NAME_PARTS.iter().enumerate() {
        ops.push((format!("name.{sub}"), json!(format!("n{i}"))));
    }
    for attr in ENTERPRISE_ATTRS {
        ops.push((format!("{ENTERPRISE}:{attr}"), json!(format!("{attr}-v"))));
    }
    let phones: Vec<String> = (0..5).map(|i| format!("+1 555 000 00{i:02}")).collect();
    let stack = &stack;
    let token = &token;
    let path = &path;
    let patches = ops
        .iter()
        .map(|(p, v)| json!({"schemas":[PATCH],"Operations":[{"op":"replace","path":p,"value":v}]}))
        .chain(phones.iter().map(|n| {
            json!({"schemas":[PATCH],"Operations":[{"op":"add","path":"phoneNumbers","value":[{"value":n,"type":"work"}]}]})
        }))
        .collect::<Vec<_>>();
    assert_eq!(patches.len(), 16);
    let answers = futures::future::join_all(patches.iter().map(|body| async move {
        let (status, _, v) = stack.scim(Method::PATCH, path, token, Some(body)).await;
        (status, v)
    }))
    .await;
    for (status, v) in &answers {
        assert_eq!(*status, StatusCode::OK, "{v}");
    }
    let (_, _, user) = stack.scim(Method::GET, path, token, None).await;
    for (i, sub) in NAME_PARTS.iter().enumerate() {
        assert_eq!(user["name"][sub], format!("n{i}"), "{user}");
    }
    for attr in ENTERPRISE_ATTRS {
        assert_eq!(user[ENTERPRISE][attr], format!("{attr}-v"), "{user}");
    }
    let stored: Vec<&str> = user["phoneNumbers"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["value"].as_str()).collect())
        .unwrap_or_default();
    for n in &phones {
        assert!(stored.contains(&n.as_str()), "{n} lost: {user}");
    }

    // One stale version named by every writer: exactly one wins.
    let (_, headers, _) = stack.scim(Method::GET, path, token, None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let answers = futures::future::join_all((0..8).map(|i| {
        let etag = etag.clone();
        async move {
            let body = json!({"schemas":[PATCH],"Operations":[{"op":"replace","path":"name.givenName","value":format!("w{i}")}]});
            stack
                .http
                .patch(format!("{}{path}", stack.scim))
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .header("if-match", etag)
                .body(serde_json::to_vec(&body).unwrap())
                .send()
                .await
                .unwrap()
                .status()
        }
    }))
    .await;
    let won = answers.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!((won, refused), (1, 7), "{answers:?}");
}
