//! The actor tree: a supervisor, a stats actor, N shard actors that turn ingest requests into
//! group commits, and a pruner that deletes what retention lets go.
//!
//! ```text
//!                 SupervisorActor            (supervisor.rs: routing, restarts, chaos kills)
//!                /       |        \         \
//!         StatsActor  Shard 0 ... Shard N-1  PrunerActor
//!   (stats.rs; shard.rs + commit.rs + slots.rs + fastpath.rs; pruner.rs: retention, purges)
//! ```
//!
//! Nothing outside this module sees an `ActorRef`, a `call_t!` or a `RactorErr`: the HTTP layer
//! holds an [`ActorTree`] (tree.rs) and calls [`ActorTree::ingest`], [`ActorTree::stats`] and
//! [`ActorTree::live_shards`]. Settings are plain data in [`config`]; errors in [`error`].

pub mod chaos;
pub mod cluster_watcher;
mod commit;
pub mod config;
pub mod error;
pub mod fastpath;
pub mod pruner;
pub mod routing;
pub mod shard;
mod slots;
pub mod stats;
pub mod supervisor;
#[cfg(test)]
mod test_support;
pub mod tree;

pub use chaos::ChaosConfig;
pub use config::{BatchingConfig, RestartBudget, RetentionConfig, TreeConfig};
pub use error::{ActorError, IngestError};
pub use pruner::PurgeOutcome;
pub use stats::{RestartLatency, ShardStats, StatsSnapshot};
pub use tree::ActorTree;
