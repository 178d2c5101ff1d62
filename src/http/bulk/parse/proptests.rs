//! Property test of the bulk reader's isolation: in a batch of valid items where one item's
//! action line or document is corrupted in any way that keeps the pairing (the action line
//! stays one JSON object naming a known action, the document stays one non-blank line), every
//! item, the corrupted one included, is read exactly as if it had been sent alone.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

const MAX_DEPTH: usize = 8;

/// What an item was read as, comparable (an [`Event`]'s payload is raw text).
type ItemView = (
    String,
    Option<String>,
    Option<String>,
    Result<(String, String, String, String, String), String>,
);

fn view(item: &BulkItem) -> ItemView {
    (
        item.action.clone(),
        item.index.clone(),
        item.id.clone(),
        item.event.as_ref().map_err(Clone::clone).map(|event| {
            (
                event.topic.clone(),
                event.event_id.clone(),
                event.timestamp.to_rfc3339(),
                event.source.clone(),
                event.payload.get().to_owned(),
            )
        }),
    )
}

fn read(lines: &[String]) -> Vec<ItemView> {
    let received = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
    let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
    parse_bulk(body.as_bytes(), Some("from.path"), received, MAX_DEPTH)
        .expect("the pairing is kept")
        .iter()
        .map(view)
        .collect()
}

/// One valid item: an action line and its document line.
fn valid_item() -> impl Strategy<Value = Vec<String>> {
    (
        prop_oneof![Just("index"), Just("create")],
        proptest::option::of("[a-z]{1,8}(\\.[a-z]{1,8})?"),
        proptest::option::of("[a-zA-Z0-9_-]{1,12}"),
        "[ -~]{0,20}",
        proptest::option::of(0u32..86_400),
    )
        .prop_map(|(action, index, id, message, second)| {
            let mut meta = serde_json::Map::new();
            if let Some(index) = index {
                meta.insert("_index".into(), json!(index));
            }
            if let Some(id) = id {
                meta.insert("_id".into(), json!(id));
            }
            let mut document = json!({"message": message, "host": "web-1"});
            if let Some(second) = second {
                let at = Utc
                    .timestamp_opt(1_765_000_000 + i64::from(second), 0)
                    .unwrap();
                document["@timestamp"] = json!(at.to_rfc3339());
            }
            vec![
                json!({ action: Value::Object(meta) }).to_string(),
                document.to_string(),
            ]
        })
}

/// A value no valid `_index` or `_id` holds, written as JSON text (lone surrogates cannot be
/// built as a `serde_json::Value`).
fn bad_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#""bulk.\ud800""#.to_owned()),
        Just(r#""\udc00x""#.to_owned()),
        Just(r#""a\u0000b""#.to_owned()),
        Just(r#""tab\there""#.to_owned()),
        Just(r#""zero\u200bwidth""#.to_owned()),
        Just(r#""""#.to_owned()),
        Just(format!("\"{}\"", "x".repeat(256))),
        Just("true".to_owned()),
        Just("[1,2]".to_owned()),
        Just(r#"{"a":"\ud800"}"#.to_owned()),
        Just("1.5e400".to_owned()),
        "[ -~]{0,10}".prop_map(|text| json!(text).to_string()),
    ]
}

/// A document line no valid item holds, but still one non-blank line.
fn bad_document() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"message":"\ud800"}"#.to_owned()),
        Just(r#"{"message":"a\u0000"}"#.to_owned()),
        Just(r#"{"@timestamp":"yesterday"}"#.to_owned()),
        Just(r#"{"@timestamp":"\udbff"}"#.to_owned()),
        Just(r#"{"host":17}"#.to_owned()),
        Just("[1,2]".to_owned()),
        Just("\"text\"".to_owned()),
        Just(format!("{{\"deep\":{}{}}}", "[".repeat(20), "]".repeat(20))),
        "[ -~]{1,30}"
            .prop_filter("not blank", |line| !line.trim().is_empty())
            .prop_map(|line| line.replace('\n', " ")),
    ]
}

/// Corrupts one item (an action line and its document), keeping the pairing.
fn corrupt(item: &[String], how: Corruption) -> Vec<String> {
    let action: serde_json::Map<String, Value> = serde_json::from_str(&item[0]).unwrap();
    let (name, meta) = action.into_iter().next().unwrap();
    let meta_text = meta.to_string();
    let with_field = |field: &str, value: &str| {
        let rest = meta_text.trim_start_matches('{').trim_end_matches('}');
        let separator = if rest.is_empty() { "" } else { "," };
        format!("{{\"{name}\":{{{rest}{separator}\"{field}\":{value}}}}}")
    };
    match how {
        Corruption::Index(value) => vec![with_field("_index", &value), item[1].clone()],
        Corruption::Id(value) => vec![with_field("_id", &value), item[1].clone()],
        Corruption::UnknownField(value) => vec![with_field("routing", &value), item[1].clone()],
        Corruption::MetaKey => vec![with_field("\\ud800", "1"), item[1].clone()],
        Corruption::Meta(value) => vec![format!("{{\"{name}\":{value}}}"), item[1].clone()],
        Corruption::Document(document) => vec![item[0].clone(), document],
        Corruption::Delete => vec![format!("{{\"delete\":{meta_text}}}")],
        Corruption::Update => vec![format!("{{\"update\":{meta_text}}}"), item[1].clone()],
    }
}

#[derive(Debug, Clone)]
enum Corruption {
    Index(String),
    Id(String),
    UnknownField(String),
    MetaKey,
    Meta(String),
    Document(String),
    Delete,
    Update,
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        bad_value().prop_map(Corruption::Index),
        bad_value().prop_map(Corruption::Id),
        bad_value().prop_map(Corruption::UnknownField),
        Just(Corruption::MetaKey),
        prop_oneof![bad_value(), Just("null".to_owned()), Just("7".to_owned())]
            .prop_map(Corruption::Meta),
        bad_document().prop_map(Corruption::Document),
        Just(Corruption::Delete),
        Just(Corruption::Update),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_corrupted_item_never_takes_its_neighbours_with_it(
        items in prop::collection::vec(valid_item(), 1..6),
        victim in any::<prop::sample::Index>(),
        how in corruption(),
    ) {
        let victim = victim.index(items.len());
        let mut sent: Vec<Vec<String>> = items.clone();
        sent[victim] = corrupt(&items[victim], how);
        let batch: Vec<String> = sent.iter().flatten().cloned().collect();

        let together = read(&batch);

        prop_assert_eq!(together.len(), sent.len());
        for (position, item) in sent.iter().enumerate() {
            let alone = read(item);
            prop_assert_eq!(&together[position], &alone[0], "item {}", position);
            if position != victim {
                prop_assert!(together[position].3.is_ok(), "valid item {} refused", position);
            }
        }
    }
}
