//! The real Loki client: finds the Python interpreter with PyPI's `python-logging-loki`
//! (`target/loki-venv`, which `scripts/test.sh` makes, or `$AGG_LOKI_PYTHON`; see
//! [`venv_python`] for what happens without it), runs `push_logs.py` beside this file, and
//! reads the figures it prints when done. It logs the records of
//! [`crate::common::python::record_messages`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;

use crate::common::python::venv_python;

/// The client script, beside this file.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/loki/push_logs.py");
/// How long one run of the script may take (it sends one request per record).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The Python interpreter with `python-logging-loki`, or `None` (after printing `skipped: …`)
/// when it is missing outside CI; fails under CI.
pub fn python() -> Option<PathBuf> {
    venv_python("loki-venv", "AGG_LOKI_PYTHON", "python-logging-loki")
}

/// Whether `push_logs.py` logs record `i` at ERROR (every hundredth), else INFO.
pub fn is_error(i: usize) -> bool {
    i % 100 == 99
}

/// What `push_logs.py` prints once every record went through the handler.
#[derive(Debug, Deserialize)]
pub struct PushReport {
    pub logged: usize,
    /// HTTP requests the handler made (one per record).
    pub requests: u64,
    /// Answers by status.
    pub statuses: BTreeMap<String, u64>,
    /// Requests that got no answer, by `requests` exception name.
    pub transport_errors: BTreeMap<String, u64>,
    /// Requests by `Content-Type`.
    pub content_types: BTreeMap<String, u64>,
    /// Records the handler failed to send (a status other than 204, or no answer).
    pub handler_failures: u64,
    /// SHA-256 of every request body, in order: equal for two runs that sent the same bytes.
    pub bodies_sha256: String,
    pub total_s: f64,
}

/// Runs `push_logs.py`: `count` records of run `run_id` through the handler to `url`, with the
/// handler's clock fixed to start at `clock_ns` when given. It must succeed; returns its report
/// and its stderr.
pub async fn push_logs(
    python: &Path,
    url: &str,
    count: usize,
    run_id: &str,
    clock_ns: Option<i128>,
) -> (PushReport, String) {
    let mut command = tokio::process::Command::new(python);
    command
        .arg(SCRIPT)
        .arg(url)
        .arg(count.to_string())
        .arg(run_id);
    if let Some(start) = clock_ns {
        command.arg("--clock-ns").arg(start.to_string());
    }
    // `requests` honours proxy variables; the aggregator is on loopback.
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        command.env_remove(name).env_remove(name.to_lowercase());
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("the client script starts");
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the client did not finish within {RUN_TIMEOUT:?}"))
        .expect("the client's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "the client failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|err| panic!("the client's report ({err}): {stdout:?}\nstderr:\n{stderr}"));
    (report, stderr)
}

/// Asserts every record of `report` was one JSON request answered `204`.
pub fn assert_all_pushed(report: &PushReport, stderr: &str) {
    let records = report.logged as u64;
    assert_eq!(report.requests, records, "{report:?}\n{stderr}");
    assert_eq!(
        report.statuses,
        BTreeMap::from([("204".to_owned(), records)]),
        "{report:?}\n{stderr}"
    );
    assert_eq!(
        report.content_types,
        BTreeMap::from([("application/json".to_owned(), records)]),
        "{report:?}"
    );
    assert_eq!(report.handler_failures, 0, "{report:?}\n{stderr}");
    assert!(report.transport_errors.is_empty(), "{report:?}\n{stderr}");
}
