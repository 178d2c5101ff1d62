//! Query text to [`Query`]: a small Lucene/Kibana-like language (the grammar is in docs/http-api.md,
//! "Searching"), read by a tokenizer and a recursive-descent parser that report the position
//! (in characters, from 1) and the token of every mistake, and refuse queries past
//! [`QueryLimits`] before they cost anything.
//!
//! ```text
//! query   = [or]
//! or      = and { "OR" and }
//! and     = unary { ["AND"] unary }          adjacent terms are ANDed
//! unary   = ("NOT" | "-") unary | primary
//! primary = "(" or ")" | PHRASE | WORD | FIELD ":" value
//! value   = "*" | WORD "*" | PHRASE | WORD | (">"|">="|"<"|"<=") WORD
//!         | ("["|"{") bound "TO" bound ("]"|"}")
//! ```
//! `OR` binds loosest, then `AND`, then `NOT`; the operators are uppercase words (`and` is a
//! word to search for). A value runs to the next space or parenthesis and may hold `:`, so
//! `timestamp:>2026-12-01T00:00:00Z` needs no quotes.

use chrono::{DateTime, Utc};

use super::ast::{Bound, Condition, Field, FieldQuery, Phrase, Query, Range, RangeValue, Value};
use super::words::words_of;
use crate::event;

/// Default longest query, in characters.
pub const DEFAULT_MAX_QUERY_CHARS: usize = 4096;
/// Default most terms (words, phrases and field conditions) in one query.
pub const DEFAULT_MAX_QUERY_TERMS: usize = 64;
/// Default deepest nesting of parentheses and negations.
pub const DEFAULT_MAX_QUERY_DEPTH: usize = 16;
/// Most segments in a payload path.
const MAX_PATH_SEGMENTS: usize = 16;

/// How large a query may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Longest query, in characters.
    pub max_chars: usize,
    /// Most terms.
    pub max_terms: usize,
    /// Deepest nesting of parentheses and negations.
    pub max_depth: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_chars: DEFAULT_MAX_QUERY_CHARS,
            max_terms: DEFAULT_MAX_QUERY_TERMS,
            max_depth: DEFAULT_MAX_QUERY_DEPTH,
        }
    }
}

/// A query that cannot be read: where, at which token, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position} ({token:?}): {reason}")]
pub struct ParseError {
    /// The position of the token at fault, in characters from 1 (one past the end for a
    /// query that ends too early).
    pub position: usize,
    /// The token at fault (empty at the end of the query).
    pub token: String,
    /// What is wrong, and what would be right.
    pub reason: String,
}

/// Parses `text` within the default limits.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    parse_with(text, QueryLimits::default())
}

/// Parses `text` within `limits`.
pub fn parse_with(text: &str, limits: QueryLimits) -> Result<Query, ParseError> {
    let length = text.chars().count();
    if length > limits.max_chars {
        return Err(ParseError {
            position: limits.max_chars + 1,
            token: String::new(),
            reason: format!(
                "a query holds at most {} characters (this one {length})",
                limits.max_chars
            ),
        });
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        end: length + 1,
        limits,
        terms: 0,
    };
    if parser.tokens.is_empty() {
        return Ok(Query::All);
    }
    let query = parser.or(0)?;
    match parser.peek() {
        None => Ok(query),
        Some(token) => Err(token.error(match token.kind {
            Kind::RParen => "this parenthesis closes nothing",
            _ => "expected an operator (AND, OR) or the end of the query",
        })),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Word(String),
    Phrase(String),
    LParen,
    RParen,
    /// A `-` that starts a term: its negation.
    Minus,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// Position of the first character, from 1.
    position: usize,
    /// The token as typed.
    text: String,
    /// Whether white space precedes it (a value's parts must be adjacent).
    spaced: bool,
}

impl Token {
    fn error(&self, reason: impl Into<String>) -> ParseError {
        ParseError {
            position: self.position,
            token: self.text.clone(),
            reason: reason.into(),
        }
    }
}

/// Splits `text` into words, phrases, parentheses and leading minus signs.
fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    // No stored text holds a NUL, and PostgreSQL cannot even compare one.
    if let Some(at) = chars.iter().position(|c| *c == '\0') {
        return Err(ParseError {
            position: at + 1,
            token: "\0".into(),
            reason: "a query must not contain the NUL character".into(),
        });
    }
    let mut tokens = Vec::new();
    let mut at = 0;
    let mut spaced = true;
    while at < chars.len() {
        let c = chars[at];
        let position = at + 1;
        if c.is_whitespace() {
            spaced = true;
            at += 1;
            continue;
        }
        let starts_term = spaced
            || matches!(
                tokens.last(),
                Some(Token {
                    kind: Kind::LParen | Kind::Minus,
                    ..
                })
            );
        let (kind, length) = match c {
            '(' => (Kind::LParen, 1),
            ')' => (Kind::RParen, 1),
            '-' if starts_term
                && chars
                    .get(at + 1)
                    .is_some_and(|next| !next.is_whitespace() && *next != ')') =>
            {
                (Kind::Minus, 1)
            }
            '"' => {
                let (content, length) = read_phrase(&chars, at)?;
                (Kind::Phrase(content), length)
            }
            _ => {
                let length = chars[at..]
                    .iter()
                    .take_while(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '"'))
                    .count();
                (Kind::Word(chars[at..at + length].iter().collect()), length)
            }
        };
        tokens.push(Token {
            kind,
            position,
            text: chars[at..at + length].iter().collect(),
            spaced,
        });
        spaced = false;
        at += length;
    }
    Ok(tokens)
}

/// Reads the quoted phrase opening at `start`: its content (with `\"` and `\\` unescaped) and
/// its length in characters, quotes included.
fn read_phrase(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let mut content = String::new();
    let mut at = start + 1;
    while at < chars.len() {
        match chars[at] {
            '"' => return Ok((content, at + 1 - start)),
            '\\' if matches!(chars.get(at + 1), Some('"' | '\\')) => {
                content.push(chars[at + 1]);
                at += 2;
            }
            c => {
                content.push(c);
                at += 1;
            }
        }
    }
    Err(ParseError {
        position: start + 1,
        token: "\"".into(),
        reason: "this quote is never closed".into(),
    })
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// One past the last character, for errors at the end.
    end: usize,
    limits: QueryLimits,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Kind::Word(w), .. }) if w == word)
    }

    fn take(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    fn at_end(&self, reason: &str) -> ParseError {
        ParseError {
            position: self.end,
            token: String::new(),
            reason: reason.into(),
        }
    }

    fn or(&mut self, depth: usize) -> Result<Query, ParseError> {
        let mut children = vec![self.and(depth)?];
        while self.is_word("OR") {
            self.take();
            children.push(self.and(depth)?);
        }
        Ok(any_of(children))
    }

    fn and(&mut self, depth: usize) -> Result<Query, ParseError> {
        let mut children = vec![self.unary(depth)?];
        loop {
            match self.peek() {
                None => break,
                Some(token) if token.kind == Kind::RParen => break,
                Some(_) if self.is_word("OR") => break,
                Some(_) if self.is_word("AND") => {
                    self.take();
                }
                Some(_) => {}
            }
            children.push(self.unary(depth)?);
        }
        Ok(all_of(children))
    }

    fn unary(&mut self, depth: usize) -> Result<Query, ParseError> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.at_end("expected a term"));
        };
        let negation = token.kind == Kind::Minus || self.is_word("NOT");
        if !negation {
            return self.primary(depth);
        }
        if depth + 1 > self.limits.max_depth {
            return Err(token.error(format!(
                "a query nests parentheses and negations at most {} deep",
                self.limits.max_depth
            )));
        }
        self.take();
        if self.peek().is_none() {
            return Err(self.at_end(&format!("expected a term after {}", token.text)));
        }
        Ok(Query::Not(Box::new(self.unary(depth + 1)?)))
    }

    fn primary(&mut self, depth: usize) -> Result<Query, ParseError> {
        let Some(token) = self.take() else {
            return Err(self.at_end("expected a term"));
        };
        match &token.kind {
            Kind::LParen => {
                if depth + 1 > self.limits.max_depth {
                    return Err(token.error(format!(
                        "a query nests parentheses and negations at most {} deep",
                        self.limits.max_depth
                    )));
                }
                if matches!(
                    self.peek(),
                    Some(Token {
                        kind: Kind::RParen,
                        ..
                    })
                ) {
                    return Err(token.error("empty parentheses: put a term inside"));
                }
                let inner = self.or(depth + 1)?;
                match self.take() {
                    Some(Token {
                        kind: Kind::RParen, ..
                    }) => Ok(inner),
                    _ => Err(token.error("this parenthesis is never closed")),
                }
            }
            Kind::RParen => Err(token.error("expected a term, not a closing parenthesis")),
            Kind::Minus => Err(token.error("expected a term")),
            Kind::Phrase(content) => {
                self.count_term(&token)?;
                text_query(&token, content)
            }
            Kind::Word(word) if matches!(word.as_str(), "AND" | "OR") => Err(token.error(format!(
                "expected a term before {word} (quote it to search for the word)"
            ))),
            Kind::Word(word) => {
                self.count_term(&token)?;
                match word.split_once(':') {
                    Some((name, value)) => self.field_term(&token, name, value),
                    None => text_query(&token, word),
                }
            }
        }
    }

    fn count_term(&mut self, token: &Token) -> Result<(), ParseError> {
        self.terms += 1;
        if self.terms > self.limits.max_terms {
            return Err(token.error(format!(
                "a query holds at most {} terms",
                self.limits.max_terms
            )));
        }
        Ok(())
    }

    /// `name:value`, where `value` is the rest of the word (empty when a phrase follows).
    fn field_term(&mut self, token: &Token, name: &str, value: &str) -> Result<Query, ParseError> {
        let field = parse_field(name).map_err(|reason| token.error(reason))?;
        let condition = if value.is_empty() {
            let quoted = match self.peek() {
                Some(next) if !next.spaced => match &next.kind {
                    Kind::Phrase(text) => Some((next.clone(), text.clone())),
                    _ => None,
                },
                _ => None,
            };
            let Some((next, text)) = quoted else {
                return Err(token.error(format!(
                    "expected a value after {name}: (a word, \"a phrase\", *, a prefix*, \
                     >n, or [a TO b])"
                )));
            };
            self.take();
            equals(&field, text).map_err(|reason| next.error(reason))?
        } else if let Some(open) = value.strip_prefix(['[', '{']) {
            let inclusive = value.starts_with('[');
            self.range(token, &field, open, inclusive)?
        } else if let Some(bound) = comparison(value) {
            let (operator, rest) = bound;
            if rest.is_empty() {
                return Err(token.error(format!("expected a value after {operator}")));
            }
            let at = RangeValue::parse(&field, rest).map_err(|reason| token.error(reason))?;
            let bound = Bound::At {
                value: at,
                inclusive: operator.ends_with('='),
            };
            let range = if operator.starts_with('>') {
                Range {
                    lower: bound,
                    upper: Bound::Unbounded,
                }
            } else {
                Range {
                    lower: Bound::Unbounded,
                    upper: bound,
                }
            };
            Condition::Range(range)
        } else if value == "*" {
            Condition::Exists
        } else if let Some(prefix) = value.strip_suffix('*') {
            if prefix.contains('*') {
                return Err(token.error("a * may only end a value"));
            }
            if field == Field::Timestamp {
                return Err(token.error("timestamp takes an instant or a range, not a prefix"));
            }
            Condition::Prefix(prefix.to_owned())
        } else if value.contains('*') {
            return Err(token.error("a * may only end a value (quote the value to search for *)"));
        } else {
            equals(&field, value.to_owned()).map_err(|reason| token.error(reason))?
        };
        Ok(Query::Field(FieldQuery { field, condition }))
    }

    /// The rest of `[lower TO upper]` after the opening bracket, whose lower bound is `lower`.
    fn range(
        &mut self,
        token: &Token,
        field: &Field,
        lower: &str,
        lower_inclusive: bool,
    ) -> Result<Condition, ParseError> {
        let malformed = || {
            "a range reads [lower TO upper], with spaces around TO; [ and ] include \
                            a bound, { and } exclude it, * leaves it open"
        };
        if lower.is_empty() || !self.is_word("TO") {
            return Err(token.error(malformed()));
        }
        self.take();
        let Some(upper_token) = self.take() else {
            return Err(self.at_end(malformed()));
        };
        let Kind::Word(upper_text) = &upper_token.kind else {
            return Err(upper_token.error(malformed()));
        };
        let (upper, upper_inclusive) = match upper_text.strip_suffix(']') {
            Some(upper) => (upper, true),
            None => match upper_text.strip_suffix('}') {
                Some(upper) => (upper, false),
                None => return Err(upper_token.error(malformed())),
            },
        };
        if upper.is_empty() {
            return Err(upper_token.error(malformed()));
        }
        let bound = |text: &str, inclusive: bool, at: &Token| -> Result<Bound, ParseError> {
            if text == "*" {
                return Ok(Bound::Unbounded);
            }
            let value = RangeValue::parse(field, text).map_err(|reason| at.error(reason))?;
            Ok(Bound::At { value, inclusive })
        };
        let range = Range {
            lower: bound(lower, lower_inclusive, token)?,
            upper: bound(upper, upper_inclusive, &upper_token)?,
        };
        if range.lower == Bound::Unbounded && range.upper == Bound::Unbounded {
            return Err(token.error(format!(
                "a range open at both ends matches any value: write {}:* instead",
                field.name()
            )));
        }
        Ok(Condition::Range(range))
    }
}

/// Every child must match: one child is itself, nested `And`s are flattened.
fn all_of(children: Vec<Query>) -> Query {
    let mut flat = Vec::with_capacity(children.len());
    for child in children {
        match child {
            Query::And(inner) => flat.extend(inner),
            child => flat.push(child),
        }
    }
    single_or(flat, Query::And)
}

/// One child must match: one child is itself, nested `Or`s are flattened.
fn any_of(children: Vec<Query>) -> Query {
    let mut flat = Vec::with_capacity(children.len());
    for child in children {
        match child {
            Query::Or(inner) => flat.extend(inner),
            child => flat.push(child),
        }
    }
    single_or(flat, Query::Or)
}

fn single_or(mut children: Vec<Query>, several: fn(Vec<Query>) -> Query) -> Query {
    match children.len() {
        1 => children.pop().unwrap_or(Query::All),
        _ => several(children),
    }
}

/// A word or phrase to find in the event's text.
fn text_query(token: &Token, text: &str) -> Result<Query, ParseError> {
    let words = words_of(text);
    if words.is_empty() {
        return Err(token.error("no word to search for (words are runs of letters and digits)"));
    }
    Ok(Query::Text(Phrase { words }))
}

/// `topic`, `source`, `event_id`, `timestamp`, or a payload path (`payload.` optional).
pub fn parse_field(name: &str) -> Result<Field, String> {
    let segments: Vec<&str> = name.split('.').collect();
    let valid_segment = |segment: &&str| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '@'))
    };
    if !segments.iter().all(valid_segment) {
        return Err(format!(
            "{name:?} is not a field name (letters, digits, _, -, @, and dots between names); \
             quote the term to search for it as text"
        ));
    }
    match segments.as_slice() {
        ["topic"] => return Ok(Field::Topic),
        ["source"] => return Ok(Field::Source),
        ["event_id"] => return Ok(Field::EventId),
        ["timestamp"] => return Ok(Field::Timestamp),
        ["payload"] => return Err("name a field inside the payload: payload.level".into()),
        _ => {}
    }
    let path: Vec<String> = match segments.as_slice() {
        ["payload", rest @ ..] => rest.iter().map(|s| (*s).to_owned()).collect(),
        all => all.iter().map(|s| (*s).to_owned()).collect(),
    };
    if path.len() > MAX_PATH_SEGMENTS {
        return Err(format!(
            "a payload path has at most {MAX_PATH_SEGMENTS} names"
        ));
    }
    Ok(Field::Payload(path))
}

/// `>`, `>=`, `<`, `<=` and the rest of the value.
fn comparison(value: &str) -> Option<(&'static str, &str)> {
    ["<=", ">=", "<", ">"]
        .into_iter()
        .find_map(|operator| value.strip_prefix(operator).map(|rest| (operator, rest)))
}

/// `field:value`: the value as the field compares it.
fn equals(field: &Field, text: String) -> Result<Condition, String> {
    let instant = match field {
        Field::Timestamp => Some(parse_instant(&text)?),
        _ => None,
    };
    Ok(Condition::Equals(Value {
        number: parse_number(&text),
        instant,
        text,
    }))
}

impl RangeValue {
    /// A range bound of `field`: an instant for `timestamp`, a number for a payload path.
    fn parse(field: &Field, text: &str) -> Result<Self, String> {
        match field {
            Field::Timestamp => parse_instant(text).map(Self::Instant),
            Field::Payload(_) => parse_number(text).map(Self::Number).ok_or_else(|| {
                format!("{text:?} is not a number (a payload range compares numbers)")
            }),
            other => Err(format!(
                "{} takes a value or a prefix, not a range (ranges compare numbers and \
                 timestamps)",
                other.name()
            )),
        }
    }
}

/// An instant, at most to the microsecond: the precision stored timestamps have.
fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    let instant = event::parse_timestamp(text)
        .map_err(|_| format!("{text:?} is not an RFC 3339 instant such as 2026-12-01T00:00:00Z"))?;
    if instant.timestamp_subsec_nanos() % 1_000 != 0 {
        return Err(format!(
            "{text:?} is finer than a microsecond, the precision of stored timestamps"
        ));
    }
    Ok(instant)
}

/// A number as JSON writes one (`-12`, `0.5`, `1e3`), finite; anything else (`inf`, `0x10`,
/// `1_000`) is not.
pub(super) fn parse_number(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent
        .is_none_or(|exponent| digits(exponent.strip_prefix(['+', '-']).unwrap_or(exponent)));
    if !digits(whole) || !fraction.is_none_or(digits) || !exponent_ok {
        return None;
    }
    text.parse::<f64>().ok().filter(|number| number.is_finite())
}

#[cfg(test)]
mod tests;
