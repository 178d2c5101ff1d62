//! Committing a batch of items that are judged one by one (the shippers' bulk API, OTLP): the
//! valid items' events go to the actor tree as one ingest, and each item learns its outcome by
//! its position in the request. When the store refuses the batch for one event that passed
//! validation, the caller commits the events again one by one, so that only that item is
//! refused.

use super::state::AppState;
use crate::actors::ActorError;
use crate::event::{Event, Outcome};

/// What became of each committed item, by position: its outcome, or why the store refused it.
pub type Committed = Vec<(usize, Result<Outcome, String>)>;

/// Commits the items' events as one ingest (one round of group commits).
pub async fn commit_together(
    state: &AppState,
    events: Vec<(usize, Event)>,
) -> Result<Committed, ActorError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let (positions, events): (Vec<usize>, Vec<Event>) = events.into_iter().unzip();
    let outcomes = state.tree.ingest(events).await?;
    // The tree answers one outcome per event, in order.
    debug_assert_eq!(positions.len(), outcomes.len());
    Ok(positions
        .into_iter()
        .zip(outcomes.into_iter().map(Ok))
        .collect())
}

/// Commits each event on its own, so that a refusal by the store stays that item's.
pub async fn commit_one_by_one(
    state: &AppState,
    events: Vec<(usize, Event)>,
) -> Result<Committed, ActorError> {
    let mut committed = Vec::with_capacity(events.len());
    for (position, event) in events {
        let outcome = match state.tree.ingest(vec![event]).await {
            Ok(outcomes) => Ok(outcomes.into_iter().next().unwrap_or(Outcome::Duplicate)),
            Err(ActorError::Rejected(reason)) => Err(reason),
            Err(other) => return Err(other),
        };
        committed.push((position, outcome));
    }
    Ok(committed)
}
