//! HTTPS end to end, with self-signed certificates made at run time: the client library
//! publishes through TLS and every event is stored once; plain HTTP and clients that do not
//! trust the certificate are turned away; a reload serves the new certificate to new
//! connections, and a reload from a broken file is refused while the old certificate stays.

use std::collections::HashSet;
use std::time::Duration;

use aggregator::app::AppConfig;
use aggregator::client::workload::WorkloadOptions;
use aggregator::client::{self, ClientAccess, PublishConfig};
use aggregator::http::TlsFiles;
use rcgen::{CertificateParams, DnType, KeyPair};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::common::app::{start_app, test_config, RunningApp};
use crate::common::db::TestDb;

/// Timeout of every request a test makes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A self-signed certificate for `localhost` and `127.0.0.1`, with its key.
struct SelfSigned {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn self_signed(common_name: &str) -> SelfSigned {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

/// An app serving HTTPS with `first`, whose files stay in `dir` for the test to rewrite.
struct TlsApp {
    app: RunningApp,
    db: TestDb,
    files: TlsFiles,
    first: SelfSigned,
    /// Holds the certificate files; removed when the test ends.
    _dir: TempDir,
}

async fn spawn_tls_app() -> TlsApp {
    spawn_tls_app_with(|_| {}).await
}

/// Like [`spawn_tls_app`], with the configuration adjusted by `configure`.
async fn spawn_tls_app_with(configure: impl FnOnce(&mut AppConfig)) -> TlsApp {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let first = self_signed("aggregator test certificate one");
    write_pair(&files, &first);
    let db = TestDb::create().await;
    let mut config = AppConfig {
        tls: Some(files.clone()),
        ..test_config(&db.url)
    };
    configure(&mut config);
    let app = start_app(config).await;
    TlsApp {
        app,
        db,
        files,
        first,
        _dir: dir,
    }
}

fn write_pair(files: &TlsFiles, pair: &SelfSigned) {
    std::fs::write(&files.cert, &pair.cert_pem).unwrap();
    std::fs::write(&files.key, &pair.key_pem).unwrap();
}

/// A client that trusts exactly `trusted` (no built-in roots) and records the peer certificate.
fn client_trusting(trusted: &[&SelfSigned]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .tls_built_in_root_certs(false)
        .tls_info(true);
    for pair in trusted {
        let cert = reqwest::Certificate::from_pem(pair.cert_pem.as_bytes()).unwrap();
        builder = builder.add_root_certificate(cert);
    }
    builder.build().unwrap()
}

/// The certificate the server presents to a new connection of `client` (DER).
async fn served_certificate(client: &reqwest::Client, base_url: &str) -> Vec<u8> {
    let response = client
        .get(format!("{base_url}/health"))
        .send()
        .await
        .expect("the handshake succeeds");
    assert!(response.status().is_success());
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the peer certificate is recorded")
        .to_vec()
}

/// Every `(topic, event_id)` listed by `GET /events`, page after page, duplicates kept.
async fn listed_keys(client: &reqwest::Client, base_url: &str) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = client
            .get(format!("{base_url}/events"))
            .query(&[("limit", "100"), ("cursor", cursor.as_str())])
            .send()
            .await
            .expect("GET /events over https")
            .error_for_status()
            .expect("GET /events succeeds")
            .json()
            .await
            .expect("a JSON page");
        for event in page["events"].as_array().expect("an events array") {
            let field = |name: &str| event[name].as_str().expect("a string field").to_owned();
            keys.push((field("topic"), field("event_id")));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return keys,
        }
    }
}

#[tokio::test]
async fn events_published_over_https_by_the_client_library_are_stored_once() {
    // Arrange
    let tls = spawn_tls_app().await;
    let by_name = format!("https://localhost:{}", tls.app.address.port());
    let publish = PublishConfig {
        url: by_name.clone(),
        workload: WorkloadOptions {
            events: 400,
            batch_size: 25,
            ..WorkloadOptions::default()
        },
        concurrency: 4,
        retry_for: Duration::from_secs(10),
        access: ClientAccess {
            api_key: None,
            ca_cert: Some(tls.files.cert.clone()),
        },
        ..PublishConfig::default()
    };

    // Act
    let report = client::run(publish)
        .await
        .expect("a verified run over https");
    let keys = listed_keys(&client_trusting(&[&tls.first]), &by_name).await;

    // Assert
    let distinct: HashSet<_> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), distinct.len(), "an event is listed twice");
    assert!(report.duplicates_sent > 0, "the workload re-sends keys");
    assert_eq!(distinct.len() as u64, report.outcomes.new);
    assert_eq!(distinct.len() as u64, report.distinct);
    assert_eq!(tls.db.count_rows().await, report.distinct);
    tls.app.stop().await;
}

#[tokio::test]
async fn a_plain_http_request_to_the_tls_port_gets_no_answer() {
    let tls = spawn_tls_app().await;
    let plain = format!("http://127.0.0.1:{}/health", tls.app.address.port());

    let answer = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
        .get(plain)
        .send()
        .await;

    assert!(answer.is_err(), "plain HTTP was answered: {answer:?}");
    // The server is unharmed: HTTPS still works.
    let served = served_certificate(&client_trusting(&[&tls.first]), &tls.app.base_url).await;
    assert_eq!(served, tls.first.der);
    tls.app.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_fails_the_handshake() {
    let tls = spawn_tls_app().await;

    let with_usual_roots = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
        .get(format!("{}/health", tls.app.base_url))
        .send()
        .await;
    let trusting_another = client_trusting(&[&self_signed("someone else")])
        .get(format!("{}/health", tls.app.base_url))
        .send()
        .await;

    for refused in [with_usual_roots, trusting_another] {
        let err = refused.expect_err("an untrusted certificate is refused");
        assert!(err.is_connect(), "{err:?}");
        assert!(
            format!("{err:?}").to_lowercase().contains("certificate"),
            "{err:?}"
        );
    }
    tls.app.stop().await;
}

#[tokio::test]
async fn a_reload_serves_the_new_certificate_and_a_broken_one_keeps_the_old() {
    // Arrange: the files now hold a second certificate, not yet loaded.
    let tls = spawn_tls_app().await;
    let server_tls = tls.app.tls.clone().expect("the app serves TLS");
    let second = self_signed("aggregator test certificate two");
    write_pair(&tls.files, &second);
    let base_url = tls.app.base_url.clone();
    assert!(
        client_trusting(&[&second])
            .get(format!("{base_url}/health"))
            .send()
            .await
            .is_err(),
        "rewriting the files alone changes nothing"
    );

    // Act: reload.
    server_tls.reload().expect("the second certificate loads");

    // Assert: new connections see the second certificate, and only it.
    let served = served_certificate(&client_trusting(&[&second]), &base_url).await;
    assert_eq!(served, second.der);
    assert!(client_trusting(&[&tls.first])
        .get(format!("{base_url}/health"))
        .send()
        .await
        .is_err());

    // Act: a reload from a broken key file.
    std::fs::write(&tls.files.key, "not a key").unwrap();
    let err = server_tls
        .reload()
        .expect_err("a broken key file is refused");

    // Assert: the error names the file, and the second certificate is still served.
    assert!(err.to_string().contains("key.pem"), "{err}");
    let served = served_certificate(&client_trusting(&[&second]), &base_url).await;
    assert_eq!(served, second.der);
    tls.app.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_is_disconnected_without_holding_up_others() {
    let header_read_timeout = Duration::from_millis(300);
    let tls = spawn_tls_app_with(|config| {
        config.limits.connections.header_read_timeout = header_read_timeout;
    })
    .await;

    let mut silent = TcpStream::connect(tls.app.address).await.unwrap();
    let served = served_certificate(&client_trusting(&[&tls.first]), &tls.app.base_url).await;
    let mut received = [0u8; 64];
    let closed = tokio::time::timeout(REQUEST_TIMEOUT, silent.read(&mut received)).await;

    assert_eq!(
        served, tls.first.der,
        "the silent client held up the others"
    );
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "the silent client was not disconnected: {closed:?}"
    );
    tls.app.stop().await;
}
