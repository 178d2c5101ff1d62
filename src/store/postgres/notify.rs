//! The PostgreSQL store's commit feed: one dedicated connection per instance that `LISTEN`s on
//! [`COMMIT_CHANNEL`] and `NOTIFY`s it after this instance's commits, so that live tails served
//! by any instance wake within milliseconds of a commit made through any other.
//!
//! - **After the commit, not inside it.** A `NOTIFY` in the commit's transaction would hold
//!   PostgreSQL's notify-queue lock through the commit's WAL flush, serialising the commits of
//!   every shard of every instance.
//! - **Coalesced and cheap**: at most one `NOTIFY` in flight and one per
//!   [`MIN_NOTIFY_INTERVAL`], on a session with `synchronous_commit` off (a notification needs
//!   no durability).
//! - **Best effort**: followers also poll (`http/stream.rs`), so a broken feed connection, or an
//!   instance killed between its commit and its `NOTIFY`, delays a tail by at most one poll
//!   period and never loses an event: the events are in the table, the feed only says "look".

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};
use tracing::{debug, warn};

use super::sql::COMMIT_CHANNEL;
use crate::store::feed::CommitSignal;

/// Shortest pause between two `NOTIFY`s of one instance: bounds their cost under a stream of
/// small commits, and adds at most this much to a remote tail's latency.
const MIN_NOTIFY_INTERVAL: Duration = Duration::from_millis(5);
/// Pause before reconnecting the feed connection.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// This instance's end of the commit feed; the connection's task ends when it is dropped.
pub(super) struct CommitFeed {
    signal: CommitSignal,
    committed: Arc<Notify>,
    task: JoinHandle<()>,
}

impl CommitFeed {
    /// Starts the feed connection (and keeps reconnecting it) with `config`.
    pub(super) fn start(config: tokio_postgres::Config, instance_id: String) -> Self {
        let signal = CommitSignal::default();
        let committed = Arc::new(Notify::new());
        let task = tokio::spawn(run(config, instance_id, signal.clone(), committed.clone()));
        Self {
            signal,
            committed,
            task,
        }
    }

    /// This instance committed: wakes its own followers now and the others' soon.
    pub(super) fn committed(&self) {
        self.signal.notify();
        self.committed.notify_one();
    }

    /// What followers wait on.
    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.signal.subscribe()
    }
}

impl Drop for CommitFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    config: tokio_postgres::Config,
    instance_id: String,
    signal: CommitSignal,
    committed: Arc<Notify>,
) {
    loop {
        match session(&config, &instance_id, &signal, &committed).await {
            Ok(()) => debug!("commit feed connection closed"),
            Err(err) => warn!(
                error = %err,
                code = err.code().map(|code| code.code()),
                "commit feed connection failed; live tails poll until it is back"
            ),
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

/// One feed connection, until it fails: listens, and notifies after each local commit.
async fn session(
    config: &tokio_postgres::Config,
    instance_id: &str,
    signal: &CommitSignal,
    committed: &Notify,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    // Polling the connection's messages also drives the client's queries.
    let listen = async {
        let mut messages = futures::stream::poll_fn(|cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            if let AsyncMessage::Notification(notification) = message? {
                if notification.payload() != instance_id {
                    signal.notify();
                }
            }
        }
        Ok(())
    };
    let notify = async {
        client
            .batch_execute(&format!(
                "SET synchronous_commit TO off; LISTEN {COMMIT_CHANNEL}"
            ))
            .await?;
        // Notifications sent while this connection was down are lost: look once.
        signal.notify();
        let statement = client.prepare("SELECT pg_notify($1, $2)").await?;
        loop {
            committed.notified().await;
            client
                .execute(&statement, &[&COMMIT_CHANNEL, &instance_id])
                .await?;
            tokio::time::sleep(MIN_NOTIFY_INTERVAL).await;
        }
    };
    tokio::select! {
        listened = listen => listened,
        notified = notify => notified,
    }
}
