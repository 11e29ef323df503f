//! Token issuance and client-secret rotation.

use std::time::Duration;

use scim_proto::auth::v1 as pb;
use tonic::Code;

use crate::support::{TestServer, bearer, decode, eventually};

#[tokio::test]
async fn an_issued_token_is_an_rfc9068_jwt_with_every_claim() {
    let server = TestServer::start().await;
    let created = server
        .create_provider(pb::CreateProviderRequest {
            name: "entra".into(),
            tenant: "acme".into(),
            ..Default::default()
        })
        .await;
    let id = created.provider.unwrap().client_id;
    let issued = server
        .issue(&id, &created.client_secret, "scim:read", 900)
        .await
        .unwrap();
    assert_eq!(issued.token_type, "Bearer");
    assert_eq!(issued.expires_in, 900);
    assert_eq!(issued.scope, "scim:read");

    let (header, claims) = decode(&issued.access_token);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let keys = server
        .client()
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner();
    let current = keys.keys.iter().find(|k| k.status == "current").unwrap();
    assert_eq!(header.kid.as_deref(), Some(current.kid.as_str()));
    assert_eq!(claims["iss"], "http://127.0.0.1:8080");
    assert_eq!(claims["aud"], "scim-stack");
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["scope"], "scim:read");
    let iat = claims["iat"].as_i64().unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(exp - iat, 900);
    assert!((iat - chrono::Utc::now().timestamp()).abs() < 60);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(jti).unwrap().get_version_num(), 4);

    // And it verifies against the published keys.
    let verifier = server.remote_verifier(Duration::from_secs(2));
    let verified = verifier.verify(&issued.access_token).await.unwrap();
    assert_eq!(verified.tenant, "acme");
}

#[tokio::test]
async fn lifetimes_default_and_cap() {
    let server = TestServer::start().await;
    let created = server
        .create_provider(pb::CreateProviderRequest {
            name: "short".into(),
            max_token_ttl_seconds: 7200,
            default_token_ttl_seconds: 600,
            ..Default::default()
        })
        .await;
    let id = created.provider.unwrap().client_id;
    let secret = created.client_secret;

    let default = server.issue(&id, &secret, "", 0).await.unwrap();
    assert_eq!(default.expires_in, 600);
    let (_, c) = decode(&default.access_token);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    assert_eq!(default.scope, "scim:read scim:write");

    let capped = server.issue(&id, &secret, "", 10 * 86_400).await.unwrap();
    assert_eq!(capped.expires_in, 7200);
    let (_, c) = decode(&capped.access_token);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        7200
    );

    let err = server.issue(&id, &secret, "", -1).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_scope_the_provider_may_not_have_is_invalid_scope() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    for scope in ["admin", "scim:read admin", "scim:delete"] {
        let err = server.issue(&id, &secret, scope, 0).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{scope}");
        assert!(
            err.message().starts_with("invalid_scope:"),
            "{}",
            err.message()
        );
    }
}

#[tokio::test]
async fn bad_secret_unknown_client_and_disabled_provider_are_unauthenticated() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let (other_id, other_secret) = server.provider("entra").await;

    let wrong = server.issue(&id, &other_secret, "", 0).await.unwrap_err();
    let unknown = server
        .issue("no-such-client-000000", &secret, "", 0)
        .await
        .unwrap_err();
    let empty = server.issue(&id, "", "", 0).await.unwrap_err();

    let admin = server.admin_token().await;
    server
        .client()
        .disable_provider(bearer(
            pb::DisableProviderRequest {
                client_id: other_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let disabled = server
        .issue(&other_id, &other_secret, "", 0)
        .await
        .unwrap_err();

    for err in [wrong, unknown, empty, disabled] {
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
        // The same answer whatever the reason.
        assert_eq!(
            err.message(),
            "invalid_client: client authentication failed"
        );
    }
    assert!(server.issue(&id, &secret, "", 0).await.is_ok());
}

#[tokio::test]
async fn a_rotated_secret_keeps_working_during_the_grace_period_only() {
    let server = TestServer::start().await;
    let (id, old_secret) = server.provider("okta").await;
    let rotated = server.rotate_secret(&id, 1).await;
    let new_secret = rotated.client_secret;

    assert!(server.issue(&id, &new_secret, "", 0).await.is_ok());
    assert!(server.issue(&id, &old_secret, "", 0).await.is_ok());

    // Each refused attempt counts towards the guessing throttle, so poll sparingly
    // and let a success reset the count.
    let expired = eventually(Duration::from_secs(4), || async {
        let refused = server.issue(&id, &old_secret, "", 0).await.is_err();
        assert!(server.issue(&id, &new_secret, "", 0).await.is_ok());
        refused
    })
    .await;
    assert!(expired, "the old secret still works after its grace period");
    let err = server.issue(&id, &old_secret, "", 0).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn rotation_without_grace_stops_the_old_secret_at_once() {
    let server = TestServer::start().await;
    let (id, old_secret) = server.provider("okta").await;
    let rotated = server.rotate_secret(&id, 0).await;
    assert!(rotated.provider.unwrap().previous_secret_expires.is_none());
    assert_eq!(
        server
            .issue(&id, &old_secret, "", 0)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert!(
        server
            .issue(&id, &rotated.client_secret, "", 0)
            .await
            .is_ok()
    );
}
