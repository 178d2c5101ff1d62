//! The real `aggregator` binary as a child process, with an environment cleaned of everything
//! that configures it (`DATABASE_URL`, `AGG_*`): spawn, wait until ready, `kill -9`, SIGTERM;
//! and [`FreshAggregator`], the binary on a fresh database of its own.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::Child;

use super::app::wait_for_ready_status;
use super::db::TestDb;

/// How long [`AggregatorProcess::start`] waits for `/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// `aggregator` (the binary of this package) with `DATABASE_URL` and every `AGG_*` variable
/// removed from its environment, so that only its arguments configure it.
pub fn aggregator_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_aggregator"));
    command.env_remove("DATABASE_URL");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AGG_") {
            command.env_remove(name);
        }
    }
    command
}

/// A memory figure of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), in MiB; `pid` may be `self`.
pub fn proc_status_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .unwrap_or_else(|| panic!("{field} missing from /proc/{pid}/status"));
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}

/// A port that was free a moment ago (for the real binary, which must be told its port).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a bound address").port()
}

/// What the real binary needs to run on its own fresh PostgreSQL database: the database, a
/// port and a log file in a temporary directory. [`FreshAggregator::start`] may be called again
/// after a `kill -9` to restart on the same port and database.
pub struct FreshAggregator {
    /// The database, for counting rows.
    pub db: TestDb,
    /// The port every start listens on.
    pub port: u16,
    /// Holds the log file; removed when dropped.
    logs: tempfile::TempDir,
}

impl FreshAggregator {
    /// A fresh database (see [`TestDb::create`]), a port that was free and a log directory.
    pub async fn create() -> Self {
        Self {
            db: TestDb::create().await,
            port: free_port(),
            logs: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// The log every start appends to.
    pub fn log(&self) -> PathBuf {
        self.logs.path().join("aggregator.log")
    }

    /// Starts `aggregator serve` on the port and the database, and waits for `/ready`.
    pub async fn start(&self) -> AggregatorProcess {
        AggregatorProcess::start(self.port, &self.db.serve_args(), &self.log()).await
    }
}

/// A running `aggregator serve`; killed when dropped.
pub struct AggregatorProcess {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The port it listens on.
    port: u16,
    child: Child,
}

impl AggregatorProcess {
    /// Starts `aggregator serve --bind 127.0.0.1:<port> <args>` with a clean environment (see
    /// [`aggregator_command`]), logs appended to `log`, and waits for `/ready`.
    pub async fn start(port: u16, args: &[String], log: &Path) -> Self {
        let open_log = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("the log file opens")
        };
        let mut command = tokio::process::Command::from(aggregator_command());
        command
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(open_log())
            .stderr(open_log())
            .kill_on_drop(true);
        let child = command.spawn().expect("the aggregator binary starts");
        let process = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            child,
        };
        let ready = wait_for_ready_status(&process.base_url, 200, READY_TIMEOUT).await;
        assert!(
            ready,
            "the aggregator was not ready within 30 s; its log: {}",
            log.display()
        );
        process
    }

    /// The port it listens on (a restart on the same port keeps its address).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// `kill -9` and reap.
    pub async fn kill9(mut self) {
        self.child.kill().await.expect("kill -9 and reap");
    }

    /// Sends SIGTERM (through the `kill` command).
    pub async fn terminate(&self) {
        let status = tokio::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .await
            .expect("the kill command runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit, at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the aggregator did not exit within {timeout:?}"))
            .expect("the exit status")
    }
}
