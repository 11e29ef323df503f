//! Token RPCs: issuance, introspection, revocation, keys and the revocation log.

use scim_authn::Caller;
use scim_proto::auth::v1 as pb;
use tonic::{Request, Response, Status};
use tracing::field::Empty;

use super::{AuthGrpc, timestamp};
use crate::db;

impl AuthGrpc {
    #[tracing::instrument(
        name = "auth.issue_token",
        skip_all,
        fields(client_id = Empty, tenant = Empty, token.ttl_seconds = Empty)
    )]
    pub(super) async fn issue_token_rpc(
        &self,
        request: Request<pb::IssueTokenRequest>,
    ) -> Result<Response<pb::IssueTokenResponse>, Status> {
        let req = request.into_inner();
        let issued = self
            .authority
            .issue_token(
                &req.client_id,
                &req.client_secret,
                &req.scope,
                req.ttl_seconds,
            )
            .await
            .inspect_err(|e| tracing::info!(reason = %e, "token refused"))?;
        let span = tracing::Span::current();
        span.record("client_id", issued.client_id.as_str());
        span.record("token.ttl_seconds", issued.expires_in);
        tracing::info!(
            client_id = %issued.client_id,
            token.scope = %issued.scope,
            token.ttl_seconds = issued.expires_in,
            "token issued"
        );
        Ok(Response::new(pb::IssueTokenResponse {
            access_token: issued.access_token,
            token_type: "Bearer".into(),
            expires_in: issued.expires_in,
            scope: issued.scope,
        }))
    }

    #[tracing::instrument(name = "auth.introspect", skip_all, fields(caller.client_id = Empty, token.active = Empty))]
    pub(super) async fn introspect_rpc(
        &self,
        request: Request<pb::IntrospectRequest>,
    ) -> Result<Response<pb::IntrospectResponse>, Status> {
        let bearer = request.extensions().get::<Caller>().cloned();
        let req = request.into_inner();
        let caller = self
            .authority
            .caller_identity(bearer.as_ref(), &req.client_id, &req.client_secret)
            .await?;
        let span = tracing::Span::current();
        span.record("caller.client_id", caller.client_id.as_str());
        let answer = match self.authority.introspect(&caller, &req.token).await {
            Some(c) => pb::IntrospectResponse {
                active: true,
                scope: c.scope,
                client_id: c.client_id,
                sub: c.sub,
                tenant: c.tenant,
                iss: c.iss,
                aud: c.aud,
                jti: c.jti,
                iat: c.iat,
                exp: c.exp,
                token_type: "Bearer".into(),
            },
            None => pb::IntrospectResponse::default(),
        };
        span.record("token.active", answer.active);
        Ok(Response::new(answer))
    }

    #[tracing::instrument(name = "auth.revoke", skip_all, fields(caller.client_id = Empty))]
    pub(super) async fn revoke_rpc(
        &self,
        request: Request<pb::RevokeRequest>,
    ) -> Result<Response<pb::RevokeResponse>, Status> {
        let bearer = request.extensions().get::<Caller>().cloned();
        let req = request.into_inner();
        let caller = self
            .authority
            .caller_identity(bearer.as_ref(), &req.client_id, &req.client_secret)
            .await?;
        tracing::Span::current().record("caller.client_id", caller.client_id.as_str());
        self.authority.revoke(&caller, &req.token, &req.jti).await?;
        Ok(Response::new(pb::RevokeResponse {}))
    }

    #[tracing::instrument(name = "auth.get_public_keys", skip_all)]
    pub(super) async fn get_public_keys_rpc(
        &self,
        _request: Request<pb::GetPublicKeysRequest>,
    ) -> Result<Response<pb::GetPublicKeysResponse>, Status> {
        let keys = self
            .authority
            .published_keys()
            .into_iter()
            .map(|k| pb::PublicKey {
                kid: k.jwk.kid,
                alg: "EdDSA".into(),
                crv: "Ed25519".into(),
                x: k.jwk.x,
                status: k.status.into(),
            })
            .collect();
        let settings = self.authority.token_settings();
        Ok(Response::new(pb::GetPublicKeysResponse {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        }))
    }

    #[tracing::instrument(
        name = "auth.list_revocations",
        skip_all,
        fields(revocation.since = Empty, revocation.count = Empty)
    )]
    pub(super) async fn list_revocations_rpc(
        &self,
        request: Request<pb::ListRevocationsRequest>,
    ) -> Result<Response<pb::ListRevocationsResponse>, Status> {
        let since = request.into_inner().since_sequence;
        let span = tracing::Span::current();
        span.record("revocation.since", since);
        let page = self.authority.list_revocations(since).await?;
        span.record("revocation.count", page.revocations.len());
        let revocations = page
            .revocations
            .into_iter()
            .map(|r| pb::Revocation {
                jti: r.jti.unwrap_or_default(),
                client_id: r.client_id.unwrap_or_default(),
                issued_before: r.issued_before.map(|t| timestamp(db::from_db(t))),
                expires_at: Some(timestamp(db::from_db(r.expires_at))),
                sequence: r.sequence,
            })
            .collect();
        Ok(Response::new(pb::ListRevocationsResponse {
            revocations,
            sequence: page.sequence,
        }))
    }
}
