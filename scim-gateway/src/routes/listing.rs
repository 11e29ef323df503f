//! The list and search flow shared by `/Users` and `/Groups`: parse the filter for the
//! resource type, run one page, render the ListResponse.

use std::future::Future;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use scim_authn::scopes::SCIM_READ;
use scim_proto::identity::v1 as pb;

use crate::auth::Authenticated;
use crate::error::ScimError;
use crate::extract::QueryPairs;
use crate::routes::projection::Projection;
use crate::routes::response;
use crate::scim::filter;
use crate::scim::list::{ListParams, ListResponse, Resource};
use crate::scim::projection::Projected;
use crate::state::AppState;
use scim_model::ResourceKind;

/// Runs `query` (one page: filter, start index, count, projection → resources and the
/// total) for `params` and renders the ListResponse.
pub(crate) async fn run<'r, F, Fut>(
    auth: &Authenticated,
    params: ListParams,
    kind: ResourceKind,
    query: F,
) -> Result<Response, ScimError>
where
    F: FnOnce(Option<pb::Filter>, i64, i64, Projection) -> Fut,
    Fut: Future<Output = Result<(Vec<Projected<Resource<'r>>>, i64), ScimError>>,
{
    auth.require(SCIM_READ)?;
    let filter = params
        .filter
        .as_deref()
        .map(|f| filter::parse(f, kind))
        .transpose()?;
    if let Some(f) = &filter {
        tracing::Span::current().record("scim.filter_shape", filter::shape(f).as_str());
    }
    let proj = Projection {
        attributes: params.attributes.clone(),
        excluded: params.excluded_attributes.clone(),
    };
    let (resources, total) = query(filter, params.start_index, params.count, proj).await?;
    tracing::Span::current().record("scim.result_count", resources.len());
    let body = ListResponse {
        resources,
        total_results: total,
        start_index: params.start_index,
    };
    Ok(response::scim(StatusCode::OK, &body))
}

/// One page of resources, and the total number of matches.
pub(crate) type Page<'s> = (Vec<Projected<Resource<'s>>>, i64);

/// A resource type the list and search routes serve: how one page of it is read.
/// Everything else about a list is written once, here.
pub(crate) trait Listed {
    /// The resource type.
    const KIND: ResourceKind;

    /// One page matching `filter`, projected by `proj`.
    fn page<'s>(
        state: &'s AppState,
        auth: &Authenticated,
        filter: Option<pb::Filter>,
        start_index: i64,
        count: i64,
        proj: &Projection,
    ) -> impl Future<Output = Result<Page<'s>, ScimError>> + Send;
}

/// Runs a list query of `K` and renders the ListResponse.
pub(crate) async fn run_list<K: Listed>(
    state: &AppState,
    auth: &Authenticated,
    params: ListParams,
) -> Result<Response, ScimError> {
    run(
        auth,
        params,
        K::KIND,
        |filter, start, count, proj| async move {
            K::page(state, auth, filter, start, count, &proj).await
        },
    )
    .await
}

/// `GET /Users`, `GET /Groups`.
pub(crate) async fn list<K: Listed>(
    State(state): State<AppState>,
    auth: Authenticated,
    query: QueryPairs,
) -> Result<Response, ScimError> {
    let params = ListParams::from_query(
        &query.0,
        state.settings.default_page_size,
        state.settings.max_page_size,
    )?;
    run_list::<K>(&state, &auth, params).await
}
