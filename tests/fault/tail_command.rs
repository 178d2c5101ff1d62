//! `aggregator tail` as a user runs it, against the real binary on the embedded store: it
//! prints every event once across a `kill -9` and restart of the server (it reconnects with
//! `Last-Event-ID`), and Ctrl-C (SIGINT) stops it with exit code 0 and the cursor to resume
//! with on stderr.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use aggregator::client::workload::WorkloadOptions;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::process::aggregator_command;
use crate::support::{free_port, send_until_acknowledged, AggregatorProcess};

/// Publishes `events` through `server` and waits until every batch is acknowledged.
async fn publish(server: &AggregatorProcess, events: u64, seed: u64) {
    let spec = WorkloadOptions {
        events,
        topics: 3,
        duplicate_ratio: 0.2,
        batch_size: 20,
        seed: Some(seed),
        ..WorkloadOptions::default()
    }
    .spec('c');
    send_until_acknowledged(&server.base_url, spec, 2, Duration::from_secs(60)).await;
}

/// Reads lines from the tail's stdout until `count` lines have arrived in all.
async fn read_lines(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    printed: &mut Vec<serde_json::Value>,
    count: usize,
) {
    while printed.len() < count {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("the tail printed {} of {count} lines", printed.len()))
            .unwrap()
            .expect("the tail is still running");
        printed.push(serde_json::from_str(&line).expect("each line is an event's JSON"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tail_command_prints_every_event_once_across_a_server_restart_and_stops_on_ctrl_c() {
    // Arrange
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = vec!["--data-dir".to_string(), data.path().display().to_string()];
    let server = AggregatorProcess::start(port, &args, &logs.path().join("1.log")).await;
    let mut tail = tokio::process::Command::from(aggregator_command())
        .args(["tail", "--json", "--from-start", "--url", &server.base_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(tail.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();

    // Act: events, a kill -9 and a restart of the server, more events, then Ctrl-C.
    publish(&server, 1_000, 1).await;
    read_lines(&mut lines, &mut printed, 800).await;
    server.kill9().await;
    let server = AggregatorProcess::start(port, &args, &logs.path().join("2.log")).await;
    publish(&server, 1_000, 2).await;
    read_lines(&mut lines, &mut printed, 1_600).await;
    let interrupt = tokio::process::Command::new("kill")
        .args(["-INT", &tail.id().unwrap().to_string()])
        .status()
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), tail.wait())
        .await
        .expect("the tail exits on Ctrl-C")
        .unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut tail.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();

    // Assert: 1,600 distinct events (800 per run of 1,000 with 20% duplicates), each once.
    assert!(interrupt.success());
    assert!(status.success(), "exit status {status}; stderr: {stderr}");
    assert!(
        stderr.contains("resume with --cursor all."),
        "stderr: {stderr}"
    );
    while let Ok(Some(line)) = lines.next_line().await {
        printed.push(serde_json::from_str(&line).unwrap());
    }
    let keys: HashSet<(String, String)> = printed
        .iter()
        .map(|event| {
            (
                event["topic"].as_str().unwrap().to_owned(),
                event["event_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(printed.len(), 1_600, "lines printed");
    assert_eq!(keys.len(), 1_600, "a line printed twice");
}
