//! `GET /events/stream?topic=&source=&cursor=&from=`: a live tail, as Server-Sent Events.
//!
//! The first SSE event, of type `position`, carries only where the tail starts (its `id`; data
//! `{}`). Then each stored event is one SSE event (type `message`) whose data is the event as
//! `/events` shows it and whose `id` is the cursor just after it: a client that reconnects with `Last-Event-ID` (browsers'
//! `EventSource` do it by themselves), or passes the id as `cursor`, resumes with no gap and no
//! repeat, on this instance or any other sharing the store. Comments (`:keep-alive`) go out
//! while nothing happens, so proxies keep the connection open.
//!
//! Order and cursors (see `store/feed.rs`): with `topic`, the order of `/events` (commit
//! order) and the same cursors, so a pager can switch to following with its `next_cursor`;
//! without, commit order across topics, with cursors of the form `all.<tx>.<seq>`.
//!
//! With API keys in force the key needs the `read` scope; a tail without `topic` follows only
//! the topics inside the key's prefixes, and a `topic` outside them is `403`. A tail whose key
//! is revoked or changed (scopes, prefixes) ends before its next read.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::IntoParams;

use super::connection::ConnectionClosing;
use super::cursor::{
    decode_feed_cursor, decode_topic_cursor, encode_feed_cursor, encode_topic_cursor,
};
use super::error::{ApiError, ErrorResponse, FieldIssue, IssueLog};
use super::events::{filter_schema, parse_filter, parse_search, q_schema, source_schema};
use super::follow::Follower;
use super::params::Params;
use super::state::AppState;
use crate::auth::{Caller, Scope};
use crate::query::Query;
use crate::store::{FeedPosition, FollowQuery, FollowedEvent, PagePosition};

/// Events read from the store at a time by one tail.
const STREAM_PAGE_SIZE: u32 = 100;
/// The header a reconnecting SSE client sends with the last `id` it received.
const LAST_EVENT_ID: &str = "last-event-id";
/// The type of the SSE event that opens every tail: its `id` is where the tail starts, its
/// data `{}`. Stored events have the default type (`message`).
const POSITION_EVENT: &str = "position";

/// Query parameters of the live tail, still raw. An empty value means the parameter was not
/// given.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Only events of this topic.
    #[param(schema_with = topic_schema)]
    topic: Option<String>,
    /// Only events from this source.
    #[param(schema_with = source_schema)]
    source: Option<String>,
    /// Resume after this position.
    #[param(schema_with = cursor_schema)]
    cursor: Option<String>,
    /// Where to start without a cursor.
    #[param(schema_with = from_schema)]
    from: Option<String>,
    /// A search query.
    #[param(schema_with = q_schema)]
    q: Option<String>,
}

fn topic_schema() -> Schema {
    filter_schema("Only events of this topic, in commit order. Empty means every topic.")
}

fn cursor_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(
            r"^(all\.[0-9]{1,19}\.[0-9]{1,19}|[0-9]{1,19}\.([0-9a-f]{2})*)?$",
        ))
        .description(Some(
            "Resume strictly after this position: the `id` of the last event received (the \
             `Last-Event-ID` header wins over this), or, with `topic`, a `next_cursor` of \
             `GET /events` for that topic. Opaque; anything else is refused with 400.",
        ))
        .into()
}

fn from_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["", "end", "start"]))
        .description(Some(
            "Without a cursor: `end` (the default) sends only events committed from now on, \
             `start` sends every stored event first.",
        ))
        .into()
}

/// Follow events as they are committed, through any instance, as Server-Sent Events.
///
/// The first SSE event has type `position`: its `id` is where the tail starts (data `{}`).
/// Then each SSE event's `data` is one event in the shape of `GET /events`, and its `id` is the
/// cursor after it. Reconnect with `Last-Event-ID` (or `cursor`) to resume with no gap and no
/// repeat. `:keep-alive` comments are sent while idle. At most `--max-subscribers` tails are
/// served at once; past that, `503`.
#[utoipa::path(
    get,
    path = "/events/stream",
    tag = "events",
    params(
        StreamParams,
        ("Last-Event-ID" = Option<String>, Header,
         description = "The `id` of the last event received; wins over `cursor`."),
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`: first a `position` event \
         whose `id` is where the tail starts, then one SSE event per stored event, `data` a JSON \
         event as in `GET /events`, `id` the cursor after it",
         content_type = "text/event-stream", body = String),
        (status = 400, description = "Invalid parameters; `details` names each", body = ErrorResponse),
        (status = 429, description = "Too many requests in progress; retry later", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Too many live tails, or the store is unreachable", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn stream_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    closing: Option<Extension<ConnectionClosing>>,
    headers: HeaderMap,
    params: Result<Params<StreamParams>, ApiError>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(&[Scope::Read])?;
    let Params(params) = params?;
    let last_event_id = headers
        .get(LAST_EVENT_ID)
        .map(|value| value.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| {
            ApiError::InvalidQuery(vec![FieldIssue::request(
                "Last-Event-ID",
                "is not a cursor returned by this server",
            )])
        })?;
    let request = parse_params(params, last_event_id)?;
    if let Some(topic) = &request.topic {
        caller.require_topic(topic)?;
    }
    let slot = state
        .tails
        .take()
        .ok_or_else(|| ApiError::TooManySubscribers(state.tails.capacity()))?;
    let after = match request.start {
        Start::After(position) => position,
        Start::Beginning => FeedPosition::START,
        Start::End => state.store.feed_end(request.topic.as_deref()).await?,
    };
    let query = FollowQuery {
        topic: request.topic,
        source: request.source,
        after,
        limit: STREAM_PAGE_SIZE,
        max_bytes: state.limits.max_page_bytes,
        topic_prefixes: caller.topics(),
    };
    let topic_stream = query.topic.is_some();
    // First, where the tail starts: a client that reconnects before any event arrived resumes
    // from there, not from a later end.
    let start = Event::default()
        .event(POSITION_EVENT)
        .id(stream_cursor(after, query.topic.as_deref()))
        .data("{}");
    let closing = closing.map(|Extension(ConnectionClosing(closing))| closing);
    let follower = Follower::new(state.store.clone(), query, closing, slot)
        .while_granted(caller, state.access.clone())
        .matching(request.filter);
    let pages = futures::stream::unfold(follower, |mut follower| async move {
        let page = follower.next_page().await?;
        Some((page, follower))
    });
    let events = pages.flat_map(move |page| {
        futures::stream::iter(
            page.into_iter()
                .map(move |followed| sse_event(followed, topic_stream)),
        )
    });
    let events = futures::stream::once(std::future::ready(Ok(start))).chain(events);
    Ok(Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(state.limits.stream_heartbeat)
            .text("keep-alive"),
    ))
}

/// Where a tail starts.
#[derive(Debug, PartialEq, Eq)]
enum Start {
    After(FeedPosition),
    Beginning,
    End,
}

#[derive(Debug)]
struct StreamRequest {
    topic: Option<String>,
    source: Option<String>,
    filter: Option<Query>,
    start: Start,
}

fn parse_params(
    params: StreamParams,
    last_event_id: Option<String>,
) -> Result<StreamRequest, ApiError> {
    let mut log = IssueLog::new(None);
    let topic = log.check("topic", parse_filter(params.topic));
    let source = log.check("source", parse_filter(params.source));
    let filter = log.check("q", parse_search(params.q.as_deref()));
    let from = log.check(
        "from",
        match params.from.as_deref() {
            None | Some("") | Some("end") => Ok(Start::End),
            Some("start") => Ok(Start::Beginning),
            Some(_) => Err("must be `start` or `end`"),
        },
    );
    let (field, cursor) = match last_event_id.filter(|id| !id.is_empty()) {
        Some(id) => ("Last-Event-ID", Some(id)),
        None => ("cursor", params.cursor.filter(|cursor| !cursor.is_empty())),
    };
    let (Some(topic), Some(source), Some(from), Some(filter)) = (topic, source, from, filter)
    else {
        return Err(ApiError::InvalidQuery(log.into_issues()));
    };
    let start = match cursor {
        None => Some(from),
        Some(cursor) => log.check(field, decode_stream_cursor(&cursor, topic.as_deref())),
    };
    match start {
        Some(start) => Ok(StreamRequest {
            topic,
            source,
            filter,
            start,
        }),
        None => Err(ApiError::InvalidQuery(log.into_issues())),
    }
}

/// A tail's cursor: with a topic, a topic cursor of that topic (the cursors of `/events`);
/// without, a feed cursor (see `cursor.rs`).
fn decode_stream_cursor(raw: &str, topic: Option<&str>) -> Result<Start, String> {
    let position = match topic {
        None => decode_feed_cursor(raw)?,
        Some(topic) => FeedPosition {
            tx: 0,
            seq: decode_topic_cursor(raw, Some(topic))?.seq,
        },
    };
    Ok(Start::After(position))
}

/// The cursor of `position`: a topic cursor in a tail of one topic, a feed cursor across
/// topics.
fn stream_cursor(position: FeedPosition, topic: Option<&str>) -> String {
    match topic {
        Some(topic) => encode_topic_cursor(&PagePosition {
            topic: topic.to_owned(),
            seq: position.seq,
        }),
        None => encode_feed_cursor(position),
    }
}

/// One SSE event: the event as `/events` shows it, with the cursor after it as `id`.
fn sse_event(followed: FollowedEvent, topic_stream: bool) -> Result<Event, Infallible> {
    let topic = topic_stream.then_some(followed.event.topic.as_str());
    let id = stream_cursor(followed.position, topic);
    // A StoredEvent always serialises (its payload is already JSON text).
    let data = serde_json::to_string(&followed.event).unwrap_or_default();
    Ok(Event::default().id(id).data(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(topic: Option<&str>, cursor: Option<&str>, from: Option<&str>) -> StreamParams {
        StreamParams {
            topic: topic.map(str::to_owned),
            source: None,
            cursor: cursor.map(str::to_owned),
            from: from.map(str::to_owned),
            q: None,
        }
    }

    fn refused_field(result: Result<StreamRequest, ApiError>) -> String {
        match result {
            Err(ApiError::InvalidQuery(issues)) => issues[0].field.clone(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_tail_starts_at_the_end_unless_told_otherwise() {
        let start = |from| parse_params(params(None, None, from), None).unwrap().start;
        assert_eq!(start(None), Start::End);
        assert_eq!(start(Some("")), Start::End);
        assert_eq!(start(Some("start")), Start::Beginning);
        let field = refused_field(parse_params(params(None, None, Some("now")), None));
        assert_eq!(field, "from");
    }

    #[test]
    fn every_cursor_a_tail_sends_resumes_it_where_it_was() {
        let across = FeedPosition { tx: 7_123, seq: 42 };
        let id = stream_cursor(across, None);
        assert_eq!(id, "all.7123.42");
        assert_eq!(decode_stream_cursor(&id, None), Ok(Start::After(across)));
        let in_topic = stream_cursor(FeedPosition { tx: 0, seq: 9 }, Some("ü"));
        assert_eq!(
            decode_stream_cursor(&in_topic, Some("ü")),
            Ok(Start::After(FeedPosition { tx: 0, seq: 9 }))
        );
    }

    #[test]
    fn a_cursor_of_another_kind_or_topic_is_refused_naming_where_it_came_from() {
        let topic_cursor = stream_cursor(FeedPosition { tx: 0, seq: 3 }, Some("a"));
        for (topic, cursor) in [
            (Some("b"), topic_cursor.as_str()),
            (None, topic_cursor.as_str()),
            (Some("a"), "all.1.2"),
            (None, "all.x.2"),
            (None, "zz"),
        ] {
            let result = parse_params(params(topic, Some(cursor), None), None);
            assert_eq!(refused_field(result), "cursor", "{topic:?} {cursor}");
        }
        let from_header = parse_params(params(None, Some("all.1.2"), None), Some("junk".into()));
        assert_eq!(refused_field(from_header), "Last-Event-ID");
    }

    #[test]
    fn last_event_id_wins_over_the_cursor_parameter() {
        let request =
            parse_params(params(None, Some("all.1.2"), None), Some("all.5.6".into())).unwrap();
        assert_eq!(request.start, Start::After(FeedPosition { tx: 5, seq: 6 }));
    }
}
