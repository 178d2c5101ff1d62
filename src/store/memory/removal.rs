//! The memory store's deletions ([`Pruning`]): the same rows as the SQL backends delete, chosen
//! by scanning the map (it holds a test's few events).

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::{Contents, MemoryStore};
use crate::store::contract::{Pruning, SweepReport, SweepRequest};
use crate::store::error::StoreError;
use crate::store::feed::FeedPosition;
use crate::store::model::StoredEvent;
use crate::store::removal::{Removal, RemoveReport, RemoveRequest};

/// Now minus `older_than`.
fn deadline(older_than: std::time::Duration) -> DateTime<Utc> {
    let age = TimeDelta::from_std(older_than).unwrap_or(TimeDelta::MAX);
    Utc::now()
        .checked_sub_signed(age)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[async_trait]
impl Pruning for MemoryStore {
    async fn remove(&self, request: RemoveRequest<'_>) -> Result<RemoveReport, StoreError> {
        Ok(self.contents().remove(request))
    }

    async fn sweep(&self, request: SweepRequest<'_>) -> Result<SweepReport, StoreError> {
        Ok(self.contents().sweep(request))
    }

    async fn topics_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let contents = self.contents();
        let mut topics: Vec<String> = contents
            .rows
            .keys()
            .map(|(topic, _)| topic.clone())
            .filter(|topic| after.is_none_or(|after| topic.as_str() > after))
            .collect();
        topics.dedup();
        topics.truncate(limit as usize);
        Ok(topics)
    }
}

impl Contents {
    /// The first `limit` rows of the topic in `seq` order, none when the first is not due, and
    /// of those the due ones.
    pub(super) fn remove(&mut self, request: RemoveRequest<'_>) -> RemoveReport {
        let (deadline, up_to_seq) = match request.removal {
            Removal::Expired { older_than } => (Some(deadline(older_than)), i64::MAX),
            Removal::Purged { up_to_seq } => (None, up_to_seq),
        };
        let head =
            self.in_seq_order(|event| event.topic == request.topic && event.seq <= up_to_seq);
        let first_due = head
            .first()
            .is_some_and(|first| deadline.is_none_or(|deadline| first.received_at < deadline));
        let doomed: Vec<(String, String)> = head
            .into_iter()
            .take(if first_due { request.limit as usize } else { 0 })
            .filter(|event| deadline.is_none_or(|deadline| event.received_at < deadline))
            .map(|event| (event.topic, event.event_id))
            .collect();
        let removed = self.delete(&doomed);
        match request.removal {
            Removal::Expired { .. } => self.removals.expired += removed,
            Removal::Purged { .. } => self.removals.purged += removed,
        }
        self.report(removed)
    }

    /// The next `limit` rows after `after` in `seq` order (commit order here); the due ones no
    /// rule covers go, up to the first such row not yet due, where the next sweep starts.
    pub(super) fn sweep(&mut self, request: SweepRequest<'_>) -> SweepReport {
        let deadline = deadline(request.older_than);
        let scanned = self.in_seq_order(|event| event.seq > request.after.seq);
        let mut next = request.after;
        let mut examined = 0;
        let mut stopped = false;
        let mut doomed = Vec::new();
        for event in scanned.into_iter().take(request.limit as usize) {
            examined += 1;
            let swept = !request.except.contains(&event.topic);
            if swept && event.received_at >= deadline {
                stopped = true;
                break;
            }
            next = FeedPosition {
                tx: 0,
                seq: event.seq,
            };
            if swept {
                doomed.push((event.topic, event.event_id));
            }
        }
        let removed = self.delete(&doomed);
        self.removals.expired += removed;
        SweepReport {
            removal: self.report(removed),
            next,
            finished: stopped || examined < request.limit,
        }
    }

    /// Copies of the rows `keep` selects, in `seq` order.
    fn in_seq_order(&self, keep: impl Fn(&StoredEvent) -> bool) -> Vec<StoredEvent> {
        let mut rows: Vec<StoredEvent> = self.rows.values().filter(|e| keep(e)).cloned().collect();
        rows.sort_by_key(|event| event.seq);
        rows
    }

    /// Deletes the rows of these keys; how many there were.
    fn delete(&mut self, keys: &[(String, String)]) -> u64 {
        keys.iter()
            .filter(|key| self.rows.remove(*key).is_some())
            .count() as u64
    }

    /// The report of a deletion of `removed` rows, counted already.
    fn report(&self, removed: u64) -> RemoveReport {
        if removed == 0 {
            return RemoveReport::default();
        }
        RemoveReport {
            removed,
            overdue: None,
            counters_after: Some(self.removals),
            busy: false,
        }
    }
}
