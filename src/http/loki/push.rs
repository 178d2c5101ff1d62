//! The two bodies of Loki's push API, decoded into one shape ([`Stream`]s of [`Entry`]s):
//!
//! - protobuf, snappy-compressed (block format), as Promtail, Grafana Alloy and most clients
//!   send it: the messages of Loki's `pkg/push/push.proto` (`PushRequest`, `StreamAdapter`,
//!   `EntryAdapter`, `LabelPairAdapter`), written here as `prost` derives with the file's field
//!   numbers — four small messages, which spares the build a `protoc` and a `.proto` copy;
//! - JSON: `{"streams":[{"stream":{"job":"x"},"values":[["<unix ns>","line",{"k":"v"}]]}]}`.
//!
//! The protobuf form carries a stream's labels as text (`{job="x", host="y"}`), read by
//! [`parse_labels`].

use std::collections::BTreeMap;

use prost::Message;
use serde::Deserialize;

/// `logproto.PushRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

/// `logproto.StreamAdapter`.
#[derive(Clone, PartialEq, Message)]
pub struct StreamAdapter {
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// `logproto.EntryAdapter`.
#[derive(Clone, PartialEq, Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<prost_types::Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

/// `logproto.LabelPairAdapter`.
#[derive(Clone, PartialEq, Message)]
pub struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// One stream of a push, whichever the encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Its labels, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// Its lines.
    pub entries: Vec<Entry>,
}

/// One line of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Nanoseconds since the Unix epoch (`None`: a protobuf entry without a timestamp).
    pub nanos: Option<i128>,
    /// The line as sent.
    pub line: String,
    /// Its structured metadata, sorted by name.
    pub metadata: BTreeMap<String, String>,
}

/// Why a body cannot be read as a push.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// It is not a push; the message says where.
    #[error("{0}")]
    Undecodable(String),
    /// It decompresses past the body limit.
    #[error("decompresses to {length} bytes, more than the {limit} allowed")]
    TooLarge {
        /// What snappy says it decompresses to.
        length: usize,
        /// `--max-body-bytes`.
        limit: usize,
    },
}

use Unreadable::Undecodable;

/// Decodes a snappy-compressed protobuf push. `max_bytes` bounds the decompressed size, which
/// snappy states up front, so a small body cannot make the server allocate gigabytes.
pub fn decode_protobuf(body: &[u8], max_bytes: usize) -> Result<Vec<Stream>, Unreadable> {
    let length = snap::raw::decompress_len(body)
        .map_err(|err| Undecodable(format!("not snappy-compressed: {err}")))?;
    if length > max_bytes {
        return Err(Unreadable::TooLarge {
            length,
            limit: max_bytes,
        });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|err| Undecodable(format!("not snappy-compressed: {err}")))?;
    let request =
        PushRequest::decode(raw.as_slice()).map_err(|err| Undecodable(format!("{err}")))?;
    request
        .streams
        .into_iter()
        .enumerate()
        .map(|(index, stream)| {
            let labels = parse_labels(&stream.labels)
                .map_err(|reason| Undecodable(format!("stream {index}: labels {reason}")))?;
            let entries = stream
                .entries
                .into_iter()
                .map(|entry| {
                    let nanos = entry
                        .timestamp
                        .map(|at| i128::from(at.seconds) * 1_000_000_000 + i128::from(at.nanos));
                    Entry {
                        nanos,
                        line: entry.line,
                        metadata: entry
                            .structured_metadata
                            .into_iter()
                            .map(|pair| (pair.name, pair.value))
                            .collect(),
                    }
                })
                .collect();
            Ok(Stream { labels, entries })
        })
        .collect()
}

#[derive(Deserialize)]
struct JsonPush {
    streams: Vec<JsonStream>,
}

#[derive(Deserialize)]
struct JsonStream {
    #[serde(default)]
    stream: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<JsonEntry>,
}

/// `["<unix ns>", "line"]` or `["<unix ns>", "line", {"name": "value"}]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonEntry {
    Plain((String, String)),
    WithMetadata((String, String, BTreeMap<String, String>)),
}

/// Decodes a JSON push.
pub fn decode_json(body: &[u8]) -> Result<Vec<Stream>, Unreadable> {
    let push: JsonPush =
        serde_json::from_slice(body).map_err(|err| Undecodable(err.to_string()))?;
    push.streams
        .into_iter()
        .enumerate()
        .map(|(index, stream)| {
            let entries = stream
                .values
                .into_iter()
                .enumerate()
                .map(|(at, value)| {
                    let (nanos, line, metadata) = match value {
                        JsonEntry::Plain((nanos, line)) => (nanos, line, BTreeMap::new()),
                        JsonEntry::WithMetadata(triple) => triple,
                    };
                    let nanos = nanos.trim().parse::<i128>().map_err(|_| {
                        Undecodable(format!(
                            "stream {index}, value {at}: the time {nanos:?} is not nanoseconds \
                             since the Unix epoch"
                        ))
                    })?;
                    Ok(Entry {
                        nanos: Some(nanos),
                        line,
                        metadata,
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(Stream {
                labels: stream.stream,
                entries,
            })
        })
        .collect()
}

/// Reads labels written as Prometheus writes a selector: `{name="value", other="v\"q"}`
/// (`\\`, `\"` and `\n` escaped in values).
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| format!("{text:?} are not written `{{name=\"value\", ...}}`"))?;
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(labels);
        }
        let name: String = std::iter::from_fn(|| {
            chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        })
        .collect();
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if name.is_empty() || chars.next() != Some('=') {
            return Err(format!("{text:?}: expected `name=\"value\"`"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('"') {
            return Err(format!("{text:?}: the value of {name:?} must be quoted"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => return Err(format!("{text:?}: an unfinished escape")),
                },
                Some(other) => value.push(other),
                None => return Err(format!("{text:?}: an unterminated value")),
            }
        }
        labels.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_prometheus_writes_them() {
        let labels = parse_labels(r#"{job="checkout", host="vm-3",msg="a \"b\"\\c\nd"}"#);
        let labels = labels.expect("valid");
        assert_eq!(labels["job"], "checkout");
        assert_eq!(labels["host"], "vm-3");
        assert_eq!(labels["msg"], "a \"b\"\\c\nd");
        assert_eq!(parse_labels("{}").expect("empty"), BTreeMap::new());
        for bad in [
            "job=\"x\"",
            "{job=x}",
            "{job=\"x}",
            "{=\"x\"}",
            "{job \"x\"}",
        ] {
            assert!(parse_labels(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_snappy_protobuf_push_decodes_and_a_bomb_is_refused() {
        let request = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{service_name="web"}"#.into(),
                entries: vec![EntryAdapter {
                    timestamp: Some(prost_types::Timestamp {
                        seconds: 1_796_644_800,
                        nanos: 5,
                    }),
                    line: "GET /".into(),
                    structured_metadata: vec![LabelPairAdapter {
                        name: "trace_id".into(),
                        value: "abc".into(),
                    }],
                }],
                hash: 0,
            }],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .expect("compressed");
        let streams = decode_protobuf(&body, 1 << 20).expect("decoded");
        assert_eq!(streams[0].labels["service_name"], "web");
        assert_eq!(streams[0].entries[0].nanos, Some(1_796_644_800_000_000_005));
        assert_eq!(streams[0].entries[0].metadata["trace_id"], "abc");
        assert!(
            matches!(
                decode_protobuf(&body, 8),
                Err(Unreadable::TooLarge { limit: 8, .. })
            ),
            "larger than allowed"
        );
        assert!(decode_protobuf(b"\xff\xff\xff\xff\x0f", 1 << 20).is_err());
    }

    #[test]
    fn a_json_push_decodes_with_and_without_metadata() {
        let body = br#"{"streams":[{"stream":{"job":"x"},"values":[["1796644800000000005","a"],["1","b",{"k":"v"}]]}]}"#;
        let streams = decode_json(body).expect("decoded");
        assert_eq!(streams[0].entries.len(), 2);
        assert_eq!(streams[0].entries[0].nanos, Some(1_796_644_800_000_000_005));
        assert_eq!(streams[0].entries[1].metadata["k"], "v");
        let bad = br#"{"streams":[{"stream":{},"values":[["soon","a"]]}]}"#;
        let reason = decode_json(bad).expect_err("a time that is not a number");
        assert!(reason.to_string().contains("value 0"), "{reason}");
    }
}
