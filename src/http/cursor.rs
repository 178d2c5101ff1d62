//! The cursors the API hands out and takes back, and the one set of rules every route applies
//! to them, so that a cursor refused by one route is refused by all with the same words.
//!
//! Two kinds exist, both opaque to clients:
//! - a **topic cursor**, `<seq>.<hex of the topic's UTF-8 bytes>`: a position in `(topic, seq)`
//!   order, given by `GET /events` (`next_cursor`) and by a live tail of one topic;
//! - a **feed cursor**, `all.<tx>.<seq>`: a position in commit order across every topic, given
//!   by a live tail without `topic`.
//!
//! - a **time cursor**, `n.<µs>.<seq>` (newest first) or `o.<µs>.<seq>` (oldest first): a
//!   position in time order `(timestamp, seq)`, given by a listing in that order.
//!
//! Positions are never negative (a timestamp may be: it is not a position). A route filtered to one topic takes only that topic's
//! cursors: another topic's cursor would silently start at its beginning or past its end (a
//! pager would conclude it had read everything), so it is refused, naming the parameter.

use chrono::DateTime;

use crate::store::{FeedPosition, ListingOrder, PagePosition, TimePosition};

/// Prefix of a feed cursor.
const FEED_PREFIX: &str = "all.";

/// Every text a listing's cursor may be, as far as a regular expression can say it: a topic
/// cursor (a sequence number, 18 digits reaching far beyond any real one, a dot, and the
/// topic's bytes in lowercase hex, which must be well-formed UTF-8 without NUL), a time cursor,
/// or empty, for no cursor. Stated so that a client can tell a damaged cursor from the
/// document; a cursor is still only meant to be passed back.
pub const LISTING_CURSOR_PATTERN: &str = concat!(
    r"^([0-9]{1,18}\.(?:",
    r"0[1-9a-f]|[1-7][0-9a-f]",                // U+0001..U+007F (no NUL)
    r"|(?:c[2-9a-f]|d[0-9a-f])[89ab][0-9a-f]", // U+0080..U+07FF
    r"|e0[ab][0-9a-f][89ab][0-9a-f]",          // U+0800..U+0FFF
    r"|(?:e[1-9a-c]|e[ef])(?:[89ab][0-9a-f]){2}", // U+1000..U+CFFF, U+E000..U+FFFF
    r"|ed[89][0-9a-f][89ab][0-9a-f]",          // U+D000..U+D7FF (no surrogates)
    r"|f0(?:9[0-9a-f]|[ab][0-9a-f])(?:[89ab][0-9a-f]){2}", // U+10000..U+3FFFF
    r"|f[1-3](?:[89ab][0-9a-f]){3}",           // U+40000..U+FFFFF
    r"|f48[0-9a-f](?:[89ab][0-9a-f]){2}",      // U+100000..U+10FFFF
    r")*",
    r"|[no]\.-?[0-9]{1,18}\.[0-9]{1,18})?$", // a time cursor
);

/// The text of a topic cursor.
pub fn encode_topic_cursor(position: &PagePosition) -> String {
    let hex: String = position.topic.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{}.{hex}", position.seq)
}

/// The text of a feed cursor.
pub fn encode_feed_cursor(position: FeedPosition) -> String {
    format!("{FEED_PREFIX}{}.{}", position.tx, position.seq)
}

/// Reads a topic cursor. With `topic` (the route's topic filter), a cursor of another topic is
/// refused.
pub fn decode_topic_cursor(raw: &str, topic: Option<&str>) -> Result<PagePosition, String> {
    if raw.starts_with(FEED_PREFIX) {
        return Err(
            "is a cursor of a live tail across every topic (`all.`), not of one topic \
                    or of a listing"
                .into(),
        );
    }
    if raw.starts_with("n.") || raw.starts_with("o.") {
        return Err("is a cursor of a listing in time order: pass the same order".into());
    }
    let invalid = || "is not a cursor returned by this server".to_string();
    let (seq, hex) = raw.split_once('.').ok_or_else(invalid)?;
    let seq = position_number(seq)?;
    if hex.len() % 2 != 0 {
        return Err(invalid());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| invalid())?;
    let cursor_topic = String::from_utf8(bytes).map_err(|_| invalid())?;
    // No topic holds a NUL (and PostgreSQL could not compare one).
    if cursor_topic.contains('\0') {
        return Err(invalid());
    }
    if let Some(topic) = topic.filter(|topic| *topic != cursor_topic) {
        return Err(format!(
            "is a cursor of the topic {cursor_topic:?}, not of {topic:?}: pass the same \
             topic as the request that returned it"
        ));
    }
    Ok(PagePosition {
        topic: cursor_topic,
        seq,
    })
}

/// The text of a time cursor of a listing in `order` (`None` for the topic order).
pub fn encode_time_cursor(order: ListingOrder, position: TimePosition) -> Option<String> {
    let direction = match order {
        ListingOrder::Newest => "n",
        ListingOrder::Oldest => "o",
        ListingOrder::ByTopic => return None,
    };
    Some(format!(
        "{direction}.{}.{}",
        position.timestamp.timestamp_micros(),
        position.seq
    ))
}

/// Reads a time cursor of a listing in `order` (newest or oldest first); a cursor of the other
/// direction, or of another kind, is refused.
pub fn decode_time_cursor(raw: &str, order: ListingOrder) -> Result<TimePosition, String> {
    let expected = match order {
        ListingOrder::Newest => "n",
        ListingOrder::Oldest => "o",
        ListingOrder::ByTopic => {
            return Err("is a cursor of a listing in time order: pass the same order".into())
        }
    };
    let mut parts = raw.splitn(3, '.');
    let (Some(direction), Some(micros), Some(seq)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(another_kind(raw));
    };
    if !matches!(direction, "n" | "o") {
        return Err(another_kind(raw));
    }
    if direction != expected {
        return Err(
            "is a cursor of the other time order: pass the same order as the request \
                    that returned it"
                .into(),
        );
    }
    let digits = micros.strip_prefix('-').unwrap_or(micros);
    let micros: i64 = match digits.bytes().all(|byte| byte.is_ascii_digit()) && !digits.is_empty() {
        true => micros.parse().map_err(|_| another_kind(raw))?,
        false => return Err(another_kind(raw)),
    };
    let timestamp = DateTime::from_timestamp_micros(micros).ok_or_else(|| another_kind(raw))?;
    Ok(TimePosition {
        timestamp,
        seq: position_number(seq)?,
    })
}

/// Why `raw` cannot be a time cursor.
fn another_kind(raw: &str) -> String {
    if raw.starts_with(FEED_PREFIX) {
        "is a cursor of a live tail across every topic (`all.`), not of a listing".into()
    } else if decode_topic_cursor(raw, None).is_ok() {
        "is a cursor of a listing by topic: without `q`, or with `topic`, or with \
         `order=topic`"
            .into()
    } else {
        "is not a cursor returned by this server".into()
    }
}

/// Reads a feed cursor (`all.<tx>.<seq>`).
pub fn decode_feed_cursor(raw: &str) -> Result<FeedPosition, String> {
    let Some(rest) = raw.strip_prefix(FEED_PREFIX) else {
        decode_topic_cursor(raw, None)?;
        return Err(
            "is a cursor of one topic: pass that topic too, or follow every topic \
                    with an `all.` cursor"
                .into(),
        );
    };
    let (tx, seq) = rest
        .split_once('.')
        .ok_or_else(|| "is not a cursor of a tail across every topic".to_string())?;
    Ok(FeedPosition {
        tx: position_number(tx)?,
        seq: position_number(seq)?,
    })
}

/// A position's number: digits only (no sign), within what a store can give.
fn position_number(digits: &str) -> Result<i64, String> {
    let invalid = "is not a cursor returned by this server";
    let all_digits =
        |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    if digits.strip_prefix('-').is_some_and(all_digits) {
        return Err(format!("{invalid} (its position is negative)"));
    }
    if !all_digits(digits) {
        return Err(invalid.into());
    }
    digits
        .parse()
        .map_err(|_| format!("{invalid} (its position is out of range)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(topic: &str, seq: i64) -> PagePosition {
        PagePosition {
            topic: topic.into(),
            seq,
        }
    }

    #[test]
    fn a_topic_cursor_round_trips_any_unicode_topic() {
        let position = page("订单.ü/1 x", 42);
        let text = encode_topic_cursor(&position);
        assert_eq!(decode_topic_cursor(&text, None), Ok(position.clone()));
        assert_eq!(decode_topic_cursor(&text, Some("订单.ü/1 x")), Ok(position));
    }

    #[test]
    fn a_feed_cursor_round_trips() {
        let position = FeedPosition { tx: 7_123, seq: 42 };
        assert_eq!(encode_feed_cursor(position), "all.7123.42");
        assert_eq!(decode_feed_cursor("all.7123.42"), Ok(position));
        assert_eq!(decode_feed_cursor("all.0.0"), Ok(FeedPosition::START));
    }

    #[test]
    fn forged_cursors_are_refused() {
        for raw in [
            "", "12", "x.61", "12.6", "12.zz", "12.ff", "12.6100", "+5.61", " 5.61",
        ] {
            assert!(decode_topic_cursor(raw, None).is_err(), "{raw}");
        }
        for raw in ["all.", "all.1", "all.x.2", "all.1.2.3", "all.+1.2"] {
            assert!(decode_feed_cursor(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn negative_and_out_of_range_positions_are_refused() {
        let hex = "61";
        for raw in [
            format!("-5.{hex}"),
            format!("-0.{hex}"),
            format!("9223372036854775808.{hex}"),
        ] {
            assert!(decode_topic_cursor(&raw, None).is_err(), "{raw}");
        }
        for raw in [
            "all.-1.-1",
            "all.1.-1",
            "all.-1.1",
            "all.9223372036854775808.1",
        ] {
            assert!(decode_feed_cursor(raw).is_err(), "{raw}");
        }
        assert_eq!(
            decode_topic_cursor(&format!("{}.{hex}", i64::MAX), None),
            Ok(page("a", i64::MAX))
        );
    }

    #[test]
    fn a_cursor_of_another_topic_or_kind_is_refused_saying_which() {
        let cursor_of_u = encode_topic_cursor(&page("u", 3));
        let refused = decode_topic_cursor(&cursor_of_u, Some("t")).unwrap_err();
        assert!(
            refused.contains("\"u\"") && refused.contains("\"t\""),
            "{refused}"
        );
        let feed = decode_topic_cursor("all.1.2", Some("t")).unwrap_err();
        assert!(feed.contains("across every topic"), "{feed}");
        let one_topic = decode_feed_cursor(&cursor_of_u).unwrap_err();
        assert!(one_topic.contains("pass that topic"), "{one_topic}");
    }

    #[test]
    fn a_time_cursor_round_trips_and_continues_only_its_own_order() {
        let position = TimePosition {
            timestamp: DateTime::from_timestamp_micros(-62_135_596_800_000_000).unwrap(),
            seq: 7,
        };
        for order in [ListingOrder::Newest, ListingOrder::Oldest] {
            let text = encode_time_cursor(order, position).unwrap();
            assert_eq!(decode_time_cursor(&text, order), Ok(position));
        }
        let newest = encode_time_cursor(ListingOrder::Newest, position).unwrap();
        assert!(newest.starts_with("n.-62135596800000000.7"), "{newest}");
        let other = decode_time_cursor(&newest, ListingOrder::Oldest).unwrap_err();
        assert!(other.contains("other time order"), "{other}");
        let topic = decode_topic_cursor(&newest, None).unwrap_err();
        assert!(topic.contains("time order"), "{topic}");
        let of_topic = encode_topic_cursor(&page("a", 3));
        let kind = decode_time_cursor(&of_topic, ListingOrder::Newest).unwrap_err();
        assert!(kind.contains("by topic"), "{kind}");
        for raw in [
            "n.1", "n.x.1", "n.1.-1", "x.1.1", "n..1", "n.--1.1", "o.1.1.1",
        ] {
            assert!(
                decode_time_cursor(raw, ListingOrder::Newest).is_err(),
                "{raw}"
            );
        }
        assert_eq!(encode_time_cursor(ListingOrder::ByTopic, position), None);
    }

    proptest::proptest! {
        #[test]
        fn any_position_round_trips(topic in "[^\0]{0,40}", seq in 0..=i64::MAX, tx in 0..=i64::MAX) {
            let position = PagePosition { topic, seq };
            let text = encode_topic_cursor(&position);
            proptest::prop_assert_eq!(decode_topic_cursor(&text, Some(&position.topic)), Ok(position));
            let feed = FeedPosition { tx, seq };
            proptest::prop_assert_eq!(decode_feed_cursor(&encode_feed_cursor(feed)), Ok(feed));
        }

        #[test]
        fn any_text_is_read_or_refused_without_panic(raw in ".{0,40}", topic in proptest::option::of(".{0,8}")) {
            if let Ok(position) = decode_topic_cursor(&raw, topic.as_deref()) {
                proptest::prop_assert!(position.seq >= 0);
            }
            if let Ok(position) = decode_feed_cursor(&raw) {
                proptest::prop_assert!(position.tx >= 0 && position.seq >= 0);
            }
        }
    }
}
