//! The client's errors: [`AttemptError`] (how one HTTP attempt failed, classified for retrying
//! and counting) and [`ClientError`] (why a request or a stream did not get a usable answer).

use std::path::PathBuf;
use std::time::Duration;

/// Why a request, or a stream, did not get a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request with a status that retrying cannot fix.
    #[error("{what} was refused with {status}: {body}")]
    Refused {
        /// Which request, e.g. `POST /publish`.
        what: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The retry policy gave the request up.
    #[error("gave up on {what} after {attempts} attempts over {elapsed:?}: {last}")]
    GaveUp {
        /// Which request.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: String,
    },
    /// A `200` whose body is not what the contract says.
    #[error("unreadable answer to {what}: {reason}")]
    BadAnswer {
        /// Which request.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// The HTTP client could not be set up.
    #[error("cannot build the http client: {0}")]
    Build(#[source] reqwest::Error),
    /// The CA certificate to trust cannot be used.
    #[error("cannot use the CA certificate {}: {reason}", path.display())]
    CaCert {
        /// The file given.
        path: PathBuf,
        /// Why (unreadable, no certificate in it...).
        reason: String,
    },
    /// The API key cannot be sent in a header (it holds a control character); the key itself
    /// is never shown.
    #[error("the API key is not a valid HTTP header value")]
    BadApiKey,
    /// A worker of a stream panicked; what it was sending is unaccounted for.
    #[error("a stream worker panicked: {0}")]
    WorkerPanicked(String),
    /// A stream was still sending when its caller stopped waiting (its workers are stopped).
    #[error("the stream did not finish within {0:?}")]
    Unfinished(Duration),
}

/// How one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    /// No connection could be made (refused, unreachable): nothing reached the server.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection was made but no complete answer came back (timeout, connection cut):
    /// the request may or may not have been processed.
    #[error("no complete answer: {0}")]
    Broken(String),
    /// The server answered with a status other than success.
    #[error("status {status}")]
    Status {
        /// The status code.
        status: u16,
        /// The server's `Retry-After`, in seconds.
        retry_after: Option<Duration>,
        /// The start of the body.
        body: String,
    },
    /// A success whose body is not what the contract says.
    #[error("unreadable answer: {0}")]
    BadAnswer(String),
}
