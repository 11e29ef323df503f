//! Authentication, scopes, health and reflection.

use scim_authn::test_support::TestIssuer;
use scim_proto::identity::v1 as pb;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::harness::*;

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let srv = TestServer::start().await;
    let mut anonymous = srv.client_with_token(None);
    assert_eq!(
        code(
            anonymous
                .get_user(pb::GetUserRequest { id: "x".into() })
                .await
        ),
        Code::Unauthenticated
    );
    assert_eq!(
        code(
            anonymous
                .create_user(pb::CreateUserRequest {
                    user: Some(user("a"))
                })
                .await
        ),
        Code::Unauthenticated
    );
    let stranger = TestIssuer::new().mint("t", RW);
    let mut foreign = srv.client_with_token(Some(&stranger));
    assert_eq!(
        code(foreign.list_users(pb::ListUsersRequest::default()).await),
        Code::Unauthenticated
    );
    let mut garbage = srv.client_with_token(Some("not.a.jwt"));
    assert_eq!(
        code(garbage.list_groups(pb::ListGroupsRequest::default()).await),
        Code::Unauthenticated
    );
    let mut expired_claims = srv.issuer.claims("t", RW);
    expired_claims.exp = expired_claims.iat - 3600;
    let mut expired = srv.client_with_token(Some(&srv.issuer.sign(&expired_claims)));
    assert_eq!(
        code(expired.list_users(pb::ListUsersRequest::default()).await),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn scopes_gate_reads_and_writes() {
    let srv = TestServer::start().await;
    let mut rw = srv.client("t", RW);
    let u = create_user(&mut rw, user("scoped")).await;
    let g = create_group(&mut rw, "G", vec![]).await;

    let mut ro = srv.client("t", RO);
    ro.get_user(pb::GetUserRequest { id: u.id.clone() })
        .await
        .unwrap();
    ro.list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap();
    let denied = [
        code(
            ro.create_user(pb::CreateUserRequest {
                user: Some(user("x")),
            })
            .await,
        ),
        code(
            ro.delete_user(pb::DeleteUserRequest {
                id: u.id.clone(),
                expected_version: 0,
            })
            .await,
        ),
        code(modify(&mut ro, &g.id, vec![add(vec![member(&u.id)])]).await),
        code(
            ro.delete_group(pb::DeleteGroupRequest {
                id: g.id.clone(),
                expected_version: 0,
            })
            .await,
        ),
    ];
    assert!(
        denied.iter().all(|c| *c == Code::PermissionDenied),
        "{denied:?}"
    );

    let mut write_only = srv.client("t", "scim:write");
    assert_eq!(
        code(
            write_only
                .get_user(pb::GetUserRequest { id: u.id.clone() })
                .await
        ),
        Code::PermissionDenied
    );
    let mut admin_only = srv.client("t", "admin");
    assert_eq!(
        code(admin_only.list_users(pb::ListUsersRequest::default()).await),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn health_is_serving_without_a_token() {
    let srv = TestServer::start().await;
    let mut health = HealthClient::new(srv.channel());
    for service in ["", "identity.v1.IdentityService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
}

#[tokio::test]
async fn reflection_lists_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let srv = TestServer::start().await;
    let mut client = ServerReflectionClient::new(srv.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection response");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"identity.v1.IdentityService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
}
