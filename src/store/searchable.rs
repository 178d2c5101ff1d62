//! The searchable text of a commit's payloads (`query::words`), made where it does not hold up
//! other work: a small commit's on the spot, a large one's on a blocking thread. A 1 MB
//! payload takes milliseconds to walk, and a commit runs on the async executor, whose threads
//! also answer health checks.

use crate::query::words::payload_words;

use super::error::StoreError;

/// Payload bytes of one commit up to which their searchable texts are made on the spot.
const INLINE_BYTES: usize = 16 * 1024;

/// The searchable text of each of `payloads` (JSON text), in order.
pub(super) async fn searchable_texts(payloads: &[&str]) -> Result<Vec<String>, StoreError> {
    let bytes: usize = payloads.iter().map(|payload| payload.len()).sum();
    if bytes <= INLINE_BYTES {
        return Ok(payloads
            .iter()
            .map(|payload| payload_words(payload))
            .collect());
    }
    let owned: Vec<String> = payloads
        .iter()
        .map(|payload| (*payload).to_owned())
        .collect();
    tokio::task::spawn_blocking(move || {
        owned.iter().map(|payload| payload_words(payload)).collect()
    })
    .await
    .map_err(|err| StoreError::transient(format!("searchable text not made: {err}")))
}
