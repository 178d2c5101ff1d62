//! Reading the embedded store's `events` rows back: the one conversion from a row of
//! `seq, topic, event_id, ts, source, payload, received_at` to a [`StoredEvent`], shared by the
//! listing and the live tail.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use crate::store::error::StoreError;
use crate::store::model::StoredEvent;

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
