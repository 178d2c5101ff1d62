//! Checks of a payload's raw JSON text that the parser does not make: how deeply it nests, and
//! whether it escapes characters no store can hold (`\u0000`) or that are not Unicode at all
//! (lone UTF-16 surrogates such as `\ud800`). PostgreSQL refuses the former and fails the
//! whole statement on deep nesting; SQLite stores both and readers then choke on them. So both
//! are refused at parse time, identically for every store.
//!
//! One pass over the bytes, no recursion: the payload is kept as the raw text the client sent,
//! and this scan must stay cheap and safe whatever the nesting.

use serde_json::value::RawValue;

use super::FieldError;

/// Default limit on how deeply a payload nests objects and arrays.
pub const DEFAULT_MAX_PAYLOAD_DEPTH: usize = 64;

/// Checks `payload` (valid JSON, as the parser left it): at most `max_depth` levels of
/// objects and arrays, no `\u0000`, no lone surrogate escape.
pub fn check_payload(payload: &RawValue, max_depth: usize) -> Result<(), FieldError> {
    let bytes = payload.get().as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if in_string {
            match byte {
                b'"' => in_string = false,
                b'\\' if bytes.get(index + 1) == Some(&b'u') => {
                    let unit = hex4(bytes, index + 2);
                    index = check_escape(bytes, index, unit)?;
                    continue;
                }
                // Any other escape is two bytes; skipping the second keeps `\"` inside.
                b'\\' => index += 1,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > max_depth {
                        return Err(FieldError::TooDeep { max: max_depth });
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        index += 1;
    }
    Ok(())
}

/// Checks the `\uXXXX` escape at `start` (whose code unit is `unit`) and returns the index just
/// past it, or past its low surrogate when it is a valid pair.
fn check_escape(bytes: &[u8], start: usize, unit: Option<u16>) -> Result<usize, FieldError> {
    let after = start + 6;
    let lone = |unit: u16| FieldError::LoneSurrogate {
        found: format!("{unit:04x}"),
    };
    match unit {
        Some(0) => Err(FieldError::NulCharacter),
        Some(high @ 0xD800..=0xDBFF) => {
            let next_is_low = bytes.get(after) == Some(&b'\\')
                && bytes.get(after + 1) == Some(&b'u')
                && matches!(hex4(bytes, after + 2), Some(0xDC00..=0xDFFF));
            if next_is_low {
                Ok(after + 6)
            } else {
                Err(lone(high))
            }
        }
        Some(low @ 0xDC00..=0xDFFF) => Err(lone(low)),
        // The parser already accepted the text, so a `\u` is followed by four hex digits.
        _ => Ok(after),
    }
}

/// The four hex digits at `at` as a UTF-16 code unit.
fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
    u16::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, max_depth: usize) -> Result<(), FieldError> {
        let raw = RawValue::from_string(text.to_owned()).unwrap();
        check_payload(&raw, max_depth)
    }

    #[test]
    fn nesting_up_to_the_limit_passes_and_one_more_level_does_not() {
        let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        assert!(check(&format!("{{\"a\":{}}}", nested(3)), 4).is_ok());
        assert_eq!(
            check(&format!("{{\"a\":{}}}", nested(4)), 4),
            Err(FieldError::TooDeep { max: 4 })
        );
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        assert!(check(r#"{"a":"[[[[[[\"{{{{"}"#, 1).is_ok());
    }

    #[test]
    fn an_escaped_nul_is_refused_anywhere() {
        assert_eq!(
            check(r#"{"a":{"b":"x\u0000y"}}"#, 64),
            Err(FieldError::NulCharacter)
        );
        assert_eq!(check(r#"{"\u0000":1}"#, 64), Err(FieldError::NulCharacter));
        assert!(check(r#"{"a":"\\u0000 is text here"}"#, 64).is_ok());
    }

    #[test]
    fn lone_surrogates_are_refused_and_pairs_are_kept() {
        assert!(check(r#"{"crab":"\ud83e\udd80"}"#, 64).is_ok());
        for lone in [
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00x"}"#,
            r#"{"a":"\ud800\u0041"}"#,
        ] {
            assert!(
                matches!(check(lone, 64), Err(FieldError::LoneSurrogate { .. })),
                "{lone}"
            );
        }
    }

    #[test]
    fn a_very_deep_payload_is_refused_without_recursion() {
        // serde_json skips a raw value with an explicit stack, so it accepts any depth; the
        // check must too, without overflowing its own stack.
        let depth = 200_000;
        let text = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(check(&text, 64), Err(FieldError::TooDeep { max: 64 }));
    }
}
