//! The whole app inside the test process, on port 0, with a shutdown trigger; and `/ready`, the
//! one HTTP read every kind of test makes of a running aggregator.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use aggregator::app::App;
use aggregator::app::AppConfig;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Builds the app from `config` and serves it in a task until [`RunningApp::stop`].
pub async fn start_app(config: AppConfig) -> RunningApp {
    init_test_logging();
    let app = App::build(config).await.expect("the app builds");
    let address = app.address();
    let base_url = format!("http://127.0.0.1:{}", app.port());
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    RunningApp {
        address,
        base_url,
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
