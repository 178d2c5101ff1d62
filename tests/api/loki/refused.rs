//! The pushes refused, whole or line by line: a line whose time is before 1970 or whose topic
//! is outside the key's prefixes is named by position while the others are stored; a body that
//! does not decode, of another media type, decompressing past the body limit, or holding too
//! many lines is refused whole.

use reqwest::StatusCode;
use serde_json::Value;

use super::wire::{self, entry, snappy, snappy_protobuf, stream, StreamAdapter};
use super::{push, push_json, push_protobuf, topic_events, PROTOBUF, T0};
use crate::auth_support::{bearer, get_as, spawn_keyed_app, KeysFile};
use crate::helpers::{spawn_app, spawn_app_with, ApiApp};
use aggregator::auth::Scope;

/// `(index, field)` of each issue of an error answer's `details`.
fn refused_positions(answer: &Value) -> Vec<(u64, String)> {
    answer["details"]
        .as_array()
        .unwrap_or_else(|| panic!("details in {answer}"))
        .iter()
        .map(|issue| {
            let index = issue["index"].as_u64().expect("an index");
            (index, issue["field"].as_str().expect("a field").to_owned())
        })
        .collect()
}

/// Proves a line whose time is before 1970 is refused alone: `400` whose `details` name its
/// position in the push (counted across streams), and the other lines are stored.
#[tokio::test]
async fn a_line_with_a_negative_time_is_refused_by_position_and_the_others_stored() {
    // Arrange
    let app = spawn_app().await;
    let streams = vec![
        stream(
            &[("service_name", "web")],
            vec![entry(T0, "zero", &[]), entry(T0 + 1, "one", &[])],
        ),
        stream(
            &[("service_name", "web"), ("host", "vm-2")],
            vec![
                entry(-1_000, "before 1970", &[]),
                entry(T0 + 3, "three", &[]),
            ],
        ),
    ];

    // Act
    let (status, answer) = push_protobuf(&app, streams).await;

    // Assert
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(refused_positions(&answer), vec![(2, "line".to_owned())]);
    let reason = answer["details"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("-1000"), "{reason}");
    assert_eq!(answer["error"], "3 lines stored; these were refused");
    let web = topic_events(&app, "web").await;
    let mut stored: Vec<&str> = web
        .iter()
        .map(|event| event["payload"]["message"].as_str().unwrap())
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, vec!["one", "three", "zero"]);
}

/// Proves a key limited to `orders.` stores the lines of its streams and gets the others'
/// positions refused in a `400`, and a key without the publish scope is refused whole.
#[tokio::test]
async fn a_key_limited_to_a_prefix_stores_only_the_streams_inside_it() {
    // Arrange
    let keys = KeysFile::new();
    let shipper = keys.add("shipper", &[Scope::Publish], &["orders."], None);
    let reader = keys.add("reader", &[Scope::Read], &[], None);
    let app = spawn_keyed_app(&keys).await;
    let body = || {
        snappy_protobuf(vec![
            stream(
                &[("service_name", "orders.api")],
                vec![
                    entry(T0, "order placed", &[]),
                    entry(T0 + 1, "order paid", &[]),
                ],
            ),
            stream(
                &[("service_name", "payments")],
                vec![
                    entry(T0 + 2, "card charged", &[]),
                    entry(T0 + 3, "refund", &[]),
                ],
            ),
            stream(
                &[("service_name", "orders.api"), ("host", "vm-9")],
                vec![entry(T0 + 4, "order shipped", &[])],
            ),
        ])
    };

    // Act
    let (reader_status, _) = push(&app, PROTOBUF, None, Some(&reader), body()).await;
    let (status, answer) = push(&app, PROTOBUF, None, Some(&shipper), body()).await;

    // Assert
    assert_eq!(reader_status, StatusCode::FORBIDDEN);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        refused_positions(&answer),
        vec![(2, "line".to_owned()), (3, "line".to_owned())]
    );
    let reason = answer["details"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("payments"), "{reason}");
    assert_eq!(app.row_count().await, 3);
    let (_, page) = get_as(&app, "/events?topic=orders.api", &bearer(&reader)).await;
    let mut stored: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["payload"]["message"].as_str().unwrap())
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, vec!["order paid", "order placed", "order shipped"]);
}

/// Proves bodies that cannot be a push are refused whole with `400`: bytes that are not
/// snappy, snappy of bytes that are not protobuf, a stream whose labels cannot be read, and
/// JSON that is not a push.
#[tokio::test]
async fn a_body_that_does_not_decode_is_refused_with_400() {
    // Arrange
    let app = spawn_app().await;
    let unreadable_labels = wire::PushRequest {
        streams: vec![StreamAdapter {
            labels: "{job=unquoted}".into(),
            entries: vec![entry(T0, "line", &[])],
            hash: 0,
        }],
    };
    let bodies = [
        (PROTOBUF, b"this is not snappy at all".to_vec()),
        (PROTOBUF, snappy(b"\xff\xff\xff\xff not protobuf")),
        (
            PROTOBUF,
            snappy(&prost::Message::encode_to_vec(&unreadable_labels)),
        ),
        (
            "application/json",
            br#"{"streams":[{"values":[[1,"x"]]}]}"#.to_vec(),
        ),
    ];

    for (content_type, body) in bodies {
        // Act
        let (status, answer) = push(&app, content_type, None, None, body).await;

        // Assert
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.starts_with("the body is not a Loki push"), "{error}");
    }
    app.assert_nothing_stored().await;
}

/// Proves a body of any other media type is refused with `415`.
#[tokio::test]
async fn a_text_plain_body_is_refused_with_415() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (status, answer) = push(&app, "text/plain", None, None, b"a line".to_vec()).await;

    // Assert
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{answer}");
    app.assert_nothing_stored().await;
}

/// Proves a small snappy body that decompresses past `--max-body-bytes` is refused with `413`,
/// as a gzip body would be (the length snappy states up front is checked before decompressing), whether it claims a
/// gigabyte or really holds a compressible megabyte, and the server answers the next push.
#[tokio::test]
async fn a_snappy_body_decompressing_past_the_body_limit_is_refused() {
    // Arrange
    let app = spawn_app_with(|config| config.limits.max_body_bytes = 64 * 1024).await;
    // The block format opens with the decompressed length as a varint: 2^30 here.
    let claims_a_gigabyte = vec![0x80, 0x80, 0x80, 0x80, 0x04, 0x00, b'x'];
    let megabyte_line = "a".repeat(1 << 20);
    let compressible = snappy_protobuf(vec![stream(
        &[("service_name", "web")],
        vec![entry(T0, &megabyte_line, &[])],
    )]);
    assert!(compressible.len() < 64 * 1024, "{}", compressible.len());

    // Act
    let (claimed, claimed_answer) = push(&app, PROTOBUF, None, None, claims_a_gigabyte).await;
    let (real, real_answer) = push(&app, PROTOBUF, None, None, compressible).await;
    let small = vec![stream(
        &[("service_name", "web")],
        vec![entry(T0, "fits", &[])],
    )];
    let (after, _) = push_protobuf(&app, small).await;

    // Assert
    assert_eq!(claimed, StatusCode::PAYLOAD_TOO_LARGE, "{claimed_answer}");
    assert_eq!(real, StatusCode::PAYLOAD_TOO_LARGE, "{real_answer}");
    assert_eq!(after, StatusCode::NO_CONTENT);
    assert_eq!(app.row_count().await, 1);
}

/// Proves a push of more lines than `--max-events-per-request` (counted across streams) is
/// refused whole with `422`, one at the limit is stored, and an empty one stores nothing and
/// succeeds (`204`).
#[tokio::test]
async fn a_push_over_the_line_limit_is_refused_with_422_and_an_empty_one_succeeds() {
    // Arrange
    let app = spawn_app_with(|config| config.limits.max_events_per_request = 5).await;
    let lines = |count: i128, first: i128| {
        (first..first + count)
            .map(|i| entry(T0 + i, &format!("line {i}"), &[]))
            .collect::<Vec<_>>()
    };
    let six = vec![
        stream(&[("service_name", "web")], lines(3, 0)),
        stream(&[("service_name", "api")], lines(3, 3)),
    ];
    let five = vec![stream(&[("service_name", "web")], lines(5, 0))];

    // Act
    let (over, over_answer) = push_protobuf(&app, six).await;
    let (empty, empty_answer) = push_json(&app, vec![]).await;
    let nothing_stored = app.row_count().await;
    let (at_limit, at_limit_answer) = push_protobuf(&app, five).await;

    // Assert
    assert_eq!(over, StatusCode::UNPROCESSABLE_ENTITY, "{over_answer}");
    let reason = over_answer["details"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("(got 6)"), "{reason}");
    assert_eq!(empty, StatusCode::NO_CONTENT, "{empty_answer}");
    assert_eq!(nothing_stored, 0);
    assert_eq!(at_limit, StatusCode::NO_CONTENT, "{at_limit_answer}");
    assert_eq!(app.row_count().await, 5);
}
