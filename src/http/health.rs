//! `GET /health` (the process is alive) and `GET /ready` (it can take traffic: the store answers
//! and every shard runs). Orchestrators restart on the first and route on the second.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use tracing::warn;

use super::AppState;

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "healthy" }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let problem = match (state.store.ping().await, state.tree.live_shards().await) {
        (Err(err), _) => Some(format!("store unreachable: {err}")),
        (_, Err(err)) => Some(format!("actor tree: {err}")),
        (Ok(()), Ok((live, expected))) if live < expected => {
            Some(format!("{live} of {expected} shards running"))
        }
        (Ok(()), Ok(_)) => None,
    };
    match problem {
        None => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Some(reason) => {
            warn!(reason = %reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not_ready", "reason": reason })),
            )
        }
    }
}
