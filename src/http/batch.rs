//! Committing a batch of items that are judged one by one (the shippers' bulk API, OTLP, Loki):
//! the valid items' events go to the actor tree as one ingest, and each item learns its outcome
//! by its position in the request. When the store refuses the batch for one event that passed
//! validation, the events are committed again one by one, so that only that item is refused.

use std::fmt;

use utoipa::IntoResponses;

use super::error::{ApiError, ErrorResponse, FieldIssue};
use super::state::AppState;
use crate::actors::ActorError;
use crate::auth::Caller;
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

/// The refusals of a whole request that the routes judging items one by one share (OTLP, Loki),
/// for the OpenAPI document; each route adds its success and its `400`.
#[derive(IntoResponses)]
#[allow(dead_code)] // only its description is used
pub enum WholeRequestRefusals {
    /// The body exceeds `--max-body-bytes`, as sent or once decoded.
    #[response(status = 413)]
    TooLarge(ErrorResponse),
    /// Neither `application/x-protobuf` nor `application/json`, or an unsupported
    /// `Content-Encoding`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorResponse),
    /// More items than `--max-events-per-request`.
    #[response(status = 422)]
    TooManyItems(ErrorResponse),
    /// Too many requests in flight, or the key over its quota; retry after `Retry-After`.
    #[response(status = 429, headers(("Retry-After" = u32, description = "Seconds to wait")))]
    TooMany(ErrorResponse),
    /// Store unreachable or slow; retrying the request is safe.
    #[response(status = 503, headers(("Retry-After" = u32, description = "Seconds to wait")))]
    Unavailable(ErrorResponse),
}

/// Items of a request with their positions in it.
type Positioned<T> = Vec<(usize, T)>;

/// Why one item of a batch was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It cannot be an event (the reason names the field), or the store refused it.
    Invalid(String),
    /// Its topic is outside the key's prefixes.
    TopicOutsideKey(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(reason) => f.write_str(reason),
            Self::TopicOutsideKey(topic) => write!(f, "the key may not publish to {topic:?}"),
        }
    }
}

/// What became of a batch of items judged one by one.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Items stored (new or duplicate).
    pub stored: usize,
    /// The refused items, by position, in order.
    pub refused: Vec<(usize, Refusal)>,
}

/// Stores the items `map` gives (an event, or why the item cannot be one), each judged on its
/// own: a refused item never fails its neighbours. `items` names them in the error for a batch
/// over `--max-events-per-request`; an empty batch stores nothing and succeeds (OTLP asks that
/// of an empty export). `map` is called again (rarely: only when the store refuses one event of
/// the batch) to commit the items one by one.
pub async fn ingest_judged(
    state: &AppState,
    caller: &Caller,
    items: &str,
    map: impl Fn() -> Vec<Result<Event, String>>,
) -> Result<BatchOutcome, ApiError> {
    let judged = map();
    let limit = state.limits.max_events_per_request;
    if judged.len() > limit {
        return Err(ApiError::Validation(vec![FieldIssue::request(
            items,
            format!(
                "a request holds at most {limit} {items} (got {})",
                judged.len()
            ),
        )]));
    }
    let (mut refused, events) = judge(caller, judged);
    if !events.is_empty() {
        if let (Some(key), Err(exceeded)) = (caller.key_name(), caller.take_events(events.len())) {
            return Err(ApiError::over_quota(key, exceeded));
        }
    }
    let committed = match commit_together(state, events).await {
        // The store refused an event that passed validation, and with it the batch. The
        // events went to the actors, so the items are mapped again and committed one by one:
        // only the item the store refuses is refused.
        Err(ActorError::Rejected(_)) => {
            let (_, events) = judge(caller, map());
            commit_one_by_one(state, events).await?
        }
        other => other?,
    };
    let mut stored = 0;
    for (position, outcome) in committed {
        match outcome {
            Ok(_) => stored += 1,
            Err(reason) => refused.push((position, Refusal::Invalid(reason))),
        }
    }
    if let Some(key) = caller.key_name() {
        state.metrics.key_published(key, stored);
    }
    refused.sort_by_key(|(position, _)| *position);
    Ok(BatchOutcome { stored, refused })
}

/// The refused items and the events to commit, with their positions.
fn judge(
    caller: &Caller,
    items: Vec<Result<Event, String>>,
) -> (Positioned<Refusal>, Positioned<Event>) {
    let mut refused = Vec::new();
    let mut events = Vec::with_capacity(items.len());
    for (position, item) in items.into_iter().enumerate() {
        match item {
            Err(reason) => refused.push((position, Refusal::Invalid(reason))),
            Ok(event) if !caller.may_reach(&event.topic) => {
                refused.push((position, Refusal::TopicOutsideKey(event.topic)));
            }
            Ok(event) => events.push((position, event)),
        }
    }
    (refused, events)
}
