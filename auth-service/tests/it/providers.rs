//! Provider registration and life cycle, and operator authorisation.

use prost::Message as _;
use scim_proto::auth::v1 as pb;
use tonic::{Code, Request};

use crate::support::{TestServer, bearer};

fn is_base64url(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[tokio::test]
async fn create_list_get_rotate_disable_delete() {
    let server = TestServer::start().await;
    let admin = server.admin_token().await;
    let mut client = server.client();

    let created = client
        .create_provider(bearer(
            pb::CreateProviderRequest {
                name: "Okta production".into(),
                tenant: "acme".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let secret = created.client_secret.clone();
    assert!(secret.len() >= 43 && is_base64url(&secret), "{secret}");
    let provider = created.provider.unwrap();
    assert_eq!(provider.client_id.len(), 22);
    assert!(is_base64url(&provider.client_id));
    assert_eq!(provider.name, "Okta production");
    assert_eq!(provider.tenant, "acme");
    assert_eq!(provider.allowed_scopes, vec!["scim:read", "scim:write"]);
    assert_eq!(provider.max_token_ttl_seconds, 365 * 24 * 3600);
    assert_eq!(provider.default_token_ttl_seconds, 3600);
    assert!(!provider.disabled);
    assert!(provider.created.is_some());
    assert!(provider.previous_secret_expires.is_none());

    // The secret never comes back.
    let listed = client
        .list_providers(bearer(pb::ListProvidersRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.providers.len(), 2); // operator + this one
    assert!(
        listed
            .providers
            .iter()
            .any(|p| p.client_id == provider.client_id)
    );
    let got = client
        .get_provider(bearer(
            pb::GetProviderRequest {
                client_id: provider.client_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, provider);
    for bytes in [listed.encode_to_vec(), got.encode_to_vec()] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "secret leaked"
        );
    }

    // Rotation returns a new secret and reports the grace period.
    let rotated = client
        .rotate_provider_secret(bearer(
            pb::RotateProviderSecretRequest {
                client_id: provider.client_id.clone(),
                grace_seconds: 600,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(rotated.client_secret, secret);
    assert!(rotated.client_secret.len() >= 43);
    assert!(rotated.provider.unwrap().previous_secret_expires.is_some());

    let disabled = client
        .disable_provider(bearer(
            pb::DisableProviderRequest {
                client_id: provider.client_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(disabled.disabled);

    client
        .delete_provider(bearer(
            pb::DeleteProviderRequest {
                client_id: provider.client_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let gone = client
        .get_provider(bearer(
            pb::GetProviderRequest {
                client_id: provider.client_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let again = client
        .delete_provider(bearer(
            pb::DeleteProviderRequest {
                client_id: provider.client_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
}

#[tokio::test]
async fn registration_input_is_validated() {
    let server = TestServer::start().await;
    let admin = server.admin_token().await;
    let mut client = server.client();
    let bad = [
        pb::CreateProviderRequest {
            name: "".into(),
            ..Default::default()
        },
        pb::CreateProviderRequest {
            name: "x".into(),
            allowed_scopes: vec!["scim:delete".into()],
            ..Default::default()
        },
        pb::CreateProviderRequest {
            name: "x".into(),
            max_token_ttl_seconds: -5,
            ..Default::default()
        },
        pb::CreateProviderRequest {
            name: "x".into(),
            max_token_ttl_seconds: 60,
            default_token_ttl_seconds: 120,
            ..Default::default()
        },
    ];
    for req in bad {
        let err = client
            .create_provider(bearer(req.clone(), &admin))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{req:?}: {err:?}");
    }
    let err = client
        .rotate_provider_secret(bearer(
            pb::RotateProviderSecretRequest {
                client_id: server.admin.client_id.clone(),
                grace_seconds: -1,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn operator_calls_need_a_token_with_the_admin_scope() {
    let server = TestServer::start().await;
    let (id, secret) = server.provider("okta").await;
    let scim_token = server
        .issue(&id, &secret, "", 0)
        .await
        .unwrap()
        .access_token;
    // The operator itself, down-scoped to scim:read, is no admin either.
    let downscoped = server
        .issue(
            &server.admin.client_id,
            &server.admin.client_secret,
            "scim:read",
            0,
        )
        .await
        .unwrap()
        .access_token;
    let mut client = server.client();

    let err = client
        .list_providers(Request::new(pb::ListProvidersRequest {}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = client
        .list_providers(bearer(pb::ListProvidersRequest {}, "not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    for token in [&scim_token, &downscoped] {
        let err = client
            .list_providers(bearer(pb::ListProvidersRequest {}, token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = client
            .create_provider(bearer(
                pb::CreateProviderRequest {
                    name: "sneaky".into(),
                    allowed_scopes: vec!["admin".into()],
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = client
            .rotate_signing_key(bearer(pb::RotateSigningKeyRequest {}, token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = client
            .delete_provider(bearer(
                pb::DeleteProviderRequest {
                    client_id: server.admin.client_id.clone(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }
}

#[tokio::test]
async fn a_provider_created_or_given_a_new_secret_on_one_replica_authenticates_at_once_on_another()
{
    let server = TestServer::start().await;
    // A replica whose caches would not reload during the test.
    let replica = server.replica(3600).await;
    let (id, secret) = server.provider("okta").await;
    replica
        .issue(&id, &secret, "", 0)
        .await
        .expect("the replica reads a provider it has not cached yet");

    let rotated = server.rotate_secret(&id, 0).await;
    replica
        .issue(&id, &rotated.client_secret, "", 0)
        .await
        .expect("the replica takes the new secret before it reloads");
    // The cache was refreshed from the row, so the old secret is now refused there.
    let err = replica.issue(&id, &secret, "", 0).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}
