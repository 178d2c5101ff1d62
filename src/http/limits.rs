//! [`Limits`]: what one HTTP request may ask for, how many may be served at once, and how long
//! a client may take; [`ConnectionLimits`]: how many connections, for how long. Plain data:
//! the command line (`cli/serve.rs`) fills it from flags, tests build it directly.

use std::time::Duration;

/// Default request body limit (10 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Default limit on events in one publish request.
pub const DEFAULT_MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// Default limit on how deeply a payload nests objects and arrays.
pub const DEFAULT_MAX_PAYLOAD_DEPTH: usize = crate::event::payload::DEFAULT_MAX_PAYLOAD_DEPTH;
/// Default limit on HTTP requests being processed at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1024;

/// Default payload bytes on one `GET /events` page.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Default budget of request body bytes buffered at once, by all requests together.
pub const DEFAULT_MAX_BUFFERED_BODY_BYTES: usize = 256 * 1024 * 1024;
/// Default time a client has to send a whole request body.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of live tails (`GET /events/stream`) served at once.
pub const DEFAULT_MAX_SUBSCRIBERS: usize = 1000;
/// Default interval of the keep-alive comments of an idle live tail.
pub const DEFAULT_STREAM_HEARTBEAT: Duration = Duration::from_secs(15);
/// Default number of searches run at once.
pub const DEFAULT_MAX_CONCURRENT_QUERIES: usize =
    crate::store::options::DEFAULT_MAX_CONCURRENT_QUERIES;
/// Default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default number of connections, within the cap, kept for `/health` and `/ready`.
pub const DEFAULT_RESERVED_CONNECTIONS: usize = 32;
/// Default time a client has to send a whole request head.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a connection may stay without traffic.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default longest life of a connection (it then closes after its current answer).
pub const DEFAULT_MAX_CONNECTION_AGE: Duration = Duration::from_secs(600);

/// Limits on HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body, in bytes; larger bodies get `413`.
    pub max_body_bytes: usize,
    /// Most events accepted in one publish request; more get `422`.
    pub max_events_per_request: usize,
    /// Most requests of the API proper processed at once; beyond it requests get `429` at once.
    pub max_concurrent_requests: usize,
    /// Deepest nesting of objects and arrays accepted in a payload; deeper gets `422`.
    pub max_payload_depth: usize,
    /// Payload bytes on one `GET /events` page; the page ends early (with a cursor) past it.
    pub max_page_bytes: usize,
    /// Request body bytes buffered at once by all requests together; past it, `429`.
    pub max_buffered_body_bytes: usize,
    /// Time a client has to send a whole request body; past it, `408`.
    pub body_read_timeout: Duration,
    /// Live tails served at once; past it, `503`.
    pub max_subscribers: usize,
    /// Interval of the keep-alive comments a live tail sends while idle (shorter than the
    /// idle timeout, and than proxies' read timeouts).
    pub stream_heartbeat: Duration,
    /// Searches (`GET /events?q=`) run at once; past it, `429`.
    pub max_concurrent_queries: usize,
    /// Connection-level limits.
    pub connections: ConnectionLimits,
}

/// Limits on connections (see `http/server.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections open at once; past it a new connection is closed at once.
    pub max_connections: usize,
    /// How many of those are kept for `/health` and `/ready` only.
    pub reserved_connections: usize,
    /// Time a client has to send a whole request head (also between keep-alive requests).
    pub header_read_timeout: Duration,
    /// Time a connection may stay without traffic before it is closed.
    pub idle_timeout: Duration,
    /// Longest life of a connection; it then closes once its current answer is sent.
    pub max_connection_age: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            reserved_connections: DEFAULT_RESERVED_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connection_age: DEFAULT_MAX_CONNECTION_AGE,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_events_per_request: DEFAULT_MAX_EVENTS_PER_REQUEST,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_payload_depth: DEFAULT_MAX_PAYLOAD_DEPTH,
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
            max_buffered_body_bytes: DEFAULT_MAX_BUFFERED_BODY_BYTES,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
            stream_heartbeat: DEFAULT_STREAM_HEARTBEAT,
            max_concurrent_queries: DEFAULT_MAX_CONCURRENT_QUERIES,
            connections: ConnectionLimits::default(),
        }
    }
}
