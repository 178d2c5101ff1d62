//! The live feed's vocabulary: where a follower stands ([`FeedPosition`]), what it asks for
//! ([`FollowQuery`]), what it gets ([`FollowedEvent`]), and the signal that tells followers the
//! store may hold something new ([`CommitSignal`]). `GET /events/stream` is built on these.
//!
//! The follow order must never let an event commit *behind* a follower, or the follower would
//! skip it. Within a topic, `seq` already follows commit order on both backends (the topic's
//! head row serialises its commits). Across topics:
//! - the embedded store has one writer committing one transaction at a time, so `seq` alone is
//!   commit order;
//! - on PostgreSQL several processes commit at once and a lower `seq` can become visible after a
//!   higher one. Each row records its transaction id (`tx`), and a follower reads, in
//!   `(tx, seq)` order, only rows below the oldest transaction still running anywhere (the
//!   visibility horizon, `pg_snapshot_xmin`): every transaction below it has ended, so nothing
//!   can later appear before the follower's position.

use std::sync::Arc;

use tokio::sync::watch;

use super::model::StoredEvent;

/// A position in the follow order; a follower asks for what comes strictly after it.
///
/// In one topic, `seq` within the topic (the order of `GET /events`) and `tx` is 0. Across
/// topics, `(tx, seq)` on PostgreSQL (`tx` is the committing transaction's id; rows stored
/// before the column existed have 0) and `seq` on the embedded store (`tx` is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedPosition {
    /// The committing transaction (0 where the order is by `seq` alone).
    pub tx: i64,
    /// The event's commit sequence number.
    pub seq: i64,
}

impl FeedPosition {
    /// Before every stored event.
    pub const START: Self = Self { tx: 0, seq: 0 };
}

/// What a follower asks for: the next events after its position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowQuery {
    /// Only this topic (ordered by `seq`); `None` follows every topic.
    pub topic: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Strictly after this position.
    pub after: FeedPosition,
    /// Most events to return.
    pub limit: u32,
    /// Payload bytes budget: the answer ends before the event that would pass it (it holds at
    /// least one event). `0` means no byte budget.
    pub max_bytes: usize,
}

/// One event in follow order, with the position just after it.
#[derive(Debug, Clone)]
pub struct FollowedEvent {
    /// Where a follower that has seen this event stands.
    pub position: FeedPosition,
    /// The event.
    pub event: StoredEvent,
}

/// Changes whenever the store may hold events a follower has not seen yet. Followers wait on
/// it instead of polling tightly; it may fire without anything new (they then find nothing).
#[derive(Debug, Clone)]
pub struct CommitSignal(Arc<watch::Sender<u64>>);

impl Default for CommitSignal {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }
}

impl CommitSignal {
    /// Tells every follower to look again.
    pub fn notify(&self) {
        self.0
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// A receiver that sees each later [`CommitSignal::notify`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}
