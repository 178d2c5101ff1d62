//! `GET /health` (the process is alive) and `GET /ready` (it can take traffic: the store answers
//! and every shard runs). Orchestrators restart on the first and route on the second. Both are
//! open (no API key), so `/ready`'s `reason` names what is wrong without the details (a store
//! error names the database hosts); the details go to the log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use tracing::warn;
use utoipa::ToSchema;

use super::state::AppState;

/// The answer of `/health` and `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `healthy`, `ready` or `not_ready`.
    #[schema(value_type = String, example = "ready")]
    pub status: &'static str,
    /// Why the server is not ready; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Liveness: `200` while the process runs.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = HealthStatus))
)]
pub async fn health() -> Json<HealthStatus> {
    Json(HealthStatus {
        status: "healthy",
        reason: None,
    })
}

/// Readiness: `200` when the store answers and every shard runs, `503` otherwise.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = 200, description = "Ready to take traffic", body = HealthStatus),
        (status = 503, description = "Store unreachable or a shard down; `reason` says which",
         body = HealthStatus),
    )
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthStatus>) {
    let problem = match (state.store.ping().await, state.tree.live_shards().await) {
        (Err(err), _) => Some(("store unreachable".to_string(), err.to_string())),
        (_, Err(err)) => Some(("actor tree unavailable".to_string(), err.to_string())),
        (Ok(()), Ok((live, expected))) if live < expected => {
            let reason = format!("{live} of {expected} shards running");
            Some((reason.clone(), reason))
        }
        (Ok(()), Ok(_)) => None,
    };
    match problem {
        None => (
            StatusCode::OK,
            Json(HealthStatus {
                status: "ready",
                reason: None,
            }),
        ),
        Some((reason, details)) => {
            warn!(reason = %reason, details = %details, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(HealthStatus {
                    status: "not_ready",
                    reason: Some(reason),
                }),
            )
        }
    }
}
