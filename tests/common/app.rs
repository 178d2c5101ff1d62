//! The one app fixture of every test binary: [`spawn_app`] runs the whole app inside the test
//! process on port 0, backed by a fresh PostgreSQL database of its own, as a [`TestApp`] that can
//! be stopped and restarted; plus `/ready`, the HTTP read every kind of test makes of a running
//! aggregator. Tests build [`AppConfig`] values directly and never touch the environment; the
//! only variables read are `TEST_DATABASE_URL` (where PostgreSQL is) and `TEST_LOG` (show logs).
//! Suite-specific shortcuts (the API suite's publish helpers, ...) live in their suites.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use aggregator::app::{App, AppConfig};
use aggregator::client::{Client, ClientAccess, RetryPolicy, ServerStats};
use aggregator::http::ServerTls;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::db::TestDb;
use super::wait::wait_until;

/// How long [`RunningApp::stop`] waits for a graceful shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The configuration tests start from: port 0 on loopback, the given database.
pub fn test_config(database_url: &str) -> AppConfig {
    let mut config = AppConfig {
        bind: "127.0.0.1:0".parse().expect("valid address"),
        ..AppConfig::default()
    };
    config.store.database_url = Some(database_url.into());
    config
}

/// An aggregator running inside the test process.
pub struct RunningApp {
    /// Where it listens (127.0.0.1 and the port it was given).
    pub address: SocketAddr,
    /// `http://127.0.0.1:<port>`, or `https://` when the app serves TLS.
    pub base_url: String,
    /// The served certificate, to reload it (`None`: plain HTTP).
    pub tls: Option<ServerTls>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Builds the app from `config` and serves it in a task until [`RunningApp::stop`].
pub async fn start_app(config: AppConfig) -> RunningApp {
    init_test_logging();
    let app = App::build(config).await.expect("the app builds");
    let address = app.address();
    let tls = app.tls();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://127.0.0.1:{}", app.port());
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    RunningApp {
        address,
        base_url,
        tls,
        shutdown,
        task,
    }
}

impl RunningApp {
    /// Triggers a graceful shutdown (HTTP first, then the actor tree) and waits for it; fails
    /// if the app had already stopped, does not stop within 30 s, panics or ends with an error.
    pub async fn stop(self) {
        self.shutdown
            .send(())
            .expect("the app is still running when asked to stop");
        let stopped = tokio::time::timeout(STOP_TIMEOUT, self.task)
            .await
            .expect("the app stops within 30 s")
            .expect("the app task does not panic");
        stopped.expect("the app stops cleanly");
    }
}

/// An aggregator under test, with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the running app; a restart changes the port.
    pub base_url: String,
    /// A client shared by every request of the test.
    pub client: reqwest::Client,
    /// The test's database (its direct URL, never through a proxy, for checks in SQL).
    pub db: TestDb,
    /// The configuration the app runs with; [`TestApp::restart`] reuses it.
    pub config: AppConfig,
    running: Option<RunningApp>,
}

/// An app with the default test configuration on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// An app on a fresh database whose configuration `configure` may adjust (limits, timeouts,
/// chaos, or the database URL, e.g. to go through a proxy).
pub async fn spawn_app_with(configure: impl FnOnce(&mut AppConfig)) -> TestApp {
    spawn_app_on(TestDb::create().await, configure).await
}

/// Like [`spawn_app_with`] on a given database: `store.database_url` is preset to it, and
/// `configure` may point it elsewhere (e.g. at a proxy of the same database).
pub async fn spawn_app_on(db: TestDb, configure: impl FnOnce(&mut AppConfig)) -> TestApp {
    let mut config = test_config(&db.url);
    configure(&mut config);
    let mut app = TestApp {
        base_url: String::new(),
        client: reqwest::Client::new(),
        db,
        config,
        running: None,
    };
    app.start().await;
    app
}

impl TestApp {
    async fn start(&mut self) {
        assert!(self.running.is_none(), "the app is already running");
        let running = start_app(self.config.clone()).await;
        self.base_url = running.base_url.clone();
        self.running = Some(running);
    }

    /// Gracefully stops the app (HTTP first, then the actor tree) and waits until it has;
    /// fails if the app ended with an error.
    pub async fn stop(&mut self) {
        self.running
            .take()
            .expect("the app is running")
            .stop()
            .await;
    }

    /// Stops the app gracefully and starts a new one on the same database and configuration.
    /// The new app listens on a new port; `base_url` is updated.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `GET /stats`, decoded by the client library; must succeed.
    pub async fn stats(&self) -> ServerStats {
        get_stats(&self.base_url).await
    }
}

/// `GET /stats` of the aggregator at `base_url`, decoded by the client library; must succeed
/// (retried for a few seconds, like any client read).
pub async fn get_stats(base_url: &str) -> ServerStats {
    let policy = RetryPolicy::within(Duration::from_secs(5));
    let client = Client::new(
        base_url,
        Duration::from_secs(10),
        policy,
        &ClientAccess::default(),
    )
    .expect("an HTTP client");
    client.stats().await.expect("GET /stats")
}

/// Status of `GET /ready` of the aggregator at `base_url`, or `None` when nothing answers.
pub async fn ready_status(base_url: &str) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    let response = client.get(format!("{base_url}/ready")).send().await.ok()?;
    Some(response.status().as_u16())
}

/// Polls `GET /ready` of the aggregator at `base_url` until it answers `status`, at most
/// `timeout`; tells whether it did.
pub async fn wait_for_ready_status(base_url: &str, status: u16, timeout: Duration) -> bool {
    wait_until(
        || async move { ready_status(base_url).await == Some(status) },
        timeout,
    )
    .await
}

/// Logs go to the test output only when `TEST_LOG` is set.
fn init_test_logging() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}
