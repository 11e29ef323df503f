//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: ready when at least one replica of each upstream service answers its
/// health check with SERVING. The body names every replica that does not, so an
/// operator sees a dead replica before it is the last one:
/// `{"status": "ok", "identity": "ok", "auth": "ok", "down": ["http://…"]}`.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let (identity, auth) =
        tokio::join!(state.identity_upstream.probe(), state.auth_upstream.probe());
    let any_up = |replicas: &[(String, bool)]| replicas.iter().any(|(_, up)| *up);
    let (identity_ok, auth_ok) = (any_up(&identity), any_up(&auth));
    let down: Vec<&str> = identity
        .iter()
        .chain(&auth)
        .filter(|(_, up)| !up)
        .map(|(url, _)| url.as_str())
        .collect();
    let status = if identity_ok && auth_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        Json(json!({
            "status": word(identity_ok && auth_ok),
            "identity": word(identity_ok),
            "auth": word(auth_ok),
            "down": down,
        })),
    )
}
