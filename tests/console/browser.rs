//! A headless Chromium driven through WebDriver: [`Browser::launch`] starts Debian's
//! `chromedriver` on a free loopback port as a child process, waits for its `/status`, and opens
//! a session on a fixed 1280×900 window that records the page's console. The browser's log is
//! read through chromedriver's own `POST /session/{id}/se/log`, which drains what was logged
//! since the last read, so [`Browser`] keeps everything it has read, for
//! [`Browser::assert_clean_log`].
//!
//! [`Browser::run`] runs a test's body, saves a screenshot of the final page to
//! `target/ui-screenshots/<test>.png` whether the body passed or panicked, and ends the session
//! (Chromium quits); [`Browser::save_screenshot_sized`] saves one of an exact viewport size.
//! Dropping the [`Browser`] ends the session if that has not happened yet, then
//! kills chromedriver by its PID.
//!
//! Without chromedriver a test is skipped with "skipped: chromedriver not found", unless `CI`
//! is set: there the browser tests are required, and a missing driver fails them.

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use futures::FutureExt;
use serde_json::{json, Value};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::common::process::free_port;
use crate::common::wait::wait_until;

/// Where chromedriver is looked for when it is not on `PATH`.
const DEBIAN_CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to answer `/status` as ready.
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Browsers alive at once in this test binary, whatever `--test-threads` says: each is a
/// Chromium with its renderer, and the machines running the suite have two cores.
static BROWSER_SLOTS: Semaphore = Semaphore::const_new(2);

/// The window every test sees, so layouts (and drags measured in pixels) are the same.
const WINDOW_WIDTH: u32 = 1280;
const WINDOW_HEIGHT: u32 = 900;

/// One entry of the browser's console log, as chromedriver reports it.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO` or `DEBUG`.
    pub level: String,
    /// The text, prefixed by chromedriver with the URL and line that logged it.
    pub message: String,
}

/// A chromedriver child process, killed (by its PID) when dropped.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // `Child::kill` signals this child's own PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session on a headless Chromium, with its chromedriver.
pub struct Browser {
    /// The WebDriver client of the session.
    pub client: Client,
    /// The session's id, to end it from `Drop` when [`Browser::run`] did not.
    session_id: String,
    /// Whether the session has been ended already (by [`Browser::run`]).
    ended: AtomicBool,
    /// Every console entry read so far (chromedriver forgets what it has handed out).
    log: Mutex<Vec<LogEntry>>,
    // Dropped after the session is ended in `Drop::drop`, so Chromium never outlives its driver.
    driver: Chromedriver,
    _slot: SemaphorePermit<'static>,
}

/// chromedriver's `POST /session/{id}/se/log` for the browser's console log.
#[derive(Debug)]
struct ReadBrowserLog;

impl WebDriverCompatibleCommand for ReadBrowserLog {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, UrlParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        (
            reqwest::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// `url::ParseError`, named through reqwest's re-export of `url::Url` (`url` is no direct
/// dependency of this package).
type UrlParseError = <reqwest::Url as std::str::FromStr>::Err;

/// The chromedriver to run: the first on `PATH`, else Debian's.
fn find_chromedriver() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let debian = PathBuf::from(DEBIAN_CHROMEDRIVER);
        debian.is_file().then_some(debian)
    })
}

/// The session's capabilities: headless Chromium, fixed window, console log kept.
fn capabilities() -> Capabilities {
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                format!("--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}"),
            ],
        },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("the capabilities are a JSON object"),
    }
}

/// Whether chromedriver on `port` says it is ready for a new session.
async fn driver_ready(http: &reqwest::Client, port: u16) -> bool {
    let Ok(response) = http
        .get(format!("http://127.0.0.1:{port}/status"))
        .send()
        .await
    else {
        return false;
    };
    let Ok(status) = response.json::<Value>().await else {
        return false;
    };
    status["value"]["ready"] == json!(true)
}

/// Ends session `session_id` on the driver at `port` with a blocking `DELETE` (for `Drop`, which
/// cannot await the client), and reads the answer, which comes once Chromium has quit.
fn end_session_blocking(port: u16, session_id: &str) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
    let request = format!(
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Connection: close\r\nContent-Length: 0\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // chromedriver may keep the connection open: stop at the end of the answer's body.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(read) = stream.read(&mut chunk) {
        if read == 0 {
            return;
        }
        answer.extend_from_slice(&chunk[..read]);
        if answer_complete(&answer) {
            return;
        }
    }
}

/// Whether `answer` holds an HTTP/1.1 answer's head and all the body its `Content-Length` says.
fn answer_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok());
    length.is_none_or(|length| body.len() >= length)
}

/// `target/ui-screenshots/<test_name>.png`, its directory created.
fn screenshot_path(test_name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory is created");
    dir.join(format!("{test_name}.png"))
}

/// Width and height of a PNG, from its `IHDR` chunk (`None` if `png` is no PNG).
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let header = png.get(..24)?;
    if &header[..8] != b"\x89PNG\r\n\x1a\n" || &header[12..16] != b"IHDR" {
        return None;
    }
    let word = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    Some((word(16), word(20)))
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `None` (after printing
    /// "skipped: chromedriver not found") when there is no chromedriver and `CI` is not set.
    pub async fn launch() -> Option<Self> {
        let Some(chromedriver) = find_chromedriver() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromedriver not found (neither on PATH nor at {DEBIAN_CHROMEDRIVER}): the \
                 console tests need it in CI; install Debian's `chromium-driver` package"
            );
            println!("skipped: chromedriver not found");
            return None;
        };
        let slot = BROWSER_SLOTS
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let port = free_port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{} does not start: {err}", chromedriver.display()));
        let driver = Chromedriver { child, port };

        let http = reqwest::Client::new();
        let ready = wait_until(|| driver_ready(&http, port), DRIVER_READY_TIMEOUT).await;
        assert!(
            ready,
            "chromedriver was not ready within {DRIVER_READY_TIMEOUT:?}"
        );

        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("chromedriver opens a Chromium session");
        let session_id = client
            .session_id()
            .await
            .expect("the session answers")
            .expect("a session has an id");
        Some(Self {
            client,
            session_id,
            ended: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            driver,
            _slot: slot,
        })
    }

    /// Runs `body`, then saves a screenshot of the page as `target/ui-screenshots/<test_name>.png`
    /// and ends the session (also when `body` panics, before the panic goes on).
    pub async fn run(&self, test_name: &str, body: impl Future<Output = ()>) {
        let outcome = AssertUnwindSafe(body).catch_unwind().await;
        match self.client.screenshot().await {
            Ok(png) => {
                let path = screenshot_path(test_name);
                if let Err(err) = std::fs::write(&path, png) {
                    eprintln!("screenshot not saved to {}: {err}", path.display());
                }
            }
            Err(err) => eprintln!("no screenshot of {test_name}: {err}"),
        }
        if self.client.clone().close().await.is_ok() {
            self.ended.store(true, Ordering::SeqCst);
        }
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    /// Saves a screenshot of exactly `width`×`height` CSS pixels of the page as
    /// `target/ui-screenshots/<file_name>.png`: the window is resized so that its viewport (the
    /// window less what a headed browser would draw around it) has that size.
    pub async fn save_screenshot_sized(&self, file_name: &str, width: u32, height: u32) {
        let inner = self
            .js(
                "return [window.innerWidth, window.innerHeight];",
                Vec::new(),
            )
            .await;
        let (_, _, window_width, window_height) = self
            .client
            .get_window_rect()
            .await
            .expect("the window has a size");
        let size = |index: usize| inner[index].as_u64().expect("a viewport size");
        let margin_width = window_width.saturating_sub(size(0));
        let margin_height = window_height.saturating_sub(size(1));
        let outer_width = u32::try_from(u64::from(width) + margin_width).expect("a window width");
        let outer_height =
            u32::try_from(u64::from(height) + margin_height).expect("a window height");
        self.client
            .set_window_size(outer_width, outer_height)
            .await
            .expect("the window is resized");
        let png = self.client.screenshot().await.expect("a screenshot");
        assert_eq!(
            png_size(&png),
            Some((width, height)),
            "the screenshot's size in pixels"
        );
        let path = screenshot_path(file_name);
        std::fs::write(&path, png)
            .unwrap_or_else(|err| panic!("{} is written: {err}", path.display()));
    }

    /// Navigates to `url` (returns once the document has loaded; scripts may still be running).
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("the browser opens {url}: {err}"));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|err| panic!("the script runs: {err}\n{script}"))
    }

    /// Presses then releases each key of `keys` (characters, or [`fantoccini::key::Key`] codes)
    /// on whatever element has the focus, as a user's keyboard would.
    pub async fn press(&self, keys: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client
            .perform_actions(actions)
            .await
            .expect("the keys are pressed");
    }

    /// Every console entry logged so far (reads what chromedriver has not handed out yet).
    pub async fn log(&self) -> Vec<LogEntry> {
        let fresh = self
            .client
            .issue_cmd(ReadBrowserLog)
            .await
            .expect("chromedriver hands out the browser log");
        let entries = fresh.as_array().cloned().unwrap_or_default();
        let mut log = self.log.lock().expect("the log lock is not poisoned");
        log.extend(entries.iter().map(|entry| LogEntry {
            level: entry["level"].as_str().unwrap_or_default().to_owned(),
            message: entry["message"].as_str().unwrap_or_default().to_owned(),
        }));
        log.clone()
    }

    /// Fails when the page logged anything `SEVERE` (an uncaught error, a failed load, a
    /// `console.error`) or a Content Security Policy violation at any level.
    pub async fn assert_clean_log(&self) {
        self.assert_log_without(|entry| entry.level == "SEVERE")
            .await;
    }

    /// Like [`Browser::assert_clean_log`], but lets through the `SEVERE` lines Chromium writes by
    /// itself for an HTTP error answer ("Failed to load resource: … 401"), which a page that
    /// is refused a key receives by design.
    pub async fn assert_no_script_error(&self) {
        self.assert_log_without(|entry| {
            entry.level == "SEVERE" && !entry.message.contains("Failed to load resource")
        })
        .await;
    }

    /// Fails when an entry is `bad` or mentions the Content Security Policy.
    async fn assert_log_without(&self, bad: impl Fn(&LogEntry) -> bool) {
        let log = self.log().await;
        let found: Vec<&LogEntry> = log
            .iter()
            .filter(|entry| bad(entry) || entry.message.contains("Content Security Policy"))
            .collect();
        assert!(
            found.is_empty(),
            "the browser console has errors or CSP violations: {found:#?}"
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium quits when its session ends; chromedriver is killed after, with `driver`.
        if !self.ended.load(Ordering::SeqCst) {
            end_session_blocking(self.driver.port, &self.session_id);
        }
    }
}
