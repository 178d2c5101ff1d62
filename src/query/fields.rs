//! Field tokens: each value a field equality (`level:error`, `http.status:500`) can match,
//! written as one word-like token, so that a full-text index (the embedded store's FTS5 table)
//! finds the rows holding a field's value as it finds words. SQLite has no index over every
//! path of a JSON document, which PostgreSQL's `jsonb_path_ops` is; this is that index's idea
//! (a hash of path and value per leaf) in a form FTS5 keeps.
//!
//! A token stands for a path and a typed value, exactly the pairs the in-memory evaluation
//! (`eval.rs`) can call equal: a string, a number (as the `f64` it compares) or a boolean
//! reached through objects only, or such a value inside an array at that path. It is `f`
//! followed by 16 hex digits of a 64-bit FNV-1a hash of the path and the value. A token only
//! narrows a search: two pairs that share a hash, or a word that looks like a token, only add
//! candidates that the exact condition then drops.
//!
//! FNV-1a, written here, rather than a hashing crate: the tokens are stored on disk, so the
//! function must never change with a dependency's version, and it is ten lines.

use serde_json::Value as Json;

use super::ast::Value;

/// Most tokens kept for one event. An event with more fields gets [`OVERFLOW_TOKEN`] instead of
/// the rest, and every field equality also looks for that token, so no event is ever missed.
pub const MAX_FIELD_TOKENS: usize = 512;

/// The token of an event whose fields were not all written (see [`MAX_FIELD_TOKENS`]).
pub const OVERFLOW_TOKEN: &str = "fffffffffffffffff";

/// Separates the names of a path, and the path from the value: a byte UTF-8 text never holds.
const SEPARATOR: u8 = 0xff;

/// The tokens of a payload given as JSON text, separated by spaces (empty for text that is not
/// a JSON object).
pub fn payload_field_tokens(payload_json: &str) -> String {
    let Ok(payload) = serde_json::from_str::<Json>(payload_json) else {
        return String::new();
    };
    let mut tokens = Tokens::default();
    let mut path = Vec::new();
    tokens.object_fields(&payload, &mut path);
    tokens.text
}

/// The tokens a payload holds when the value at `path` equals `value` (as a string, as a number
/// and as a boolean where the term reads as one), and the overflow token.
pub fn equality_tokens(path: &[String], value: &Value) -> Vec<String> {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    let mut tokens = vec![token(&names, &Json::String(value.text.clone()))];
    if let Some(number) = value.number.and_then(serde_json::Number::from_f64) {
        tokens.push(token(&names, &Json::Number(number)));
    }
    match value.text.as_str() {
        "true" => tokens.push(token(&names, &Json::Bool(true))),
        "false" => tokens.push(token(&names, &Json::Bool(false))),
        _ => {}
    }
    tokens.push(OVERFLOW_TOKEN.to_owned());
    tokens
}

/// The tokens being written.
#[derive(Default)]
struct Tokens {
    text: String,
    count: usize,
    full: bool,
}

impl Tokens {
    /// The tokens of every field of `value` when it is an object, `path` being where it is.
    fn object_fields<'a>(&mut self, value: &'a Json, path: &mut Vec<&'a str>) {
        let Json::Object(fields) = value else {
            return;
        };
        for (name, field) in fields {
            path.push(name);
            match field {
                Json::Object(_) => self.object_fields(field, path),
                Json::Array(items) => {
                    for item in items {
                        self.leaf(path, item);
                    }
                }
                leaf => self.leaf(path, leaf),
            }
            path.pop();
        }
    }

    fn leaf(&mut self, path: &[&str], value: &Json) {
        if self.full || !matches!(value, Json::String(_) | Json::Number(_) | Json::Bool(_)) {
            return;
        }
        if self.count == MAX_FIELD_TOKENS {
            self.full = true;
            self.push(OVERFLOW_TOKEN);
            return;
        }
        self.count += 1;
        self.push(&token(path, value));
    }

    fn push(&mut self, token: &str) {
        self.text.push(' ');
        self.text.push_str(token);
    }
}

/// The token of a scalar `value` at `path`.
fn token(path: &[&str], value: &Json) -> String {
    let mut hash = Fnv::default();
    for name in path {
        hash.write(name.as_bytes());
        hash.write(&[SEPARATOR]);
    }
    match value {
        Json::String(text) => {
            hash.write(b"s");
            hash.write(text.as_bytes());
        }
        Json::Number(number) => {
            // Compared as f64, as the evaluation does: 500, 500.0 and 5e2 are one value.
            let float = number.as_f64().unwrap_or(f64::NAN);
            let float = if float == 0.0 { 0.0 } else { float };
            hash.write(b"n");
            hash.write(&float.to_bits().to_le_bytes());
        }
        Json::Bool(flag) => {
            hash.write(b"b");
            hash.write(&[u8::from(*flag)]);
        }
        Json::Null | Json::Array(_) | Json::Object(_) => {}
    }
    format!("f{:016x}", hash.0)
}

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{parse, Condition, Field, FieldQuery, Query};

    fn tokens_of(query: &str) -> Vec<String> {
        match parse(query).unwrap() {
            Query::Field(FieldQuery {
                field: Field::Payload(path),
                condition: Condition::Equals(value),
            }) => equality_tokens(&path, &value),
            other => panic!("not an equality: {other:?}"),
        }
    }

    fn holds(payload: &str, query: &str) -> bool {
        let written = payload_field_tokens(payload);
        tokens_of(query)
            .iter()
            .any(|token| written.split(' ').any(|held| held == token))
    }

    #[test]
    fn an_equality_finds_the_token_of_every_value_it_matches() {
        assert!(holds(r#"{"level":"error"}"#, "level:error"));
        assert!(holds(r#"{"http":{"status":500}}"#, "http.status:500"));
        assert!(holds(r#"{"http":{"status":5e2}}"#, "http.status:500.0"));
        assert!(holds(r#"{"ok":true}"#, "ok:true"));
        assert!(holds(r#"{"tags":["a","blue"]}"#, "tags:blue"));
        assert!(holds(r#"{"code":"500"}"#, "code:500"));
    }

    #[test]
    fn another_path_or_value_has_another_token() {
        assert!(!holds(r#"{"level":"error"}"#, "level:warn"));
        assert!(!holds(r#"{"other":"error"}"#, "level:error"));
        assert!(!holds(r#"{"http":{"status":500}}"#, "status:500"));
        // A path through an array is not a path: the evaluation walks objects only.
        assert!(!holds(r#"{"a":[{"b":"x"}]}"#, "a.b:x"));
    }

    #[test]
    fn an_event_with_too_many_fields_holds_the_overflow_token() {
        let fields: Vec<String> = (0..MAX_FIELD_TOKENS + 5)
            .map(|n| format!(r#""f{n}":{n}"#))
            .collect();
        let payload = format!("{{{}}}", fields.join(","));
        let written = payload_field_tokens(&payload);
        assert_eq!(
            written.split(' ').filter(|t| !t.is_empty()).count(),
            MAX_FIELD_TOKENS + 1
        );
        assert!(holds(&payload, &format!("f{}:1", MAX_FIELD_TOKENS + 2)));
    }
}
