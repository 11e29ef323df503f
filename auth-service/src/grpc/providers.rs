//! Operator RPCs: providers and signing-key rotation. All need the `admin` scope.

use chrono::Utc;
use scim_proto::auth::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::field::Empty;

use super::{AuthGrpc, require_admin, timestamp};
use crate::authority::{CachedProvider, NewProviderSpec};

/// The public view of a provider: never its secret or hashes.
fn provider_message(p: &CachedProvider) -> pb::Provider {
    pb::Provider {
        client_id: p.client_id.clone(),
        name: p.name.clone(),
        tenant: p.tenant.clone(),
        allowed_scopes: p.scopes.clone(),
        max_token_ttl_seconds: p.max_ttl,
        default_token_ttl_seconds: p.default_ttl,
        disabled: p.disabled,
        created: Some(timestamp(p.created_at)),
        previous_secret_expires: p.previous_secret_expires(Utc::now()).map(timestamp),
    }
}

impl AuthGrpc {
    #[tracing::instrument(name = "auth.create_provider", skip_all, fields(client_id = Empty))]
    pub(super) async fn create_provider_rpc(
        &self,
        request: Request<pb::CreateProviderRequest>,
    ) -> Result<Response<pb::CreateProviderResponse>, Status> {
        require_admin(&request)?;
        let req = request.into_inner();
        let (provider, client_secret) = self
            .authority
            .create_provider(NewProviderSpec {
                name: req.name,
                tenant: req.tenant,
                allowed_scopes: req.allowed_scopes,
                max_token_ttl_seconds: req.max_token_ttl_seconds,
                default_token_ttl_seconds: req.default_token_ttl_seconds,
            })
            .await?;
        tracing::Span::current().record("client_id", provider.client_id.as_str());
        Ok(Response::new(pb::CreateProviderResponse {
            provider: Some(provider_message(&provider)),
            client_secret,
        }))
    }

    #[tracing::instrument(name = "auth.list_providers", skip_all, fields(provider.count = Empty))]
    pub(super) async fn list_providers_rpc(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        require_admin(&request)?;
        let providers = self.authority.list_providers().await?;
        tracing::Span::current().record("provider.count", providers.len());
        Ok(Response::new(pb::ListProvidersResponse {
            providers: providers.iter().map(provider_message).collect(),
        }))
    }

    #[tracing::instrument(name = "auth.get_provider", skip_all, fields(client_id = %request.get_ref().client_id))]
    pub(super) async fn get_provider_rpc(
        &self,
        request: Request<pb::GetProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        require_admin(&request)?;
        let provider = self
            .authority
            .get_provider(&request.get_ref().client_id)
            .await?;
        Ok(Response::new(provider_message(&provider)))
    }

    #[tracing::instrument(
        name = "auth.rotate_provider_secret",
        skip_all,
        fields(client_id = %request.get_ref().client_id)
    )]
    pub(super) async fn rotate_provider_secret_rpc(
        &self,
        request: Request<pb::RotateProviderSecretRequest>,
    ) -> Result<Response<pb::RotateProviderSecretResponse>, Status> {
        require_admin(&request)?;
        let req = request.into_inner();
        let (provider, client_secret) = self
            .authority
            .rotate_provider_secret(&req.client_id, req.grace_seconds)
            .await?;
        Ok(Response::new(pb::RotateProviderSecretResponse {
            provider: Some(provider_message(&provider)),
            client_secret,
        }))
    }

    #[tracing::instrument(name = "auth.disable_provider", skip_all, fields(client_id = %request.get_ref().client_id))]
    pub(super) async fn disable_provider_rpc(
        &self,
        request: Request<pb::DisableProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        require_admin(&request)?;
        let provider = self
            .authority
            .disable_provider(&request.get_ref().client_id)
            .await?;
        Ok(Response::new(provider_message(&provider)))
    }

    #[tracing::instrument(name = "auth.delete_provider", skip_all, fields(client_id = %request.get_ref().client_id))]
    pub(super) async fn delete_provider_rpc(
        &self,
        request: Request<pb::DeleteProviderRequest>,
    ) -> Result<Response<pb::DeleteProviderResponse>, Status> {
        require_admin(&request)?;
        self.authority
            .delete_provider(&request.get_ref().client_id)
            .await?;
        Ok(Response::new(pb::DeleteProviderResponse {}))
    }

    #[tracing::instrument(name = "auth.rotate_signing_key_rpc", skip_all)]
    pub(super) async fn rotate_signing_key_rpc(
        &self,
        request: Request<pb::RotateSigningKeyRequest>,
    ) -> Result<Response<pb::RotateSigningKeyResponse>, Status> {
        require_admin(&request)?;
        let (current_kid, next_kid) = self.authority.rotate_signing_key().await?;
        Ok(Response::new(pb::RotateSigningKeyResponse {
            current_kid,
            next_kid,
        }))
    }
}
