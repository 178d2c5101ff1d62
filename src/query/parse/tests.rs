//! The parser: what each construct means, where each mistake is reported, the limits, and
//! two properties: any text parses or is refused without panic, and printing a parsed query
//! gives text that parses to a query printed the same way.

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

fn field(name: &str) -> Field {
    parse_field(name).unwrap()
}

fn equals_text(text: &str) -> Condition {
    Condition::Equals(Value {
        text: text.into(),
        number: parse_number(text),
        instant: None,
    })
}

fn term(field_name: &str, condition: Condition) -> Query {
    Query::Field(FieldQuery {
        field: field(field_name),
        condition,
    })
}

fn words(text: &str) -> Query {
    Query::Text(Phrase {
        words: words_of(text),
    })
}

fn refused(text: &str) -> ParseError {
    parse(text).expect_err(text)
}

#[test]
fn an_empty_query_matches_everything() {
    assert_eq!(parse(""), Ok(Query::All));
    assert_eq!(parse("   "), Ok(Query::All));
}

#[test]
fn words_phrases_and_fields_mean_what_they_say() {
    assert_eq!(parse("Timeout"), Ok(words("timeout")));
    assert_eq!(parse("\"Order PAID\""), Ok(words("order paid")));
    assert_eq!(parse("user-42"), Ok(words("user 42")));
    assert_eq!(
        parse("level:error"),
        Ok(term("level", equals_text("error")))
    );
    assert_eq!(
        parse("payload.http.status:500"),
        Ok(term("http.status", equals_text("500")))
    );
    assert_eq!(
        parse("message:\"order 7 paid\""),
        Ok(term("message", equals_text("order 7 paid")))
    );
    assert_eq!(
        parse("topic:orders.*"),
        Ok(term("topic", Condition::Prefix("orders.".into())))
    );
    assert_eq!(parse("trace_id:*"), Ok(term("trace_id", Condition::Exists)));
    assert_eq!(field("topic"), Field::Topic);
    assert_eq!(field("payload.topic"), Field::Payload(vec!["topic".into()]));
}

#[test]
fn ranges_compare_numbers_and_instants() {
    let at = |value, inclusive| Bound::At { value, inclusive };
    assert_eq!(
        parse("latency_ms:>500"),
        Ok(term(
            "latency_ms",
            Condition::Range(Range {
                lower: at(RangeValue::Number(500.0), false),
                upper: Bound::Unbounded
            })
        ))
    );
    assert_eq!(
        parse("status:[500 TO 599}"),
        Ok(term(
            "status",
            Condition::Range(Range {
                lower: at(RangeValue::Number(500.0), true),
                upper: at(RangeValue::Number(599.0), false)
            })
        ))
    );
    let instant = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    assert_eq!(
        parse("timestamp:<=2026-12-01T00:00:00Z"),
        Ok(term(
            "timestamp",
            Condition::Range(Range {
                lower: Bound::Unbounded,
                upper: at(RangeValue::Instant(instant), true)
            })
        ))
    );
    assert_eq!(parse("n:[-1.5 TO *]").unwrap().to_string(), "n:>=-1.5");
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_both() {
    let (a, b, c) = (words("a"), words("b"), words("c"));
    let not = |query: Query| Query::Not(Box::new(query));
    assert_eq!(
        parse("a b OR c"),
        Ok(Query::Or(vec![
            Query::And(vec![a.clone(), b.clone()]),
            c.clone()
        ]))
    );
    assert_eq!(
        parse("a AND (b OR c)"),
        Ok(Query::And(vec![
            a.clone(),
            Query::Or(vec![b.clone(), c.clone()])
        ]))
    );
    assert_eq!(
        parse("NOT a -b"),
        Ok(Query::And(vec![not(a.clone()), not(b.clone())]))
    );
    assert_eq!(parse("a (b c)"), Ok(Query::And(vec![a.clone(), b, c])));
    assert_eq!(parse("--a"), Ok(not(not(a))));
    assert_eq!(
        parse("and or not"),
        Ok(Query::And(vec![words("and"), words("or"), words("not")]))
    );
}

#[test]
fn mistakes_are_reported_at_their_position_with_their_token() {
    let cases = [
        ("a OR", 5, "", "expected a term"),
        ("OR a", 1, "OR", "expected a term before OR"),
        ("(a b", 1, "(", "never closed"),
        ("a b)", 4, ")", "closes nothing"),
        ("say \"hi", 5, "\"", "never closed"),
        ("level:", 1, "level:", "expected a value"),
        ("a ()", 3, "(", "empty parentheses"),
        ("NOT", 4, "", "expected a term after NOT"),
        ("n:>abc", 1, "n:>abc", "is not a number"),
        ("status:[1 TO", 13, "", "a range reads"),
        ("status:[1 2]", 1, "status:[1", "a range reads"),
        ("topic:[a TO b]", 1, "topic:[a", "not a range"),
        ("timestamp:yesterday", 1, "timestamp:yesterday", "RFC 3339"),
        ("a*b:c", 1, "a*b:c", "not a field name"),
        ("x:a*b", 1, "x:a*b", "may only end"),
        ("!!!", 1, "!!!", "no word to search for"),
        ("payload:x", 1, "payload:x", "inside the payload"),
        ("n:[* TO *]", 1, "n:[*", "open at both ends"),
        ("ok \"a\0b\"", 6, "\0", "NUL"),
    ];
    for (text, position, token, reason) in cases {
        let error = refused(text);
        assert_eq!(
            (error.position, error.token.as_str()),
            (position, token),
            "{text}: {error}"
        );
        assert!(error.reason.contains(reason), "{text}: {error}");
    }
}

#[test]
fn limits_on_length_terms_and_nesting_are_refused_clearly() {
    let limits = QueryLimits {
        max_chars: 20,
        max_terms: 3,
        max_depth: 2,
    };
    let long = parse_with(&"a".repeat(21), limits).unwrap_err();
    assert_eq!(long.position, 21);
    assert!(long.reason.contains("at most 20 characters"));
    let many = parse_with("a b c d", limits).unwrap_err();
    assert_eq!((many.position, many.token.as_str()), (7, "d"));
    assert!(many.reason.contains("at most 3 terms"));
    let deep = parse_with("((( a )))", limits).unwrap_err();
    assert_eq!(deep.position, 3);
    assert!(deep.reason.contains("at most 2 deep"));
    assert!(parse_with("-(a)", limits).is_ok());
    assert!(parse_with("-(-a)", limits).is_err());
}

#[test]
fn numbers_are_json_numbers_and_nothing_else() {
    for (text, number) in [
        ("-12", -12.0),
        ("0.5", 0.5),
        ("1e3", 1000.0),
        ("2E-2", 0.02),
    ] {
        assert_eq!(parse_number(text), Some(number), "{text}");
    }
    for text in [
        "inf", "NaN", "0x10", "1_000", "+5", ".5", "5.", "1e", "1e400", "",
    ] {
        assert_eq!(parse_number(text), None, "{text}");
    }
}

#[test]
fn the_canonical_form_is_short_and_reads_back() {
    for (text, printed) in [
        ("a AND b", "a b"),
        ("(a OR b) c", "(a OR b) c"),
        ("a OR (b c)", "a OR b c"),
        ("NOT (a b)", "-(a b)"),
        ("Level:\"needs quotes\"", "Level:\"needs quotes\""),
        ("x:\"a*\"", "x:\"a*\""),
        ("x:\"plain\"", "x:plain"),
        ("payload.source:web", "payload.source:web"),
        ("status:[500 TO 599]", "status:[500 TO 599]"),
        ("n:{1 TO 2.5]", "n:{1 TO 2.5]"),
        (
            "timestamp:>=2026-12-01T01:00:00+01:00",
            "timestamp:>=2026-12-01T00:00:00Z",
        ),
        ("\"Error  Timeout\"", "\"error timeout\""),
    ] {
        assert_eq!(parse(text).unwrap().to_string(), printed, "{text}");
    }
}

/// Text built from the language's own pieces, so that most of it parses.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9]{1,6}",
        "\"[ -~]{0,8}\"",
        Just("AND".to_owned()),
        Just("OR".to_owned()),
        Just("NOT".to_owned()),
        Just("-".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        "(topic|source|event_id|level|payload\\.a\\.b|n):(\\*|[a-z.]{1,5}\\*?|-?[0-9]{1,3}(\\.[0-9])?)",
        "n:(>|>=|<|<=)-?[0-9]{1,4}",
        "n:[\\[{]-?[0-9]{1,3} TO (\\*|[0-9]{1,3})[\\]}]",
        "timestamp:(>|<)2026-12-0[1-9]T0[0-9]:00:00Z",
        "[\\PC]{1,4}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_text_parses_or_is_refused_without_panic(text in "\\PC{0,60}") {
        if let Err(error) = parse(&text) {
            prop_assert!(error.position >= 1);
            prop_assert!(error.position <= text.chars().count() + 1);
        }
    }

    #[test]
    fn printing_a_parsed_query_reads_back_as_itself(text in query_like()) {
        if let Ok(query) = parse(&text) {
            let printed = query.to_string();
            let again = parse(&printed);
            prop_assert!(again.is_ok(), "{} printed as {} which does not parse: {:?}", text, printed, again);
            let again = again.unwrap();
            prop_assert_eq!(again.to_string(), printed.clone(), "from {}", text);
            prop_assert_eq!(again, query, "{} printed as {}", text, printed);
        }
    }

    #[test]
    fn printing_keeps_any_phrase_or_value(text in "\\PC{1,12}") {
        let phrase = Query::Field(FieldQuery {
            field: Field::Payload(vec!["m".into()]),
            condition: Condition::Equals(Value { text: text.clone(), number: parse_number(&text), instant: None }),
        });
        let printed = phrase.to_string();
        prop_assert_eq!(parse(&printed).map_err(|e| e.to_string()), Ok(phrase), "{}", printed);
        if !words_of(&text).is_empty() {
            let words = Query::Text(Phrase { words: words_of(&text) });
            prop_assert_eq!(parse(&words.to_string()).map_err(|e| e.to_string()), Ok(words));
        }
    }
}
