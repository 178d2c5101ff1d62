//! Unit tests of the bulk body reader: pairing of action and document lines, the mapping of a
//! document to an event, and what is refused per item or for the whole body.

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn received() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap()
}

fn parse(body: &str, path_index: Option<&str>) -> Vec<BulkItem> {
    parse_bulk(body.as_bytes(), path_index, received(), 32).unwrap()
}

fn event_of(item: &BulkItem) -> &Event {
    item.event
        .as_ref()
        .unwrap_or_else(|reason| panic!("refused: {reason}"))
}

#[test]
fn an_rsyslog_document_maps_to_an_event_with_a_digest_id() {
    let document = r#"{"@timestamp":"2026-12-02T00:47:20.723488+00:00","host":"vm","program":"checkout","message":"order 1 paid"}"#;
    let body = format!(
        "{{\"index\":{{\"_index\":\"syslog.checkout\",\"_type\":\"events\"}}}}\n{document}\n"
    );
    let items = parse(&body, None);
    assert_eq!(items.len(), 1);
    let event = event_of(&items[0]);
    assert_eq!(event.topic, "syslog.checkout");
    assert_eq!(
        event.event_id,
        event::content_id("syslog.checkout", document.as_bytes())
    );
    assert_eq!(items[0].id.as_deref(), Some(event.event_id.as_str()));
    assert_eq!(event.source, "vm");
    assert_eq!(
        event.timestamp.to_rfc3339(),
        "2026-12-02T00:47:20.723488+00:00"
    );
    assert_eq!(event.payload.get(), document);
    assert_eq!(items[0].action, "index");
}

#[test]
fn the_source_is_the_first_host_field_of_any_shippers_document() {
    let documents = [
        (r#"{"host":{"name":"a","hostname":"b"},"HOST":"c"}"#, "a"),
        (r#"{"host":{"hostname":"ecs"},"hostname":"d"}"#, "ecs"),
        (r#"{"host":"  ","hostname":"plain"}"#, "plain"),
        (r#"{"HOST":"syslog-ng","agent":{"name":"e"}}"#, "syslog-ng"),
        (
            r#"{"agent":{"name":"filebeat-1"},"kubernetes":{"host":"node-1"}}"#,
            "filebeat-1",
        ),
        (
            r#"{"kubernetes":{"host":"node-1","pod_name":"p"}}"#,
            "node-1",
        ),
        (r#"{"agent":"not an object"}"#, "unknown"),
    ];
    let body: String = documents
        .iter()
        .map(|(document, _)| format!("{{\"index\":{{}}}}\n{document}\n"))
        .collect();
    let items = parse(&body, Some("hosts"));
    for (item, (document, source)) in items.iter().zip(documents) {
        assert_eq!(event_of(item).source, source, "{document}");
    }
}

#[test]
fn id_time_and_source_come_from_their_fields_in_order_of_preference() {
    let body = concat!(
        "{\"create\":{\"_index\":\"a\",\"_id\":\"given\"}}\n",
        "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"host\":{\"name\":\"web-1\"},\"hostname\":\"x\"}\n",
        "{\"index\":{\"_id\":7}}\n",
        "{\"time\":\"2026-01-02T00:00:00Z\",\"hostname\":\"db-1\"}\n",
        "{\"index\":{}}\n",
        "{\"message\":\"no time, no host\"}\r\n",
    );
    let items = parse(body, Some("from-path"));
    let events: Vec<&Event> = items.iter().map(event_of).collect();
    assert_eq!(
        (events[0].topic.as_str(), events[0].event_id.as_str()),
        ("a", "given")
    );
    assert_eq!(events[0].source, "web-1");
    assert_eq!(
        events[0].timestamp.to_rfc3339(),
        "2026-01-01T00:00:00+00:00"
    );
    assert_eq!(
        (events[1].topic.as_str(), events[1].event_id.as_str()),
        ("from-path", "7")
    );
    assert_eq!(events[1].source, "db-1");
    assert_eq!(
        events[1].timestamp.to_rfc3339(),
        "2026-01-02T00:00:00+00:00"
    );
    assert_eq!(events[2].source, "unknown");
    assert_eq!(events[2].timestamp, received());
}

#[test]
fn bad_documents_and_unsupported_actions_are_refused_per_item() {
    let body = concat!(
        "{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n",
        "{\"update\":{\"_index\":\"a\",\"_id\":\"1\"}}\n",
        "{\"doc\":{}}\n",
        "{\"index\":{\"_index\":\"a\"}}\n",
        "[1,2]\n",
        "{\"index\":{\"_index\":\"a\"}}\n",
        "{\"@timestamp\":\"yesterday\"}\n",
        "{\"index\":{}}\n",
        "{\"message\":\"no index anywhere\"}\n",
        "{\"index\":{\"_index\":\"\"}}\n",
        "{\"message\":\"empty index\"}\n",
        "{\"index\":{\"_index\":\"a\"}}\n",
        "{not json\n",
        "{\"index\":{\"_index\":\"a\"}}\n",
        "{\"message\":\"fine\"}\n",
    );
    let items = parse(body, None);
    let reasons: Vec<String> = items
        .iter()
        .map(|item| item.event.as_ref().err().cloned().unwrap_or_default())
        .collect();
    assert_eq!(items.len(), 8, "{reasons:?}");
    assert_eq!(reasons[0], "delete is not supported");
    assert_eq!(reasons[1], "only index and create are supported");
    assert_eq!(reasons[2], "the document must be a JSON object");
    assert!(
        reasons[3].starts_with("@timestamp must be an RFC 3339"),
        "{}",
        reasons[3]
    );
    assert!(reasons[4].starts_with("no index"), "{}", reasons[4]);
    assert_eq!(reasons[5], "_index must not be empty");
    assert!(
        reasons[6].starts_with("the document is not JSON"),
        "{}",
        reasons[6]
    );
    assert_eq!(reasons[7], "", "the last item is fine");
    assert_eq!(
        items[0].id.as_deref(),
        Some("1"),
        "a refused delete keeps its id"
    );
}

#[test]
fn a_line_that_breaks_the_pairing_fails_the_whole_body() {
    let unpaired = |body: &str| {
        parse_bulk(body.as_bytes(), None, received(), 32)
            .unwrap_err()
            .0
    };
    assert!(unpaired("{\"index\":{}}\n").contains("line 1: the index action has no document"));
    assert!(unpaired("{\"index\":{}}\n{}\nnot json\n{}\n").starts_with("line 3:"));
    assert!(unpaired("{\"index\":{},\"create\":{}}\n{}\n").contains("exactly one action"));
    assert!(unpaired("{\"upsert\":{}}\n{}\n").contains("unknown action \"upsert\""));
}

#[test]
fn the_same_document_sent_twice_gets_the_same_id() {
    let body = "{\"index\":{\"_index\":\"t\"}}\n{\"message\":\"m\"}\n";
    let first = parse(body, None);
    let again = parse(&format!("{body}{body}"), None);
    assert_eq!(event_of(&first[0]).event_id, event_of(&again[1]).event_id);
}
