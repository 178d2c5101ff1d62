//! How text is split into words, and the searchable text of a payload: one definition, in
//! Rust, that the stores keep beside each event (its `words` column) and that the in-memory
//! evaluation uses, so that every store finds exactly what the model finds.
//!
//! A word is a maximal run of letters and digits (`char::is_alphanumeric`: Unicode's
//! Alphabetic and Numeric properties) of the text lowercased (`str::to_lowercase`). Everything else
//! separates words: spaces, punctuation, `_`, `-`, `.`, `/`. So `user_id=42 GET /api/v1`
//! holds the words `user`, `id`, `42`, `get`, `api`, `v1`.
//!
//! The searchable text of a payload ([`payload_words`]) holds the words of every string value
//! at any depth (object keys, numbers and booleans are not text), one line per string value
//! in document order: `" w1 w2 w3 \n w4 \n"`, each word between spaces. A phrase of words
//! `a b` is then found by looking for `" a b "` ([`phrase_needle`]): only within one value,
//! never across two.

use std::fmt::Write as _;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The words of `text`, lowercase, in order. The text is lowercased before it is split, so
/// that the words of the words are the words themselves (lowercasing can turn a letter into a
/// letter and a combining mark: `İ` is `i` and U+0307).
pub fn words_of(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the searchable text holds for a phrase of `words`: the words between spaces.
pub fn phrase_needle(words: &[String]) -> String {
    let mut needle = String::from(" ");
    for word in words {
        needle.push_str(word);
        needle.push(' ');
    }
    needle
}

/// The searchable text of a payload given as JSON text (see the module documentation). Text
/// that is not JSON has no words.
pub fn payload_words(payload_json: &str) -> String {
    let mut searchable = String::new();
    let mut deserializer = serde_json::Deserializer::from_str(payload_json);
    // A payload the stores hold is valid JSON within the depth limit; anything else has no
    // words rather than an error, since searching must never fail on a stored row.
    if deserializer
        .deserialize_any(StringCollector(&mut searchable))
        .is_err()
    {
        searchable.clear();
    }
    searchable
}

/// Appends the line of one string value to `searchable`, when it holds a word.
fn push_value_line(searchable: &mut String, value: &str) {
    let words = words_of(value);
    if words.is_empty() {
        return;
    }
    searchable.push(' ');
    for word in words {
        // cannot fail: writing to a String
        let _ = write!(searchable, "{word} ");
    }
    searchable.push('\n');
}

/// Walks a JSON document and writes the line of every string value, skipping keys.
struct StringCollector<'a>(&'a mut String);

impl<'de> Visitor<'de> for StringCollector<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E>(self, value: &str) -> Result<(), E> {
        push_value_line(self.0, value);
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(StringCollector(&mut *self.0))?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(StringCollector(&mut *self.0))?;
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for StringCollector<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_letters_and_digits_lowercased() {
        assert_eq!(
            words_of("user_id=42 GET /api/v1 Café-ÉTÉ"),
            ["user", "id", "42", "get", "api", "v1", "café", "été"]
        );
        assert!(words_of(" -- !!").is_empty());
        assert_eq!(words_of("订单已支付 ok"), ["订单已支付", "ok"]);
    }

    #[test]
    fn the_searchable_text_holds_every_string_value_one_line_each_and_no_keys() {
        let payload = r#"{"message":"Order 7 PAID","level":"info","n":5,"ok":true,
                          "tags":["a-b",""],"nested":{"Deep":{"x":"Last words"}}}"#;
        assert_eq!(
            payload_words(payload),
            " order 7 paid \n info \n a b \n last words \n"
        );
    }

    #[test]
    fn a_phrase_is_found_within_one_value_only() {
        let searchable = payload_words(r#"{"a":"error timeout","b":"retry now"}"#);
        let needle = |text: &str| phrase_needle(&words_of(text));
        assert!(searchable.contains(&needle("error timeout")));
        assert!(searchable.contains(&needle("TIMEOUT")));
        assert!(!searchable.contains(&needle("timeout retry")));
        assert!(!searchable.contains(&needle("time")));
    }

    #[test]
    fn text_that_is_not_json_has_no_words() {
        assert_eq!(payload_words("{\"a\":"), "");
        assert_eq!(payload_words("{}"), "");
    }
}
