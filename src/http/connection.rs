//! What the connection layer tells the request layer, and how it watches a connection's
//! traffic.
//!
//! [`ConnectionClass`]: a connection admitted from the reserve may only ask for `/health` and
//! `/ready` ([`is_health_check`]); anything else gets [`refusal_on_reserve`].
//! [`Tracked`] wraps a socket and records when bytes last moved, for the idle timeout.
//! [`ConnectionClosing`] tells a request that its connection is closing, so that an answer
//! that never ends by itself (a live tail) can end.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use super::bulk::is_bulk_path;
use super::error::{retryable_as_aborted, ApiError};

/// In every request's extensions: turns `true` when the connection is told to close (maximum
/// age, idle, server shutdown). Hyper's graceful close waits for the answer under way, so an
/// endless answer must watch this to let its connection go.
#[derive(Debug, Clone)]
pub struct ConnectionClosing(pub watch::Receiver<bool>);

/// The address of the client at the other end of a request's connection (a request
/// extension), for what only a local client may do without API keys.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// Which slot a connection holds under the connection cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionClass {
    /// Any request.
    General,
    /// One of the slots kept for health checks: only `/health` and `/ready` are served.
    HealthOnly,
}

/// Paths a connection from the reserve may ask for.
const HEALTH_PATHS: [&str; 2] = ["/health", "/ready"];

/// Whether `path` is a health check, which a connection from the reserve may ask for.
pub fn is_health_check(path: &str) -> bool {
    HEALTH_PATHS.contains(&path)
}

/// The answer to anything but a health check on a connection from the reserve: `503`, and the
/// connection closes (which gives the reserved slot back). On the bulk routes the answer is cut
/// before its end, as every retryable answer there (`bulk.rs`).
pub fn refusal_on_reserve(path: &str) -> Response {
    let mut response = ApiError::Unavailable(
        "the server is at its connection limit; this connection is kept for health checks".into(),
    )
    .into_response();
    if is_bulk_path(path) {
        response = retryable_as_aborted(response);
    }
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A socket that records, in milliseconds since `opened`, when bytes last moved either way.
pub struct Tracked<S> {
    inner: S,
    opened: Instant,
    last_activity: Arc<AtomicU64>,
}

impl<S> Tracked<S> {
    /// Wraps `inner`; `last_activity` is shared with whoever watches the connection.
    pub fn new(inner: S, opened: Instant, last_activity: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            opened,
            last_activity,
        }
    }

    fn touch(&self) {
        let millis = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_activity.store(millis, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
