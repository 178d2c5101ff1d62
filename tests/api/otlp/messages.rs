//! The hand-built OTLP messages of the `/v1/logs` tests: `opentelemetry-proto`'s prost
//! messages for protobuf bodies, and the OTLP JSON twin of one of them written by hand.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Kind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{json, Value};

/// The protobuf media type of OTLP/HTTP.
pub const PROTOBUF: &str = "application/x-protobuf";
/// `time_unix_nano` of record 0; record `n` is `n` ns later.
pub const TIME_UNIX_NANO: u64 = 1_700_000_000_000_000_000;
/// The trace of every record (`5b8efff798038103d269b633813fc60c`).
pub const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
/// The span of every record (`eee19b7ec3c1b174`).
pub const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

/// A string value.
pub fn text(value: &str) -> AnyValue {
    AnyValue {
        value: Some(Kind::StringValue(value.into())),
    }
}

/// An attribute `key` = `value`.
pub fn attribute(key: &str, value: Kind) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// Record `n`: an INFO line "order n paid" with an int and a bool attribute, in a trace.
pub fn record(n: u64) -> LogRecord {
    LogRecord {
        time_unix_nano: TIME_UNIX_NANO + n,
        observed_time_unix_nano: TIME_UNIX_NANO + 1_000 + n,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(text(&format!("order {n} paid"))),
        attributes: vec![
            attribute("order.id", Kind::IntValue(i64::try_from(n).unwrap())),
            attribute("paid", Kind::BoolValue(true)),
        ],
        flags: 1,
        trace_id: TRACE_ID.to_vec(),
        span_id: SPAN_ID.to_vec(),
        ..LogRecord::default()
    }
}

/// `records` of the service `service` (instance `<service>-1`), scope `checkout.orders` 1.0.0.
pub fn resource_logs(service: &str, records: Vec<LogRecord>) -> ResourceLogs {
    ResourceLogs {
        resource: Some(Resource {
            attributes: vec![
                attribute("service.name", Kind::StringValue(service.into())),
                attribute(
                    "service.instance.id",
                    Kind::StringValue(format!("{service}-1")),
                ),
            ],
            ..Resource::default()
        }),
        scope_logs: vec![ScopeLogs {
            scope: Some(InstrumentationScope {
                name: "checkout.orders".into(),
                version: "1.0.0".into(),
                ..InstrumentationScope::default()
            }),
            log_records: records,
            ..ScopeLogs::default()
        }],
        ..ResourceLogs::default()
    }
}

/// An export of `records` by the service `checkout`.
pub fn export(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![resource_logs("checkout", records)],
    }
}

/// The OTLP JSON twin of `export(vec![record(1), record(2)])`, written by hand as the
/// specification encodes it: lowerCamelCase names, ids in hex, int64 values as strings, enums
/// as numbers.
pub fn json_twin() -> Value {
    let record = |n: u64| {
        json!({
            "timeUnixNano": (TIME_UNIX_NANO + n).to_string(),
            "observedTimeUnixNano": (TIME_UNIX_NANO + 1_000 + n).to_string(),
            "severityNumber": 9,
            "severityText": "INFO",
            "body": {"stringValue": format!("order {n} paid")},
            "attributes": [
                {"key": "order.id", "value": {"intValue": n.to_string()}},
                {"key": "paid", "value": {"boolValue": true}},
            ],
            "flags": 1,
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
        })
    };
    json!({
        "resourceLogs": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "checkout"}},
                {"key": "service.instance.id", "value": {"stringValue": "checkout-1"}},
            ]},
            "scopeLogs": [{
                "scope": {"name": "checkout.orders", "version": "1.0.0"},
                "logRecords": [record(1), record(2)],
            }],
        }],
    })
}
