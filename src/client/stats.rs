//! The one decoder of `GET /stats` on the client side: [`ServerStats`] and its parts, read with
//! [`Client::stats`]. The publish run verifies the [`ServerCounters`] of two such reads; the
//! tests assert on the rest (restarts, per-shard figures).
//!
//! Decoding is lenient where the document may grow or differ between server versions: a missing
//! list or optional figure decodes as empty or `None`, so an older or newer server can still be
//! verified. The three counters are required: without them nothing can be checked.

use serde::{Deserialize, Serialize};

use super::error::ClientError;
use super::http::Client;

/// The `/stats` document.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServerStats {
    /// Events acknowledged (new + duplicate), over every instance sharing the store.
    pub received: u64,
    /// Distinct events stored.
    pub unique_processed: u64,
    /// Events dropped as duplicates.
    pub duplicate_dropped: u64,
    /// Events stored now (`unique_processed - expired - purged`); `None` from a server older
    /// than retention.
    #[serde(default)]
    pub stored_events: Option<u64>,
    /// Stored events deleted because their retention ran out.
    #[serde(default)]
    pub expired: u64,
    /// Stored events deleted by purges.
    #[serde(default)]
    pub purged: u64,
    /// Topics with at least one stored event, sorted (the first 1,000).
    #[serde(default)]
    pub topics: Vec<String>,
    /// How many topics have at least one stored event.
    #[serde(default)]
    pub topics_total: u64,
    /// Every instance sharing the server's store.
    #[serde(default)]
    pub instances: Vec<InstanceStat>,
    /// Seconds since the process started.
    #[serde(default)]
    pub uptime_seconds: f64,
    /// Which store backend the server uses (`postgres`, `embedded`, ...).
    #[serde(default)]
    pub store: String,
    /// Per-shard figures, by shard index.
    #[serde(default)]
    pub shards: Vec<ShardStat>,
    /// Shard restarts since the process started.
    #[serde(default)]
    pub restarts: u64,
    /// How long recent shard restarts took (`None` before the first).
    #[serde(default)]
    pub restart_ms: Option<RestartMillis>,
}

/// One aggregator instance, as `/stats` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InstanceStat {
    /// Its `--instance-id`.
    pub instance: String,
    /// Whether its last heartbeat is recent.
    pub alive: bool,
}

impl ServerStats {
    /// The three counters the publish run verifies.
    pub fn counters(&self) -> ServerCounters {
        ServerCounters {
            received: self.received,
            unique_processed: self.unique_processed,
            duplicate_dropped: self.duplicate_dropped,
        }
    }
}

/// One shard's figures.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShardStat {
    /// The shard's index.
    pub shard: u64,
    /// Events it acknowledged (persisted, over every instance).
    #[serde(default)]
    pub received: u64,
    /// Events it stored for the first time.
    #[serde(default)]
    pub unique_processed: u64,
    /// Events it dropped as duplicates.
    #[serde(default)]
    pub duplicate_dropped: u64,
    /// Times the supervisor restarted it since the process started.
    #[serde(default)]
    pub restarts: u64,
    /// Duplicates it answered from memory since the process started.
    #[serde(default)]
    pub fastpath_hits: u64,
}

/// Median and maximum of recent shard restart times, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct RestartMillis {
    /// Median.
    pub median: f64,
    /// Slowest.
    pub max: f64,
}

/// The counters of `/stats` that a publish run checks; also what its report prints and
/// serialises (`stats_before`, `stats_after`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ServerCounters {
    /// Events acknowledged.
    pub received: u64,
    /// Distinct events stored.
    pub unique_processed: u64,
    /// Events dropped as duplicates.
    pub duplicate_dropped: u64,
}

impl Client {
    /// `GET /stats`, retried like every request of this client.
    pub async fn stats(&self) -> Result<ServerStats, ClientError> {
        self.get("/stats").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_stats_document_decodes() {
        let document = r#"{"received":3,"unique_processed":2,"duplicate_dropped":1,
            "topics":["orders"],"uptime_seconds":12.5,"store":"postgres",
            "shards":[{"shard":0,"received":3,"unique_processed":2,"duplicate_dropped":1,
                       "restarts":1,"fastpath_hits":0}],
            "restarts":1,"restart_ms":{"median":0.5,"max":0.7}}"#;
        let stats: ServerStats = serde_json::from_str(document).unwrap();
        assert_eq!(
            stats.counters(),
            ServerCounters {
                received: 3,
                unique_processed: 2,
                duplicate_dropped: 1
            }
        );
        assert_eq!(stats.shards[0].restarts, 1);
        assert_eq!(stats.restart_ms.map(|r| r.max), Some(0.7));
    }

    #[test]
    fn only_the_counters_are_required() {
        let stats: ServerStats =
            serde_json::from_str(r#"{"received":0,"unique_processed":0,"duplicate_dropped":0}"#)
                .unwrap();
        assert!(stats.shards.is_empty() && stats.restart_ms.is_none());
        assert!(serde_json::from_str::<ServerStats>(r#"{"received":0}"#).is_err());
    }
}
