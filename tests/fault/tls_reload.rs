//! HTTPS on the real binary: `aggregator serve --tls-cert --tls-key --keys-file` serves
//! publishes over TLS to a client holding a key, and SIGHUP makes it serve a new certificate
//! to new connections without a restart.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rcgen::{CertificateParams, DnType, KeyPair};
use serde_json::json;

use crate::common::process::aggregator_command;
use crate::support::{free_port, wait_until};

/// A self-signed certificate for `localhost` (PEM) and its key (PEM).
fn self_signed(common_name: &str) -> (String, String) {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A client that trusts only `cert_pem` and holds `key`.
fn client(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn publish(client: &reqwest::Client, base_url: &str, key: &str, id: &str) -> Option<u16> {
    let event = json!({
        "topic": "tls", "event_id": id, "timestamp": "2024-05-01T12:00:00Z",
        "source": "tls-reload-test", "payload": {},
    });
    let answer = client
        .post(format!("{base_url}/publish"))
        .bearer_auth(key)
        .json(&event)
        .send()
        .await
        .ok()?;
    Some(answer.status().as_u16())
}

fn write_pair(dir: &Path, (cert, key): &(String, String)) {
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
}

#[tokio::test]
async fn sighup_serves_a_new_certificate_to_new_connections_over_https_with_a_key() {
    // Arrange: the binary serving HTTPS with certificate one and a keys file.
    let dir = tempfile::tempdir().unwrap();
    let first = self_signed("aggregator one");
    let second = self_signed("aggregator two");
    write_pair(dir.path(), &first);
    let keys_file = dir.path().join("keys.toml");
    let output = aggregator_command()
        .args([
            "keys",
            "add",
            "publisher",
            "--scopes",
            "publish",
            "--keys-file",
        ])
        .arg(&keys_file)
        .output()
        .unwrap();
    let key = String::from_utf8(output.stdout).unwrap().trim().to_string();
    let port = free_port();
    let mut server = tokio::process::Command::from(aggregator_command())
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(dir.path().join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.path().join("key.pem"))
        .arg("--keys-file")
        .arg(&keys_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base_url = format!("https://localhost:{port}");
    let trusts_first = client(&first.0);
    let trusts_second = client(&second.0);
    let up = wait_until(
        || async { publish(&trusts_first, &base_url, &key, "1").await == Some(200) },
        Duration::from_secs(30),
    )
    .await;
    assert!(up, "no HTTPS publish succeeded with certificate one");
    assert_eq!(publish(&trusts_second, &base_url, &key, "2").await, None);
    assert_eq!(
        publish(&trusts_first, &base_url, "agg_wrong", "3").await,
        Some(401)
    );

    // Act: certificate two on disk, then SIGHUP.
    write_pair(dir.path(), &second);
    let pid = server.id().unwrap().to_string();
    let hup = tokio::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .await;
    assert!(hup.unwrap().success());

    // Assert: new connections get certificate two; the process never restarted.
    let rotated = wait_until(
        || async { publish(&trusts_second, &base_url, &key, "4").await == Some(200) },
        Duration::from_secs(10),
    )
    .await;
    assert!(rotated, "certificate two was not served after SIGHUP");
    // A new client, so a new connection: the pooled one keeps the certificate it began with.
    assert_eq!(publish(&client(&first.0), &base_url, &key, "5").await, None);
    assert!(
        server.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    server.kill().await.unwrap();
}
