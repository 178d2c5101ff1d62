//! The retention policy: how long the stored events of each topic are kept, counted from when
//! the aggregator committed them (`received_at`).
//!
//! A policy is a default (`--retention`, keep forever when absent) and rules per topic
//! (`--retention-rule 'debug.*=1d'`, repeatable, or a rules file). A rule's pattern is either
//! an exact topic or a prefix followed by `*`; the most specific rule wins: an exact topic over
//! any prefix, a longer prefix over a shorter one. The pruner actor asks [`RetentionPolicy::for_topic`]
//! for each topic it visits; the fast path asks [`RetentionPolicy::shortest`] how long it may
//! trust a remembered key; `/stats` shows the policy as [`RetentionPolicy::describe`] gives it.
//!
//! Plain data, parsed from text here (the command line only hands over the strings), so that
//! tests build policies directly.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// How long the events of a topic are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Keep {
    /// Never deleted.
    Forever,
    /// Deleted once they were committed longer ago than this.
    For(Duration),
}

impl Keep {
    /// Parses `forever` or a duration with units (`90s`, `12h`, `30d`, `1h 30m`); zero and bare
    /// numbers are refused (a unit-less retention is too easy to misread).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.eq_ignore_ascii_case("forever") {
            return Ok(Self::Forever);
        }
        if trimmed.parse::<f64>().is_ok() {
            return Err(format!(
                "`{raw}` needs a unit: a duration such as 90s, 12h or 30d, or `forever`"
            ));
        }
        match humantime::parse_duration(trimmed) {
            Ok(Duration::ZERO) => Err(format!("`{raw}` must be longer than zero")),
            Ok(duration) if duration > MAX_RETENTION => {
                Err(format!("`{raw}` is longer than 100 years; use `forever`"))
            }
            Ok(duration) => Ok(Self::For(duration)),
            Err(err) => Err(format!(
                "`{raw}` is not a duration such as 90s, 12h or 30d, nor `forever` ({err})"
            )),
        }
    }

    /// The duration, when the events expire at all.
    pub fn duration(self) -> Option<Duration> {
        match self {
            Self::Forever => None,
            Self::For(duration) => Some(duration),
        }
    }
}

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Forever => f.write_str("forever"),
            Self::For(duration) => write!(f, "{}", humantime::format_duration(*duration)),
        }
    }
}

/// Longest finite retention (so that deadlines computed from it never overflow a timestamp).
const MAX_RETENTION: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Which topics a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicPattern {
    /// Exactly this topic.
    Exact(String),
    /// Every topic starting with this (the pattern's text before its final `*`).
    Prefix(String),
}

impl TopicPattern {
    /// `name` or `prefix*`; a `*` anywhere but at the end is refused.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        let (text, is_prefix) = match trimmed.strip_suffix('*') {
            Some(prefix) => (prefix, true),
            None => (trimmed, false),
        };
        if text.contains('*') {
            return Err(format!(
                "`{raw}`: `*` may only end a pattern (a topic prefix such as `debug.*`)"
            ));
        }
        if !is_prefix && text.is_empty() {
            return Err("a rule needs a topic or a prefix before `=`".into());
        }
        Ok(if is_prefix {
            Self::Prefix(text.to_owned())
        } else {
            Self::Exact(text.to_owned())
        })
    }

    /// Whether `topic` matches.
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Self::Exact(name) => topic == name,
            Self::Prefix(prefix) => topic.starts_with(prefix.as_str()),
        }
    }

    /// Rank among matching patterns: exact first, then longer prefixes.
    fn specificity(&self) -> (bool, usize) {
        match self {
            Self::Exact(name) => (true, name.len()),
            Self::Prefix(prefix) => (false, prefix.len()),
        }
    }
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

/// One per-topic rule: `pattern=keep`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRule {
    /// The topics it covers.
    pub pattern: TopicPattern,
    /// How long they are kept.
    pub keep: Keep,
}

impl RetentionRule {
    /// Parses `pattern=duration`, e.g. `debug.*=1d`, `audit=forever`. The last `=` splits
    /// (a topic may hold one; a duration never does).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (pattern, keep) = raw.rsplit_once('=').ok_or_else(|| {
            format!("`{raw}` is not a rule such as `debug.*=1d` (pattern=duration)")
        })?;
        Ok(Self {
            pattern: TopicPattern::parse(pattern)?,
            keep: Keep::parse(keep)?,
        })
    }
}

/// The whole policy: a default and rules per topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    default: Keep,
    /// Most specific first, so the first match is the rule in force.
    rules: Vec<RetentionRule>,
}

impl Default for RetentionPolicy {
    /// Keep everything forever: the behaviour before retention existed.
    fn default() -> Self {
        Self::new(Keep::Forever, Vec::new())
    }
}

impl RetentionPolicy {
    /// A policy; of two rules with the same pattern the later one wins, so that a flag given
    /// after a rules file overrides it.
    pub fn new(default: Keep, rules: Vec<RetentionRule>) -> Self {
        let mut kept: Vec<RetentionRule> = Vec::with_capacity(rules.len());
        for rule in rules.into_iter().rev() {
            if !kept.iter().any(|other| other.pattern == rule.pattern) {
                kept.push(rule);
            }
        }
        kept.sort_by_key(|rule| std::cmp::Reverse(rule.pattern.specificity()));
        Self {
            default,
            rules: kept,
        }
    }

    /// Parses a rules file: one `pattern = duration` per line; blank lines and `#` comments
    /// are skipped. An error names the line.
    pub fn parse_rules(text: &str) -> Result<Vec<RetentionRule>, String> {
        let mut rules = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let rule = RetentionRule::parse(line)
                .map_err(|reason| format!("line {}: {reason}", index + 1))?;
            rules.push(rule);
        }
        Ok(rules)
    }

    /// How long `topic`'s events are kept.
    pub fn for_topic(&self, topic: &str) -> Keep {
        self.rule_for(topic).unwrap_or(self.default)
    }

    /// How long `topic`'s events are kept, when a rule (not the default) decides it.
    pub fn rule_for(&self, topic: &str) -> Option<Keep> {
        self.rules
            .iter()
            .find(|rule| rule.pattern.matches(topic))
            .map(|rule| rule.keep)
    }

    /// Whether some rule's topics expire (not only the default's).
    pub fn rules_expire_anything(&self) -> bool {
        self.rules.iter().any(|rule| rule.keep != Keep::Forever)
    }

    /// How long the events of topics no rule covers are kept.
    pub fn default_keep(&self) -> Keep {
        self.default
    }

    /// The topics some rule covers: those the default does not apply to.
    pub fn ruled_topics(&self) -> RuledTopics {
        let mut ruled = RuledTopics::default();
        for rule in &self.rules {
            match &rule.pattern {
                TopicPattern::Exact(name) => ruled.exact.push(name.clone()),
                TopicPattern::Prefix(prefix) => ruled.prefixes.push(prefix.clone()),
            }
        }
        ruled
    }

    /// Whether any event can ever expire.
    pub fn expires_anything(&self) -> bool {
        self.shortest().is_some()
    }

    /// The shortest finite retention in force (`None` when everything is kept forever).
    pub fn shortest(&self) -> Option<Duration> {
        std::iter::once(self.default)
            .chain(self.rules.iter().map(|rule| rule.keep))
            .filter_map(Keep::duration)
            .min()
    }

    /// The policy as `/stats` shows it.
    pub fn describe(&self) -> RetentionDescription {
        RetentionDescription {
            default: self.default.to_string(),
            rules: self
                .rules
                .iter()
                .map(|rule| RuleDescription {
                    topics: rule.pattern.to_string(),
                    keep: rule.keep.to_string(),
                })
                .collect(),
        }
    }
}

/// The topics the rules of a policy cover, as plain lists (what a store's sweep of the default
/// retention leaves alone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuledTopics {
    /// Topics named exactly by a rule.
    pub exact: Vec<String>,
    /// Prefixes of the `prefix*` rules (an empty one covers every topic).
    pub prefixes: Vec<String>,
}

impl RuledTopics {
    /// Whether a rule covers `topic`.
    pub fn contains(&self, topic: &str) -> bool {
        self.exact.iter().any(|name| name == topic)
            || self
                .prefixes
                .iter()
                .any(|prefix| topic.starts_with(prefix.as_str()))
    }
}

/// The policy in force, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RetentionDescription {
    /// How long topics without a rule are kept: a duration such as `30days`, or `forever`.
    pub default: String,
    /// The rules per topic, most specific first (the first that matches a topic applies).
    pub rules: Vec<RuleDescription>,
}

/// One rule, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleDescription {
    /// An exact topic, or a prefix followed by `*`.
    pub topics: String,
    /// A duration, or `forever`.
    pub keep: String,
}

#[cfg(test)]
mod tests;
