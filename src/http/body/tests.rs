use super::*;

/// The default limits with `max_events` events per request.
fn limits(max_events: usize) -> Limits {
    Limits {
        max_events_per_request: max_events,
        ..Limits::default()
    }
}

const LIMIT: usize = 100;

fn event_json(topic: &str, event_id: &str) -> String {
    format!(
        r#"{{"topic":"{topic}","event_id":"{event_id}","timestamp":"2024-05-01T12:00:00Z","source":"svc","payload":{{"n":1}}}}"#
    )
}

fn parse(body: &str) -> Vec<Event> {
    match parse_publish_body(body.as_bytes(), &limits(LIMIT)) {
        Ok(events) => events,
        Err(err) => panic!("{body} was rejected: {err:?}"),
    }
}

fn keys(events: &[Event]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|event| (event.topic.as_str(), event.event_id.as_str()))
        .collect()
}

/// The issues of a body that must be rejected as invalid (422).
fn issues(body: &str) -> Vec<FieldIssue> {
    match parse_publish_body(body.as_bytes(), &limits(LIMIT)) {
        Err(ApiError::Validation(issues)) => issues,
        other => panic!("{body} gave {other:?}, not a validation error"),
    }
}

/// The single issue of event 0, after replacing `field` of a valid event with raw `value`.
fn issue_with(field: &str, value: &str) -> FieldIssue {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&event_json("t", "1")).unwrap();
    object.remove(field);
    let mut text = serde_json::to_string(&object).unwrap();
    text.pop();
    text.push_str(&format!(r#","{field}":{value}}}"#));
    let mut found = issues(&text);
    assert_eq!(found.len(), 1, "{text}: {found:?}");
    found.remove(0)
}

#[test]
fn a_single_object_is_one_event() {
    let events = parse(&event_json("orders", "1"));
    assert_eq!(keys(&events), [("orders", "1")]);
    assert_eq!(events[0].source, "svc");
    assert_eq!(
        events[0].timestamp.to_rfc3339(),
        "2024-05-01T12:00:00+00:00"
    );
    assert_eq!(events[0].payload.get(), r#"{"n":1}"#);
}

#[test]
fn an_envelope_keeps_its_events_in_order() {
    let body = format!(
        r#"{{"events": [{}, {}]}}"#,
        event_json("b", "2"),
        event_json("a", "1")
    );
    assert_eq!(keys(&parse(&body)), [("b", "2"), ("a", "1")]);
}

#[test]
fn a_bare_array_keeps_its_events_in_order() {
    let body = format!(" \n[{}, {}]", event_json("b", "2"), event_json("a", "1"));
    assert_eq!(keys(&parse(&body)), [("b", "2"), ("a", "1")]);
}

#[test]
fn unknown_fields_are_ignored_in_events_and_envelopes() {
    let event = event_json("t", "1").replacen('{', r#"{"extra":{"deep":[1]},"#, 1);
    let body = format!(r#"{{"batch":"x","events":[{event}]}}"#);
    assert_eq!(keys(&parse(&body)), [("t", "1")]);
}

#[test]
fn the_payload_is_kept_byte_for_byte() {
    let body = event_json("t", "1").replace(r#"{"n":1}"#, r#"{ "b": 1.0,"a" : [ ] }"#);
    assert_eq!(parse(&body)[0].payload.get(), r#"{ "b": 1.0,"a" : [ ] }"#);
}

#[test]
fn an_absent_or_null_payload_becomes_an_empty_object() {
    let absent = event_json("t", "1").replace(r#","payload":{"n":1}"#, "");
    assert_eq!(parse(&absent)[0].payload.get(), "{}");
    let null = event_json("t", "1").replace(r#"{"n":1}"#, "null");
    assert_eq!(parse(&null)[0].payload.get(), "{}");
}

#[test]
fn each_key_field_reports_its_own_problem() {
    for field in ["topic", "event_id"] {
        assert_eq!(
            issue_with(field, "null"),
            FieldIssue::at(0, field, "is required")
        );
        assert_eq!(
            issue_with(field, r#""""#),
            FieldIssue::at(0, field, "must not be empty")
        );
        assert_eq!(
            issue_with(field, "1"),
            FieldIssue::at(0, field, "must be a string")
        );
        assert_eq!(
            issue_with(field, &format!(r#""{}""#, "x".repeat(256))),
            FieldIssue::at(0, field, "must be at most 255 characters (got 256)")
        );
        assert_eq!(
            issue_with(field, r#""a\u0001b""#),
            FieldIssue::at(0, field, "must not contain control characters")
        );
    }
}

#[test]
fn source_timestamp_and_payload_report_their_own_problems() {
    assert_eq!(
        issue_with("source", r#"" ""#),
        FieldIssue::at(0, "source", "must not be empty")
    );
    assert_eq!(
        issue_with("source", "[]"),
        FieldIssue::at(0, "source", "must be a string")
    );
    assert_eq!(
        issue_with("timestamp", r#""noon""#),
        FieldIssue::at(
            0,
            "timestamp",
            "must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z"
        )
    );
    assert_eq!(
        issue_with("timestamp", "12"),
        FieldIssue::at(0, "timestamp", "must be a string")
    );
    for payload in ["[]", r#""{}""#, "3", "true"] {
        assert_eq!(
            issue_with("payload", payload),
            FieldIssue::at(0, "payload", "must be a JSON object"),
            "{payload}"
        );
    }
}

#[test]
fn every_problem_of_every_event_is_reported_with_its_index() {
    let body = format!(
        r#"[{}, {{"topic":"t"}}, 7, {}]"#,
        event_json("ok", "1"),
        event_json("", "4")
    );
    let found = issues(&body);
    let located: Vec<(Option<usize>, &str)> = found
        .iter()
        .map(|issue| (issue.index, issue.field.as_str()))
        .collect();
    assert_eq!(
        located,
        [
            (Some(1), "event_id"),
            (Some(1), "source"),
            (Some(1), "timestamp"),
            (Some(2), "event"),
            (Some(3), "topic"),
        ]
    );
}

#[test]
fn empty_batches_are_rejected_in_both_shapes() {
    let expected = vec![FieldIssue::request(
        "events",
        "must contain at least one event",
    )];
    assert_eq!(issues("[]"), expected);
    assert_eq!(issues(r#"{"events": []}"#), expected);
}

#[test]
fn more_events_than_the_limit_are_rejected_and_the_limit_itself_passes() {
    let batch = |n: usize| {
        let events: Vec<String> = (0..n).map(|i| event_json("t", &i.to_string())).collect();
        format!("[{}]", events.join(","))
    };
    assert_eq!(
        parse_publish_body(batch(3).as_bytes(), &limits(3))
            .map(|e| e.len())
            .ok(),
        Some(3)
    );
    match parse_publish_body(batch(4).as_bytes(), &limits(3)) {
        Err(ApiError::Validation(found)) => assert_eq!(
            found,
            [FieldIssue::request(
                "events",
                "at most 3 events per request (got 4)"
            )]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_events_field_that_is_not_an_array_is_rejected() {
    let expected = vec![FieldIssue::request(
        "events",
        "must be an array of event objects",
    )];
    assert_eq!(issues(r#"{"events": {"topic": "t"}}"#), expected);
    assert_eq!(issues(r#"{"events": "x"}"#), expected);
}

#[test]
fn duplicate_keys_are_rejected_rather_than_one_silently_winning() {
    let envelope = issues(r#"{"events": [], "events": []}"#);
    assert_eq!(
        (envelope[0].index, envelope[0].field.as_str()),
        (None, "body")
    );
    assert!(
        envelope[0].reason.contains("duplicate field `events`"),
        "{envelope:?}"
    );

    let event = event_json("a", "1").replacen('{', r#"{"topic":"b","#, 1);
    let inner = issues(&format!("[{event}]"));
    assert_eq!(
        (inner[0].index, inner[0].field.as_str()),
        (Some(0), "event")
    );
    assert!(
        inner[0].reason.contains("duplicate field `topic`"),
        "{inner:?}"
    );
}

#[test]
fn scalars_are_rejected_as_invalid_bodies() {
    for body in [r#""text""#, "12", "false", "null"] {
        let found = issues(body);
        assert_eq!(found.len(), 1, "{body}");
        assert_eq!(
            (found[0].index, found[0].field.as_str()),
            (None, "body"),
            "{body}"
        );
    }
}

#[test]
fn text_that_is_not_json_is_malformed() {
    for body in ["", "{", "[1,]", "{topic: 1}", "{} {}"] {
        assert!(
            matches!(
                parse_publish_body(body.as_bytes(), &limits(LIMIT)),
                Err(ApiError::MalformedJson(_))
            ),
            "{body:?}"
        );
    }
}

fn parse_lines(body: &str) -> Result<Vec<Event>, ApiError> {
    parse_body(body.as_bytes(), BodyFormat::Ndjson, &limits(LIMIT))
}

#[test]
fn ndjson_lines_are_events_in_order_and_blank_lines_are_skipped() {
    let body = format!(
        "\n{}\r\n   \n{}",
        event_json("t", "first"),
        event_json("u", "second")
    );
    let events = parse_lines(&body).unwrap();
    assert_eq!(keys(&events), vec![("t", "first"), ("u", "second")]);
}

#[test]
fn an_ndjson_line_that_is_not_json_makes_the_body_malformed_and_names_the_line() {
    let body = format!("{}\n\n[1,\n", event_json("t", "1"));
    match parse_lines(&body) {
        Err(ApiError::MalformedJson(message)) => {
            assert!(message.starts_with("line 3, column"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ndjson_events_are_counted_against_the_request_limit() {
    let body: String = (0..=LIMIT)
        .map(|index| event_json("t", &index.to_string()) + "\n")
        .collect();
    match parse_lines(&body) {
        Err(ApiError::Validation(issues)) => assert_eq!(issues[0].field, "events"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse_lines("\n \r\n"),
        Err(ApiError::Validation(_))
    ));
}
