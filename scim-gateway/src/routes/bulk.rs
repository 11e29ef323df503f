//! `POST /Bulk` (RFC 7644 §3.7): each operation is sent through the same `/Users` and
//! `/Groups` routes a single request takes, so it is checked, answered and traced
//! exactly as that request would be, in a child span of the Bulk request's span.
//!
//! Each operation is atomic on its own; nothing is atomic across operations: an
//! operation that failed leaves the ones before it in place. The plan
//! ([`crate::scim::bulk::plan`]) decides what may run together.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt as _;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

use scim_authn::scopes::SCIM_WRITE;
use scim_model::BULK_RESPONSE_SCHEMA;
use scim_model::limits::MAX_BULK_PAYLOAD_BYTES;

use crate::auth::Authenticated;
use crate::error::{SCIM_CONTENT_TYPE, ScimError};
use crate::extract::ScimJson;
use crate::routes::{SCIM_PREFIX, response};
use crate::scim::bulk::{self, BULK_ID_PREFIX, Checked, Operation};
use crate::state::AppState;

/// Operations of one batch in flight at once. Enough for identity-service to commit
/// many creates together (SQLite's writer groups queued writes; PostgreSQL has a pool),
/// few enough that one Bulk request does not take every upstream connection.
const CONCURRENCY: usize = 16;

/// Largest response body read back from one operation. A group answered in full is the
/// largest; a request cannot make it larger than its members limit allows.
const MAX_OPERATION_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The routes Bulk operations are sent through: `/Users` and `/Groups` with
/// [`crate::request_layer::bulk_operation_span`] in place of the token check.
#[derive(Clone)]
pub struct OperationRoutes(pub Router);

/// What one operation answered.
struct Outcome {
    status: StatusCode,
    location: Option<String>,
    version: Option<String>,
    body: Option<Value>,
}

impl Outcome {
    fn failed(&self) -> bool {
        self.status.is_client_error() || self.status.is_server_error()
    }

    fn refused(e: ScimError) -> Self {
        Outcome {
            status: e.status(),
            location: None,
            version: None,
            body: Some(e.body()),
        }
    }
}

/// `POST /Bulk`.
pub async fn handle(
    State(state): State<AppState>,
    Extension(routes): Extension<OperationRoutes>,
    auth: Authenticated,
    body: Result<ScimJson, ScimError>,
) -> Result<Response, ScimError> {
    auth.require(SCIM_WRITE)?;
    let ScimJson(body) = body.map_err(|e| match e {
        ScimError::PayloadTooLarge(_) => ScimError::PayloadTooLarge(format!(
            "the request is larger than this server's maxPayloadSize ({MAX_BULK_PAYLOAD_BYTES} bytes)"
        )),
        other => other,
    })?;
    let request = bulk::parse(&body)?;
    drop(body);
    let ops = &request.operations;
    let plan = bulk::plan(ops);
    let mut outcomes: Vec<Option<Outcome>> = ops.iter().map(|_| None).collect();
    let errors = AtomicUsize::new(0);
    for (i, reason) in plan.refused {
        outcomes[i] = Some(Outcome::refused(ScimError::Unresolved(reason)));
        errors.fetch_add(1, Ordering::Relaxed);
    }
    let limit = request.fail_on_errors.unwrap_or(usize::MAX);
    // bulkId → the id its create made; absent while it has not run or when it failed.
    let mut created: HashMap<String, String> = HashMap::new();
    for batch in plan.batches {
        if errors.load(Ordering::Relaxed) >= limit {
            break;
        }
        let prepared: Vec<(usize, Result<Prepared, ScimError>)> = batch
            .into_iter()
            .map(|i| (i, prepare(&state, &auth, &ops[i], &created)))
            .collect();
        let mut running = futures_util::stream::iter(prepared)
            // Stops starting operations once the client's error budget is spent; those
            // already started finish and are reported.
            .take_while(|_| std::future::ready(errors.load(Ordering::Relaxed) < limit))
            .map(|(i, req)| {
                let routes = routes.0.clone();
                async move {
                    let outcome = match req {
                        Ok(p) => {
                            let mut o = run(routes, p.request).await;
                            o.location = o.location.or(p.location);
                            o
                        }
                        Err(e) => Outcome::refused(e),
                    };
                    (i, outcome)
                }
            })
            .buffer_unordered(CONCURRENCY);
        while let Some((i, outcome)) = running.next().await {
            if outcome.failed() {
                errors.fetch_add(1, Ordering::Relaxed);
            } else if let (Some(b), Some(id)) = (&ops[i].bulk_id, created_id(&outcome)) {
                created.insert(b.clone(), id);
            }
            outcomes[i] = Some(outcome);
        }
    }
    let results: Vec<Value> = ops
        .iter()
        .zip(outcomes)
        .filter_map(|(op, outcome)| outcome.map(|o| render(op, o)))
        .collect();
    Ok(response::scim(
        StatusCode::OK,
        &json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": results}),
    ))
}

/// The id a successful create answered with.
fn created_id(o: &Outcome) -> Option<String> {
    (o.status == StatusCode::CREATED)
        .then(|| o.body.as_ref()?.get("id")?.as_str().map(str::to_owned))
        .flatten()
}

/// An operation ready to send.
struct Prepared {
    request: Request<Body>,
    /// The resource's URL when the path names one (every method but POST).
    location: Option<String>,
}

/// The request for `op` once its references are resolved, or why it cannot be made.
fn prepare(
    state: &AppState,
    auth: &Authenticated,
    op: &Operation,
    created: &HashMap<String, String>,
) -> Result<Prepared, ScimError> {
    let c: &Checked = op.checked.as_ref().map_err(Clone::clone)?;
    if let Some(missing) = c.refs.iter().find(|r| !created.contains_key(r.as_str())) {
        return Err(ScimError::Unresolved(format!(
            "bulkId `{missing}` names no resource: the operation that creates it failed or was refused"
        )));
    }
    let id = c.target.id.as_deref().map(|id| {
        id.strip_prefix(BULK_ID_PREFIX)
            .and_then(|b| created.get(b))
            .map_or(id, String::as_str)
    });
    let endpoint = c.target.endpoint;
    let (uri, location) = match id {
        Some(id) => (
            format!("{SCIM_PREFIX}/{endpoint}/{id}"),
            Some(format!("{}/{endpoint}/{id}", state.settings.scim_base)),
        ),
        None => (format!("{SCIM_PREFIX}/{endpoint}"), None),
    };
    let mut builder = Request::builder()
        .method(c.method.http())
        .uri(uri)
        .header(header::CONTENT_TYPE, SCIM_CONTENT_TYPE);
    if let Some(v) = op.version.as_deref() {
        let v = HeaderValue::from_str(v)
            .map_err(|_| ScimError::invalid_value("`version` is not a valid entity tag"))?;
        builder = builder.header(header::IF_MATCH, v);
    }
    let body = match &c.data {
        Some(d) => {
            let mut d = d.clone();
            bulk::resolve(&mut d, created);
            Body::from(serde_json::to_vec(&d).map_err(|e| ScimError::Internal(e.to_string()))?)
        }
        None => Body::empty(),
    };
    let mut req = builder
        .body(body)
        .map_err(|_| ScimError::NotFound("no resource has this id".into()))?;
    req.extensions_mut().insert(auth.clone());
    Ok(Prepared {
        request: req,
        location,
    })
}

/// Sends one operation through the resource routes and reads what they answered.
async fn run(routes: Router, req: Request<Body>) -> Outcome {
    let response = match routes.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    read(response).await
}

async fn read(response: Response) -> Outcome {
    let status = response.status();
    let headers = response.headers();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = text(header::LOCATION);
    let version = text(header::ETAG);
    let body = match axum::body::to_bytes(response.into_body(), MAX_OPERATION_RESPONSE_BYTES).await
    {
        Ok(b) if b.is_empty() => None,
        Ok(b) => serde_json::from_slice(&b).ok(),
        Err(e) => {
            return Outcome::refused(ScimError::Internal(format!(
                "an operation's response could not be read: {e}"
            )));
        }
    };
    Outcome {
        status,
        location,
        version,
        body,
    }
}

/// One entry of the response's `Operations`.
fn render(op: &Operation, o: Outcome) -> Value {
    let mut out = Map::new();
    out.insert("method".into(), op.method_text.to_ascii_uppercase().into());
    if let Some(b) = &op.bulk_id {
        out.insert("bulkId".into(), b.clone().into());
    }
    if let Some(v) = o.version {
        out.insert("version".into(), v.into());
    }
    let location = o.location.or_else(|| {
        let meta = o.body.as_ref()?.get("meta")?;
        meta.get("location")?.as_str().map(str::to_owned)
    });
    if let Some(l) = location {
        out.insert("location".into(), l.into());
    }
    // RFC 7644 writes the status as a string, as in error bodies.
    out.insert("status".into(), o.status.as_u16().to_string().into());
    if let Some(b) = o.body {
        out.insert("response".into(), b);
    }
    Value::Object(out)
}
