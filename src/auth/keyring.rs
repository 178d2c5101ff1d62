//! [`Keyring`]: the keys in force, built from the keys file, and how a presented key becomes
//! a [`Grant`]. A reload builds a new keyring and swaps it in whole; buckets of keys whose
//! name and quota did not change carry over, so a reload never refills a throttled key.

use std::collections::HashMap;
use std::sync::Arc;

use super::file::KeyEntry;
use super::quota::EventQuota;
use super::scope::Scopes;
use super::secret::KeyDigest;
use crate::event::TopicPrefixes;

/// What one key may do.
#[derive(Debug)]
pub struct Grant {
    /// The digest of the key, which tells this grant from a later one of the same name.
    digest: KeyDigest,
    /// The key's name from the file.
    pub name: String,
    /// What it may do.
    pub scopes: Scopes,
    /// Which topics it may publish to and read.
    pub topics: TopicPrefixes,
    /// Its publish rate, when it has one.
    pub quota: Option<Arc<EventQuota>>,
}

/// The keys in force.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: Vec<Arc<Grant>>,
}

impl Keyring {
    /// A keyring of `entries` (already checked by the file reader), reusing the buckets of
    /// `previous` for keys whose name and quota are unchanged.
    pub fn build(entries: Vec<KeyEntry>, previous: Option<&Keyring>) -> Result<Self, String> {
        let buckets: HashMap<&str, &Arc<EventQuota>> = previous
            .map(|ring| {
                ring.keys
                    .iter()
                    .filter_map(|grant| Some((grant.name.as_str(), grant.quota.as_ref()?)))
                    .collect()
            })
            .unwrap_or_default();
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            let digest = KeyDigest::parse(&entry.hash)
                .map_err(|reason| format!("key {:?}: hash: {reason}", entry.name))?;
            let quota = entry
                .quota
                .map(|quota| match buckets.get(entry.name.as_str()) {
                    Some(&bucket) if bucket.quota() == quota => bucket.clone(),
                    _ => Arc::new(EventQuota::new(quota)),
                });
            let grant = Grant {
                digest,
                scopes: entry.scopes.iter().copied().collect(),
                topics: TopicPrefixes::new(entry.topics),
                name: entry.name,
                quota,
            };
            keys.push(Arc::new(grant));
        }
        Ok(Self { keys })
    }

    /// The grant of `presented`, if it is one of the keys. Every digest is compared, each in
    /// constant time, so the time taken does not tell how close a guess came, nor which key
    /// it matched.
    pub fn grant_of(&self, presented: &str) -> Option<Arc<Grant>> {
        let digest = KeyDigest::of(presented);
        let mut found = None;
        for grant in &self.keys {
            if bool::from(grant.digest.ct_eq(&digest)) {
                found = Some(grant);
            }
        }
        found.cloned()
    }

    /// Whether `grant` is still in force as it was: the same key, with the same scopes and
    /// topics (a grant from before a reload is another value, so this compares contents).
    pub fn holds(&self, grant: &Grant) -> bool {
        self.keys.iter().any(|current| {
            bool::from(current.digest.ct_eq(&grant.digest))
                && current.scopes == grant.scopes
                && current.topics == grant.topics
        })
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no key (every request is then refused).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;
    use crate::auth::file::Quota;
    use crate::auth::scope::Scope;
    use crate::auth::secret::generate_key;

    fn entry(name: &str, digest: KeyDigest, quota: Option<u32>) -> KeyEntry {
        KeyEntry {
            name: name.into(),
            hash: digest.to_string(),
            scopes: vec![Scope::Publish],
            topics: vec!["orders.".into()],
            quota: quota.map(|rate| Quota {
                events_per_second: NonZeroU32::new(rate).unwrap(),
                burst: None,
            }),
        }
    }

    #[test]
    fn a_presented_key_finds_its_own_grant_and_an_unknown_key_none() {
        let (first_key, first) = generate_key();
        let (second_key, second) = generate_key();
        let ring = Keyring::build(
            vec![entry("first", first, None), entry("second", second, None)],
            None,
        )
        .unwrap();
        assert_eq!(ring.grant_of(&first_key).unwrap().name, "first");
        assert_eq!(ring.grant_of(&second_key).unwrap().name, "second");
        assert!(ring.grant_of("agg_unknown").is_none());
        assert!(ring.grant_of("").is_none());
    }

    #[test]
    fn a_grant_holds_until_its_key_is_removed_or_its_topics_change() {
        let (key, digest) = generate_key();
        let before = Keyring::build(vec![entry("a", digest, None)], None).unwrap();
        let grant = before.grant_of(&key).unwrap();
        let same = Keyring::build(vec![entry("a", digest, None)], Some(&before)).unwrap();
        assert!(same.holds(&grant));
        let narrowed = KeyEntry {
            topics: vec!["orders.eu.".into()],
            ..entry("a", digest, None)
        };
        assert!(!Keyring::build(vec![narrowed], None).unwrap().holds(&grant));
        let (_, other) = generate_key();
        assert!(!Keyring::build(vec![entry("a", other, None)], None)
            .unwrap()
            .holds(&grant));
    }

    #[test]
    fn a_reload_keeps_the_bucket_of_an_unchanged_quota_and_resets_a_changed_one() {
        let (key, digest) = generate_key();
        let before = Keyring::build(vec![entry("a", digest, Some(5))], None).unwrap();
        let bucket = |ring: &Keyring| ring.grant_of(&key).unwrap().quota.clone().unwrap();
        assert!(bucket(&before).take(5).is_ok());
        let same = Keyring::build(vec![entry("a", digest, Some(5))], Some(&before)).unwrap();
        assert!(Arc::ptr_eq(&bucket(&before), &bucket(&same)));
        assert!(bucket(&same).take(1).is_err(), "the bucket is still empty");
        let changed = Keyring::build(vec![entry("a", digest, Some(6))], Some(&same)).unwrap();
        assert!(bucket(&changed).take(6).is_ok());
    }
}
