//! `GET /stats`: live counters, topics, uptime and per-shard figures.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::error::ApiError;
use super::AppState;
use crate::actors::ShardStats;

/// The `/stats` document.
#[derive(Debug, Serialize)]
pub struct StatsResponse {
    /// Events acknowledged (new + duplicate).
    pub received: u64,
    /// Distinct events stored.
    pub unique_processed: u64,
    /// Events dropped as duplicates.
    pub duplicate_dropped: u64,
    /// Topics with at least one stored event, sorted.
    pub topics: Vec<String>,
    /// Seconds since the process started.
    pub uptime_seconds: f64,
    /// Which store backend is in use.
    pub store: &'static str,
    /// Per-shard counters and restarts.
    pub shards: Vec<ShardStats>,
}

pub async fn get_stats(State(state): State<AppState>) -> Result<Json<StatsResponse>, ApiError> {
    let snapshot = state.tree.stats().await?;
    let uptime_millis = snapshot.uptime.as_millis() as f64;
    Ok(Json(StatsResponse {
        received: snapshot.totals.received,
        unique_processed: snapshot.totals.unique_processed,
        duplicate_dropped: snapshot.totals.duplicate_dropped,
        topics: snapshot.topics,
        uptime_seconds: uptime_millis / 1000.0,
        store: state.store.backend(),
        shards: snapshot.shards,
    }))
}
