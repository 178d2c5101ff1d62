//! [`Query`] back to text, in one canonical form that parses to the same query: implicit
//! `AND`, `OR` and `-` for negation, parentheses only where precedence needs them, values
//! quoted only where a bare value would read differently. Used in answers and logs, so that a
//! person sees the query as the server understood it.

use std::fmt::{self, Display, Formatter, Write as _};

use chrono::SecondsFormat;

use super::ast::{Bound, Condition, Field, FieldQuery, Query, Range, RangeValue};

impl Display for Query {
    fn fmt(&self, out: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => Ok(()),
            Self::Text(phrase) => match phrase.words.as_slice() {
                [word] => out.write_str(word),
                words => write!(out, "\"{}\"", words.join(" ")),
            },
            Self::Field(field) => field.fmt(out),
            Self::And(children) => {
                for (index, child) in children.iter().enumerate() {
                    if index > 0 {
                        out.write_char(' ')?;
                    }
                    match child {
                        Self::Or(_) | Self::And(_) => write!(out, "({child})")?,
                        _ => child.fmt(out)?,
                    }
                }
                Ok(())
            }
            Self::Or(children) => {
                for (index, child) in children.iter().enumerate() {
                    if index > 0 {
                        out.write_str(" OR ")?;
                    }
                    match child {
                        Self::Or(_) => write!(out, "({child})")?,
                        _ => child.fmt(out)?,
                    }
                }
                Ok(())
            }
            Self::Not(child) => match child.as_ref() {
                Self::And(_) | Self::Or(_) => write!(out, "-({child})"),
                _ => write!(out, "-{child}"),
            },
        }
    }
}

impl Display for FieldQuery {
    fn fmt(&self, out: &mut Formatter<'_>) -> fmt::Result {
        write_field(out, &self.field)?;
        out.write_char(':')?;
        match &self.condition {
            Condition::Exists => out.write_char('*'),
            Condition::Prefix(prefix) => write!(out, "{prefix}*"),
            Condition::Equals(value) => write_value(out, &value.text),
            Condition::Range(range) => write_range(out, range),
        }
    }
}

/// A payload path whose first name is also an event field's (or `payload`) keeps its
/// `payload.` prefix, so that it reads back as the same path.
fn write_field(out: &mut Formatter<'_>, field: &Field) -> fmt::Result {
    if let Field::Payload(path) = field {
        let first = path.first().map(String::as_str);
        if matches!(
            first,
            Some("topic" | "source" | "event_id" | "timestamp" | "payload")
        ) {
            out.write_str("payload.")?;
        }
    }
    out.write_str(&field.name())
}

/// A value bare when it reads back as itself, else quoted.
fn write_value(out: &mut Formatter<'_>, text: &str) -> fmt::Result {
    let bare = !text.is_empty()
        && !text.starts_with(['[', '{', '>', '<'])
        && !text
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '"' | '*' | '\\'));
    if bare {
        return out.write_str(text);
    }
    out.write_char('"')?;
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    out.write_char('"')
}

fn write_range(out: &mut Formatter<'_>, range: &Range) -> fmt::Result {
    match (&range.lower, &range.upper) {
        (Bound::Unbounded, Bound::At { value, inclusive }) => {
            out.write_str(if *inclusive { "<=" } else { "<" })?;
            write_range_value(out, value)
        }
        (Bound::At { value, inclusive }, Bound::Unbounded) => {
            out.write_str(if *inclusive { ">=" } else { ">" })?;
            write_range_value(out, value)
        }
        (lower, upper) => {
            let bound = |out: &mut Formatter<'_>, bound: &Bound| match bound {
                Bound::Unbounded => out.write_char('*'),
                Bound::At { value, .. } => write_range_value(out, value),
            };
            let inclusive = |bound: &Bound| {
                !matches!(
                    bound,
                    Bound::At {
                        inclusive: false,
                        ..
                    }
                )
            };
            out.write_char(if inclusive(lower) { '[' } else { '{' })?;
            bound(out, lower)?;
            out.write_str(" TO ")?;
            bound(out, upper)?;
            out.write_char(if inclusive(upper) { ']' } else { '}' })
        }
    }
}

fn write_range_value(out: &mut Formatter<'_>, value: &RangeValue) -> fmt::Result {
    match value {
        RangeValue::Number(number) => write_number(out, *number),
        RangeValue::Instant(instant) => {
            out.write_str(&instant.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }
    }
}

/// Whole numbers as integers, others in the shortest form that reads back as the same `f64`.
fn write_number(out: &mut Formatter<'_>, number: f64) -> fmt::Result {
    if number == number.trunc() && number.abs() < 1e15 {
        // cannot overflow: |number| < 1e15 fits an i64
        write!(out, "{}", number as i64)
    } else {
        write!(out, "{number:?}")
    }
}
