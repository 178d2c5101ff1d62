//! A real `rsyslogd` (Debian's `rsyslog` and `rsyslog-elasticsearch`) shipping to the
//! aggregator through its `omelasticsearch` output, run in the foreground beside any system
//! rsyslog: its own config file, work directory and pid file in a temporary directory, one
//! loopback `imtcp` input and nothing else (no `imuxsock`, no `imklog`, no `/dev/log`); killed
//! by its PID when dropped. Also `logger --tcp`, which feeds it, and its `impstats` counters.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::common::process::free_port;

/// How long rsyslogd may take to open its TCP input.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one `logger` run may take (it only writes to a local socket).
const LOGGER_TIMEOUT: Duration = Duration::from_secs(30);

/// The configuration (also the snippet of docs/shippers.md, "rsyslog"): documents are JSON with `@timestamp` (the
/// time the sender stamped, RFC 3339), `host`, `program` and `message`, indexed into
/// `syslog.<program>`, which becomes their topic. `action.resumeRetryCount="-1"` and the
/// in-memory action queue are what keep lines while the aggregator is down: rsyslog suspends
/// the action on a connection error and resends the whole batch when it is back.
/// `action.errorfile` (not needed in the documented snippet) is for the tests: every message rsyslog gives
/// up on is written there, so a lost line shows up in [`Rsyslog::log`].
pub fn config(work_dir: &Path, tcp_port: u16, http_port: u16) -> String {
    let work = work_dir.display();
    format!(
        r#"global(workDirectory="{work}")
module(load="imtcp")
module(load="omelasticsearch")
module(load="impstats" interval="1" format="json" log.syslog="off" log.file="{work}/impstats.json")
template(name="aggregator-doc" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="program" name="programname" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}}
template(name="aggregator-index" type="string" string="syslog.%programname%")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}" ruleset="to-aggregator")
ruleset(name="to-aggregator") {{
  action(type="omelasticsearch" server="127.0.0.1" serverport="{http_port}"
         template="aggregator-doc" searchIndex="aggregator-index" dynSearchIndex="on"
         bulkmode="on" errorFile="{work}/es-errors.json" action.errorfile="{work}/given-up.json"
         action.resumeRetryCount="-1" action.resumeInterval="1"
         queue.type="LinkedList" queue.size="100000" queue.dequeueBatchSize="200")
}}
"#
    )
}

/// A running `rsyslogd -n`; killed (SIGKILL, by its PID) and reaped when dropped.
pub struct Rsyslog {
    /// The loopback port of its `imtcp` input.
    pub tcp_port: u16,
    child: Child,
    dir: TempDir,
}

impl Rsyslog {
    /// Validates the configuration (`rsyslogd -N1`, which also fails when `omelasticsearch`
    /// is not installed), starts `rsyslogd -n` shipping to `127.0.0.1:<http_port>` and waits
    /// until its TCP input accepts connections.
    pub fn start(http_port: u16) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let tcp_port = free_port();
        let conf = dir.path().join("rsyslog.conf");
        std::fs::write(&conf, config(dir.path(), tcp_port, http_port)).unwrap();
        let check = Command::new(rsyslogd())
            .arg("-N1")
            .arg("-f")
            .arg(&conf)
            .output()
            .unwrap_or_else(|err| panic!("{err}: {INSTALL}"));
        assert!(
            check.status.success(),
            "rsyslogd -N1 refused the config ({INSTALL}):\n{}",
            String::from_utf8_lossy(&check.stderr)
        );
        let log = std::fs::File::create(dir.path().join("rsyslogd.log")).unwrap();
        let child = Command::new(rsyslogd())
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("rsyslogd does not start: {err}: {INSTALL}"));
        let mut rsyslog = Self {
            tcp_port,
            child,
            dir,
        };
        rsyslog.wait_for_input();
        rsyslog
    }

    fn wait_for_input(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.tcp_port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("rsyslogd exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not open its TCP input: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What rsyslogd wrote to stdout and stderr, the batches omelasticsearch reported as
    /// refused (its `errorFile`) and the messages rsyslog gave up on (`action.errorfile`: how
    /// many, and the first), for failure messages.
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        let given_up = read("given-up.json").unwrap_or_default();
        format!(
            "rsyslogd output:\n{}\nerror file:\n{}\nmessages given up: {}, first: {}",
            read("rsyslogd.log").unwrap_or_default(),
            read("es-errors.json").unwrap_or_else(|_| "(none)".into()),
            given_up.lines().count(),
            given_up.lines().next().unwrap_or("(none)")
        )
    }

    /// The transport failures rsyslog logged before suspending the action (curl's code and
    /// reason, e.g. `7 Couldn't connect to server` between requests, `52 Empty reply from
    /// server` when the aggregator died mid-request), each with how often.
    pub fn transport_failures(&self) -> Vec<(String, usize)> {
        let log = std::fs::read_to_string(self.dir.path().join("rsyslogd.log")).unwrap_or_default();
        let mut failures: Vec<(String, usize)> = Vec::new();
        for line in log.lines() {
            let Some((_, rest)) = line.split_once("server failure ") else {
                continue;
            };
            let rest = rest.split(" [v").next().unwrap_or(rest);
            let code = rest.split(':').next().unwrap_or_default();
            let reason = rest.rsplit(": ").next().unwrap_or_default();
            let failure = format!("{code} {reason}");
            match failures.iter_mut().find(|(known, _)| *known == failure) {
                Some((_, count)) => *count += 1,
                None => failures.push((failure, 1)),
            }
        }
        failures
    }

    /// The latest `omelasticsearch` counters of `impstats` (written every second), if any yet.
    pub fn counters(&self) -> Option<ShipperCounters> {
        let stats = std::fs::read_to_string(self.dir.path().join("impstats.json")).ok()?;
        let line = stats
            .lines()
            .rev()
            .find(|line| line.contains(r#""origin": "omelasticsearch""#))?;
        // Each line is `<ctime>: {json}`.
        let json: serde_json::Value = serde_json::from_str(&line[line.find('{')?..]).ok()?;
        let get = |name: &str| json[name].as_u64().unwrap_or(0);
        Some(ShipperCounters {
            submitted: get("submitted"),
            failed_requests: get("failed.httprequests"),
            failed_es: get("failed.es"),
        })
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        // `Child::kill` is `kill -9 <pid>` of this rsyslogd only, never of a system one.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// rsyslog's own view of its `omelasticsearch` action.
#[derive(Debug, Clone, Copy)]
pub struct ShipperCounters {
    /// Messages handed to the action, resends included.
    pub submitted: u64,
    /// Bulk requests that failed at the transport level (refused, reset): suspended, resent.
    pub failed_requests: u64,
    /// Bulk requests whose answer rsyslog took as an error (item errors, or a body that is not
    /// JSON): a refused batch is retried message by message, and a message refused alone is
    /// given up (see [`Rsyslog::log`]).
    pub failed_es: u64,
}

const INSTALL: &str = "these tests need rsyslogd with omelasticsearch \
                       (apt-get install rsyslog rsyslog-elasticsearch) and logger (bsdutils)";

fn rsyslogd() -> PathBuf {
    // Debian puts it in /usr/sbin, which a non-root PATH may lack.
    let sbin = PathBuf::from("/usr/sbin/rsyslogd");
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from("rsyslogd")
    }
}

/// Sends `lines` as syslog messages tagged `tag` to `127.0.0.1:<tcp_port>`, one `logger --tcp`
/// run reading them from its stdin (one message per line, one connection).
pub fn send_lines(tcp_port: u16, tag: &str, lines: &[String]) {
    let mut child = Command::new("logger")
        .args(["--tcp", "--server", "127.0.0.1", "--port"])
        .arg(tcp_port.to_string())
        .args(["--tag", tag])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("logger does not start: {err}: {INSTALL}"));
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").expect("logger reads its stdin");
    }
    drop(stdin);
    let deadline = Instant::now() + LOGGER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("logger did not finish within {LOGGER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "logger failed: {status}");
}
