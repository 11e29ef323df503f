//! RFC 7009 revocation, the revocation log, and verifiers elsewhere honouring it.

use std::sync::Arc;
use std::time::Duration;

use scim_authn::{Verifier, VerifyError};
use scim_proto::auth::v1 as pb;
use tonic::Code;

use crate::support::{TestServer, bearer, decode, eventually};

/// Whether `verifier` starts refusing `token` as revoked within two seconds.
async fn refused_within_two_seconds(verifier: &Arc<Verifier>, token: &str) -> bool {
    eventually(Duration::from_secs(2), || async {
        matches!(verifier.verify(token).await, Err(VerifyError::Revoked))
    })
    .await
}

#[tokio::test]
async fn a_client_revokes_its_own_token_and_remote_verifiers_follow_within_seconds() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let token = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    let kept = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    let verifier = server.remote_verifier(Duration::from_millis(200));
    verifier.verify(&token).await.unwrap();

    // Authenticated with the token itself.
    server
        .client()
        .revoke(bearer(
            pb::RevokeRequest {
                token: token.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap();
    assert!(refused_within_two_seconds(&verifier, &token).await);
    verifier.verify(&kept).await.unwrap();

    // Revoking again, or revoking garbage, is fine.
    for t in [token.as_str(), "garbage"] {
        server
            .client()
            .revoke(pb::RevokeRequest {
                token: t.into(),
                client_id: id.clone(),
                client_secret: secret.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_admin_revokes_by_jti_and_other_clients_cannot() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let (other_id, other_secret) = server.provider("entra").await;
    let token = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    let jti = decode(&token).1["jti"].as_str().unwrap().to_owned();
    let verifier = server.remote_verifier(Duration::from_millis(200));
    verifier.verify(&token).await.unwrap();
    let mut client = server.client();

    // Another client may neither revoke the token nor a bare jti.
    let err = client
        .revoke(pb::RevokeRequest {
            token: token.clone(),
            client_id: other_id.clone(),
            client_secret: other_secret.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = client
        .revoke(pb::RevokeRequest {
            jti: jti.clone(),
            client_id: id.clone(),
            client_secret: secret.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Nor can anyone unauthenticated.
    let err = client
        .revoke(pb::RevokeRequest {
            jti: jti.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    verifier.verify(&token).await.unwrap();

    let admin = server.admin_token().await;
    client
        .revoke(bearer(
            pb::RevokeRequest {
                jti: jti.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap();
    assert!(refused_within_two_seconds(&verifier, &token).await);

    let log = client
        .list_revocations(pb::ListRevocationsRequest { since_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let entry = log.revocations.iter().find(|r| r.jti == jti).unwrap();
    assert!(entry.client_id.is_empty());
    assert!(entry.expires_at.is_some());
    assert_eq!(log.sequence, entry.sequence);
    let newer = client
        .list_revocations(pb::ListRevocationsRequest {
            since_sequence: log.sequence,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(newer.revocations.is_empty());
    assert_eq!(newer.sequence, log.sequence);
}

#[tokio::test]
async fn disabling_or_deleting_a_provider_revokes_every_token_it_holds() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let (gone_id, gone_secret) = server.provider("entra").await;
    let (bystander_id, bystander_secret) = server.provider("other").await;
    let t1 = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    let t2 = server
        .issue(&id, &secret, "scim:read", 60)
        .await
        .unwrap()
        .access_token;
    let t3 = server
        .issue(&gone_id, &gone_secret, "", 0)
        .await
        .unwrap()
        .access_token;
    let unrelated = server
        .issue(&bystander_id, &bystander_secret, "", 0)
        .await
        .unwrap()
        .access_token;
    let verifier = server.remote_verifier(Duration::from_millis(200));
    for t in [&t1, &t2, &t3, &unrelated] {
        verifier.verify(t).await.unwrap();
    }

    let admin = server.admin_token().await;
    let mut client = server.client();
    client
        .disable_provider(bearer(
            pb::DisableProviderRequest {
                client_id: id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap();
    client
        .delete_provider(bearer(
            pb::DeleteProviderRequest {
                client_id: gone_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap();
    for t in [&t1, &t2, &t3] {
        assert!(refused_within_two_seconds(&verifier, t).await);
    }
    verifier.verify(&unrelated).await.unwrap();

    let log = client
        .list_revocations(pb::ListRevocationsRequest { since_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    for client_id in [&id, &gone_id] {
        let entry = log
            .revocations
            .iter()
            .find(|r| &r.client_id == client_id)
            .unwrap();
        assert!(entry.issued_before.is_some());
        assert!(entry.jti.is_empty());
    }
}
