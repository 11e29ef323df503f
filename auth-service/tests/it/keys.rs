//! Signing-key publication and rotation.

use std::time::Duration;

use scim_proto::auth::v1 as pb;

use crate::support::{TestServer, bearer, decode};

async fn published(server: &TestServer) -> pb::GetPublicKeysResponse {
    server
        .client()
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner()
}

fn kid_with(keys: &pb::GetPublicKeysResponse, status: &str) -> Option<String> {
    keys.keys
        .iter()
        .find(|k| k.status == status)
        .map(|k| k.kid.clone())
}

#[tokio::test]
async fn public_keys_are_open_and_describe_ed25519_keys_issuer_and_audience() {
    let server = TestServer::start().await;
    let keys = published(&server).await;
    assert_eq!(keys.issuer, "http://127.0.0.1:8080");
    assert_eq!(keys.audience, "scim-stack");
    assert_eq!(keys.keys.len(), 2);
    for key in &keys.keys {
        assert_eq!(key.alg, "EdDSA");
        assert_eq!(key.crv, "Ed25519");
        assert_eq!(key.x.len(), 43, "32 bytes, base64url");
    }
    assert_ne!(kid_with(&keys, "current"), kid_with(&keys, "next"));
}

#[tokio::test]
async fn rotation_signs_with_the_published_next_key_and_old_tokens_still_verify() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let before = published(&server).await;
    let old_kid = kid_with(&before, "current").unwrap();
    let next_kid = kid_with(&before, "next").unwrap();

    let old_token = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    assert_eq!(decode(&old_token).0.kid.as_deref(), Some(old_kid.as_str()));
    // A verifier that has seen only the keys published before the rotation.
    let verifier = server.remote_verifier(Duration::from_secs(2));
    verifier.verify(&old_token).await.unwrap();

    let admin = server.admin_token().await;
    let rotated = server
        .client()
        .rotate_signing_key(bearer(pb::RotateSigningKeyRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rotated.current_kid, next_kid,
        "the published next key signs now"
    );
    assert_ne!(rotated.next_kid, next_kid);
    assert_ne!(rotated.next_kid, old_kid);

    let new_token = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    assert_eq!(decode(&new_token).0.kid.as_deref(), Some(next_kid.as_str()));
    // The verifier already knew the new signing key: it was published as `next`.
    verifier.verify(&new_token).await.unwrap();
    verifier.verify(&old_token).await.unwrap();
    // A fresh verifier accepts both too, since the old key is published as retired.
    let fresh = server.remote_verifier(Duration::from_secs(2));
    fresh.verify(&old_token).await.unwrap();
    fresh.verify(&new_token).await.unwrap();

    let after = published(&server).await;
    assert_eq!(kid_with(&after, "current"), Some(next_kid));
    assert_eq!(kid_with(&after, "next"), Some(rotated.next_kid));
    assert_eq!(kid_with(&after, "retired"), Some(old_kid));
    assert_eq!(after.keys.len(), 3);
}
