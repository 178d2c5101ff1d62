//! [`TopicSpan`]: the one range of topics, in byte order, that holds every topic inside a
//! [`TopicPrefixes`]. The SQL backends add it to a restricted listing as a redundant condition
//! on `topic`, the leading column of their `(topic, seq)` index, so that the listing seeks to
//! the first topic that may match instead of reading every topic sorted before it. It is only
//! a hint: each backend still tests the prefixes exactly.

use crate::event::TopicPrefixes;

/// Topics from `from` (included) to `to` (excluded), in byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicSpan {
    /// The smallest prefix: no topic inside sorts before it.
    pub(crate) from: String,
    /// Sorts after every topic inside; `None` when no string does (a prefix made only of
    /// `char::MAX`).
    pub(crate) to: Option<String>,
}

impl TopicSpan {
    /// The smallest span holding every topic inside `prefixes`, or `None` for every topic.
    pub(crate) fn of(prefixes: &TopicPrefixes) -> Option<Self> {
        let from = prefixes.as_slice().iter().min()?.clone();
        // Not the successor of the largest prefix: "a" < "ab" but "b" > "ac".
        let to = prefixes
            .as_slice()
            .iter()
            .try_fold(String::new(), |bound, prefix| {
                successor(prefix).map(|next| bound.max(next))
            });
        Some(Self { from, to })
    }
}

/// The least string that sorts after every string starting with `prefix`, or `None` when
/// there is none (`prefix` is empty or only `char::MAX`s). UTF-8 orders bytes as it orders
/// code points, so this holds in byte order too: trailing `char::MAX`s are dropped and the
/// last other char steps to the next one.
fn successor(prefix: &str) -> Option<String> {
    let mut kept = prefix;
    while let Some(last) = kept.chars().next_back() {
        kept = &kept[..kept.len() - last.len_utf8()];
        if last == char::MAX {
            continue;
        }
        // The only gap between scalar values below char::MAX is the surrogates, after U+D7FF.
        let next = char::from_u32(u32::from(last) + 1).unwrap_or('\u{E000}');
        return Some(format!("{kept}{next}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes(raw: &[&str]) -> TopicPrefixes {
        TopicPrefixes::new(raw.iter().map(|p| p.to_string()))
    }

    #[test]
    fn the_successor_steps_the_last_char_that_can_grow() {
        assert_eq!(successor("orders."), Some("orders/".into()));
        assert_eq!(successor("caf\u{e9}"), Some("caf\u{ea}".into()));
        assert_eq!(successor("a\u{10FFFF}\u{10FFFF}"), Some("b".into()));
        assert_eq!(successor("x\u{D7FF}"), Some("x\u{E000}".into()));
        assert_eq!(successor("\u{10FFFF}"), None);
        assert_eq!(successor(""), None);
    }

    #[test]
    fn every_topic_has_no_span() {
        assert_eq!(TopicSpan::of(&TopicPrefixes::any()), None);
    }

    #[test]
    fn the_span_ends_after_a_short_prefix_that_sorts_first() {
        let span = TopicSpan::of(&prefixes(&["ab", "a"])).unwrap();

        assert_eq!(span.from, "a");
        assert_eq!(span.to.as_deref(), Some("b"));
    }

    #[test]
    fn a_prefix_of_only_the_last_char_leaves_the_span_open() {
        let span = TopicSpan::of(&prefixes(&["b", "\u{10FFFF}"])).unwrap();

        assert_eq!(span.from, "b");
        assert_eq!(span.to, None);
    }

    #[test]
    fn every_topic_inside_the_prefixes_is_inside_the_span() {
        let grant = prefixes(&["orders.", "a%_", "caf\u{e9}", "z\u{10FFFF}"]);
        let topics = [
            "orders.",
            "orders.created",
            "orders",
            "orders/",
            "a%_x",
            "a%",
            "abc",
            "caf\u{e9}",
            "caf\u{e9}s",
            "cafe",
            "caf\u{ea}",
            "z\u{10FFFF}\u{10FFFF}",
            "z\u{10FFFF}a",
            "{",
        ];
        let span = TopicSpan::of(&grant).unwrap();

        for topic in topics.iter().filter(|topic| grant.contains(topic)) {
            assert!(span.from.as_str() <= *topic, "{topic:?} before the span");
            assert!(
                span.to.as_deref().is_none_or(|to| *topic < to),
                "{topic:?} after the span"
            );
        }
        assert_eq!(span.to.as_deref(), Some("{"));
    }
}
