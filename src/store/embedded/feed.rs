//! The embedded store's live feed: one writer thread commits one transaction at a time, so
//! `seq` (the rowid) is commit order across every topic and a follower needs no horizon.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::rows::stored_event;
use crate::store::error::StoreError;
use crate::store::feed::{FeedPosition, FollowQuery, FollowedEvent};

/// The next events after `query.after.seq`, in `seq` order, stopping at the byte budget.
pub(super) fn follow(
    conn: &Connection,
    query: &FollowQuery,
) -> Result<Vec<FollowedEvent>, StoreError> {
    let mut params = vec![Value::Integer(query.after.seq)];
    let mut sql = String::from(
        "SELECT seq, topic, event_id, ts, source, payload, received_at FROM events WHERE seq > ?1",
    );
    if let Some(topic) = &query.topic {
        params.push(Value::Text(topic.clone()));
        sql.push_str(&format!(" AND topic = ?{}", params.len()));
    }
    if let Some(source) = &query.source {
        params.push(Value::Text(source.clone()));
        sql.push_str(&format!(" AND source = ?{}", params.len()));
    }
    params.push(Value::Integer(i64::from(query.limit)));
    sql.push_str(&format!(" ORDER BY seq LIMIT ?{}", params.len()));

    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params_from_iter(params))?;
    let mut events = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        let payload_text: String = row.get(5)?;
        // Stop reading at the byte budget, so huge payloads never pile up in memory.
        bytes = bytes.saturating_add(payload_text.len());
        if !events.is_empty() && query.max_bytes > 0 && bytes > query.max_bytes {
            break;
        }
        let event = stored_event(row, payload_text)?;
        events.push(FollowedEvent {
            position: FeedPosition {
                tx: 0,
                seq: event.seq,
            },
            event,
        });
    }
    Ok(events)
}

/// The position after the last stored event, of one topic or of all.
pub(super) fn end(conn: &Connection, topic: Option<&str>) -> Result<FeedPosition, StoreError> {
    let seq: Option<i64> = match topic {
        Some(topic) => conn.query_row(
            "SELECT max(seq) FROM events WHERE topic = ?1",
            [topic],
            |row| row.get(0),
        )?,
        None => conn.query_row("SELECT max(seq) FROM events", [], |row| row.get(0))?,
    };
    Ok(FeedPosition {
        tx: 0,
        seq: seq.unwrap_or(0),
    })
}
