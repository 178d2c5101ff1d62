//! Slow, idle and greedy clients on real sockets: bodies arrive on time and within budget or
//! are refused, idle and half-sent connections are closed, and past the connection cap only
//! health checks get through.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{event, spawn_app_with, ApiApp, TestApp};

/// How long a test waits for the server to answer or close.
const PATIENCE: Duration = Duration::from_secs(5);

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.base_url.trim_start_matches("http://");
    TcpStream::connect(address)
        .await
        .expect("the server accepts")
}

/// Reads what the server sends until it closes the connection or `PATIENCE` passes.
async fn read_until_closed(stream: &mut TcpStream) -> (String, bool) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// Sends `head` and reads the status line of the answer.
async fn status_line_after(stream: &mut TcpStream, head: &str) -> String {
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(PATIENCE, async {
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .expect("an answer in time");
    let text = String::from_utf8_lossy(&received).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

fn publish_head(content_length: usize, extra: &str) -> String {
    format!(
        "POST /publish HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {content_length}\r\n{extra}\r\n"
    )
}

/// Proves a declared `Content-Length` over the limit gets `413` before any of the body is
/// sent, and without `100 Continue`.
#[tokio::test]
async fn a_declared_body_over_the_limit_gets_413_before_it_is_sent() {
    let app = spawn_app_with(|config| config.limits.max_body_bytes = 1024).await;
    let mut stream = connect(&app).await;

    let head = publish_head(10_000_000, "Expect: 100-continue\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream).await;

    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    app.assert_nothing_stored().await;
}

/// Proves a body that does not arrive within `--body-read-timeout` gets `408`.
#[tokio::test]
async fn a_body_slower_than_the_read_timeout_gets_408() {
    let app = spawn_app_with(|config| {
        config.limits.body_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut stream = connect(&app).await;

    let status = status_line_after(&mut stream, &(publish_head(100, "") + "{\"topic\"")).await;

    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    app.assert_nothing_stored().await;
}

/// Proves `POST /publish` needs a JSON content type: a browser's cross-site `text/plain` POST
/// publishes nothing.
#[tokio::test]
async fn publish_without_a_json_content_type_gets_415() {
    let app = spawn_app_with(|_| {}).await;
    let body = serde_json::to_vec(&event("t", "1")).unwrap();

    let plain = app
        .client
        .post(app.url("/publish"))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let charset = app
        .client
        .post(app.url("/publish"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let answer = plain.text().await.unwrap();
    assert!(answer.contains("application/json"), "{answer}");
    assert_eq!(charset.status(), StatusCode::OK);
    assert_eq!(app.row_count().await, 1);
}

/// Proves idle connections are closed after `--idle-timeout`, before and after a request.
#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|config| {
        config.limits.connections.idle_timeout = Duration::from_millis(300);
    })
    .await;
    let mut silent = connect(&app).await;
    let mut served = connect(&app).await;

    let status = status_line_after(&mut served, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let (_, silent_closed) = read_until_closed(&mut silent).await;
    let (_, served_closed) = read_until_closed(&mut served).await;

    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(silent_closed, "a silent connection stayed open");
    assert!(served_closed, "an idle keep-alive connection stayed open");
}

/// Proves a request head sent too slowly (slowloris) is cut off by `--header-read-timeout`.
#[tokio::test]
async fn a_request_head_slower_than_the_header_timeout_is_cut_off() {
    let app = spawn_app_with(|config| {
        config.limits.connections.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut stream = connect(&app).await;

    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost:")
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut stream).await;

    assert!(closed, "the half-sent head kept its connection");
    assert!(!answer.contains("200 OK"), "{answer}");
}

/// Proves the connection cap: past it a new connection is closed, and the reserved slots
/// serve `/health` and `/ready` but nothing else.
#[tokio::test]
async fn past_the_connection_cap_only_health_checks_are_served() {
    let app = spawn_app_with(|config| {
        config.limits.connections.max_connections = 3;
        config.limits.connections.reserved_connections = 1;
    })
    .await;
    let health = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut general = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        let status = status_line_after(&mut stream, health).await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        general.push(stream);
    }

    let mut reserved = connect(&app).await;
    let health_status = status_line_after(&mut reserved, health).await;
    let mut beyond = connect(&app).await;
    let (beyond_answer, beyond_closed) = read_until_closed(&mut beyond).await;
    // Last: the refusal closes the reserved connection, which frees its slot.
    let stats_status =
        status_line_after(&mut reserved, "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n").await;

    assert!(health_status.starts_with("HTTP/1.1 200"), "{health_status}");
    assert!(stats_status.starts_with("HTTP/1.1 503"), "{stats_status}");
    assert!(beyond_closed && beyond_answer.is_empty(), "{beyond_answer}");
    drop(general);
}

/// Proves the buffered-body budget: while one slow upload holds most of it, another body that
/// does not fit gets `429` at once instead of growing memory.
#[tokio::test]
async fn bodies_beyond_the_buffered_body_budget_get_429() {
    let app = spawn_app_with(|config| {
        config.limits.max_body_bytes = 8 * 1024;
        config.limits.max_buffered_body_bytes = 8 * 1024;
    })
    .await;
    let mut slow = connect(&app).await;
    slow.write_all((publish_head(6_000, "") + "{").as_bytes())
        .await
        .unwrap();
    // The slow upload is admitted to the intake once the server has read its head; a probe
    // on another connection shows when (the budget is then in use).
    let mut second_status = StatusCode::OK;
    for _ in 0..50 {
        let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(5_990));
        let response = app
            .client
            .post(app.url("/publish"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        second_status = response.status();
        if second_status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(second_status, StatusCode::TOO_MANY_REQUESTS);
    app.assert_nothing_stored().await;
    drop(slow);
}
