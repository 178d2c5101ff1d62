//! The query-parameter rules that the paginated listings (`GET /events`, `GET /topics`) share,
//! and the OpenAPI schemas that state them exactly, so that a client (or schemathesis) can tell
//! from the document alone which values are accepted:
//! - an empty value means the parameter was not given;
//! - `limit` is any whole number of at least 1, however many digits, capped to the page maximum.

use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::KnownFormat;

/// Every text that [`parse_limit`] accepts: empty, or digits (an optional `+`, leading zeros)
/// with at least one that is not zero.
const LIMIT_PATTERN: &str = r"^(\+?0*[1-9][0-9]*)?$";

/// Reads a `limit` value: absent or empty means `default`; any whole number of at least 1 is
/// capped to `max`, however many digits it has (a client asking for "everything" gets a full
/// page, not an error); anything else is refused.
pub fn parse_limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, String> {
    let refused = || format!("must be a whole number of at least 1 (pages hold at most {max})");
    let Some(raw) = raw.filter(|raw| !raw.is_empty()) else {
        return Ok(default);
    };
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(refused());
    }
    match digits.trim_start_matches('0') {
        "" => Err(refused()),
        significant => Ok(significant
            .parse::<usize>()
            .map_or(max, |limit| limit.min(max))),
    }
}

/// The schema of a `limit` parameter: an integer of at least 1 (no maximum: larger values are
/// capped, not refused), or its exact text form, which also covers the empty value. It carries
/// the `description`, because utoipa drops a parameter's doc comment when the parameter has
/// its own schema function.
pub fn limit_schema(description: &str) -> Schema {
    AnyOfBuilder::new()
        .description(Some(description))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(LIMIT_PATTERN)),
        )
        .into()
}

/// The schema of a time filter: an RFC 3339 date-time, or empty for "no bound"; with its
/// `description` (see [`limit_schema`]).
pub fn time_filter_schema(description: &str) -> Schema {
    AnyOfBuilder::new()
        .description(Some(description))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(0)),
        )
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_cap_and_reject_nonsense() {
        assert_eq!(parse_limit(None, 100, 1000), Ok(100));
        assert_eq!(parse_limit(Some(""), 100, 1000), Ok(100));
        assert_eq!(parse_limit(Some("5"), 100, 1000), Ok(5));
        assert_eq!(parse_limit(Some("+007"), 100, 1000), Ok(7));
        assert_eq!(parse_limit(Some("1000000"), 100, 1000), Ok(1000));
        assert_eq!(parse_limit(Some(&"9".repeat(40)), 100, 1000), Ok(1000));
        for raw in ["0", "+", "-1", "ten", "00", "1e3", " 1", "++1"] {
            assert!(parse_limit(Some(raw), 100, 1000).is_err(), "{raw}");
        }
    }
}
