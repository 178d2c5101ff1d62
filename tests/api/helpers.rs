//! The fixture every API test starts from: [`spawn_app`] gives a running aggregator on port 0,
//! backed by a fresh PostgreSQL database of its own, plus a reqwest client and shortcuts for the
//! endpoints. Tests build [`ServeConfig`] values directly and never touch the environment; the
//! only variables read are `TEST_DATABASE_URL` (where PostgreSQL is) and `TEST_LOG` (show logs).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aggregator::app::App;
use aggregator::config::ServeConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// Where PostgreSQL is expected when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Timestamp of the events built by [`event`].
pub const EVENT_TIMESTAMP: &str = "2024-05-01T12:00:00Z";

/// The maintenance URL: a database the tests may connect to in order to create their own.
pub fn maintenance_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.into())
}

/// `url` with its database name replaced by `name` (the query string, if any, is kept).
pub fn url_with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("database URL has a scheme");
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let query = tail.split_once('?').map(|(_, query)| query);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

/// `url` with its host and port replaced by `address` (user and database are kept), e.g. to go
/// through a [`crate::proxy::TcpProxy`].
pub fn url_with_address(url: &str, address: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("database URL has a scheme");
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority.rsplit_once('@').map(|(user, _)| user);
    match user {
        Some(user) => format!("{scheme}://{user}@{address}/{tail}"),
        None => format!("{scheme}://{address}/{tail}"),
    }
}

/// The PostgreSQL server address named by the maintenance URL (for the proxy's upstream).
pub fn postgres_address() -> SocketAddr {
    let config: tokio_postgres::Config =
        maintenance_url().parse().expect("valid TEST_DATABASE_URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let host = if host == "localhost" {
        "127.0.0.1".into()
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .expect("TEST_DATABASE_URL names an IP host")
}

/// Creates an empty database `test_<uuid>` and returns its name. Databases are never reused or
/// dropped mid-run, so a failed test leaves its data behind for inspection.
pub async fn create_database() -> String {
    let name = format!("test_{}", Uuid::new_v4().simple());
    let url = maintenance_url();
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|err| {
            panic!(
                "cannot reach PostgreSQL at {url}: {err}\n\
             The API tests need a running PostgreSQL server that trusts the user in the URL.\n\
             Start one (e.g. `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust \
             postgres:16`) or point TEST_DATABASE_URL at one."
            )
        });
    tokio::spawn(connection);
    client
        .batch_execute(&format!(r#"CREATE DATABASE "{name}""#))
        .await
        .unwrap_or_else(|err| panic!("cannot create test database {name}: {err}"));
    name
}

/// The configuration every test starts from: port 0 on loopback, the given database.
pub fn test_config(database_url: &str) -> ServeConfig {
    let mut config = ServeConfig {
        bind: "127.0.0.1:0".parse().expect("valid address"),
        ..ServeConfig::default()
    };
    config.store.database_url = Some(database_url.into());
    config
}

/// A valid event: the given key, a fixed timestamp and source, a small payload.
pub fn event(topic: &str, event_id: &str) -> Value {
    json!({
        "topic": topic,
        "event_id": event_id,
        "timestamp": EVENT_TIMESTAMP,
        "source": "test-suite",
        "payload": {"topic": topic, "event_id": event_id},
    })
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; tells which happened.
pub async fn wait_until<F, Fut>(mut condition: F, timeout: Duration) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

/// A running app: the shutdown trigger and the task serving it.
struct Running {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// An aggregator under test, with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the running app.
    pub address: String,
    /// A client shared by every request of the test.
    pub client: reqwest::Client,
    /// Name of the test's database.
    pub db_name: String,
    /// Direct URL of the test's database (never through a proxy), for checks in SQL.
    pub db_url: String,
    /// The configuration the app runs with; [`TestApp::restart`] reuses it.
    pub config: ServeConfig,
    running: Option<Running>,
}

/// An app with the default test configuration on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// An app on a fresh database whose configuration `configure` may adjust (limits, timeouts,
/// or the database URL, e.g. to go through a proxy).
pub async fn spawn_app_with(configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    init_test_logging();
    let db_name = create_database().await;
    let db_url = url_with_database(&maintenance_url(), &db_name);
    let mut config = test_config(&db_url);
    configure(&mut config);
    let mut app = TestApp {
        address: String::new(),
        client: reqwest::Client::new(),
        db_name,
        db_url,
        config,
        running: None,
    };
    app.start().await;
    app
}

impl TestApp {
    async fn start(&mut self) {
        assert!(self.running.is_none(), "the app is already running");
        let app = App::build(self.config.clone())
            .await
            .expect("the app builds");
        self.address = format!("http://127.0.0.1:{}", app.port());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        self.running = Some(Running { shutdown, task });
    }

    /// Gracefully stops the app (HTTP first, then the actor tree) and waits until it has.
    pub async fn stop(&mut self) {
        let running = self.running.take().expect("the app is running");
        let _ = running.shutdown.send(());
        let stopped = tokio::time::timeout(Duration::from_secs(30), running.task)
            .await
            .expect("the app stops within 30 s")
            .expect("the app task does not panic");
        stopped.expect("the app stops cleanly");
    }

    /// Stops the app gracefully and starts a new one on the same database and configuration.
    /// The new app listens on a new port; `address` is updated.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`; the body must be JSON.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("GET sent");
        json_response(response).await
    }

    /// `POST /publish` with a JSON body.
    pub async fn publish(&self, body: &Value) -> (StatusCode, Value) {
        self.publish_raw(serde_json::to_vec(body).expect("serialisable body"))
            .await
    }

    /// `POST /publish` with exactly these bytes; the answer must be JSON whatever they are.
    pub async fn publish_raw(&self, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url("/publish"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /publish sent");
        json_response(response).await
    }

    /// `POST /publish` that must succeed; returns the answer.
    pub async fn publish_ok(&self, body: &Value) -> Value {
        let (status, answer) = self.publish(body).await;
        assert_eq!(status, StatusCode::OK, "publish failed: {answer}");
        answer
    }

    /// `GET /stats`, which must succeed.
    pub async fn stats(&self) -> Value {
        let (status, stats) = self.get("/stats").await;
        assert_eq!(status, StatusCode::OK, "GET /stats failed: {stats}");
        stats
    }

    /// `GET /events?<query>` (`query` without the `?`).
    pub async fn events(&self, query: &str) -> (StatusCode, Value) {
        self.get(&format!("/events?{query}")).await
    }

    /// A valid event with this key (see [`event`]).
    pub fn event(&self, topic: &str, event_id: &str) -> Value {
        event(topic, event_id)
    }

    /// A new connection straight to the test database.
    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.db_url, NoTls)
            .await
            .expect("test database reachable");
        tokio::spawn(connection);
        client
    }

    /// Rows in the `events` table, counted in SQL.
    pub async fn row_count(&self) -> i64 {
        let row = self
            .db()
            .await
            .query_one("SELECT count(*) FROM events", &[])
            .await
            .unwrap_or_else(|err| panic!("cannot count rows in {}: {err}", self.db_name));
        row.get(0)
    }

    /// Publishes a valid event whose `field` is set to `value` (removed when `None`) and asserts
    /// the answer is a 422 naming exactly that field of event 0 with `reason`, with nothing
    /// stored.
    pub async fn assert_field_rejected(&self, field: &str, value: Option<Value>, reason: &str) {
        let mut event = self.event("topic", "id");
        match value {
            Some(value) => event[field] = value,
            None => {
                event.as_object_mut().expect("an object").remove(field);
            }
        }
        let (status, body) = self.publish(&event).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(
            body,
            json!({
                "error": "validation failed",
                "details": [{"index": 0, "field": field, "reason": reason}],
            }),
            "{field}"
        );
        self.assert_nothing_stored().await;
    }

    /// Asserts that no event was stored and no counter moved.
    pub async fn assert_nothing_stored(&self) {
        assert_eq!(self.row_count().await, 0, "rows were stored");
        let stats = self.stats().await;
        assert_eq!(stats["received"], 0, "counters moved: {stats}");
        assert_eq!(stats["topics"], json!([]), "topics appeared: {stats}");
    }
}

/// Status and JSON body of a response; panics (failing the test) when the body is not JSON.
pub async fn json_response(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body readable");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{status} answer is not JSON ({err}): {text:?}"));
    (status, body)
}

/// The `(topic, event_id)` of each result of a publish answer, in request order.
pub fn result_keys(answer: &Value) -> Vec<(String, String)> {
    answer["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .map(|result| {
            let field = |name: &str| result[name].as_str().expect("a string").to_owned();
            (field("topic"), field("event_id"))
        })
        .collect()
}

/// The outcomes (`"new"`/`"duplicate"`) of a publish answer, in request order.
pub fn outcomes(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .map(|result| {
            result["outcome"]
                .as_str()
                .expect("outcome is a string")
                .to_owned()
        })
        .collect()
}
