//! A search query ([`Query`]) lowered to a PostgreSQL condition on `events`, every value bound
//! as a parameter (never written into the SQL). The condition is never NULL, so `NOT` means
//! what it means in the in-memory evaluation (`query/eval.rs`), which is the model this
//! lowering is tested against, rule by rule:
//! - words and phrases: the rows whose words hold every word of the phrase (`@>` on the
//!   words array, which the GIN index of `indexes.rs` answers), then
//!   `strpos(words, ' w1 w2 ')` in the searchable text the commit wrote;
//! - event fields: `=` and `^@` (starts with), `ts` compared as an instant;
//! - a payload path: equality as JSON containment (`@>`, answered by the payload's GIN index)
//!   of the value, or of an array holding it, at that path, as a string, a number and a
//!   boolean where the term reads as one (containment walks objects only, as the model does);
//!   a prefix, a range or `*` reads the
//!   value with `#>` after checking that every step before the last is an object (`#>` would
//!   index into an array with a numeric name, which the model never does).
//!
//! A leaf an index can serve is never wrapped in a function such as `COALESCE` (the planner
//! uses an index only for a clause it can see): it is a plain conjunction that cannot be NULL.

use serde_json::{json, Value as Json};
use tokio_postgres::types::ToSql;

use super::indexes::{PAYLOAD_JSONB, WORDS_ARRAY};
use crate::query::words::phrase_needle;
use crate::query::{Condition, Field, FieldQuery, Query, RangeValue, Value};
use crate::store::queries::SearchScope;
use crate::store::search::{junction, range_condition};

/// A bound parameter.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// A statement's parameters, bound as its text is written.
#[derive(Default)]
pub(super) struct Statement {
    pub(super) params: Vec<Param>,
}

impl Statement {
    /// Binds `value`; returns its placeholder.
    pub(super) fn bind(&mut self, value: Param) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    /// The parameters, as a query takes them.
    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|param| param.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The condition for `query`; `bind` binds a value and returns its placeholder.
pub(super) fn condition(query: &Query, bind: &mut impl FnMut(Param) -> String) -> String {
    match query {
        Query::All => "true".into(),
        Query::Text(phrase) => {
            let words = bind(Box::new(phrase.words.clone()));
            let needle = bind(Box::new(phrase_needle(&phrase.words)));
            // `words IS NOT NULL` first: the other two are then never NULL.
            format!(
                "(words IS NOT NULL AND {WORDS_ARRAY} @> {words}::text[] \
                 AND strpos(words, {needle}) > 0)"
            )
        }
        Query::Field(field) => field_condition(field, bind),
        Query::And(children) => junction(children, " AND ", |child| condition(child, bind)),
        Query::Or(children) => junction(children, " OR ", |child| condition(child, bind)),
        Query::Not(child) => format!("NOT ({})", condition(child, bind)),
    }
}

/// Whether one of the search indexes can find `query`'s matches: a word or phrase, or a
/// payload field's equality, in every branch of an `OR` and some term of an `AND`.
pub(super) fn index_served(query: &Query) -> bool {
    match query {
        Query::Text(_) => true,
        Query::Field(FieldQuery {
            field: Field::Payload(_),
            condition: Condition::Equals(_),
        }) => true,
        Query::And(children) => children.iter().any(index_served),
        Query::Or(children) => children.iter().all(index_served),
        Query::All | Query::Not(_) | Query::Field(_) => false,
    }
}

fn field_condition(query: &FieldQuery, bind: &mut impl FnMut(Param) -> String) -> String {
    let column = match &query.field {
        Field::Topic => "topic",
        Field::Source => "source",
        Field::EventId => "event_id",
        Field::Timestamp => return timestamp_condition(&query.condition, bind),
        Field::Payload(path) => return payload_condition(path, &query.condition, bind),
    };
    match &query.condition {
        Condition::Equals(value) => format!("{column} = {}", bind(Box::new(value.text.clone()))),
        Condition::Prefix(prefix) => format!("{column} ^@ {}", bind(Box::new(prefix.clone()))),
        Condition::Exists => "true".into(),
        Condition::Range(_) => "false".into(),
    }
}

fn timestamp_condition(condition: &Condition, bind: &mut impl FnMut(Param) -> String) -> String {
    match condition {
        Condition::Equals(Value {
            instant: Some(instant),
            ..
        }) => format!("ts = {}", bind(Box::new(*instant))),
        Condition::Range(range) => range_condition(range, "ts", |value| match value {
            RangeValue::Instant(at) => Some(bind(Box::new(*at))),
            RangeValue::Number(_) => None,
        }),
        Condition::Exists => "true".into(),
        Condition::Equals(_) | Condition::Prefix(_) => "false".into(),
    }
}

fn payload_condition(
    path: &[String],
    condition: &Condition,
    bind: &mut impl FnMut(Param) -> String,
) -> String {
    match condition {
        Condition::Equals(value) => {
            let documents: Vec<String> = leaf_values(value)
                .into_iter()
                .flat_map(|leaf| [leaf.clone(), Json::Array(vec![leaf])])
                .map(|leaf| {
                    let document = nest(path, leaf);
                    format!("{PAYLOAD_JSONB} @> {}::jsonb", bind(Box::new(document)))
                })
                .collect();
            // Never NULL: the payload never is, nor are the documents.
            format!("({})", documents.join(" OR "))
        }
        Condition::Exists => {
            let (objects, value) = walk(path, bind);
            format!("COALESCE({objects}jsonb_typeof({value}) IS NOT NULL, false)")
        }
        Condition::Prefix(prefix) => {
            let (objects, value) = walk(path, bind);
            let prefix = bind(Box::new(prefix.clone()));
            format!(
                "COALESCE({objects}jsonb_typeof({value}) = 'string' \
                 AND ({value} #>> '{{}}') ^@ {prefix}, false)"
            )
        }
        Condition::Range(range) => {
            let (objects, value) = walk(path, bind);
            // Compared as numeric, exactly: a cast to float8 would fail on a stored number
            // beyond its range. The bound is Rust's shortest text of the f64 the model uses.
            // CASE, because only it fixes the order of evaluation: the cast must never meet
            // a value that is not a number.
            let bounds =
                range_condition(range, &format!("({value})::numeric"), |bound| match bound {
                    RangeValue::Number(number) => Some(format!(
                        "{}::text::numeric",
                        bind(Box::new(format!("{number:?}")))
                    )),
                    RangeValue::Instant(_) => None,
                });
            format!(
                "COALESCE(CASE WHEN {objects}jsonb_typeof({value}) = 'number' \
                 THEN {bounds} ELSE false END, false)"
            )
        }
    }
}

/// `jsonb_typeof(...) = 'object' AND ` for every step before the last (nothing for a path of
/// one name), and the expression of the value at `path`.
pub(super) fn walk(path: &[String], bind: &mut impl FnMut(Param) -> String) -> (String, String) {
    walk_in(PAYLOAD_JSONB, path, bind)
}

/// [`walk`] in the JSON document `document`.
fn walk_in(
    document: &str,
    path: &[String],
    bind: &mut impl FnMut(Param) -> String,
) -> (String, String) {
    let mut objects = String::new();
    for depth in 1..path.len() {
        let prefix = bind(Box::new(path[..depth].to_vec()));
        objects.push_str(&format!(
            "jsonb_typeof({document} #> {prefix}::text[]) = 'object' AND "
        ));
    }
    let whole = bind(Box::new(path.to_vec()));
    (objects, format!("{document} #> {whole}::text[]"))
}

/// The rows a payload field's value is read from ([`value_expression`]): the value of its
/// first name, found in the stored text (`->` scans it without building it; of duplicate keys
/// the last, as `jsonb` and the model read it) and converted once per row (`OFFSET 0` keeps the
/// planner from folding it back into every use of it). Parsing the whole payload into `jsonb`
/// instead cost reading `message` over an hour 30 to 40 % more.
fn parsed_events(first: &str) -> String {
    format!(
        "events CROSS JOIN LATERAL (SELECT (payload -> {first}::text)::jsonb AS document \
         OFFSET 0) AS parsed"
    )
}

/// The JSON values a term equals: its text, and its number or boolean when it reads as one.
fn leaf_values(value: &Value) -> Vec<Json> {
    let mut leaves = vec![Json::String(value.text.clone())];
    if let Some(number) = value.number.and_then(serde_json::Number::from_f64) {
        leaves.push(Json::Number(number));
    }
    match value.text.as_str() {
        "true" => leaves.push(json!(true)),
        "false" => leaves.push(json!(false)),
        _ => {}
    }
    leaves
}

/// `{"a": {"b": leaf}}` for the path `a.b`.
fn nest(path: &[String], leaf: Json) -> Json {
    path.iter()
        .rev()
        .fold(leaf, |inner, name| json!({ name: inner }))
}

/// The condition of a count's or ranking's scope: the search, the event filters, a key's topic
/// prefixes and the time range.
pub(super) fn scope_condition(
    scope: &SearchScope,
    bind: &mut impl FnMut(Param) -> String,
) -> String {
    let mut parts = Vec::new();
    if let Some(filter) = &scope.filter {
        parts.push(format!("({})", condition(filter, bind)));
    }
    if let Some(topic) = &scope.topic {
        parts.push(format!("topic = {}", bind(Box::new(topic.clone()))));
    }
    if !scope.topic_prefixes.is_any() {
        let prefixes = scope.topic_prefixes.as_slice().to_vec();
        parts.push(format!(
            "topic ^@ ANY({}::text[])",
            bind(Box::new(prefixes))
        ));
    }
    if let Some(source) = &scope.source {
        parts.push(format!("source = {}", bind(Box::new(source.clone()))));
    }
    parts.push(format!("ts >= {}", bind(Box::new(scope.since))));
    parts.push(format!("ts < {}", bind(Box::new(scope.until))));
    parts.join(" AND ")
}

/// The text of `field` in a row, for counting its values: an event field as is, a payload
/// field when it holds a string, a number or a boolean (NULL otherwise), in byte order.
/// `None` for a field without values to count (`timestamp`). Also the rows to read it from:
/// `events`, or for a payload field [`parsed_events`].
pub(super) fn value_expression(
    field: &Field,
    bind: &mut impl FnMut(Param) -> String,
) -> Option<(String, String)> {
    let (expression, rows) = match field {
        Field::Topic => ("topic".to_owned(), "events".to_owned()),
        Field::Source => ("source".to_owned(), "events".to_owned()),
        Field::EventId => ("event_id".to_owned(), "events".to_owned()),
        Field::Timestamp => return None,
        Field::Payload(path) => {
            let (first, rest) = path.split_first()?;
            let first = bind(Box::new(first.clone()));
            let (mut objects, value) = walk_in("parsed.document", rest, bind);
            if !rest.is_empty() {
                // A name never indexes into an array, the first one's value included.
                objects.insert_str(0, "jsonb_typeof(parsed.document) = 'object' AND ");
            }
            let expression = format!(
                "CASE WHEN {objects}jsonb_typeof({value}) IN ('string', 'number', 'boolean') \
                 THEN {value} #>> '{{}}' END"
            );
            (expression, parsed_events(&first))
        }
    };
    Some((format!("({expression}) COLLATE \"C\""), rows))
}
