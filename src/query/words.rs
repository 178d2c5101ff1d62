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
//!
//! Two bounds keep the text, and the work of making it, small whatever a payload holds: a word
//! is at most [`MAX_WORD_BYTES`] (a longer run, a digest or a base64 blob, is cut into words of
//! that size), and the searchable text of one event stops at [`MAX_SEARCHABLE_BYTES`]: words
//! past it cannot be found. Both hold for every store and for the model alike, since all use
//! this file.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Longest word, in bytes (Elasticsearch's standard tokenizer cuts at 255 characters).
pub const MAX_WORD_BYTES: usize = 255;
/// Most bytes of searchable text kept for one event.
pub const MAX_SEARCHABLE_BYTES: usize = 64 * 1024;

/// Calls `each` with the words of `text`, in order, while it returns `true`; tells whether it
/// saw them all. Each run of letters and digits is lowercased, then split again (lowercasing can
/// turn a letter into a letter and a combining mark: `İ` is `i` and U+0307), so that the words
/// of the words are the words themselves; a word longer than [`MAX_WORD_BYTES`] is cut into
/// words of at most that many bytes, as Elasticsearch's standard tokenizer cuts long tokens. An
/// ASCII run (most log text) is its own word, passed as it is when already lowercase; only
/// other runs take `str::to_lowercase`.
fn each_word(text: &str, mut each: impl FnMut(&str) -> bool) -> bool {
    let runs = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|run| !run.is_empty());
    let mut lowered = String::new();
    for run in runs {
        if run.is_ascii() {
            let word = match run.bytes().any(|byte| byte.is_ascii_uppercase()) {
                false => run,
                true => {
                    lowered.clear();
                    lowered.extend(run.chars().map(|c| c.to_ascii_lowercase()));
                    &lowered
                }
            };
            if !each_piece(word, &mut each) {
                return false;
            }
            continue;
        }
        let lower = run.to_lowercase();
        let words = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty());
        for word in words {
            if !each_piece(word, &mut each) {
                return false;
            }
        }
    }
    true
}

/// `word` cut at character boundaries into pieces of at most [`MAX_WORD_BYTES`], each given to
/// `each`; `false` once `each` says stop.
fn each_piece(mut word: &str, each: &mut impl FnMut(&str) -> bool) -> bool {
    while word.len() > MAX_WORD_BYTES {
        let mut cut = MAX_WORD_BYTES;
        while !word.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, rest) = word.split_at(cut);
        if !each(piece) {
            return false;
        }
        word = rest;
    }
    each(word)
}

/// The words of `text`, lowercase, in order.
pub fn words_of(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    each_word(text, |word| {
        words.push(word.to_owned());
        true
    });
    words
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
    let mut collector = StringCollector {
        searchable: String::new(),
        full: false,
    };
    let mut deserializer = serde_json::Deserializer::from_str(payload_json);
    // A payload the stores hold is valid JSON within the depth limit; anything else has no
    // words rather than an error, since searching must never fail on a stored row. A full text
    // stops the walk with an error of its own.
    let walked = (&mut collector).deserialize(&mut deserializer);
    if walked.is_err() && !collector.full {
        return String::new();
    }
    collector.searchable
}

/// The searchable text being written, and whether it reached its bound.
struct StringCollector {
    searchable: String,
    full: bool,
}

impl StringCollector {
    /// Appends the line of one string value, when it holds a word; `false` once the text is
    /// full.
    fn push_value_line(&mut self, value: &str) -> bool {
        let start = self.searchable.len();
        let searchable = &mut self.searchable;
        let mut full = false;
        each_word(value, |word| {
            // The space before the first word, the word, its space, and room for the newline.
            let opening = usize::from(searchable.len() == start);
            if searchable.len() + opening + word.len() + 2 > MAX_SEARCHABLE_BYTES {
                full = true;
                return false;
            }
            if opening == 1 {
                searchable.push(' ');
            }
            searchable.push_str(word);
            searchable.push(' ');
            true
        });
        if self.searchable.len() > start {
            self.searchable.push('\n');
        }
        self.full = full;
        !full
    }
}

/// Walks a JSON document and writes the line of every string value, skipping keys; stops with
/// an error once the text is full.
impl<'de> Visitor<'de> for &mut StringCollector {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<(), E> {
        match self.push_value_line(value) {
            true => Ok(()),
            false => Err(E::custom("searchable text full")),
        }
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
        while seq.next_element_seed(&mut *self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(&mut *self)?;
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut StringCollector {
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
    fn long_runs_are_not_words_and_the_text_stops_at_its_bound() {
        let long = "x".repeat(MAX_WORD_BYTES + 1);
        let cut = words_of(&format!("a {long} b"));
        assert_eq!(cut.len(), 4);
        assert_eq!((cut[1].len(), cut[2].as_str()), (MAX_WORD_BYTES, "x"));
        let wide = "é".repeat(200);
        assert!(words_of(&wide)
            .iter()
            .all(|word| word.len() <= MAX_WORD_BYTES));
        assert_eq!(words_of(&wide).concat(), wide);
        let many: Vec<String> = (0..20_000).map(|n| format!("w{n}")).collect();
        let payload = serde_json::json!({"a": many.join(" "), "b": "after"}).to_string();
        let searchable = payload_words(&payload);
        assert!(
            searchable.len() <= MAX_SEARCHABLE_BYTES,
            "{}",
            searchable.len()
        );
        assert!(searchable.starts_with(" w0 w1 "));
        assert!(
            !searchable.contains(" after "),
            "a word past the bound is not searchable"
        );
        let huge = serde_json::json!({"pad": "y ".repeat(1_000_000)}).to_string();
        assert!(payload_words(&huge).len() <= MAX_SEARCHABLE_BYTES);
    }

    #[test]
    fn text_that_is_not_json_has_no_words() {
        assert_eq!(payload_words("{\"a\":"), "");
        assert_eq!(payload_words("{}"), "");
    }
}
