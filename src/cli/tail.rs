//! `aggregator tail`: follow the events an aggregator stores, as they are committed.

use std::io::Write;

use clap::Args;

use super::access::ClientAccessArgs;
use crate::client::config::DEFAULT_URL;
use crate::client::{Tail, TailConfig, TailStart, Tailed};

/// Flags of `aggregator tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Base URL of the aggregator; repeat it for instances sharing one store, which the tail
    /// moves between when one fails.
    #[arg(long = "url", env = "AGG_URL", value_delimiter = ',', default_value = DEFAULT_URL)]
    pub urls: Vec<String>,
    /// Only events of this topic (in commit order, with /events cursors).
    #[arg(long)]
    pub topic: Option<String>,
    /// Only events from this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Only events matching this search query, e.g. 'level:error "payment timeout"'.
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// Print every stored event first, then follow.
    #[arg(long, conflicts_with = "cursor")]
    pub from_start: bool,
    /// Resume strictly after this cursor (printed when a tail stops).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Print each event as one line of JSON, as GET /events shows it.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many events.
    #[arg(long)]
    pub count: Option<u64>,
    /// API key and trusted CA certificate.
    #[command(flatten)]
    pub access: ClientAccessArgs,
}

impl TailArgs {
    /// The client's tail settings.
    pub fn config(&self) -> TailConfig {
        let start = match (&self.cursor, self.from_start) {
            (Some(cursor), _) => TailStart::Cursor(cursor.clone()),
            (None, true) => TailStart::Beginning,
            (None, false) => TailStart::End,
        };
        TailConfig {
            urls: self.urls.clone(),
            topic: self.topic.clone(),
            source: self.source.clone(),
            query: self.query.clone(),
            start,
            access: self.access.access(),
        }
    }
}

/// Prints events until `--count` is reached or Ctrl-C, then says how to resume.
pub async fn run(args: &TailArgs) -> anyhow::Result<()> {
    let mut tail = Tail::new(args.config())?;
    let mut printed = 0u64;
    let mut stdout = std::io::stdout().lock();
    // One listener for the whole run, so that a Ctrl-C between two events is not missed.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    while args.count.is_none_or(|count| printed < count) {
        let tailed = tokio::select! {
            tailed = tail.next() => tailed?,
            _ = &mut interrupted => break,
        };
        writeln!(stdout, "{}", line(&tailed, args.json))?;
        stdout.flush()?;
        printed += 1;
    }
    if let Some(cursor) = tail.cursor() {
        eprintln!("tail stopped after {printed} events; resume with --cursor {cursor}");
    }
    Ok(())
}

/// One event, as JSON or as `timestamp topic [source] event_id payload` (also how
/// `aggregator search` prints).
pub(super) fn line(tailed: &Tailed, json: bool) -> String {
    if json {
        return tailed.json.clone();
    }
    let event = &tailed.event;
    format!(
        "{} {} [{}] {} {}",
        event.timestamp,
        event.topic,
        event.source,
        event.event_id,
        event.payload.get()
    )
}
