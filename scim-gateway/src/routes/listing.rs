//! The list and search flow shared by `/Users` and `/Groups`: parse the filter for the
//! resource type, run one page, render the ListResponse.

use std::future::Future;

use axum::http::StatusCode;
use axum::response::Response;
use scim_authn::scopes::SCIM_READ;
use scim_proto::identity::v1 as pb;

use crate::auth::Authenticated;
use crate::error::ScimError;
use crate::routes::response;
use crate::routes::users::Projection;
use crate::scim::filter;
use crate::scim::list::{ListParams, ListResponse, Resource};
use crate::scim::projection::Projected;
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
