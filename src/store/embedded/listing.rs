//! `GET /events` on the embedded store: one statement per page, filters bound as parameters,
//! keyset position `(topic, seq)`, cut by count and by payload bytes.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
use serde_json::value::RawValue;

use super::{prefix_filter, search};
use crate::store::error::StoreError;
use crate::store::model::{EventPage, EventQuery, ListingOrder, StoredEvent};

const SELECT_EVENTS: &str =
    "SELECT seq, topic, event_id, ts, source, payload, received_at FROM events WHERE 1";

/// The statement of a listing page and its parameters.
pub(super) fn listing_statement(conn: &Connection, query: &EventQuery) -> (String, Vec<Value>) {
    let mut params: Vec<Value> = Vec::new();
    let mut bind = |value: Value| {
        params.push(value);
        format!("?{}", params.len())
    };
    let mut filters = String::new();
    if let Some(filter) = &query.filter {
        let condition = search::condition(filter, &mut bind, &mut |expression| {
            search::few_candidates(conn, expression, search::LISTING_CANDIDATES)
        });
        filters.push_str(&format!(" AND ({condition})"));
    }
    if let Some(topic) = &query.topic {
        filters.push_str(&format!(
            " AND topic = {}",
            bind(Value::Text(topic.clone()))
        ));
    }
    // The exact test, then its span, which lets the listing seek the `(topic, seq)` index.
    filters.push_str(&prefix_filter::topic_prefixes(
        &query.topic_prefixes,
        &mut bind,
    ));
    filters.push_str(&prefix_filter::topic_span(&query.topic_prefixes, &mut bind));
    if let Some(source) = &query.source {
        filters.push_str(&format!(
            " AND source = {}",
            bind(Value::Text(source.clone()))
        ));
    }
    if let Some(since) = query.since {
        let since = bind(Value::Integer(since.timestamp_micros()));
        filters.push_str(&format!(" AND ts >= {since}"));
    }
    if let Some(until) = query.until {
        let until = bind(Value::Integer(until.timestamp_micros()));
        filters.push_str(&format!(" AND ts < {until}"));
    }
    let order_by = match query.order {
        ListingOrder::ByTopic => "topic, seq",
        ListingOrder::Oldest => "ts, seq",
        ListingOrder::Newest => "ts DESC, seq DESC",
    };
    let after = match query.order {
        ListingOrder::ByTopic => query.after.as_ref(),
        ListingOrder::Oldest | ListingOrder::Newest => None,
    };
    if let (ListingOrder::Oldest | ListingOrder::Newest, Some(after)) =
        (query.order, query.after_time)
    {
        let beyond = if query.order == ListingOrder::Newest {
            "<"
        } else {
            ">"
        };
        let ts = bind(Value::Integer(after.timestamp.timestamp_micros()));
        let seq = bind(Value::Integer(after.seq));
        filters.push_str(&format!(" AND (ts, seq) {beyond} ({ts}, {seq})"));
    }
    let mut sql = match after {
        None => format!("{SELECT_EVENTS}{filters}"),
        // `(topic, seq) > (?, ?)` is correct but SQLite does not seek the (topic, seq) index on
        // both columns with it: it scans the cursor's topic from its start (measured: 400 ms
        // per page deep into a topic of 1M rows). The rest of the cursor's topic plus the
        // following topics, as two index ranges merged in order, costs one seek each.
        Some(after) => {
            let topic = bind(Value::Text(after.topic.clone()));
            let seq = bind(Value::Integer(after.seq));
            format!(
                "{SELECT_EVENTS}{filters} AND topic = {topic} AND seq > {seq} \
                 UNION ALL {SELECT_EVENTS}{filters} AND topic > {topic}"
            )
        }
    };
    // One row more than asked tells whether a next page exists without a count query.
    let fetch = bind(Value::Integer(i64::from(query.limit) + 1));
    sql.push_str(&format!(" ORDER BY {order_by} LIMIT {fetch}"));
    (sql, params)
}

pub(super) fn query_events(conn: &Connection, query: &EventQuery) -> Result<EventPage, StoreError> {
    let (sql, params) = listing_statement(conn, query);

    // A search makes a statement of its own shape: not kept in the connection's cache, where
    // it would push out the listing's own statements.
    let (mut cached, mut fresh);
    let statement: &mut rusqlite::Statement<'_> = match query.filter {
        None => {
            cached = conn.prepare_cached(&sql)?;
            &mut cached
        }
        Some(_) => {
            fresh = conn.prepare(&sql)?;
            &mut fresh
        }
    };
    let mut rows = statement.query(params_from_iter(params))?;
    let mut events = Vec::new();
    let mut bytes = 0usize;
    let mut cut_by_bytes = false;
    while let Some(row) = rows.next()? {
        let payload_text: String = row.get(5)?;
        // Stop reading at the byte budget, so huge payloads never pile up in memory.
        bytes = bytes.saturating_add(payload_text.len());
        if !events.is_empty() && query.max_bytes > 0 && bytes > query.max_bytes {
            cut_by_bytes = true;
            break;
        }
        events.push(stored_event(row, payload_text)?);
    }
    Ok(EventPage::from_fetched(
        events,
        query.limit,
        query.max_bytes,
        cut_by_bytes,
    ))
}

// Reading the `events` rows back: the one conversion from a row of
// `seq, topic, event_id, ts, source, payload, received_at` to a [`StoredEvent`], shared by the
// listing above and the live tail (`feed.rs`).

/// The event in `row` (the columns above), whose payload text the caller already read (to
/// weigh it against a byte budget before decoding it).
pub(super) fn stored_event(
    row: &rusqlite::Row<'_>,
    payload_text: String,
) -> Result<StoredEvent, StoreError> {
    let payload = RawValue::from_string(payload_text)
        .map_err(|err| StoreError::corrupt(format!("stored payload: {err}")))?;
    Ok(StoredEvent {
        seq: row.get(0)?,
        topic: row.get(1)?,
        event_id: row.get(2)?,
        timestamp: from_micros(row.get(3)?)?,
        source: row.get(4)?,
        payload,
        received_at: from_micros(row.get(6)?)?,
    })
}

/// A timestamp column: microseconds since the Unix epoch, UTC.
fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::corrupt(format!("timestamp {micros} out of range")))
}
