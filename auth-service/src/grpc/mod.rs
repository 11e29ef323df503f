//! `auth.v1.AuthService` over tonic: thin handlers that check the caller, translate
//! messages and call [`Authority`].
//!
//! The [`AuthLayer`](scim_authn::grpc::AuthLayer) in front verifies bearer tokens; the
//! methods in [`OPEN_METHODS`] pass without one (they authenticate otherwise, or carry
//! nothing secret), every other method needs a token, and operator methods check for
//! the `admin` scope here.

mod providers;
mod tokens;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use scim_authn::scopes;
use scim_proto::auth::v1 as pb;
use scim_proto::auth::v1::auth_service_server::AuthService;
use tonic::{Request, Response, Status};

use crate::authority::Authority;

/// Methods the auth layer lets through without a bearer token.
pub const OPEN_METHODS: &[&str] = &[
    "/auth.v1.AuthService/IssueToken",
    "/auth.v1.AuthService/GetPublicKeys",
    "/auth.v1.AuthService/ListRevocations",
    "/auth.v1.AuthService/Introspect",
    "/auth.v1.AuthService/Revoke",
];

/// The gRPC service.
#[derive(Debug, Clone)]
pub struct AuthGrpc {
    authority: Arc<Authority>,
}

impl AuthGrpc {
    /// A service over `authority`.
    pub fn new(authority: Arc<Authority>) -> Self {
        AuthGrpc { authority }
    }
}

/// `UNAUTHENTICATED` without a verified token, `PERMISSION_DENIED` without `admin`.
fn require_admin<T>(req: &Request<T>) -> Result<(), Status> {
    scim_authn::grpc::caller(req)?.require(scopes::ADMIN)
}

/// A UTC time as a protobuf timestamp.
fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        // Always below 2e9, so it fits.
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    async fn issue_token(
        &self,
        request: Request<pb::IssueTokenRequest>,
    ) -> Result<Response<pb::IssueTokenResponse>, Status> {
        self.issue_token_rpc(request).await
    }

    async fn introspect(
        &self,
        request: Request<pb::IntrospectRequest>,
    ) -> Result<Response<pb::IntrospectResponse>, Status> {
        self.introspect_rpc(request).await
    }

    async fn revoke(
        &self,
        request: Request<pb::RevokeRequest>,
    ) -> Result<Response<pb::RevokeResponse>, Status> {
        self.revoke_rpc(request).await
    }

    async fn get_public_keys(
        &self,
        request: Request<pb::GetPublicKeysRequest>,
    ) -> Result<Response<pb::GetPublicKeysResponse>, Status> {
        self.get_public_keys_rpc(request).await
    }

    async fn list_revocations(
        &self,
        request: Request<pb::ListRevocationsRequest>,
    ) -> Result<Response<pb::ListRevocationsResponse>, Status> {
        self.list_revocations_rpc(request).await
    }

    async fn create_provider(
        &self,
        request: Request<pb::CreateProviderRequest>,
    ) -> Result<Response<pb::CreateProviderResponse>, Status> {
        self.create_provider_rpc(request).await
    }

    async fn list_providers(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        self.list_providers_rpc(request).await
    }

    async fn get_provider(
        &self,
        request: Request<pb::GetProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        self.get_provider_rpc(request).await
    }

    async fn rotate_provider_secret(
        &self,
        request: Request<pb::RotateProviderSecretRequest>,
    ) -> Result<Response<pb::RotateProviderSecretResponse>, Status> {
        self.rotate_provider_secret_rpc(request).await
    }

    async fn disable_provider(
        &self,
        request: Request<pb::DisableProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        self.disable_provider_rpc(request).await
    }

    async fn delete_provider(
        &self,
        request: Request<pb::DeleteProviderRequest>,
    ) -> Result<Response<pb::DeleteProviderResponse>, Status> {
        self.delete_provider_rpc(request).await
    }

    async fn rotate_signing_key(
        &self,
        request: Request<pb::RotateSigningKeyRequest>,
    ) -> Result<Response<pb::RotateSigningKeyResponse>, Status> {
        self.rotate_signing_key_rpc(request).await
    }
}
