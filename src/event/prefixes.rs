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
    /// list holding one is the same as [`TopicPrefixes::any`].
    pub fn new(prefixes: impl IntoIterator<Item = String>) -> Self {
        let mut prefixes: Vec<String> = prefixes.into_iter().collect();
        if prefixes.iter().any(String::is_empty) {
            return Self::any();
        }
        prefixes.sort();
        prefixes.dedup();
        Self(prefixes)
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

    /// The prefixes (empty for every topic).
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
    fn no_prefix_or_an_empty_one_means_every_topic() {
        assert!(TopicPrefixes::any().contains("anything"));
        assert!(TopicPrefixes::new(Vec::new()).is_any());
        assert!(TopicPrefixes::new(["a.".to_string(), String::new()]).is_any());
    }
}
