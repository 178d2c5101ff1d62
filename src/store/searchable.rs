//! The searchable text of a commit's payloads (`query::words`), made where it does not hold up
//! other work: a small commit's on the spot, a large one's on a blocking thread. A 1 MB
//! payload takes milliseconds to walk, and a commit runs on the async executor, whose threads
//! also answer health checks.

use crate::query::words::payload_words;

use super::error::StoreError;

/// Payload bytes of one commit up to which their searchable texts are made on the spot.
const INLINE_BYTES: usize = 16 * 1024;

/// The searchable text of each of `payloads` (JSON text), in order. The payloads are copied
/// only when the texts are made on a blocking thread.
pub(super) async fn searchable_texts(payloads: &[&str]) -> Result<Vec<String>, StoreError> {
    let bytes: usize = payloads.iter().map(|payload| payload.len()).sum();
    if bytes <= INLINE_BYTES {
        return Ok(payloads
            .iter()
            .map(|payload| payload_words(payload))
            .collect());
    }
    let owned: Vec<OwnedPayload> = payloads
        .iter()
        .map(|payload| OwnedPayload {
            payload: (*payload).to_owned(),
            words: String::new(),
        })
        .collect();
    let filled = with_searchable_texts(owned).await?;
    Ok(filled.into_iter().map(|item| item.words).collect())
}

/// A payload copied for a blocking thread, and its text once made.
struct OwnedPayload {
    payload: String,
    words: String,
}

impl Searchable for OwnedPayload {
    fn payload(&self) -> &str {
        &self.payload
    }

    fn set_searchable(&mut self, words: String) {
        self.words = words;
    }
}

/// Something committed with a payload and a searchable text to fill in.
pub(super) trait Searchable: Send + 'static {
    /// The payload, JSON text.
    fn payload(&self) -> &str;
    /// Keeps the payload's searchable text.
    fn set_searchable(&mut self, words: String);
}

/// `items` with their searchable texts filled in: on the spot for a small commit, else on a
/// blocking thread (the items move there and back, nothing is copied).
pub(super) async fn with_searchable_texts<T: Searchable>(
    mut items: Vec<T>,
) -> Result<Vec<T>, StoreError> {
    let fill = |items: &mut Vec<T>| {
        for item in items.iter_mut() {
            let words = payload_words(item.payload());
            item.set_searchable(words);
        }
    };
    let bytes: usize = items.iter().map(|item| item.payload().len()).sum();
    if bytes <= INLINE_BYTES {
        fill(&mut items);
        return Ok(items);
    }
    tokio::task::spawn_blocking(move || {
        fill(&mut items);
        items
    })
    .await
    .map_err(|err| StoreError::transient(format!("searchable text not made: {err}")))
}
