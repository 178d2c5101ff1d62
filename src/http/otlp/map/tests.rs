use chrono::TimeZone;
use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::*;

fn text(value: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(AnyValueKind::StringValue(value.into())),
    })
}

fn pair(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value,
        ..Default::default()
    }
}

fn request(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "checkout.payments".into(),
                    version: "1.2.0".into(),
                    ..Default::default()
                }),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn record(body: &str, nanos: u64) -> LogRecord {
    LogRecord {
        time_unix_nano: nanos,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: text(body),
        attributes: vec![pair(
            "http.status",
            Some(AnyValue {
                value: Some(AnyValueKind::IntValue(503)),
            }),
        )],
        trace_id: vec![0xab; 16],
        span_id: vec![0x01; 8],
        ..Default::default()
    }
}

fn received() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0)
        .single()
        .expect("a valid instant")
}

fn map(request: &ExportLogsServiceRequest) -> Vec<Result<Event, String>> {
    map_request(request, &OtlpMapping::default(), received(), 64)
}

#[test]
fn a_record_keeps_everything_under_its_service_topic() {
    let resource = vec![
        pair("service.name", text("checkout")),
        pair("service.instance.id", text("checkout-7f9c")),
        pair("host.name", text("vm-3")),
    ];
    let nanos = 1_796_644_800_123_456_789;
    let events = map(&request(resource, vec![record("payment timed out", nanos)]));

    let event = events[0].as_ref().expect("mapped");
    assert_eq!(event.topic, "checkout");
    assert_eq!(event.source, "checkout-7f9c");
    assert_eq!(event.event_id.len(), 64, "a SHA-256 in hex");
    assert_eq!(event.timestamp.timestamp_nanos_opt(), Some(nanos as i64));
    let payload: Value = serde_json::from_str(event.payload.get()).expect("JSON");
    assert_eq!(
        payload,
        json!({
            "body": "payment timed out",
            "level": "error",
            "severity_text": "ERROR",
            "severity_number": 17,
            "attributes": {"http.status": 503},
            "trace_id": "abababababababababababababababab",
            "span_id": "0101010101010101",
            "resource": {"service.name": "checkout", "service.instance.id": "checkout-7f9c",
                         "host.name": "vm-3"},
            "scope": {"name": "checkout.payments", "version": "1.2.0"},
        })
    );
}

#[test]
fn the_same_record_sent_again_gets_the_same_id_and_another_record_another() {
    let resource = || vec![pair("service.name", text("checkout"))];
    let first = map(&request(resource(), vec![record("a", 1), record("b", 1)]));
    let again = map(&request(resource(), vec![record("a", 1)]));
    let id = |events: &[Result<Event, String>], at: usize| {
        events[at].as_ref().expect("mapped").event_id.clone()
    };
    assert_eq!(id(&first, 0), id(&again, 0));
    assert_ne!(id(&first, 0), id(&first, 1));
}

#[test]
fn a_record_uid_is_the_id_and_the_host_the_source_without_an_instance() {
    let mut with_uid = record("x", 0);
    with_uid
        .attributes
        .push(pair(RECORD_UID, text("01JF2Q7ZK3")));
    with_uid.observed_time_unix_nano = 1_000_000_000;
    let resource = vec![
        pair("service.name", text("web")),
        pair("host.name", text("vm-3")),
    ];
    let events = map(&request(resource, vec![with_uid, record("y", 0)]));

    let event = events[0].as_ref().expect("mapped");
    assert_eq!(event.event_id, "01JF2Q7ZK3");
    assert_eq!(event.source, "vm-3");
    assert_eq!(
        event.timestamp.timestamp(),
        1,
        "observed time without a time"
    );
    let later = events[1].as_ref().expect("mapped");
    assert_eq!(
        later.timestamp,
        received(),
        "neither time: when it was received"
    );
}

#[test]
fn without_the_templates_attribute_the_default_topic_and_source_unknown() {
    let events = map(&request(Vec::new(), vec![record("x", 1)]));
    let event = events[0].as_ref().expect("mapped");
    assert_eq!(event.topic, "otlp");
    assert_eq!(event.source, "unknown");
}

#[test]
fn a_bad_record_is_refused_alone() {
    let mut bad = record("x", 1);
    bad.attributes.push(pair(RECORD_UID, text("")));
    let resource = vec![pair("service.name", text("web"))];
    let events = map(&request(resource, vec![record("fine", 1), bad]));
    assert!(events[0].is_ok());
    let reason = events[1].as_ref().expect_err("an empty id is refused");
    assert!(reason.contains(RECORD_UID), "{reason}");
}

#[test]
fn structured_bodies_and_values_become_json() {
    let body = AnyValue {
        value: Some(AnyValueKind::KvlistValue(KeyValueList {
            values: vec![
                pair("user", text("u7")),
                pair(
                    "tags",
                    Some(AnyValue {
                        value: Some(AnyValueKind::ArrayValue(ArrayValue {
                            values: vec![
                                text("a").expect("a value"),
                                AnyValue {
                                    value: Some(AnyValueKind::DoubleValue(f64::NAN)),
                                },
                            ],
                        })),
                    }),
                ),
                pair(
                    "raw",
                    Some(AnyValue {
                        value: Some(AnyValueKind::BytesValue(vec![1, 2, 3])),
                    }),
                ),
            ],
        })),
    };
    let mut structured = record("", 1);
    structured.body = Some(body);
    structured.severity_text.clear();
    structured.severity_number = 10;
    let events = map(&request(
        vec![pair("service.name", text("web"))],
        vec![structured],
    ));
    let payload: Value =
        serde_json::from_str(events[0].as_ref().expect("mapped").payload.get()).expect("JSON");
    assert_eq!(
        payload["body"],
        json!({"user": "u7", "tags": ["a", "NaN"], "raw": "AQID"})
    );
    assert_eq!(payload["level"], "info", "from the severity number");
}

#[test]
fn templates_read_attributes_text_and_braces() {
    let template: TopicTemplate = "logs.{service.namespace}.{service.name}"
        .parse()
        .expect("valid");
    let resource = vec![
        pair("service.name", text("checkout")),
        pair("service.namespace", text("shop")),
    ];
    assert_eq!(
        template.fill(&resource).as_deref(),
        Some("logs.shop.checkout")
    );
    assert_eq!(template.fill(&resource[..1]), None, "a missing attribute");
    assert_eq!(
        template.to_string(),
        "logs.{service.namespace}.{service.name}"
    );
    let braces: TopicTemplate = "a{{b}}".parse().expect("valid");
    assert_eq!(braces.fill(&[]).as_deref(), Some("a{b}"));
    for bad in ["", "{", "{}", "a}", "{a{b}"] {
        assert!(bad.parse::<TopicTemplate>().is_err(), "{bad:?}");
    }
}
