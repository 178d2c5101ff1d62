//! A TCP proxy in front of PostgreSQL that can be cut (every connection dropped, new ones
//! closed at once) and restored, to simulate a database outage without touching the server.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A running proxy; it stops when dropped.
pub struct PgProxy {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    shared: Arc<Shared>,
    acceptor: AbortHandle,
}

struct Shared {
    upstream: String,
    cut: AtomicBool,
    connections: Mutex<Vec<AbortHandle>>,
    /// Connections refused while cut.
    refused: AtomicU64,
}

impl PgProxy {
    /// Listens on 127.0.0.1:0 and forwards every connection to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream,
            cut: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
            refused: AtomicU64::new(0),
        });
        let acceptor = tokio::spawn(accept_loop(listener, shared.clone())).abort_handle();
        Self {
            port,
            shared,
            acceptor,
        }
    }

    /// Drops every proxied connection and refuses new ones until [`PgProxy::restore`].
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        for connection in self.shared.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// Accepts and forwards connections again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    /// Connections refused while the proxy was cut.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if shared.cut.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        let upstream = shared.upstream.clone();
        let task = tokio::spawn(forward(client, upstream));
        let mut connections = shared.connections.lock().unwrap();
        connections.retain(|connection| !connection.is_finished());
        if shared.cut.load(Ordering::SeqCst) {
            // cut while this connection was being set up
            task.abort();
        } else {
            connections.push(task.abort_handle());
        }
    }
}

async fn forward(mut client: TcpStream, upstream: String) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
