//! The actor tree's settings: how many shards, how they batch, how much they may hold, how
//! many restarts the supervisor absorbs, and fault injection. Plain data: the command line
//! (`cli/serve.rs`) fills it from flags, tests build it directly.

use std::sync::Arc;
use std::time::Duration;

use super::chaos::ChaosConfig;
use crate::retention::RetentionPolicy;

/// Default number of shard actors. Two: a shard's commit carries what its connections sent
/// while its previous commit ran, so fewer shards make larger commits of single events, and the
/// database's fixed cost of a commit is spread over more of them; two shards still commit two
/// sets of topics at once, which batches of hundreds of events need to use both cores of a small
/// machine. Measured on the 2-core development box (benches/results/2026-12-07-single-events.md):
/// four shards made commits of 11–14 single events, two of about 21 and one of about 50; one
/// shard lowered batches of 1,000 by a fifth, two did not.
pub const DEFAULT_SHARDS: u32 = 2;
/// Default group-commit size: a shard commits as soon as it buffers this many events.
pub const DEFAULT_BATCH_MAX_EVENTS: usize = 1000;
/// Default group-commit linger: the longest an event waits for company before its commit
/// starts. Short, because while a commit of its shard runs an event waits anyway, and the next
/// commit carries everything that arrived meanwhile: the linger only adds to the wait of events
/// that find their shard idle.
pub const DEFAULT_BATCH_LINGER: Duration = Duration::from_millis(1);
/// Default number of commits of one shard that may be running at once. One: on PostgreSQL a
/// second overlapping commit of the same shard waits on the first one's topic locks until its
/// flush ends anyway, and its smaller batches cost the database more CPU (measured:
/// benches/RESULTS.md, "single-event speed and commit slots").
pub const DEFAULT_COMMITS_IN_FLIGHT: usize = 1;
/// Default fast-path budget: committed keys remembered by all shards together (about 80 bytes
/// each, so about 80 MiB when full).
pub const DEFAULT_FASTPATH_KEYS: usize = 1_000_000;
/// Default limit on events in flight (buffered or committing) per shard.
pub const DEFAULT_MAX_INFLIGHT_EVENTS_PER_SHARD: usize = 20_000;
/// Default upper bound on how long an ingest waits for its commit.
pub const DEFAULT_INGEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default restart budget: shard deaths tolerated within the window before the tree fails.
pub const DEFAULT_MAX_RESTARTS: usize = 20;
/// Default sliding window of the restart budget.
pub const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(60);

/// Everything [`super::ActorTree::spawn`] needs besides the store and the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeConfig {
    /// Number of shard actors; topics are spread over them by a stable hash.
    pub shards: u32,
    /// How shards group events into commits.
    pub batching: BatchingConfig,
    /// Committed keys kept in memory by all shards together to answer re-sends without a
    /// database probe (0 turns the fast path off).
    pub fastpath_keys: usize,
    /// Most events a shard holds in flight (buffered or committing); beyond it ingest is
    /// refused at once as overloaded.
    pub max_inflight_events_per_shard: usize,
    /// Longest an ingest waits for its events to commit.
    pub ingest_timeout: Duration,
    /// How many shard deaths the supervisor absorbs.
    pub restart_budget: RestartBudget,
    /// Fault injection, off by default.
    pub chaos: ChaosConfig,
    /// What expires, and how fast the pruner deletes it.
    pub retention: RetentionConfig,
}

impl Default for TreeConfig {
    fn default() -> Self {
        Self {
            shards: DEFAULT_SHARDS,
            batching: BatchingConfig::default(),
            fastpath_keys: DEFAULT_FASTPATH_KEYS,
            max_inflight_events_per_shard: DEFAULT_MAX_INFLIGHT_EVENTS_PER_SHARD,
            ingest_timeout: DEFAULT_INGEST_TIMEOUT,
            restart_budget: RestartBudget::default(),
            chaos: ChaosConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

/// Group-commit knobs of the shard actors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchingConfig {
    /// A shard commits as soon as it buffers this many events (at least 1).
    pub max_events: usize,
    /// Longest a buffered event waits for more before its commit starts, when a commit slot
    /// is free.
    pub linger: Duration,
    /// Commits of one shard that may run at once (at least 1). Order within a topic does not
    /// depend on it: the store orders same-topic commits (see DESIGN.md, guarantee 8).
    pub commits_in_flight: usize,
}

impl Default for BatchingConfig {
    fn default() -> Self {
        Self {
            max_events: DEFAULT_BATCH_MAX_EVENTS,
            linger: DEFAULT_BATCH_LINGER,
            commits_in_flight: DEFAULT_COMMITS_IN_FLIGHT,
        }
    }
}

/// Shard deaths the supervisor absorbs within a sliding window before it fails, and with it
/// the process, so that an orchestrator restarts everything. Kills made by chaos mode are not
/// counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBudget {
    /// Restarts allowed within the window.
    pub max_restarts: usize,
    /// Length of the sliding window.
    pub window: Duration,
}

impl Default for RestartBudget {
    fn default() -> Self {
        Self {
            max_restarts: DEFAULT_MAX_RESTARTS,
            window: DEFAULT_RESTART_WINDOW,
        }
    }
}

/// Default rows deleted by one statement of the pruner.
pub const DEFAULT_PRUNE_BATCH_ROWS: u32 = 1_000;

/// Retention: the policy, and the pruner's pace.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionConfig {
    /// How long each topic's events are kept.
    pub policy: Arc<RetentionPolicy>,
    /// Most rows one deletion statement removes.
    pub batch_rows: u32,
    /// How often a walk over every topic starts; `None` derives it from the policy
    /// ([`RetentionConfig::interval`]).
    pub prune_interval: Option<Duration>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            policy: Arc::new(RetentionPolicy::default()),
            batch_rows: DEFAULT_PRUNE_BATCH_ROWS,
            prune_interval: None,
        }
    }
}

impl RetentionConfig {
    /// How often a walk starts: the configured interval, else a tenth of the shortest
    /// retention within 200 ms and a minute (an expired row then lives at most about a tenth
    /// longer than its retention, plus the walk). `None` when nothing can expire.
    pub fn interval(&self) -> Option<Duration> {
        let shortest = self.policy.shortest()?;
        Some(self.prune_interval.unwrap_or_else(|| {
            (shortest / 10).clamp(Duration::from_millis(200), Duration::from_secs(60))
        }))
    }
}
