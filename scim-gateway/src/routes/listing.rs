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
use crate::scim::list::{Cursors, ListParams, ListResponse, Resource};
use crate::scim::projection::Projected;
use crate::state::AppState;
use scim_model::ResourceKind;

/// Where a page starts: a 1-based index, or a cursor (RFC 9865; empty for the first page).
#[derive(Debug, Clone)]
pub(crate) enum At {
    /// Index paging.
    Index(i64),
    /// Cursor paging: identity.v1's continuation token.
    Cursor(String),
}

impl At {
    /// The `identity.v1` page request for `count` resources from here.
    pub(crate) fn page_request(self, count: i64) -> pb::PageRequest {
        match self {
            At::Index(start_index) => pb::PageRequest {
                start_index,
                count,
                page_token: String::new(),
            },
            At::Cursor(token) => pb::PageRequest {
                start_index: 1,
                count,
                page_token: token,
            },
        }
    }
}

/// Where `params` asks its page to start.
pub(crate) fn at(params: &ListParams) -> At {
    match &params.cursor {
        Some(c) => At::Cursor(c.clone()),
        None => At::Index(params.start_index),
    }
}

/// The order `sortBy` and `sortOrder` ask a list of `kind` for (RFC 7644 §3.4.2.3);
/// `None` without `sortBy`. `sortOrder` alone is ignored, as the RFC has it default to
/// ascending only once there is a `sortBy`.
pub(crate) fn sort(params: &ListParams, kind: ResourceKind) -> Result<Option<pb::Sort>, ScimError> {
    let Some(by) = params.sort_by.as_deref() else {
        return Ok(None);
    };
    let attr = scim_model::sort::sort_attr(kind, by).ok_or_else(|| {
        ScimError::invalid_value(format!(
            "this list cannot be sorted by \"{by}\"; sortBy may name {}",
            scim_model::sort::sortable(kind)
        ))
    })?;
    let descending = match params.sort_order.as_deref().map(str::trim) {
        None => false,
        Some(o) if o.eq_ignore_ascii_case("ascending") => false,
        Some(o) if o.eq_ignore_ascii_case("descending") => true,
        Some(_) => {
            return Err(ScimError::invalid_value(
                "sortOrder must be \"ascending\" or \"descending\"",
            ));
        }
    };
    Ok(Some(pb::Sort {
        key: attr.key() as i32,
        descending,
    }))
}

/// Runs `query` (one page: filter, start, count, projection → resources, the total and
/// the next page's cursor) for `params` and renders the ListResponse.
pub(crate) async fn run<'r, F, Fut>(
    auth: &Authenticated,
    params: ListParams,
    kind: ResourceKind,
    query: F,
) -> Result<Response, ScimError>
where
    F: FnOnce(Option<pb::Filter>, Option<pb::Sort>, At, i64, Projection) -> Fut,
    Fut: Future<Output = Result<Page<'r>, ScimError>>,
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
    let order = sort(&params, kind)?;
    let proj = Projection {
        attributes: params.attributes.clone(),
        excluded: params.excluded_attributes.clone(),
    };
    let page = query(filter, order, at(&params), params.count, proj).await?;
    tracing::Span::current().record("scim.result_count", page.resources.len());
    let cursor = params.cursor.is_some().then(|| page.cursors());
    let body = ListResponse {
        resources: page.resources,
        total_results: page.total,
        start_index: params.start_index,
        cursor,
    };
    Ok(response::scim(StatusCode::OK, &body))
}

/// One page of resources.
pub(crate) struct Page<'s> {
    /// The resources, projected.
    pub(crate) resources: Vec<Projected<Resource<'s>>>,
    /// How many match in all.
    pub(crate) total: i64,
    /// The next page's cursor, empty at the end.
    pub(crate) next: String,
    /// The previous page's cursor, empty on the first page.
    pub(crate) previous: String,
}

impl Page<'_> {
    /// The page's cursors for a ListResponse.
    pub(crate) fn cursors(&self) -> Cursors {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Cursors {
            next: some(&self.next),
            previous: some(&self.previous),
        }
    }
}

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
        sort: Option<pb::Sort>,
        at: At,
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
        |filter, sort, at, count, proj| async move {
            K::page(state, auth, filter, sort, at, count, &proj).await
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
