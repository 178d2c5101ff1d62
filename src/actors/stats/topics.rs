//! [`TopicIndex`]: the stats actor's sorted set of the topics that have stored events, and the
//! reads `/topics` and `/stats` make of it for a caller limited to topic prefixes. A read walks
//! one range of the set per prefix, so a restricted page costs what it returns, not what the
//! set holds, and a page is short only when no topic inside is left.

use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Included, Unbounded};

use crate::event::TopicPrefixes;

/// Every topic with at least one stored event, in byte order (the stores' order).
#[derive(Debug, Default)]
pub(super) struct TopicIndex(BTreeSet<String>);

impl TopicIndex {
    /// Adds topics (known ones are ignored).
    pub(super) fn extend(&mut self, topics: impl IntoIterator<Item = String>) {
        self.0.extend(topics);
    }

    /// Up to `limit` topics inside `prefixes`, sorted after `after` (from the first when
    /// `None`).
    pub(super) fn page(
        &self,
        prefixes: &TopicPrefixes,
        after: Option<&str>,
        limit: usize,
    ) -> Vec<String> {
        self.inside(prefixes, after).take(limit).cloned().collect()
    }

    /// How many topics are inside `prefixes`.
    pub(super) fn count(&self, prefixes: &TopicPrefixes) -> usize {
        if prefixes.is_any() {
            return self.0.len();
        }
        self.inside(prefixes, None).count()
    }

    /// The topics inside `prefixes` sorted after `after`, in order: the disjoint prefixes'
    /// ranges one after the other, each starting at its prefix or just after `after`.
    fn inside<'a>(
        &'a self,
        prefixes: &'a TopicPrefixes,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = &'a String> + 'a {
        disjoint(prefixes).into_iter().flat_map(move |prefix| {
            let start = match after {
                Some(after) if after >= prefix => Excluded(after),
                _ => Included(prefix),
            };
            self.0
                .range::<str, _>((start, Unbounded))
                .take_while(move |topic| topic.starts_with(prefix))
        })
    }
}

/// The prefixes to walk, one range of topics each: those of `prefixes`, which are sorted and
/// disjoint already (see [`TopicPrefixes::new`]), or the one empty prefix for every topic.
fn disjoint(prefixes: &TopicPrefixes) -> Vec<&str> {
    if prefixes.is_any() {
        return vec![""];
    }
    prefixes.as_slice().iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(topics: &[&str]) -> TopicIndex {
        let mut index = TopicIndex::default();
        index.extend(topics.iter().map(|topic| topic.to_string()));
        index
    }

    fn prefixes(raw: &[&str]) -> TopicPrefixes {
        TopicPrefixes::new(raw.iter().map(|prefix| prefix.to_string()))
    }

    #[test]
    fn covered_prefixes_are_dropped_and_the_rest_sorted() {
        let grant = prefixes(&["orders.eu.", "payments.", "orders.", "orders.eu"]);

        assert_eq!(disjoint(&grant), ["orders.", "payments."]);
        assert_eq!(disjoint(&TopicPrefixes::any()), [""]);
    }

    #[test]
    fn overlapping_prefixes_count_each_topic_once() {
        let topics = index(&["a", "ab", "abc", "b", "ba"]);

        assert_eq!(topics.count(&prefixes(&["a", "ab"])), 3);
        assert_eq!(topics.count(&prefixes(&["ab", "b"])), 4);
        assert_eq!(topics.count(&TopicPrefixes::any()), 5);
        assert_eq!(topics.count(&prefixes(&["c"])), 0);
    }

    #[test]
    fn a_page_after_a_topic_outside_the_prefixes_starts_at_the_next_one_inside() {
        let topics = index(&["audit.x", "orders.a", "orders.b", "p", "payments.a", "z"]);
        let grant = prefixes(&["orders.", "payments."]);

        assert_eq!(
            topics.page(&grant, Some("a"), 10),
            ["orders.a", "orders.b", "payments.a"]
        );
        assert_eq!(
            topics.page(&grant, Some("orders.a"), 10),
            ["orders.b", "payments.a"]
        );
        assert_eq!(topics.page(&grant, Some("p"), 1), ["payments.a"]);
        assert!(topics.page(&grant, Some("payments.a"), 10).is_empty());
    }
}
