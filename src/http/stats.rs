//! `GET /stats`: counters of every instance sharing the store, topics, instances, uptime and
//! this instance's per-shard figures. With API keys in force the key needs the `read` or the
//! `admin` scope; a key limited to topic prefixes sees only those topics (the counters are the
//! whole store's: they are kept per shard, not per topic).

use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorResponse};
use super::state::AppState;
use crate::actors::ShardStats;
use crate::auth::{Caller, Scope};
use crate::retention::RetentionDescription;
use crate::store::InstanceInfo;

/// The `/stats` document.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    /// Events acknowledged (new + duplicate).
    pub received: u64,
    /// Distinct events stored, ever: an event stored again after its row expired or was
    /// purged counts again.
    pub unique_processed: u64,
    /// Events dropped as duplicates.
    pub duplicate_dropped: u64,
    /// Events stored now: `unique_processed - expired - purged`.
    pub stored_events: u64,
    /// Stored events deleted because their retention ran out.
    pub expired: u64,
    /// Stored events deleted by purges of their topic.
    pub purged: u64,
    /// The retention policy in force.
    pub retention: RetentionDescription,
    /// Topics with at least one stored event, sorted: the first 1,000 (`GET /topics` pages
    /// through all of them). A topic whose events all expired or were purged stays listed
    /// until the process restarts.
    pub topics: Vec<String>,
    /// How many topics have at least one stored event.
    pub topics_total: usize,
    /// Every aggregator instance sharing the store, with its last heartbeat and whether it
    /// looks alive. Counters and topics above cover all of them (at most about 1 s stale).
    pub instances: Vec<InstanceInfo>,
    /// Seconds since the process started.
    pub uptime_seconds: f64,
    /// Which store backend is in use.
    #[schema(value_type = String, example = "postgres")]
    pub store: &'static str,
    /// Per-shard counters and restarts.
    pub shards: Vec<ShardStats>,
    /// Shard restarts since the process started.
    pub restarts: u64,
    /// How long recent shard restarts took, in milliseconds (`null` before the first).
    pub restart_ms: Option<RestartMillis>,
}

/// Median and maximum restart duration.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestartMillis {
    /// Median of recent restarts.
    pub median: f64,
    /// Slowest recent restart.
    pub max: f64,
}

/// Live counters, topics, uptime, per-shard figures and restarts.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "operations",
    responses(
        (status = 200, description = "Current counters", body = StatsResponse),
        (status = 429, description = "Too many requests in progress; retry later", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "The actor tree did not answer in time", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn get_stats(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<StatsResponse>, ApiError> {
    caller.require(&[Scope::Read, Scope::Admin])?;
    let snapshot = state.tree.stats(caller.topics()).await?;
    let uptime_millis = snapshot.uptime.as_millis() as f64;
    let restarts = snapshot.shards.iter().map(|shard| shard.restarts).sum();
    let restart_ms = snapshot.restart_latency.map(|latency| RestartMillis {
        median: latency.median.as_secs_f64() * 1000.0,
        max: latency.max.as_secs_f64() * 1000.0,
    });
    Ok(Json(StatsResponse {
        received: snapshot.totals.received,
        unique_processed: snapshot.totals.unique_processed,
        duplicate_dropped: snapshot.totals.duplicate_dropped,
        stored_events: snapshot
            .totals
            .unique_processed
            .saturating_sub(snapshot.removals.total()),
        expired: snapshot.removals.expired,
        purged: snapshot.removals.purged,
        retention: state.tree.retention().describe(),
        topics: snapshot.topics,
        topics_total: snapshot.topics_total,
        instances: snapshot.instances,
        uptime_seconds: uptime_millis / 1000.0,
        store: state.store.backend(),
        shards: snapshot.shards,
        restarts,
        restart_ms,
    }))
}
