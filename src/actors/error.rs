//! The actor tree's errors: [`IngestError`] (what a shard answers when it cannot commit) and
//! [`ActorError`] (what the tree's handle returns to the HTTP layer). No ractor type leaves
//! `actors/`: framework errors are mapped here.

use ractor::RactorErr;

use crate::store::{ShardId, StoreError};

/// Why a shard could not answer an ingest request. All are retryable but [`IngestError::Rejected`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The commit failed or its outcome is unknown; nothing of it was acknowledged.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The shard is dead or restarting.
    #[error("shard {0} is unavailable")]
    ShardUnavailable(ShardId),
    /// The store can never hold this request's events (the reason says why); nothing of the
    /// request was stored, and retrying it cannot succeed.
    #[error("the store refused the events: {0}")]
    Rejected(String),
}

/// Errors of the actor handles, as the HTTP layer sees them.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    /// No answer within the allotted time; the request may still complete.
    #[error("timed out waiting for the actor tree")]
    Timeout,
    /// The tree could not take or finish the request.
    #[error("actor tree unavailable: {0}")]
    Unavailable(String),
    /// A shard already holds as many events as it may; the client should slow down.
    #[error("shard {0} is at its in-flight limit")]
    Overloaded(ShardId),
    /// The store can never hold the request's events; the request is at fault.
    #[error("the store refused the events: {0}")]
    Rejected(String),
    /// A store operation of a control request (a purge) failed; its meaning decides the
    /// answer, in the HTTP layer.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<T> From<RactorErr<T>> for ActorError {
    fn from(err: RactorErr<T>) -> Self {
        match err {
            RactorErr::Timeout => Self::Timeout,
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<IngestError> for ActorError {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::Rejected(reason) => Self::Rejected(reason),
            IngestError::CommitFailed(_) | IngestError::ShardUnavailable(_) => {
                Self::Unavailable(err.to_string())
            }
        }
    }
}
