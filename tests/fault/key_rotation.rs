//! API keys on the real binary, as an operator manages them: keys made with `aggregator keys
//! add`, rotated with SIGHUP without a restart (a broken file keeps the keys in force), never
//! written to the log; and the server refusing, in one line, to serve a non-loopback address
//! without keys.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::common::process::aggregator_command;
use crate::support::{free_port, wait_until, AggregatorProcess};

/// Runs `aggregator keys add NAME --scopes SCOPES --keys-file FILE` and returns the key it
/// printed.
fn keys_add(file: &Path, name: &str, scopes: &str) -> String {
    let output = aggregator_command()
        .args(["keys", "add", name, "--scopes", scopes, "--keys-file"])
        .arg(file)
        .output()
        .expect("aggregator keys add runs");
    assert!(output.status.success(), "keys add failed: {output:?}");
    let key = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert!(
        key.starts_with("agg_"),
        "stdout holds only the key: {key:?}"
    );
    key
}

/// The status of a one-event publish made with `key`.
async fn publish_status(base_url: &str, key: &str, event_id: &str) -> u16 {
    let event = json!({
        "topic": "rotation", "event_id": event_id, "timestamp": "2024-05-01T12:00:00Z",
        "source": "key-rotation-test", "payload": {"n": 1},
    });
    reqwest::Client::new()
        .post(format!("{base_url}/publish"))
        .bearer_auth(key)
        .json(&event)
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

async fn hangup(server: &AggregatorProcess) {
    let status = tokio::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success(), "kill -HUP failed");
}

#[tokio::test]
async fn sighup_rotates_keys_without_a_restart_keeps_them_when_the_file_breaks_and_logs_none() {
    // Arrange: a server with key "old" that reloads its keys on SIGHUP only
    // (`--keys-check-interval 0`), so that what the test sees is SIGHUP's doing; key "new"
    // made in a second file.
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys.toml");
    let next_file = dir.path().join("next.toml");
    let old = keys_add(&keys_file, "old", "publish");
    let new = keys_add(&next_file, "new", "publish");
    let log = dir.path().join("server.log");
    let args = vec![
        "--keys-file".to_string(),
        keys_file.display().to_string(),
        "--keys-check-interval".to_string(),
        "0".to_string(),
        "--data-dir".to_string(),
        dir.path().join("data").display().to_string(),
    ];
    let server = AggregatorProcess::start(free_port(), &args, &log).await;
    assert_eq!(publish_status(&server.base_url, &old, "1").await, 200);
    assert_eq!(publish_status(&server.base_url, &new, "2").await, 401);

    // Act: the new file in place (by a rename, as editors and config managers do), then SIGHUP.
    std::fs::rename(&next_file, &keys_file).unwrap();
    assert_eq!(
        publish_status(&server.base_url, &old, "3").await,
        200,
        "the server does not watch the file: the change waits for SIGHUP"
    );
    hangup(&server).await;

    // Assert: the new key works and the old one is refused, with no restart.
    let rotated = wait_until(
        || async {
            publish_status(&server.base_url, &old, "4").await == 401
                && publish_status(&server.base_url, &new, "5").await == 200
        },
        Duration::from_secs(10),
    )
    .await;
    assert!(rotated, "SIGHUP did not put the new keys in force");

    // A broken file and another SIGHUP: the keys in force stay, and the log says why.
    std::fs::write(&keys_file, "[[key]]\nname = \"broken\"\n").unwrap();
    hangup(&server).await;
    let reported = wait_until(
        || async {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("API keys not reloaded")
        },
        Duration::from_secs(10),
    )
    .await;
    assert!(reported, "the broken file was not reported in the log");
    assert_eq!(publish_status(&server.base_url, &new, "6").await, 200);

    server.kill9().await;
    let logged = std::fs::read_to_string(&log).unwrap();
    for key in [&old, &new] {
        assert!(!logged.contains(key.as_str()), "a key is in the log");
    }
    std::fs::write(&keys_file, "").unwrap();
    let listed_key = keys_add(&keys_file, "new", "publish");
    let listed = aggregator_command()
        .args(["keys", "list", "--keys-file"])
        .arg(&keys_file)
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("new") && listed.contains("publish"),
        "{listed}"
    );
    assert!(
        !listed.contains(&listed_key) && !listed.contains("sha256:"),
        "{listed}"
    );
}

#[tokio::test]
async fn the_server_refuses_a_non_loopback_address_without_keys_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::from(aggregator_command())
        .args(["serve", "--bind", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("refusing") && lines[0].contains("--keys-file"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing was opened before refusing"
    );
}

/// Proves what the compose stack's one-shot `keys` service relies on: `keys add --key-file
/// --if-absent` writes the key to a file only its owner may read (nothing on stdout), does
/// nothing when run again, and a publisher given the file (`--api-key-file`) publishes and
/// verifies with it.
#[tokio::test]
async fn a_key_made_once_into_a_file_is_what_the_publisher_reads() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys.toml");
    let key_file = dir.path().join("publisher.key");
    let make = || {
        aggregator_command()
            .args([
                "keys",
                "add",
                "publisher",
                "--scopes",
                "publish,read",
                "--if-absent",
            ])
            .arg("--keys-file")
            .arg(&keys_file)
            .arg("--key-file")
            .arg(&key_file)
            .output()
            .expect("aggregator keys add runs")
    };

    // Act: the service's first start, then every later one.
    let first = make();
    let key = std::fs::read_to_string(&key_file).unwrap();
    let keys_before = std::fs::read_to_string(&keys_file).unwrap();
    let again = make();

    // Assert
    assert!(first.status.success(), "{first:?}");
    assert!(first.stdout.is_empty(), "the key goes to its file only");
    assert!(key.trim().starts_with("agg_"), "the file holds the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the key: {mode:o}");
    }
    assert!(again.status.success(), "{again:?}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    assert_eq!(std::fs::read_to_string(&keys_file).unwrap(), keys_before);

    let log = dir.path().join("server.log");
    let args = vec![
        "--keys-file".to_string(),
        keys_file.display().to_string(),
        "--data-dir".to_string(),
        dir.path().join("data").display().to_string(),
    ];
    let server = AggregatorProcess::start(free_port(), &args, &log).await;
    let published = aggregator_command()
        .args(["publish", "--events", "300", "--url", &server.base_url])
        .arg("--api-key-file")
        .arg(&key_file)
        .env_remove("AGG_API_KEY")
        .output()
        .expect("aggregator publish runs");
    server.kill9().await;
    assert!(published.status.success(), "{published:?}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        !logged.contains(key.trim()),
        "the key is in the server's log"
    );
}
