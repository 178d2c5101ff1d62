//! The formation's processes: `pg_autoctl` commands run as the PostgreSQL user with their state
//! kept under the cluster's directory (one-shot, or as a long-running keeper in a process group
//! of its own), finding a postmaster by its `postmaster.pid`, and signals by process id.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};

use super::formation::HaCluster;
use super::timings::COMMAND_TIMEOUT;

/// The `pg_autoctl` binary (Debian package `pg-auto-failover-cli`).
const PG_AUTOCTL: &str = "pg_autoctl";

impl HaCluster {
    /// `pg_autoctl <args>` in the cluster's directory, as the PostgreSQL user, with
    /// `pg_autoctl`'s configuration and state kept under the cluster's directory.
    pub(super) fn pg_autoctl(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(PG_AUTOCTL);
        command.args(args).current_dir(&self.root);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                command.env_remove(name);
            }
        }
        command
            .env("HOME", &self.root)
            .env("XDG_CONFIG_HOME", self.root.join("config"))
            .env("XDG_DATA_HOME", self.root.join("data"))
            .env("XDG_RUNTIME_DIR", self.root.join("run"))
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Runs a one-shot command, its output appended to `commands.log`; returns its stdout and
    /// panics if it fails or outlasts [`COMMAND_TIMEOUT`].
    pub(super) async fn run_once(&self, what: &str, command: std::process::Command) -> String {
        let mut command = tokio::process::Command::from(command);
        command.kill_on_drop(true);
        let output = tokio::time::timeout(COMMAND_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("pg_autoctl {what} took over {COMMAND_TIMEOUT:?}"))
            .unwrap_or_else(|err| {
                panic!("cannot run {PG_AUTOCTL} ({err}); is pg-auto-failover-cli installed?")
            });
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if let Ok(mut log) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("commands.log"))
        {
            use std::io::Write;
            let _ = writeln!(
                log,
                "=== pg_autoctl {what}: {}\n{stdout}{stderr}",
                output.status
            );
        }
        assert!(
            output.status.success(),
            "pg_autoctl {what} failed ({}):\n{stdout}{stderr}",
            output.status
        );
        stdout
    }

    /// Starts a keeper in a process group of its own (so that its services and PostgreSQL can
    /// be signalled with it), its output appended to `log`.
    pub(super) fn spawn_keeper(&self, mut command: std::process::Command, log: &Path) -> Child {
        let open_log = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("the keeper's log opens")
        };
        command
            .process_group(0)
            .stdout(open_log())
            .stderr(open_log());
        command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {PG_AUTOCTL}: {err}"))
    }
}

/// The pid in `pgdata/postmaster.pid`, if that process is alive and runs on `pgdata`.
pub(super) fn postmaster_pid(pgdata: &Path) -> Option<u32> {
    let content = std::fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let pid: u32 = content.lines().next()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    let runs_here = String::from_utf8_lossy(&cmdline).contains(&*pgdata.to_string_lossy());
    (runs_here && !zombie).then_some(pid)
}

/// `kill -<signal> <pid>`.
pub(super) fn signal(pid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// `kill -<signal> -- -<pgid>`: the keeper's whole process group.
pub(super) fn signal_group(keeper: &Child, signal: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{}", keeper.id()))
        .stderr(Stdio::null())
        .status();
}
