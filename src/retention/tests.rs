use std::time::Duration;

use super::*;

fn rule(raw: &str) -> RetentionRule {
    RetentionRule::parse(raw).unwrap()
}

#[test]
fn durations_need_units_and_may_be_forever() {
    assert_eq!(Keep::parse("90s"), Ok(Keep::For(Duration::from_secs(90))));
    assert_eq!(
        Keep::parse("12h"),
        Ok(Keep::For(Duration::from_secs(12 * 3600)))
    );
    assert_eq!(
        Keep::parse("30d"),
        Ok(Keep::For(Duration::from_secs(30 * 86_400)))
    );
    assert_eq!(Keep::parse(" Forever "), Ok(Keep::Forever));
    for bad in ["", "30", "0s", "-1d", "2 fortnights", "1000y"] {
        assert!(Keep::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn patterns_are_exact_topics_or_prefixes() {
    assert!(TopicPattern::parse("debug.*").unwrap().matches("debug.web"));
    assert!(!TopicPattern::parse("debug.*").unwrap().matches("debugger"));
    assert!(TopicPattern::parse("audit").unwrap().matches("audit"));
    assert!(!TopicPattern::parse("audit").unwrap().matches("audit.x"));
    assert!(TopicPattern::parse("*").unwrap().matches("anything"));
    assert!(TopicPattern::parse("a*b").is_err());
    assert!(TopicPattern::parse("").is_err());
    assert!(RetentionRule::parse("debug.*").is_err());
}

#[test]
fn the_most_specific_rule_wins() {
    let policy = RetentionPolicy::new(
        Keep::For(Duration::from_secs(30 * 86_400)),
        vec![
            rule("debug.*=1d"),
            rule("debug.keep=forever"),
            rule("debug.web.*=1h"),
        ],
    );
    assert_eq!(
        policy.for_topic("orders"),
        Keep::For(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(
        policy.for_topic("debug.db"),
        Keep::For(Duration::from_secs(86_400))
    );
    assert_eq!(
        policy.for_topic("debug.web.api"),
        Keep::For(Duration::from_secs(3600))
    );
    assert_eq!(policy.for_topic("debug.keep"), Keep::Forever);
    assert_eq!(policy.shortest(), Some(Duration::from_secs(3600)));
}

#[test]
fn a_later_rule_for_the_same_pattern_overrides_an_earlier_one() {
    let policy = RetentionPolicy::new(Keep::Forever, vec![rule("a.*=1d"), rule("a.*=2h")]);
    assert_eq!(
        policy.for_topic("a.b"),
        Keep::For(Duration::from_secs(7200))
    );
    assert_eq!(policy.describe().rules.len(), 1);
}

#[test]
fn the_default_policy_keeps_everything() {
    let policy = RetentionPolicy::default();
    assert_eq!(policy.for_topic("x"), Keep::Forever);
    assert!(!policy.expires_anything());
    assert_eq!(policy.describe().default, "forever");
}

#[test]
fn a_rules_file_skips_comments_and_names_the_bad_line() {
    let rules =
        RetentionPolicy::parse_rules("# debug\n\ndebug.* = 1d  # short\naudit=forever\n").unwrap();
    assert_eq!(rules, vec![rule("debug.*=1d"), rule("audit=forever")]);
    let err = RetentionPolicy::parse_rules("a=1d\nb=soon\n").unwrap_err();
    assert!(err.starts_with("line 2:"), "{err}");
}

#[test]
fn ruled_topics_are_exactly_those_a_rule_decides() {
    let policy = RetentionPolicy::new(
        Keep::For(Duration::from_secs(86_400)),
        vec![rule("debug.*=1h"), rule("audit=forever")],
    );
    let ruled = policy.ruled_topics();
    for topic in ["debug.web", "debug.", "audit"] {
        assert!(ruled.contains(topic), "{topic}");
        assert!(policy.rule_for(topic).is_some(), "{topic}");
    }
    for topic in ["debugger", "audit.x", "orders"] {
        assert!(!ruled.contains(topic), "{topic}");
        assert_eq!(policy.rule_for(topic), None, "{topic}");
        assert_eq!(policy.for_topic(topic), policy.default_keep(), "{topic}");
    }
}
