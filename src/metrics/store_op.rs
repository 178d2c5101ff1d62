//! [`StoreOp`]: the store operations, as the `op` label of the store-error counter names them.

/// Store operations, the values of the `op` label of [`super::registry::STORE_ERRORS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// A group commit.
    Commit,
    /// A `GET /events` page.
    Query,
    /// Loading the counters at start.
    LoadCounters,
    /// A readiness check.
    Ping,
    /// A shard re-reading its counter row.
    OwnCounters,
    /// The periodic read of every instance's counters (and this instance's heartbeat).
    ClusterView,
    /// A live tail reading what is new (or where the feed ends).
    Follow,
    /// A bounded deletion by the pruner (expiry of a topic, a sweep of the default retention,
    /// or a purge).
    Remove,
    /// The pruner listing topics.
    TopicsAfter,
}

impl StoreOp {
    /// How many operations there are.
    pub(super) const COUNT: usize = 9;

    /// Every operation, in the order of [`StoreOp::index`].
    pub(super) const ALL: [StoreOp; Self::COUNT] = [
        Self::Commit,
        Self::Query,
        Self::LoadCounters,
        Self::Ping,
        Self::OwnCounters,
        Self::ClusterView,
        Self::Follow,
        Self::Remove,
        Self::TopicsAfter,
    ];

    pub(super) fn index(self) -> usize {
        match self {
            Self::Commit => 0,
            Self::Query => 1,
            Self::LoadCounters => 2,
            Self::Ping => 3,
            Self::OwnCounters => 4,
            Self::ClusterView => 5,
            Self::Follow => 6,
            Self::Remove => 7,
            Self::TopicsAfter => 8,
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Commit => "commit",
            Self::Query => "query",
            Self::LoadCounters => "load_counters",
            Self::Ping => "ping",
            Self::OwnCounters => "own_counters",
            Self::ClusterView => "cluster_view",
            Self::Follow => "follow",
            Self::Remove => "remove",
            Self::TopicsAfter => "topics_after",
        }
    }
}
