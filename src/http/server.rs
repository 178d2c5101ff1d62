//! The connection layer: accepts TCP connections and serves HTTP/1.1 on them with the limits
//! `axum::serve` does not apply (it runs hyper without a timer).
//!
//! - **Header read timeout**: a client that does not send a whole request head in time (a
//!   slowloris) is disconnected; hyper also applies it while a keep-alive connection waits for
//!   its next request.
//! - **Idle timeout and maximum age**: a connection with no traffic for `idle_timeout`, or
//!   older than `max_connection_age`, is shut down gracefully (an answer under way finishes).
//! - **Connection cap with a reserve**: at most `max_connections` are open; the last
//!   `reserved_connections` of them only serve `/health` and `/ready` (anything else gets
//!   `503` and the connection closes), so that an orchestrator's probes get through while
//!   clients fill the cap. Past the cap a new connection is closed at once.
//! - **Accept errors** (out of file descriptors, for one) back off from 10 ms to 1 s instead of
//!   spinning.
//! - **TLS** (optional, `tls.rs`): the handshake runs in the connection's own task, never in the
//!   accept loop, within the header read timeout, with the certificate current at accept time;
//!   then the connection is served exactly like a plain one.
//!
//! Body deadlines and the buffered-body budget are request-level: see `intake.rs`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use futures::future::Either;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use super::connection::{
    is_health_check, refusal_on_reserve, ClientAddr, ConnectionClass, ConnectionClosing, Tracked,
};
use super::limits::ConnectionLimits;
use super::tls::{self, ServerTls};

/// First pause after a failed accept; doubles up to [`MAX_ACCEPT_BACKOFF`].
const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Longest pause after failed accepts.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// stops accepting, lets every open connection finish the request it is serving, and returns
/// once all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let general = Arc::new(Semaphore::new(
        limits
            .max_connections
            .saturating_sub(limits.reserved_connections)
            .max(1),
    ));
    let reserve = Arc::new(Semaphore::new(limits.reserved_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut backoff = MIN_ACCEPT_BACKOFF;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                backoff = MIN_ACCEPT_BACKOFF;
                stream
            }
            Err(err) => {
                warn!(error = %err, pause = ?backoff, "accept failed, backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                continue;
            }
        };
        let (class, permit) = match admit(&general, &reserve) {
            Some(admitted) => admitted,
            None => {
                debug!("connection cap reached, closing a new connection");
                drop(stream);
                continue;
            }
        };
        let connection = Connection {
            router: router.clone(),
            limits,
            class,
            closing: closing_rx.clone(),
            _permit: permit,
            client: stream.peer_addr().ok().map(ClientAddr),
        };
        // Taken now, so that a reload affects only connections accepted after it.
        let acceptor = tls.as_ref().map(ServerTls::acceptor);
        connections.spawn(connection.start(stream, acceptor));
    }
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// A general slot, or else a reserved one (health checks only), or nothing.
fn admit(
    general: &Arc<Semaphore>,
    reserve: &Arc<Semaphore>,
) -> Option<(ConnectionClass, OwnedSemaphorePermit)> {
    if let Ok(permit) = general.clone().try_acquire_owned() {
        return Some((ConnectionClass::General, permit));
    }
    let permit = reserve.clone().try_acquire_owned().ok()?;
    Some((ConnectionClass::HealthOnly, permit))
}

/// One accepted connection and what it needs to be served.
struct Connection {
    router: Router,
    limits: ConnectionLimits,
    class: ConnectionClass,
    /// Turns `true` when the server shuts down.
    closing: watch::Receiver<bool>,
    /// The connection's slot under the cap, given back when it closes.
    _permit: OwnedSemaphorePermit,
    /// The client's address, when the socket could tell.
    client: Option<ClientAddr>,
}

impl Connection {
    /// Runs the TLS handshake first when there is an `acceptor`, then serves the connection.
    async fn start(self, stream: TcpStream, acceptor: Option<TlsAcceptor>) {
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = acceptor else {
            return self.serve(stream).await;
        };
        // A server shutting down does not wait for handshakes still under way.
        let mut closing = self.closing.clone();
        let secured = tokio::select! {
            secured = tls::handshake(acceptor, stream, self.limits.header_read_timeout) => secured,
            _ = closing.changed() => None,
        };
        if let Some(secured) = secured {
            self.serve(secured).await;
        }
    }

    /// Serves HTTP/1.1 on `stream`, plain TCP or TLS alike, until the client leaves or the
    /// connection is told to close.
    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let opened = Instant::now();
        let last_activity = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Tracked::new(stream, opened, last_activity.clone()));
        let health_only = self.class == ConnectionClass::HealthOnly;
        let router = TowerToHyperService::new(self.router.clone());
        let (closing_tx, closing_rx) = watch::channel(false);
        let client = self.client;
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            if health_only && !is_health_check(request.uri().path()) {
                let refusal = refusal_on_reserve(request.uri().path());
                return Either::Left(std::future::ready(Ok(refusal)));
            }
            request
                .extensions_mut()
                .insert(ConnectionClosing(closing_rx.clone()));
            if let Some(client) = client {
                request.extensions_mut().insert(client);
            }
            Either::Right(hyper::service::Service::call(&router, request))
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .keep_alive(true)
            .serve_connection(io, service);
        tokio::pin!(connection);
        // Built once and pinned, so that each wake-up of a busy connection re-polls registered
        // futures instead of building and registering new ones.
        let limits = self.limits;
        let mut closing = self.closing;
        let time_to_close = async move {
            let idle = async {
                let mut checks = tokio::time::interval(idle_check_period(limits.idle_timeout));
                loop {
                    checks.tick().await;
                    let active_at = Duration::from_millis(last_activity.load(Ordering::Relaxed));
                    if opened.elapsed().saturating_sub(active_at) >= limits.idle_timeout {
                        return;
                    }
                }
            };
            tokio::select! {
                () = tokio::time::sleep(limits.max_connection_age) => {}
                _ = closing.changed() => {}
                () = idle => {}
            }
        };
        tokio::pin!(time_to_close);
        tokio::select! {
            served = connection.as_mut() => {
                log_end(served);
                return;
            }
            () = &mut time_to_close => {
                let _ = closing_tx.send(true);
                connection.as_mut().graceful_shutdown();
            }
        }
        // An answer under way finishes; then hyper closes the connection.
        log_end(connection.await);
    }
}

fn log_end(served: Result<(), hyper::Error>) {
    if let Err(err) = served {
        debug!(error = %err, "connection ended with an error");
    }
}

/// How often a connection checks whether it has been idle too long: often enough that it
/// closes within a quarter of the timeout past it.
fn idle_check_period(idle_timeout: Duration) -> Duration {
    (idle_timeout / 4).max(Duration::from_millis(50))
}
