//! First-start operator credentials.

use std::os::unix::fs::PermissionsExt as _;

use scim_proto::auth::v1 as pb;

use crate::support::{TestServer, bearer, decode};

#[tokio::test]
async fn the_bootstrap_file_is_owner_only_and_its_credentials_get_an_admin_token() {
    let server = TestServer::start().await;
    let mode = std::fs::metadata(&server.admin_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&server.admin_file).unwrap()).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "{json}");
    assert!(json["client_id"].is_string() && json["client_secret"].is_string());

    let issued = server
        .issue(&server.admin.client_id, &server.admin.client_secret, "", 0)
        .await
        .unwrap();
    assert_eq!(issued.scope, "scim:read scim:write admin");
    let (_, claims) = decode(&issued.access_token);
    assert_eq!(claims["tenant"], "default");

    let token = server.admin_token().await;
    let operator = server
        .client()
        .get_provider(bearer(
            pb::GetProviderRequest {
                client_id: server.admin.client_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(operator.name, "operator");
    assert_eq!(operator.tenant, "default");
}

#[tokio::test]
async fn a_restart_keeps_the_file_the_operator_and_the_signing_keys() {
    let server = TestServer::start().await;
    let before = std::fs::read(&server.admin_file).unwrap();
    let token = server.admin_token().await;
    let dir = server.stop().await;

    let server = TestServer::start_in(dir).await;
    assert_eq!(std::fs::read(&server.admin_file).unwrap(), before);
    // A token from the first run still authenticates operator calls.
    let listed = server
        .client()
        .list_providers(bearer(pb::ListProvidersRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.providers.len(), 1, "no second operator was created");
    assert!(server.admin_token().await.len() > 20);
}
