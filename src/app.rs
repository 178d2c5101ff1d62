//! Application assembly: bind, open the store, spawn the actor tree, serve HTTP, shut down in
//! order. `main` and the integration tests both go through [`App::build`], so tests exercise
//! exactly what production runs.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::actors::{ActorTree, TreeConfig};
use crate::auth::{AccessControl, AccessOptions};
use crate::http::{
    self, AppParts, AppState, ConnectionLimits, Limits, LokiMapping, OtlpMapping, TailSlots,
};
use crate::http::{ServerTls, TlsFiles};
use crate::metrics::{InstrumentedStore, Metrics};
use crate::store::{self, SharedStore, StoreOptions};

mod reload;

pub use reload::Reloadable;

/// Default listen address: loopback, so a fresh install is not exposed to the network.
pub const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);
/// Default deadline for a graceful shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything [`App::build`] needs: where to listen and each layer's own settings. Plain data:
/// `cli/serve.rs` fills it from flags, tests build it directly (from [`AppConfig::default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// Address to listen on (port 0 picks a free port).
    pub bind: SocketAddr,
    /// Where events are stored.
    pub store: StoreOptions,
    /// Shards, batching, in-flight budgets, restarts, chaos.
    pub tree: TreeConfig,
    /// Limits on HTTP requests.
    pub limits: Limits,
    /// Longest a graceful shutdown may take before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// Serve HTTPS with this certificate and key; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Where API keys come from; without them, only a loopback address may be served.
    pub access: AccessOptions,
    /// How OpenTelemetry log records get their topic.
    pub otlp: OtlpMapping,
    /// How Loki log lines get their topic.
    pub loki: LokiMapping,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND,
            store: StoreOptions::default(),
            tree: TreeConfig::default(),
            limits: Limits::default(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            tls: None,
            access: AccessOptions::default(),
            otlp: OtlpMapping::default(),
            loki: LokiMapping::default(),
        }
    }
}

/// Shards always get at least this long for their final commits, even when the HTTP drain
/// used up the shutdown deadline: acknowledged work is never at stake, but buffered work is.
const MIN_TREE_DRAIN: Duration = Duration::from_millis(500);

/// A built, not yet running, aggregator.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: axum::Router,
    /// How many connections, for how long (applied by `http::serve`).
    connection_limits: ConnectionLimits,
    /// The API keys in force and the certificate served (HTTPS), reloadable while serving.
    reloadable: Reloadable,
    tree: ActorTree,
    tree_join: tokio::task::JoinHandle<()>,
    store: SharedStore,
    shutdown_timeout: Duration,
    /// Folds histogram samples while nobody scrapes; ends with the app.
    metrics_upkeep: tokio::task::JoinHandle<()>,
}

impl App {
    /// Binds the listener first (so port 0 resolves before anything else), opens and migrates
    /// the store, spawns the actor tree (which loads the counters) and builds the router.
    pub async fn build(config: AppConfig) -> anyhow::Result<Self> {
        let (access, tls) = preflight(&config)?;
        let access = Arc::new(access);
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("failed to bind {}", config.bind))?;
        let address = listener
            .local_addr()
            .context("failed to read bound address")?;
        let metrics = Metrics::new(config.tree.shards);
        let opened = store::open(&config.store)
            .await
            .context("failed to open the store")?;
        let store: SharedStore = Arc::new(InstrumentedStore::new(opened.store, metrics.clone()));
        let (tree, tree_join) = ActorTree::spawn(&config.tree, store.clone(), metrics.clone())
            .await
            .context("failed to start the actor tree")?;
        let metrics_upkeep = metrics.spawn_upkeep();
        let router = http::router(AppState::new(AppParts {
            tree: tree.clone(),
            store: store.clone(),
            limits: config.limits,
            metrics,
            tails: TailSlots::new(config.limits.max_subscribers),
            searches: Semaphore::new(config.limits.max_concurrent_queries),
            queries: opened.queries,
            access: access.clone(),
            otlp: config.otlp.clone(),
            loki: config.loki.clone(),
        }));
        let scheme = if tls.is_some() { "https" } else { "http" };
        info!(%address, scheme, store = store.backend(), shards = config.tree.shards, "aggregator ready");
        Ok(Self {
            listener,
            address,
            router,
            connection_limits: config.limits.connections,
            reloadable: Reloadable {
                access,
                tls,
                check_interval: config.access.check_interval,
            },
            tree,
            tree_join,
            store,
            shutdown_timeout: config.shutdown_timeout,
            metrics_upkeep,
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

    /// The served certificate, to reload it while serving (`None`: plain HTTP).
    pub fn tls(&self) -> Option<ServerTls> {
        self.reloadable.tls.clone()
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
            connection_limits,
            reloadable,
            tree,
            mut tree_join,
            shutdown_timeout,
            metrics_upkeep,
            ..
        } = self;
        // The deadline clock starts when the shutdown signal arrives, not when serving starts,
        // and bounds the whole exit: HTTP drain, then the shards' final commits.
        let (signalled_tx, signalled_rx) = tokio::sync::watch::channel(None::<Instant>);
        let signalled = async move {
            shutdown.await;
            let _ = signalled_tx.send(Some(Instant::now()));
        };
        let tls = reloadable.tls.clone();
        let reloader =
            (!reloadable.has_nothing_to_reload()).then(|| tokio::spawn(reloadable.run()));
        let server = http::serve(listener, router, connection_limits, tls, signalled);
        let mut deadline_rx = signalled_rx.clone();
        let deadline = async move {
            match deadline_rx.wait_for(Option::is_some).await.map(|at| *at) {
                Ok(Some(at)) => tokio::time::sleep_until((at + shutdown_timeout).into()).await,
                // The signal future was dropped without firing: there is no deadline.
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            served = server => served.context("HTTP server failed")?,
            _ = &mut tree_join => bail!("actor tree stopped unexpectedly"),
            () = deadline => warn!(?shutdown_timeout, "in-flight requests outlived the shutdown deadline"),
        }
        let signalled_at = signalled_rx.borrow().unwrap_or_else(Instant::now);
        let remaining = (signalled_at + shutdown_timeout).saturating_duration_since(Instant::now());
        info!(?remaining, "HTTP stopped, draining shards");
        tree.shutdown(remaining.max(MIN_TREE_DRAIN)).await;
        if tokio::time::timeout(MIN_TREE_DRAIN, tree_join)
            .await
            .is_err()
        {
            warn!("actor tree did not stop within the deadline");
        }
        metrics_upkeep.abort();
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        Ok(())
    }
}

/// What the server checks before it binds: the API keys and the TLS certificate load, and an
/// address off the loopback has keys (or is explicitly served open). `aggregator config check`
/// runs the same checks.
pub fn preflight(config: &AppConfig) -> anyhow::Result<(AccessControl, Option<ServerTls>)> {
    let access = access_control(config)?;
    let tls = config
        .tls
        .clone()
        .map(ServerTls::load)
        .transpose()
        .context("failed to load the TLS certificate")?;
    Ok((access, tls))
}

/// The API keys of `config`, or none, which only a loopback address may be served with
/// (unless `allow_unauthenticated`): a fresh install is never open to the network by mistake.
fn access_control(config: &AppConfig) -> anyhow::Result<AccessControl> {
    if let Some(path) = &config.access.keys_file {
        return AccessControl::from_keys_file(path).context("failed to load the API keys");
    }
    if !config.bind.ip().is_loopback() && !config.access.allow_unauthenticated {
        bail!(
            "refusing to serve {} without API keys: give --keys-file (create one with \
             `aggregator keys add`), or --allow-unauthenticated to serve it open",
            config.bind
        );
    }
    if !config.bind.ip().is_loopback() {
        warn!(bind = %config.bind, "serving without API keys on a non-loopback address");
    }
    Ok(AccessControl::without_keys())
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
