//! Conditions on `topic` shared by the embedded store's listing and live tail: a key's topic
//! prefixes, and the span of them that lets a listing seek its `(topic, seq)` index.

use rusqlite::types::Value;

use crate::event::TopicPrefixes;
use crate::store::span::TopicSpan;

/// ` AND (…)` keeping the rows whose topic starts with one of `prefixes`, or nothing for every
/// topic. `bind` binds a value and returns its placeholder: each prefix is bound, never written
/// into the SQL, and compared as bytes, so `%`, `_`, `\` or quotes in it mean themselves.
///
/// Blobs, because on TEXT SQLite's `length` and `substr` count characters (and `length` stops
/// at a NUL); on a blob they count bytes, which is exactly Rust's bytewise `str::starts_with`.
/// (LIKE would need escaping and folds ASCII case; GLOB has wildcards of its own.)
pub(super) fn topic_prefixes(
    prefixes: &TopicPrefixes,
    bind: &mut impl FnMut(Value) -> String,
) -> String {
    if prefixes.is_any() {
        return String::new();
    }
    let tests: Vec<String> = prefixes
        .as_slice()
        .iter()
        .map(|prefix| {
            let prefix = bind(Value::Blob(prefix.as_bytes().to_vec()));
            format!("substr(CAST(topic AS BLOB), 1, length({prefix})) = {prefix}")
        })
        .collect();
    format!(" AND ({})", tests.join(" OR "))
}

/// ` AND topic >= … [AND topic < …]`: the [`TopicSpan`] of `prefixes`, or nothing for every
/// topic. Redundant with [`topic_prefixes`], which an index cannot use; this bounds the scan of
/// the `(topic, seq)` index (`topic` compares with memcmp, the byte order the span is in).
pub(super) fn topic_span(
    prefixes: &TopicPrefixes,
    bind: &mut impl FnMut(Value) -> String,
) -> String {
    let Some(span) = TopicSpan::of(prefixes) else {
        return String::new();
    };
    let mut clause = format!(" AND topic >= {}", bind(Value::Text(span.from)));
    if let Some(to) = span.to {
        clause.push_str(&format!(" AND topic < {}", bind(Value::Text(to))));
    }
    clause
}
