//! The real `aggregator` binary as a child process: spawn, wait until ready, `kill -9`, SIGTERM.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::app::ready_status;
use super::wait_until;

/// A running `aggregator serve`; killed when dropped.
pub struct AggregatorProcess {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    child: Child,
}

impl AggregatorProcess {
    /// Starts `aggregator serve --bind 127.0.0.1:<port> <args>` with a clean environment (no
    /// `DATABASE_URL`, no `AGG_*`), logs appended to `log`, and waits for `/ready`.
    pub async fn start(port: u16, args: &[String], log: &PathBuf) -> Self {
        let open_log = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap()
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_aggregator"));
        command
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(open_log())
            .stderr(open_log())
            .kill_on_drop(true);
        for (name, _) in std::env::vars() {
            if name.starts_with("AGG_") {
                command.env_remove(name);
            }
        }
        let child = command.spawn().expect("the aggregator binary starts");
        let process = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let base_url = process.base_url.clone();
        let ready = wait_until(
            || {
                let base_url = base_url.clone();
                async move { ready_status(&base_url).await == Some(200) }
            },
            Duration::from_secs(30),
        )
        .await;
        assert!(
            ready,
            "the aggregator was not ready within 30 s; its log: {}",
            log.display()
        );
        process
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// `kill -9` and reap.
    pub async fn kill9(mut self) {
        self.child.kill().await.unwrap();
    }

    /// Sends SIGTERM (through the `kill` command).
    pub async fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .await
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit, at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the aggregator did not exit within {timeout:?}"))
            .unwrap()
    }
}
