//! [`Limits`]: what one HTTP request may ask for, and how many may be served at once. Plain
//! data: the command line (`cli/serve.rs`) fills it from flags, tests build it directly.

/// Default request body limit (10 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Default limit on events in one publish request.
pub const DEFAULT_MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// Default limit on how deeply a payload nests objects and arrays.
pub const DEFAULT_MAX_PAYLOAD_DEPTH: usize = crate::event::payload::DEFAULT_MAX_PAYLOAD_DEPTH;
/// Default limit on HTTP requests being processed at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1024;

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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_events_per_request: DEFAULT_MAX_EVENTS_PER_REQUEST,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_payload_depth: DEFAULT_MAX_PAYLOAD_DEPTH,
        }
    }
}
