//! Authentication of gRPC calls: a tower layer for tonic servers.
//!
//! The layer verifies `authorization: Bearer <token>` metadata on every call except the
//! open methods it was given (health, reflection, and whatever the service lists), and
//! stores the verified [`Caller`] in the request extensions, where handlers read it with
//! [`caller`]. Scope checks stay in the handlers, next to what they protect.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;

use crate::{Caller, Verifier, VerifyError};

/// Paths that never need a token.
const ALWAYS_OPEN: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Extracts the bearer token from an `authorization` value (scheme case-insensitive).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The verified caller of a gRPC request; `UNAUTHENTICATED` when the layer did not run.
#[allow(clippy::result_large_err)]
pub fn caller<T>(req: &tonic::Request<T>) -> Result<&Caller, tonic::Status> {
    req.extensions()
        .get::<Caller>()
        .ok_or_else(|| tonic::Status::unauthenticated("missing bearer token"))
}

/// Maps a verification failure to the gRPC status a caller sees.
pub fn status_for(err: &VerifyError) -> tonic::Status {
    match err {
        VerifyError::KeysUnavailable(_) => {
            tonic::Status::unavailable("token verification keys are unavailable; retry")
        }
        VerifyError::Expired => tonic::Status::unauthenticated("access token expired"),
        VerifyError::Revoked => tonic::Status::unauthenticated("access token revoked"),
        _ => tonic::Status::unauthenticated("invalid access token"),
    }
}

/// A tower layer that authenticates every gRPC call.
#[derive(Clone)]
pub struct AuthLayer {
    verifier: Arc<Verifier>,
    open: Arc<[&'static str]>,
}

impl AuthLayer {
    /// Authenticates every call except health, reflection and the `open` method paths
    /// (`/package.Service/Method`).
    pub fn new(verifier: Arc<Verifier>, open: &[&'static str]) -> Self {
        AuthLayer {
            verifier,
            open: open.into(),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for AuthService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        // Take the service that was driven to readiness, leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = req.uri().path();
        let open =
            ALWAYS_OPEN.iter().any(|p| path.starts_with(p)) || self.layer.open.contains(&path);
        let verifier = self.layer.verifier.clone();
        let token = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .map(str::to_owned);
        Box::pin(async move {
            match token {
                Some(token) => match verifier.verify(&token).await {
                    Ok(claims) => {
                        let span = tracing::Span::current();
                        tracing::record_all!(
                            span,
                            tenant = claims.tenant.as_str(),
                            client_id = claims.client_id.as_str()
                        );
                        req.extensions_mut().insert(Caller::from(claims));
                    }
                    Err(e) if !open => {
                        tracing::info!(reason = %e, "rejected gRPC call");
                        return Ok(status_for(&e).into_http());
                    }
                    Err(_) => {}
                },
                None if !open => {
                    return Ok(tonic::Status::unauthenticated("missing bearer token").into_http());
                }
                None => {}
            }
            inner.call(req).await
        })
    }
}
