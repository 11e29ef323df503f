//! The OAuth endpoints of the gateway and token verification in front of SCIM routes.

use std::time::{Duration, Instant};

use base64::Engine as _;
use e2e::TestStack;
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn post_form(
    stack: &TestStack,
    path: &str,
    body: &str,
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut req = stack
        .http
        .post(format!("{}{path}", stack.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some((id, secret)) = basic {
        let enc = |s: &str| {
            let pairs: String = reqwest::Url::parse_with_params("http://x/", &[("v", s)])
                .expect("url")
                .query()
                .expect("query")
                .trim_start_matches("v=")
                .to_owned();
            pairs
        };
        let raw = format!("{}:{}", enc(id), enc(secret));
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        req = req.header("authorization", format!("Basic {b64}"));
    }
    req.send().await.expect("request")
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json claims")
}

fn header(token: &str) -> Value {
    let h = token.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json header")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_curl_form_mints_an_hour_long_token_on_the_iso_alias() {
    let stack = TestStack::spawn().await;
    let p = stack.provider("okta", "default").await;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&ttl=60",
        p.client_id, p.client_secret
    );
    let resp = post_form(&stack, "/iso/oauth2/token", &body, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "scim:read scim:write");
    let token = v["access_token"].as_str().expect("token");
    let h = header(token);
    assert_eq!(h["typ"], "at+jwt");
    assert_eq!(h["alg"], "EdDSA");
    assert!(h["kid"].is_string());
    let c = claims(token);
    for k in [
        "iss",
        "aud",
        "sub",
        "client_id",
        "tenant",
        "scope",
        "iat",
        "exp",
        "jti",
    ] {
        assert!(!c[k].is_null(), "claim {k} present");
    }
    assert_eq!(c["iss"], stack.url.as_str());
    assert_eq!(c["tenant"], "default");
    assert_eq!(c["client_id"], p.client_id.as_str());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );

    // The token works on a SCIM route.
    let (status, _, _) = stack
        .scim(Method::GET, "/Users?startIndex=1&count=2", token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_units_and_the_provider_maximum() {
    let stack = TestStack::spawn().await;
    let p = stack.provider("okta", "default").await;
    for (ttl, expected) in [
        ("30s", 30),
        ("15m", 900),
        ("12h", 43_200),
        ("90d", 7_776_000),
        ("2", 120),
    ] {
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&ttl={ttl}",
            p.client_id, p.client_secret
        );
        let v: Value = post_form(&stack, "/oauth2/token", &body, None)
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(v["expires_in"], expected, "ttl={ttl}");
    }
    // Above the provider's maximum (one year by default): capped, not refused.
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&ttl=1000d",
        p.client_id, p.client_secret
    );
    let v: Value = post_form(&stack, "/oauth2/token", &body, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["expires_in"], 365 * 86_400);
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&ttl=soon",
        p.client_id, p.client_secret
    );
    let resp = post_form(&stack, "/oauth2/token", &body, None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"], "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_credentials_are_form_encoded_before_base64() {
    let stack = TestStack::spawn().await;
    let p = stack.provider("entra", "default").await;
    let resp = post_form(
        &stack,
        "/oauth2/token",
        "grant_type=client_credentials",
        Some((&p.client_id, &p.client_secret)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // A secret with characters that need form-encoding, sent wrongly encoded, fails.
    let resp = post_form(
        &stack,
        "/oauth2/token",
        "grant_type=client_credentials",
        Some((&p.client_id, "wrong+secret/with:colon&amp")),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"),
        "Basic challenge when Basic was used"
    );
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"], "invalid_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_endpoint_error_has_its_oauth_code() {
    let stack = TestStack::spawn().await;
    let p = stack.provider("okta", "default").await;
    let creds = format!(
        "client_id={}&client_secret={}",
        p.client_id, p.client_secret
    );
    type Case<'a> = (String, Option<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            format!("grant_type=password&{creds}"),
            None,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            creds.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("grant_type=client_credentials&{creds}&scope=admin"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id={}&client_secret=nope",
                p.client_id
            ),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials".into(),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=client_credentials&client_secret={}",
                p.client_secret
            ),
            Some((p.client_id.as_str(), p.client_secret.as_str())),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("grant_type=client_credentials&grant_type=client_credentials&{creds}"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, basic, status, error) in cases {
        let resp = post_form(&stack, "/oauth2/token", &body, basic).await;
        assert_eq!(resp.status(), status, "{error}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["error"], error);
    }
    // A narrower scope than allowed is granted as asked.
    let body = format!("grant_type=client_credentials&{creds}&scope=scim:read");
    let v: Value = post_form(&stack, "/oauth2/token", &body, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["scope"], "scim:read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_jwks_health_and_readiness() {
    let stack = TestStack::spawn().await;
    let v: Value = stack
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            stack.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["issuer"], stack.url.as_str());
    assert_eq!(v["token_endpoint"], format!("{}/oauth2/token", stack.url));
    assert_eq!(v["grant_types_supported"][0], "client_credentials");
    let jwks: Value = stack
        .http
        .get(format!("{}/.well-known/jwks.json", stack.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().expect("keys");
    assert!(keys.len() >= 2, "current and next key are published");
    assert!(
        keys.iter()
            .all(|k| k["kty"] == "OKP" && k["crv"] == "Ed25519")
    );
    for path in ["/healthz", "/readyz"] {
        let r = stack
            .http
            .get(format!("{}{path}", stack.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_a_scim_401() {
    let stack = TestStack::spawn().await;
    let good = stack.tenant_token("default").await;
    let mut tampered = good.clone();
    // Flip one character of the signature.
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let other_issuer = {
        let issuer = scim_authn::test_support::TestIssuer::new();
        issuer.mint("default", "scim:read scim:write")
    };
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let parts: Vec<&str> = good.split('.').collect();
    let alg_none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg":"none","typ":"at+jwt"})),
        parts[1]
    );
    let mut h = header(&good);
    h["typ"] = "JWT".into();
    let wrong_typ = format!("{}.{}.{}", b64(&h), parts[1], parts[2]);
    for (name, auth) in [
        ("no header", None),
        ("not a token", Some("non-token".to_owned())),
        ("tampered", Some(format!("Bearer {tampered}"))),
        ("other issuer", Some(format!("Bearer {other_issuer}"))),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("wrong typ", Some(format!("Bearer {wrong_typ}"))),
    ] {
        let mut req = stack.http.get(format!("{}/Users", stack.scim));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(resp.headers()["content-type"], "application/scim+json");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["status"], "401");
        assert_eq!(
            v["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert!(!v["detail"].as_str().unwrap().is_empty());
    }
    // The scheme is case-insensitive and a bare token is accepted (Okta header mode).
    for auth in [
        format!("bearer {good}"),
        format!("BEARER {good}"),
        good.clone(),
    ] {
        let r = stack
            .http
            .get(format!("{}/Users", stack.scim))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    let stack = TestStack::spawn().await;
    let p = stack.provider("okta", "default").await;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&ttl=1s",
        p.client_id, p.client_secret
    );
    let v: Value = post_form(&stack, "/oauth2/token", &body, None)
        .await
        .json()
        .await
        .unwrap();
    let token = v["access_token"].as_str().unwrap().to_owned();
    let (status, _, _) = stack.scim(Method::GET, "/Users", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    // Expiry has a leeway of 30 s for clock skew: wait it out.
    tokio::time::sleep(Duration::from_secs(32)).await;
    let (status, _, v) = stack.scim(Method::GET, "/Users", &token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(v["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_the_gateway_and_the_identity_service_within_seconds() {
    let stack = TestStack::spawn().await;
    let p = stack.provider("okta", "default").await;
    let token = stack.token_for(&p).await;
    let (status, _, _) = stack.scim(Method::GET, "/Users", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    // Revoke through the RFC 7009 endpoint, authenticated with the provider's credentials.
    let resp = post_form(
        &stack,
        "/oauth2/revoke",
        &format!("token={token}"),
        Some((&p.client_id, &p.client_secret)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Introspection says inactive at once.
    let v: Value = post_form(
        &stack,
        "/oauth2/introspect",
        &format!("token={token}"),
        Some((&p.client_id, &p.client_secret)),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v, serde_json::json!({"active": false}));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, _) = stack.scim(Method::GET, "/Users", &token, None).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gateway still accepts a revoked token"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // identity-service refuses it too, directly over gRPC.
    let mut client =
        scim_proto::identity::v1::identity_service_client::IdentityServiceClient::connect(format!(
            "http://{}",
            stack.identity_addr
        ))
        .await
        .unwrap();
    loop {
        let mut req = tonic::Request::new(scim_proto::identity::v1::ListUsersRequest::default());
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        match client.list_users(req).await {
            Err(s) if s.code() == tonic::Code::Unauthenticated => break,
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "identity-service still accepts a revoked token"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_of_an_active_token() {
    let stack = TestStack::spawn().await;
    let p = stack.provider("okta", "default").await;
    let token = stack.token_for(&p).await;
    let v: Value = post_form(
        &stack,
        "/oauth2/introspect",
        &format!("token={token}"),
        Some((&p.client_id, &p.client_secret)),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], p.client_id.as_str());
    assert_eq!(v["tenant"], "default");
    // Without caller authentication: 401.
    let r = post_form(
        &stack,
        "/oauth2/introspect",
        &format!("token={token}"),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_tenant_a_never_reaches_tenant_b() {
    let stack = TestStack::spawn().await;
    let a = stack.tenant_token("tenant-a").await;
    let b = stack.tenant_token("tenant-b").await;
    let user = serde_json::json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen@example.com"});
    let (status, _, created) = stack.scim(Method::POST, "/Users", &b, Some(&user)).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    let (status, _, _) = stack
        .scim(Method::GET, &format!("/Users/{id}"), &a, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, list) = stack
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22bjensen%40example.com%22",
            &a,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 0);
    let (status, _, _) = stack
        .scim(Method::DELETE, &format!("/Users/{id}"), &a, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = stack
        .scim(Method::GET, &format!("/Users/{id}"), &b, None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_bad_secrets_slow_the_client_down() {
    let stack = TestStack::spawn().await;
    let p = stack.provider("okta", "default").await;
    let bad = format!(
        "grant_type=client_credentials&client_id={}&client_secret=wrong",
        p.client_id
    );
    let good = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        p.client_id, p.client_secret
    );
    let mut limited = None;
    for _ in 0..10 {
        let r = post_form(&stack, "/oauth2/token", &bad, None).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = limited.expect("guessing is throttled");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("integer Retry-After");
    assert!(retry >= 1);
    // Even the right secret waits out the lockout…
    let r = post_form(&stack, "/oauth2/token", &good, None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // …which ends by itself.
    let deadline = Instant::now() + Duration::from_secs(retry + 5);
    loop {
        let r = post_form(&stack, "/oauth2/token", &good, None).await;
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "lockout never ended");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clients_token_is_refused_with_an_oauth_error_and_stays_valid() {
    let stack = TestStack::spawn().await;
    let okta = stack.provider("okta", "default").await;
    let entra = stack.provider("entra", "default").await;
    let token = stack.token_for(&okta).await;
    let r = post_form(
        &stack,
        "/oauth2/revoke",
        &format!("token={token}"),
        Some((&entra.client_id, &entra.client_secret)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "unauthorized_client", "{v}");
    let (status, _, _) = stack.scim(Method::GET, "/Users", &token, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the token was revoked by another client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_a_client_of_another_tenant_a_token_is_inactive_and_not_revocable() {
    let stack = TestStack::spawn().await;
    let a = stack.provider("idp-a", "tenant-a").await;
    let b = stack.provider("idp-b", "tenant-b").await;
    let token = stack.token_for(&a).await;
    let r = post_form(
        &stack,
        "/oauth2/introspect",
        &format!("token={token}"),
        Some((&b.client_id, &b.client_secret)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"active": false}));
    let r = post_form(
        &stack,
        "/oauth2/revoke",
        &format!("token={token}"),
        Some((&b.client_id, &b.client_secret)),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "as for a token that does not exist"
    );
    let (status, _, _) = stack.scim(Method::GET, "/Users", &token, None).await;
    assert_eq!(status, StatusCode::OK, "another tenant revoked the token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_token_request_is_an_oauth_error() {
    let stack = TestStack::spawn().await;
    let body = format!("grant_type=client_credentials&pad={}", "a".repeat(2 << 20));
    let r = post_form(&stack, "/oauth2/token", &body, None).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = r.json().await.expect("an OAuth JSON error body");
    assert_eq!(v["error"], "invalid_request", "{v}");
}
