//! The client side of searching: the pages of `GET /events?q=` and the counts of
//! `GET /events/count`, for `aggregator search`. Retries follow the client's policy; a search
//! the server refuses (`400`) is reported with the server's words.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::ClientError;
use super::http::Client;
use super::tail::{Tailed, TailedEvent};

/// Most events asked for in one page.
const PAGE_LIMIT: u64 = 1_000;

/// What to search for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// The search query (docs/http-api.md, "Searching").
    pub query: String,
    /// Only this topic.
    pub topic: Option<String>,
    /// Start of the range, RFC 3339.
    pub since: Option<String>,
    /// End of the range, RFC 3339.
    pub until: Option<String>,
    /// `newest`, `oldest` or `topic`; the server's default when `None`.
    pub order: Option<String>,
}

impl SearchRequest {
    /// The query string of the request's parameters (`q=…&topic=…`), encoded.
    fn parameters(&self) -> String {
        let mut pairs = vec![("q", self.query.as_str())];
        for (name, value) in [
            ("topic", &self.topic),
            ("since", &self.since),
            ("until", &self.until),
            ("order", &self.order),
        ] {
            if let Some(value) = value {
                pairs.push((name, value));
            }
        }
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, NON_ALPHANUMERIC)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[derive(Deserialize)]
struct Page {
    events: Vec<Box<RawValue>>,
    next_cursor: Option<String>,
}

/// The total of `GET /events/count`, and its whole answer as the server sent it.
#[derive(Debug, Clone)]
pub struct CountAnswer {
    /// Events in the range matching the search.
    pub total: u64,
    /// The answer's JSON (buckets included).
    pub json: serde_json::Value,
}

/// Calls `each` with the matching events, page after page, until `limit` events or the last
/// page; returns how many it was given.
pub async fn search(
    client: &Client,
    request: &SearchRequest,
    limit: u64,
    mut each: impl FnMut(Tailed),
) -> Result<u64, ClientError> {
    let mut given = 0;
    let mut cursor = String::new();
    while given < limit {
        let page_size = (limit - given).min(PAGE_LIMIT);
        let path = format!(
            "/events?{}&limit={page_size}&cursor={}",
            request.parameters(),
            utf8_percent_encode(&cursor, NON_ALPHANUMERIC)
        );
        let page: Page = client.get(&path).await?;
        for raw in page.events {
            let event: TailedEvent =
                serde_json::from_str(raw.get()).map_err(|err| ClientError::BadAnswer {
                    what: "GET /events".into(),
                    reason: format!("an event of the page: {err}"),
                })?;
            each(Tailed {
                cursor: String::new(),
                json: raw.get().to_owned(),
                event,
            });
            given += 1;
        }
        match page.next_cursor {
            Some(next) => cursor = next,
            None => break,
        }
    }
    Ok(given)
}

/// `GET /events/count` of the search.
pub async fn count(client: &Client, request: &SearchRequest) -> Result<CountAnswer, ClientError> {
    let json: serde_json::Value = client
        .get(&format!("/events/count?{}", request.parameters()))
        .await?;
    let total = json["total"]
        .as_u64()
        .ok_or_else(|| ClientError::BadAnswer {
            what: "GET /events/count".into(),
            reason: "no total".into(),
        })?;
    Ok(CountAnswer { total, json })
}
