//! Application assembly: bind, open the store, spawn the actor tree, serve HTTP, shut down in
//! order. `main` and the integration tests both go through [`App::build`], so tests exercise
//! exactly what production runs.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::actors::ActorTree;
use crate::config::ServeConfig;
use crate::http::{self, AppState};
use crate::store::{self, SharedStore};

/// How long shards get to commit what they still buffer once HTTP has stopped.
const TREE_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(15);

/// A built, not yet running, aggregator.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: axum::Router,
    tree: ActorTree,
    tree_join: tokio::task::JoinHandle<()>,
    store: SharedStore,
}

impl App {
    /// Binds the listener first (so port 0 resolves before anything else), opens and migrates
    /// the store, spawns the actor tree (which loads the counters) and builds the router.
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("failed to bind {}", config.bind))?;
        let address = listener
            .local_addr()
            .context("failed to read bound address")?;
        let store = store::open(&config.store)
            .await
            .context("failed to open the store")?;
        let ingest_timeout = Duration::from_millis(config.limits.request_timeout_ms);
        let (tree, tree_join) = ActorTree::spawn(
            config.shards,
            store.clone(),
            config.batching.clone(),
            ingest_timeout,
        )
        .await
        .context("failed to start the actor tree")?;
        let router = http::router(AppState {
            tree: tree.clone(),
            store: store.clone(),
            limits: config.limits.clone(),
        });
        info!(%address, store = store.backend(), shards = config.shards, "aggregator ready");
        Ok(Self {
            listener,
            address,
            router,
            tree,
            tree_join,
            store,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The store, for tests that check what was persisted.
    pub fn store(&self) -> SharedStore {
        self.store.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish,
    /// and stops the actor tree (shards commit what they buffer). Fails if the actor tree dies
    /// on its own, so that the process exits non-zero and an orchestrator restarts it.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            tree,
            mut tree_join,
            ..
        } = self;
        let server = axum::serve(listener, router).with_graceful_shutdown(shutdown);
        tokio::select! {
            served = server => served.context("HTTP server failed")?,
            _ = &mut tree_join => bail!("actor tree stopped unexpectedly"),
        }
        info!("HTTP stopped, draining shards");
        tree.shutdown(TREE_SHUTDOWN_DEADLINE).await;
        if tokio::time::timeout(TREE_SHUTDOWN_DEADLINE, tree_join)
            .await
            .is_err()
        {
            warn!("actor tree did not stop within the deadline");
        }
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            warn!(error = %err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!("ctrl-c received, shutting down"),
        () = terminate => info!("SIGTERM received, shutting down"),
    }
}
