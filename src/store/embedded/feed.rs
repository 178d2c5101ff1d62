//! The embedded store's live feed: one writer thread commits one transaction at a time, so
//! `seq` (the rowid) is commit order across every topic and a follower needs no horizon.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::listing::stored_event;
use super::prefix_filter;
use crate::store::error::StoreError;
use crate::store::feed::{FeedPosition, FollowPage, FollowQuery, FollowScan, FollowedEvent};

/// The next events after `query.after.seq`, in `seq` order, of the topics inside
/// `query.topic_prefixes`, stopping at the limit or the byte budget. The statement reads the
/// next [`FollowQuery::scan_rows`] rows of the topic (the `(topic, seq)` index) or of every
/// topic (the rowid), whether they match or not, so a read costs at most that many rows.
pub(super) fn follow(conn: &Connection, query: &FollowQuery) -> Result<FollowPage, StoreError> {
    let mut params = Vec::new();
    let mut bind = |value: Value| {
        params.push(value);
        format!("?{}", params.len())
    };
    let after = bind(Value::Integer(query.after.seq));
    let mut scanned = format!("seq > {after}");
    if let Some(topic) = &query.topic {
        scanned.push_str(&format!(
            " AND topic = {}",
            bind(Value::Text(topic.clone()))
        ));
    }
    // The filters, as one test on the row. A row that fails it gives NULL for the payload and
    // `received_at`, which SQLite then never reads: those two sit after the others in the
    // record, and a large payload spills into overflow pages that only a match should cost.
    let mut matches = String::from("1");
    if let Some(source) = &query.source {
        matches.push_str(&format!(
            " AND source = {}",
            bind(Value::Text(source.clone()))
        ));
    }
    matches.push_str(&prefix_filter::topic_prefixes(
        &query.topic_prefixes,
        &mut bind,
    ));
    let scan_rows = bind(Value::Integer(i64::from(query.scan_rows())));
    let sql = format!(
        "SELECT seq, topic, event_id, ts, source, CASE WHEN {matches} THEN payload END, \
         CASE WHEN {matches} THEN received_at END FROM events \
         WHERE {scanned} ORDER BY seq LIMIT {scan_rows}"
    );

    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params_from_iter(params))?;
    let mut scan = FollowScan::new(query);
    while !scan.is_full() {
        let Some(row) = rows.next()? else { break };
        let position = FeedPosition {
            tx: 0,
            seq: row.get(0)?,
        };
        // `payload` is never NULL in the table: NULL here means the row does not match.
        let Some(payload_text) = row.get::<_, Option<String>>(5)? else {
            scan.skip(position);
            continue;
        };
        // Weighed before it is decoded, so huge payloads never pile up in memory.
        if !scan.fits(payload_text.len()) {
            break;
        }
        scan.push(FollowedEvent {
            position,
            event: stored_event(row, payload_text)?,
        });
    }
    Ok(scan.finish())
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
