//! Filling a fresh directory through the public API, as an IdP's first sync would.
//!
//! Users are created with POST /Users over a pool of connections; groups with POST
//! /Groups and then PATCH `add members` in batches of at most [`MEMBER_BATCH`] members,
//! the batch size Entra and Okta stay under.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Method, StatusCode};

use crate::api::{self, Api, ApiError};
use crate::load::Conn;

/// Members added per PATCH while building a group.
pub const MEMBER_BATCH: usize = 1000;
/// How often a create that hit back-pressure (429/503) is retried.
const RETRIES: usize = 5;

/// Creates users `range` (by index) and returns their ids in index order.
///
/// `user` builds the representation of an index; any failure other than transient
/// back-pressure stops the preload, because numbers measured on a half-filled directory
/// would be wrong.
pub async fn users(
    api: &Api,
    range: Range<usize>,
    connections: usize,
    user: fn(usize) -> serde_json::Value,
) -> Result<Vec<String>, ApiError> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let end = range.end;
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let next = Arc::clone(&next);
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(api.addr).await?;
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok::<_, ApiError>(made);
                }
                let id = create_user(&api, &mut conn, &user(i)).await?;
                made.push((i, id));
            }
        }));
    }
    let mut all = Vec::with_capacity(range.len());
    for t in tasks {
        let made = t.await.map_err(|e| ApiError::Body {
            what: format!("preload task failed: {e}"),
        })??;
        all.extend(made);
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, id)| id).collect())
}

/// Creates one user, retrying on 429/503, and returns its id.
async fn create_user(
    api: &Api,
    conn: &mut Conn,
    body: &serde_json::Value,
) -> Result<String, ApiError> {
    let path = format!("{}/Users", api::SCIM);
    let mut attempt = 0;
    loop {
        let (status, bytes) = conn
            .send(api.request(Method::POST, &path, Some(body)))
            .await?;
        let transient =
            status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE;
        if transient && attempt < RETRIES {
            attempt += 1;
            // Back-pressure from the server: give it a moment, as an IdP would.
            tokio::time::sleep(Duration::from_millis(100 * attempt as u64)).await;
            continue;
        }
        api::check("creating a user", status, &bytes)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| ApiError::Body {
            what: "creating a user".into(),
        })?;
        return v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Body {
                what: "creating a user (no id)".into(),
            });
    }
}

/// Creates a group named `name` with `members` and returns its id.
pub async fn group(api: &Api, name: &str, members: &[String]) -> Result<String, ApiError> {
    let mut conn = Conn::open(api.addr).await?;
    let created = api
        .call(
            &mut conn,
            "creating a group",
            Method::POST,
            &format!("{}/Groups", api::SCIM),
            Some(&api::group_json(name)),
        )
        .await?;
    let id = created["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Body {
            what: "creating a group (no id)".into(),
        })?;
    let path = format!("{}/Groups/{id}", api::SCIM);
    for batch in members.chunks(MEMBER_BATCH) {
        api.call(
            &mut conn,
            "adding group members",
            Method::PATCH,
            &path,
            Some(&api::patch_add_members(batch)),
        )
        .await?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::{Json, Path, State};
    use axum::routing::{patch, post};
    use serde_json::{Value, json};
    use std::sync::Mutex;

    /// A fake SCIM server that assigns ids and records membership batches; its first
    /// user create answers 503 once, to exercise the retry.
    #[derive(Clone, Default)]
    struct Fake {
        created: Arc<Mutex<Vec<String>>>,
        batches: Arc<Mutex<Vec<usize>>>,
        refused: Arc<AtomicUsize>,
    }

    async fn create(State(f): State<Fake>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
        if f.refused.fetch_add(1, Ordering::Relaxed) == 0 {
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({})));
        }
        let name = body["userName"].as_str().unwrap_or_default().to_owned();
        f.created.lock().unwrap().push(name.clone());
        (
            StatusCode::CREATED,
            Json(json!({"id": format!("id-{name}")})),
        )
    }

    async fn create_group() -> (StatusCode, Json<Value>) {
        (StatusCode::CREATED, Json(json!({"id": "g1"})))
    }

    async fn patch_group(
        State(f): State<Fake>,
        Path(id): Path<String>,
        Json(body): Json<Value>,
    ) -> StatusCode {
        assert_eq!(id, "g1");
        let n = body["Operations"][0]["value"]
            .as_array()
            .map_or(0, Vec::len);
        f.batches.lock().unwrap().push(n);
        StatusCode::NO_CONTENT
    }

    async fn fake() -> (Api, Fake) {
        let f = Fake::default();
        let app = Router::new()
            .route("/scim/v2/Users", post(create))
            .route("/scim/v2/Groups", post(create_group))
            .route("/scim/v2/Groups/{id}", patch(patch_group))
            .with_state(f.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let api = Api {
            addr,
            host: addr.to_string(),
            token: "t".into(),
        };
        (api, f)
    }

    #[tokio::test]
    async fn users_come_back_in_index_order_after_a_retry() {
        let (api, f) = fake().await;
        let ids = users(&api, 10..60, 4, |i| api::user_json(i, 0))
            .await
            .unwrap();
        assert_eq!(ids.len(), 50);
        assert_eq!(ids[0], format!("id-{}", api::user_name(10)));
        assert_eq!(ids[49], format!("id-{}", api::user_name(59)));
        assert_eq!(f.created.lock().unwrap().len(), 50);
    }

    #[tokio::test]
    async fn members_are_added_in_bounded_batches() {
        let (api, f) = fake().await;
        let members: Vec<String> = (0..2500).map(|i| format!("u{i}")).collect();
        let id = group(&api, "g", &members).await.unwrap();
        assert_eq!(id, "g1");
        assert_eq!(*f.batches.lock().unwrap(), vec![1000, 1000, 500]);
    }
}
