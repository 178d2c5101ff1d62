//! The real OpenTelemetry SDK as the client: finds the Python interpreter of the venv that
//! `scripts/test.sh` makes (`target/otel-venv`, or `$AGG_OTEL_PYTHON`; see
//! [`venv_python`] for what happens without it), runs `export_logs.py` beside this file as a
//! child process, and reads the figures it prints when done. It logs the records of
//! [`crate::common::python::record_messages`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;
use tokio::task::JoinHandle;

use crate::common::python::venv_python;

/// The exporter script, beside this file.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp/export_logs.py");

/// The Python interpreter with `opentelemetry-sdk` and `opentelemetry-exporter-otlp-proto-http`,
/// or `None` (after printing `skipped: …`) when it is missing outside CI; fails under CI.
pub fn python() -> Option<PathBuf> {
    venv_python("otel-venv", "AGG_OTEL_PYTHON", "the OpenTelemetry SDK")
}

/// How one export is configured.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// `max_export_batch_size` of the SDK's `BatchLogRecordProcessor`.
    pub batch_size: usize,
    /// `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` when set.
    pub gzip: bool,
    /// The exporter's `timeout` in seconds (the SDK's default, 10 s, when `None`).
    pub timeout_s: Option<u32>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            batch_size: 512, // the SDK's default
            gzip: false,
            timeout_s: None,
        }
    }
}

/// What `export_logs.py` prints once it has flushed and shut the SDK down.
#[derive(Debug, Deserialize)]
pub struct ExportReport {
    pub logged: usize,
    pub total_s: f64,
    pub batches_exported: u64,
    pub batches_failed: u64,
    pub records_exported: usize,
    pub records_failed: usize,
    /// HTTP requests the exporter made, retries included.
    pub http_attempts: u64,
    /// Answers by status.
    pub http_statuses: BTreeMap<String, u64>,
    /// Requests that got no answer, by `requests` exception name.
    pub transport_errors: BTreeMap<String, u64>,
    /// Requests by `Content-Encoding` (`identity` without one).
    pub content_encodings: BTreeMap<String, u64>,
}

impl ExportReport {
    /// Requests that got no answer (connection refused or reset, ...).
    pub fn transport_error_count(&self) -> u64 {
        self.transport_errors.values().sum()
    }
}

/// A running `export_logs.py`; killed when dropped.
pub struct Export {
    child: Child,
    /// Reads the script's stderr as it comes; ends with all of it.
    stderr: JoinHandle<String>,
    /// Retries the SDK has announced on stderr so far.
    retries: Arc<AtomicUsize>,
}

impl Export {
    /// Starts logging `count` records of run `run_id` to `endpoint` through the SDK.
    pub fn start(
        python: &Path,
        endpoint: &str,
        count: usize,
        run_id: &str,
        options: &ExportOptions,
    ) -> Self {
        let mut command = tokio::process::Command::new(python);
        command
            .arg(SCRIPT)
            .arg(endpoint)
            .arg(count.to_string())
            .arg(run_id)
            .arg("--batch-size")
            .arg(options.batch_size.to_string());
        if let Some(timeout) = options.timeout_s {
            command.arg("--timeout").arg(timeout.to_string());
        }
        // Only what the test asks configures the SDK.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(name);
            }
        }
        if options.gzip {
            command.env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the exporter script starts");
        let retries = Arc::new(AtomicUsize::new(0));
        let stderr = {
            let pipe = child.stderr.take().expect("a stderr pipe");
            let retries = retries.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                let mut all = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    // The SDK's warning before each backoff (`http.py`).
                    if line.contains("Transient error") {
                        retries.fetch_add(1, Ordering::SeqCst);
                    }
                    all.push_str(&line);
                    all.push('\n');
                }
                all
            })
        };
        Self {
            child,
            stderr,
            retries,
        }
    }

    /// Whether the script is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("the exporter's status")
            .is_none()
    }

    /// How many retries the SDK has announced so far ("Transient error ..., retrying in
    /// N s"; its duplicate filter may fold repeats of the same warning).
    pub fn retries_logged(&self) -> usize {
        self.retries.load(Ordering::SeqCst)
    }

    /// Waits for the script to end, at most `timeout`; it must succeed. Returns its report and
    /// its stderr (the SDK's warnings: retries, failed batches).
    pub async fn finish(mut self, timeout: Duration) -> (ExportReport, String) {
        let mut stdout = String::new();
        let mut pipe = self.child.stdout.take().expect("a stdout pipe");
        let ended = tokio::time::timeout(timeout, async {
            pipe.read_to_string(&mut stdout).await?;
            self.child.wait().await
        })
        .await
        .unwrap_or_else(|_| panic!("the exporter did not finish within {timeout:?}"))
        .expect("the exporter's output");
        let stderr = self.stderr.await.expect("the stderr reader");
        assert!(
            ended.success(),
            "the exporter failed ({ended}):\n{stdout}\n{stderr}"
        );
        let report = serde_json::from_str(stdout.trim()).unwrap_or_else(|err| {
            panic!("the exporter's report ({err}): {stdout:?}\nstderr:\n{stderr}")
        });
        (report, stderr)
    }
}
