//! The id of an event that arrives without one (an Elasticsearch bulk document without `_id`),
//! and lower-case hex for digests.
//!
//! The id is derived from what was sent, so that a shipper re-sending the same batch after a
//! lost answer sends the same ids and the duplicates are recognised. The price, stated in the
//! README: two byte-identical documents of one topic are one event.

use sha2::{Digest, Sha256};

/// SHA-256 of the topic, a NUL, and the document's bytes as sent (trailing white space, such as
/// a `\r` before the line end, aside), in hex: 64 characters.
pub fn content_id(topic: &str, document: &[u8]) -> String {
    let end = document
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map_or(0, |last| last + 1);
    let mut hasher = Sha256::new();
    hasher.update(topic.as_bytes());
    hasher.update([0]);
    hasher.update(&document[..end]);
    lower_hex(&hasher.finalize())
}

/// `bytes` as lower-case hex digits.
pub fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_depends_on_topic_and_bytes_not_on_trailing_white_space() {
        let id = content_id("syslog.a", br#"{"message":"x"}"#);
        assert_eq!(id.len(), 64);
        assert_eq!(id, content_id("syslog.a", b"{\"message\":\"x\"}\r\n"));
        assert_ne!(id, content_id("syslog.b", br#"{"message":"x"}"#));
        assert_ne!(id, content_id("syslog.a", br#"{"message": "x"}"#));
        // The NUL keeps topic and document apart: "a" + "b{}" is not "ab" + "{}".
        assert_ne!(content_id("a", b"b{}"), content_id("ab", b"{}"));
    }
}
