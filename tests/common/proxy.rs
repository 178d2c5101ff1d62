//! A TCP proxy in front of PostgreSQL that a test can cut and restore, to play a database outage
//! without touching the server other tests share.
//!
//! [`TcpProxy::start`] listens on `127.0.0.1:0` and forwards every connection to the upstream.
//! [`TcpProxy::cut`] closes the listener (new connections are refused) and drops every live
//! connection on both sides, and returns only once all of that has happened.
//! [`TcpProxy::restore`] listens again on the same port. Both are idempotent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The forwarding tasks of the live connections.
type Connections = Arc<Mutex<JoinSet<()>>>;

/// A cuttable TCP proxy.
pub struct TcpProxy {
    address: SocketAddr,
    upstream: SocketAddr,
    /// `None` while cut.
    running: Mutex<Option<Running>>,
    /// Connections accepted since the start, for tests that check the app reconnected.
    accepted: Arc<AtomicUsize>,
}

/// The accept loop and the connections it forwards.
struct Running {
    accept: JoinHandle<()>,
    connections: Connections,
}

impl TcpProxy {
    /// Starts forwarding from a free port on loopback to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = listen("127.0.0.1:0".parse().expect("valid address")).expect("proxy binds");
        let address = listener.local_addr().expect("proxy address");
        let proxy = Self {
            address,
            upstream,
            running: Mutex::new(None),
            accepted: Arc::new(AtomicUsize::new(0)),
        };
        proxy.serve(listener);
        proxy
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Connections accepted since the start.
    pub fn accepted_connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections currently forwarded.
    pub fn live_connections(&self) -> usize {
        let running = self.running.lock().expect("proxy lock");
        running.as_ref().map_or(0, |running| {
            let mut connections = running.connections.lock().expect("connections lock");
            while connections.try_join_next().is_some() {}
            connections.len()
        })
    }

    /// Whether the proxy is cut.
    pub fn is_cut(&self) -> bool {
        self.running.lock().expect("proxy lock").is_none()
    }

    /// Closes the listener and drops every live connection (both sides). When this returns,
    /// connecting is refused and every previously forwarded connection is closed.
    pub async fn cut(&self) {
        let running = self.running.lock().expect("proxy lock").take();
        let Some(running) = running else {
            return;
        };
        running.accept.abort();
        // The accept task owns the listener; once it has finished, the port is closed and no
        // new connection task can be spawned.
        let _ = running.accept.await;
        let mut connections =
            std::mem::take(&mut *running.connections.lock().expect("connections lock"));
        connections.shutdown().await;
    }

    /// Listens again on the same port. Panics if the port was taken meanwhile.
    pub async fn restore(&self) {
        if !self.is_cut() {
            return;
        }
        let listener = listen(self.address)
            .unwrap_or_else(|err| panic!("proxy cannot listen again on {}: {err}", self.address));
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let connections: Connections = Arc::default();
        let accept = tokio::spawn(accept_loop(
            listener,
            self.upstream,
            Arc::clone(&connections),
            Arc::clone(&self.accepted),
        ));
        *self.running.lock().expect("proxy lock") = Some(Running {
            accept,
            connections,
        });
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(running) = self.running.get_mut().ok().and_then(Option::take) {
            running.accept.abort();
            if let Ok(mut connections) = running.connections.lock() {
                connections.abort_all();
            }
        }
    }
}

/// Binds with `SO_REUSEADDR`, so that [`TcpProxy::restore`] can take the port back although
/// the connections it closed linger in `TIME_WAIT`.
fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    connections: Connections,
    accepted: Arc<AtomicUsize>,
) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            // Transient (e.g. out of file descriptors): keep serving.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        accepted.fetch_add(1, Ordering::SeqCst);
        let mut live = connections.lock().expect("connections lock");
        while live.try_join_next().is_some() {}
        live.spawn(forward(client, upstream));
    }
}

/// Copies bytes both ways until either side closes; dropping the task closes both sockets.
async fn forward(mut client: TcpStream, upstream: SocketAddr) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
