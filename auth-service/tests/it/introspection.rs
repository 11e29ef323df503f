//! RFC 7662 introspection.

use std::time::Duration;

use scim_proto::auth::v1 as pb;
use tonic::{Code, Request};

use crate::support::{TestServer, bearer, eventually};

fn by_credentials(token: &str, id: &str, secret: &str) -> pb::IntrospectRequest {
    pb::IntrospectRequest {
        token: token.into(),
        client_id: id.into(),
        client_secret: secret.into(),
    }
}

#[tokio::test]
async fn an_active_token_is_described_to_an_authenticated_caller() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let token = server
        .issue(&id, &secret, "scim:read", 120)
        .await
        .unwrap()
        .access_token;

    // Authenticated by client credentials...
    let answer = server
        .client()
        .introspect(by_credentials(&token, &id, &secret))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.active);
    assert_eq!(answer.client_id, id);
    assert_eq!(answer.sub, id);
    assert_eq!(answer.scope, "scim:read");
    assert_eq!(answer.tenant, "default");
    assert_eq!(answer.iss, "http://127.0.0.1:8080");
    assert_eq!(answer.aud, "scim-stack");
    assert_eq!(answer.token_type, "Bearer");
    assert_eq!(answer.exp - answer.iat, 120);
    assert!(!answer.jti.is_empty());

    // ...or by a bearer token.
    let answer = server
        .client()
        .introspect(bearer(
            pb::IntrospectRequest {
                token: token.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.active);
}

#[tokio::test]
async fn introspection_needs_an_authenticated_caller() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let token = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    let mut client = server.client();
    let err = client
        .introspect(Request::new(pb::IntrospectRequest {
            token: token.clone(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = client
        .introspect(by_credentials(&token, &id, "wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn garbage_revoked_and_expired_tokens_are_inactive_and_nothing_more() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let mut client = server.client();
    let inactive = pb::IntrospectResponse::default();

    for garbage in ["", "garbage", "a.b.c"] {
        let answer = client
            .introspect(by_credentials(garbage, &id, &secret))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer, inactive, "{garbage:?}");
    }

    let revoked = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    client
        .revoke(pb::RevokeRequest {
            token: revoked.clone(),
            client_id: id.clone(),
            client_secret: secret.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let answer = client
        .introspect(by_credentials(&revoked, &id, &secret))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer, inactive);

    let short = server
        .issue(&id, &secret, "", 1)
        .await
        .unwrap()
        .access_token;
    let went_inactive = eventually(Duration::from_secs(4), || {
        let mut client = server.client();
        let req = by_credentials(&short, &id, &secret);
        async move {
            let answer = client.introspect(req).await.unwrap().into_inner();
            answer == pb::IntrospectResponse::default()
        }
    })
    .await;
    assert!(went_inactive, "the expired token is still active");
}

#[tokio::test]
async fn a_token_is_inactive_to_a_caller_of_another_tenant_and_is_not_revoked_by_it() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let token = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    // Another tenant's client, even one with its tenant's admin scope.
    let (other, other_secret) = server.provider_in("acme", "acme-admin", "admin").await;

    let seen = server
        .client()
        .introspect(by_credentials(&token, &other, &other_secret))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        seen,
        pb::IntrospectResponse::default(),
        "inactive, and nothing else said"
    );
    let other_token = server
        .issue(&other, &other_secret, "admin", 0)
        .await
        .unwrap()
        .access_token;
    let seen = server
        .client()
        .introspect(bearer(
            pb::IntrospectRequest {
                token: token.clone(),
                ..Default::default()
            },
            &other_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!seen.active);

    // Revoking it is the no-op of a token that does not exist (RFC 7009: 200)...
    server
        .client()
        .revoke(pb::RevokeRequest {
            token: token.clone(),
            client_id: other.clone(),
            client_secret: other_secret.clone(),
            ..Default::default()
        })
        .await
        .expect("no error for a token the caller cannot see");
    // ...and the token stays active for its own tenant.
    let own = server
        .client()
        .introspect(by_credentials(&token, &id, &secret))
        .await
        .unwrap()
        .into_inner();
    assert!(own.active, "another tenant revoked it");
}
