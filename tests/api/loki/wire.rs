//! Loki's push wire format, written here from Loki's `pkg/push/push.proto` and independently of
//! the server's own messages, so that a test pushing these bytes checks the format itself; plus
//! the bodies the tests send (snappy-compressed protobuf, JSON, gzip).

use std::io::Write;

use prost::Message;
use serde_json::{json, Value};

/// `logproto.PushRequest`: `repeated StreamAdapter streams = 1`.
#[derive(Clone, PartialEq, Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

/// `logproto.StreamAdapter`: `string labels = 1; repeated EntryAdapter entries = 2;
/// uint64 hash = 3`.
#[derive(Clone, PartialEq, Message)]
pub struct StreamAdapter {
    /// The labels as Prometheus writes a selector: `{job="x", host="y"}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// Clients leave it 0; Loki ignores it on a push.
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// `logproto.EntryAdapter`: `google.protobuf.Timestamp timestamp = 1; string line = 2;
/// repeated LabelPairAdapter structuredMetadata = 3`.
#[derive(Clone, PartialEq, Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<prost_types::Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

/// `logproto.LabelPairAdapter`: `string name = 1; string value = 2`.
#[derive(Clone, PartialEq, Message)]
pub struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A line at `nanos` since the Unix epoch (negative: before 1970) with these metadata pairs.
pub fn entry(nanos: i128, line: &str, metadata: &[(&str, &str)]) -> EntryAdapter {
    let seconds = nanos.div_euclid(1_000_000_000);
    let rest = nanos.rem_euclid(1_000_000_000);
    EntryAdapter {
        timestamp: Some(prost_types::Timestamp {
            seconds: i64::try_from(seconds).expect("seconds fit in i64"),
            nanos: i32::try_from(rest).expect("under a second"),
        }),
        line: line.into(),
        structured_metadata: metadata
            .iter()
            .map(|(name, value)| LabelPairAdapter {
                name: (*name).into(),
                value: (*value).into(),
            })
            .collect(),
    }
}

/// A stream with these labels (written `{name="value", ...}`, as clients do) and entries.
pub fn stream(labels: &[(&str, &str)], entries: Vec<EntryAdapter>) -> StreamAdapter {
    let written: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    StreamAdapter {
        labels: format!("{{{}}}", written.join(", ")),
        entries,
        hash: 0,
    }
}

/// The push as Promtail sends it: protobuf, snappy-compressed in the block format.
pub fn snappy_protobuf(streams: Vec<StreamAdapter>) -> Vec<u8> {
    snappy(&PushRequest { streams }.encode_to_vec())
}

/// `bytes` snappy-compressed in the block format.
pub fn snappy(bytes: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(bytes)
        .expect("snappy compresses")
}

/// A JSON push stream: `{"stream": labels, "values": [["<ns>", line(, metadata)], ...]}`.
pub fn json_stream(labels: Value, values: &[(i128, &str, Option<Value>)]) -> Value {
    let values: Vec<Value> = values
        .iter()
        .map(|(nanos, line, metadata)| match metadata {
            Some(metadata) => json!([nanos.to_string(), line, metadata]),
            None => json!([nanos.to_string(), line]),
        })
        .collect();
    json!({"stream": labels, "values": values})
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip writes to memory");
    encoder.finish().expect("gzip finishes")
}
