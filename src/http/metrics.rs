//! `GET /metrics`: this app's metrics in the Prometheus text format (see `crate::metrics` for
//! the list). Gauges that describe a current state are read at scrape time.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;

use super::error::ApiError;
use super::state::AppState;
use crate::auth::{Caller, Scope};

/// The content type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus metrics. With API keys in force, needs the `admin` scope, or `read` on every
/// topic: the figures are the whole server's, per key name included.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Metrics in the Prometheus text exposition format",
         content_type = "text/plain; version=0.0.4", body = String),
    )
)]
pub async fn get_metrics(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    if caller.require(&[Scope::Admin]).is_err() {
        caller.require(&[Scope::Read])?;
        caller.require_every_topic()?;
    }
    for (shard, events) in state.tree.inflight_events() {
        state.metrics.set_inflight(shard, events);
    }
    Ok((
        [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
        state.metrics.render(),
    ))
}
