//! `aggregator search`: print the events a search matches (or how many), as `tail` prints
//! them, from a running aggregator.

use std::io::Write;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use clap::Args;

use super::access::ClientAccessArgs;
use super::tail::line;
use crate::client::config::DEFAULT_URL;
use crate::client::search::{self, SearchRequest};
use crate::client::{Client, RetryPolicy};

/// Flags of `aggregator search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The search query, e.g. 'level:error "payment timeout"' (docs/http-api.md, "Searching").
    pub query: String,
    /// Base URL of the aggregator.
    #[arg(long, env = "AGG_URL", default_value = DEFAULT_URL)]
    pub url: String,
    /// Start of the range: a duration before now (`1h`, `30m`, `2d`) or an RFC 3339 instant.
    #[arg(long)]
    pub since: Option<String>,
    /// End of the range: a duration before now or an RFC 3339 instant.
    #[arg(long)]
    pub until: Option<String>,
    /// Only events of this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// `newest` (the default across topics), `oldest` or `topic`.
    #[arg(long, value_parser = ["newest", "oldest", "topic"])]
    pub order: Option<String>,
    /// Print at most this many events.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// Print how many events match instead (by default within the last day).
    #[arg(long)]
    pub count: bool,
    /// Print each event (or the count's answer) as JSON, as the API gives it.
    #[arg(long)]
    pub json: bool,
    /// API key and trusted CA certificate.
    #[command(flatten)]
    pub access: ClientAccessArgs,
}

/// An instant for `--since`/`--until`: RFC 3339 as given, or a duration before now.
fn instant(raw: &str) -> anyhow::Result<String> {
    if crate::event::parse_timestamp(raw).is_ok() {
        return Ok(raw.to_owned());
    }
    let before = humantime::parse_duration(raw).map_err(|err| {
        anyhow::anyhow!("`{raw}` is neither an RFC 3339 instant nor a duration such as 1h ({err})")
    })?;
    let at = Utc::now() - chrono::Duration::from_std(before)?;
    Ok(at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// Prints the matching events (or their count).
pub async fn run(args: &SearchArgs) -> anyhow::Result<()> {
    let client = Client::new(
        &args.url,
        Duration::from_secs(30),
        RetryPolicy::within(Duration::from_secs(10)),
        &args.access.access(),
    )?;
    let request = SearchRequest {
        query: args.query.clone(),
        topic: args.topic.clone(),
        since: args.since.as_deref().map(instant).transpose()?,
        until: args.until.as_deref().map(instant).transpose()?,
        order: args.order.clone(),
    };
    let mut stdout = std::io::stdout().lock();
    if args.count {
        let counted = search::count(&client, &request).await?;
        match args.json {
            true => writeln!(stdout, "{}", counted.json)?,
            false => writeln!(stdout, "{}", counted.total)?,
        }
        return Ok(());
    }
    let mut failed = None;
    search::search(&client, &request, args.limit, |found| {
        if failed.is_none() {
            failed = writeln!(stdout, "{}", line(&found, args.json)).err();
        }
    })
    .await?;
    match failed {
        Some(err) => Err(err.into()),
        None => Ok(()),
    }
}
