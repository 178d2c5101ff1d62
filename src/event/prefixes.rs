//! [`TopicPrefixes`]: which topics a caller may reach, as a list of topic prefixes. The HTTP
//! layer builds it from an API key's grant; the store and the stats actor apply it to listings,
//! tails and topic lists, so a restricted reader never receives a row outside it.

/// A set of topic prefixes: a topic is inside when it starts with one of them (bytewise). The
/// empty set means *every topic*: an unrestricted grant, and the default everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TopicPrefixes(Vec<String>);

impl TopicPrefixes {
    /// Every topic.
    pub fn any() -> Self {
        Self::default()
    }

    /// The topics starting with one of `prefixes`. An empty prefix matches every topic, so a
    /// list holding one is the same as [`TopicPrefixes::any`]. Kept sorted and without the
    /// prefixes another one covers (`a.` covers `a.b.`): every topic inside is then inside
    /// exactly one of them, and their ranges of topics come in their order.
    pub fn new(prefixes: impl IntoIterator<Item = String>) -> Self {
        let mut sorted: Vec<String> = prefixes.into_iter().collect();
        if sorted.iter().any(String::is_empty) {
            return Self::any();
        }
        sorted.sort_unstable();
        // Sorted, a prefix comes just before the ones it covers: comparing with the last one
        // kept is enough (this also drops repeats).
        let mut kept: Vec<String> = Vec::with_capacity(sorted.len());
        for prefix in sorted {
            if kept
                .last()
                .is_none_or(|last| !prefix.starts_with(last.as_str()))
            {
                kept.push(prefix);
            }
        }
        Self(kept)
    }

    /// Whether every topic is inside.
    pub fn is_any(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `topic` is inside.
    pub fn contains(&self, topic: &str) -> bool {
        self.is_any()
            || self
                .0
                .iter()
                .any(|prefix| topic.starts_with(prefix.as_str()))
    }

    /// The prefixes, sorted, none covering another (empty for every topic).
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_is_inside_when_it_starts_with_a_prefix() {
        let prefixes = TopicPrefixes::new(["orders.".to_string(), "payments.".to_string()]);
        assert!(prefixes.contains("orders.created"));
        assert!(prefixes.contains("payments."));
        assert!(!prefixes.contains("orders"));
        assert!(!prefixes.contains("audit.orders.created"));
    }

    #[test]
    fn prefixes_are_kept_sorted_without_those_another_covers() {
        let raw = ["orders.eu.", "audit.", "orders.", "orders.", "ordersx"];
        let prefixes = TopicPrefixes::new(raw.map(String::from));
        assert_eq!(prefixes.as_slice(), ["audit.", "orders.", "ordersx"]);
    }

    #[test]
    fn no_prefix_or_an_empty_one_means_every_topic() {
        assert!(TopicPrefixes::any().contains("anything"));
        assert!(TopicPrefixes::new(Vec::new()).is_any());
        assert!(TopicPrefixes::new(["a.".to_string(), String::new()]).is_any());
    }
}
