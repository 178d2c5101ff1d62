//! Compressed request bodies: what shippers send is stored exactly once; a label that does not
//! match the bytes, or a coding the server does not decode, is refused saying so, with nothing
//! stored; a bomb is refused with `413` before it inflates.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::backend::Backend;
use crate::common::process::proc_status_mib;
use crate::{event, gzip, zlib, Server};

const NDJSON: &str = "application/x-ndjson";
const JSON: &str = "application/json";

#[tokio::test]
async fn a_gzip_bulk_body_from_a_shipper_is_stored_exactly_once_on_postgres() {
    a_gzip_bulk_body_from_a_shipper_is_stored_exactly_once(Backend::postgres().await).await;
}

#[tokio::test]
async fn a_gzip_bulk_body_from_a_shipper_is_stored_exactly_once_on_the_embedded_store() {
    a_gzip_bulk_body_from_a_shipper_is_stored_exactly_once(Backend::embedded()).await;
}

/// A batch shaped as Fluent Bit's `es` output with `compress gzip` sends it (no `_id`, so ids
/// are digests of the documents), sent twice as a shipper's retry would: the first answer
/// creates every item, the retry is all `noop`, and each document is stored once.
async fn a_gzip_bulk_body_from_a_shipper_is_stored_exactly_once(backend: Backend) {
    // Arrange
    let server = Server::start(backend).await;
    let mut body = String::new();
    for n in 0..200 {
        body.push_str("{\"create\":{\"_index\":\"fluentbit.checkout\"}}\n");
        let document = json!({"@timestamp": format!("2026-12-07T09:{:02}:{:02}.000Z", n / 60, n % 60),
                              "host": "web-1", "log": format!("order {n} paid"),
                              "kubernetes": {"pod_name": "checkout-7d9", "namespace_name": "shop"}});
        body.push_str(&format!("{document}\n"));
    }
    let compressed = gzip(body.as_bytes());
    let reproduction = gzip(b"{\"index\":{\"_index\":\"bulk.gz\",\"_id\":\"g1\"}}\n{\"a\":1}\n");

    // Act
    let (status, first) = server
        .post("/_bulk", NDJSON, Some("gzip"), compressed.clone())
        .await;
    let (retry_status, retry) = server
        .post("/_bulk", NDJSON, Some("gzip"), compressed)
        .await;
    let (small_status, small) = server
        .post("/_bulk", NDJSON, Some("gzip"), reproduction)
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["errors"], false, "{first}");
    let results = |answer: &Value, wanted: &str| {
        answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["create"]["result"] == wanted)
            .count()
    };
    assert_eq!(results(&first, "created"), 200);
    assert_eq!(retry_status, StatusCode::OK, "{retry}");
    assert_eq!(results(&retry, "noop"), 200, "{retry}");
    assert_eq!(server.stored("fluentbit.checkout").await, 200);
    assert_eq!(small_status, StatusCode::OK, "{small}");
    assert_eq!(small["items"][0]["index"]["status"], 201, "{small}");
    assert_eq!(server.stored("bulk.gz").await, 1);
}

#[tokio::test]
async fn every_coding_is_decoded_and_a_wrong_label_is_refused_on_postgres() {
    every_coding_is_decoded_and_a_wrong_label_is_refused(Backend::postgres().await).await;
}

#[tokio::test]
async fn every_coding_is_decoded_and_a_wrong_label_is_refused_on_the_embedded_store() {
    every_coding_is_decoded_and_a_wrong_label_is_refused(Backend::embedded()).await;
}

/// gzip JSON and deflate NDJSON on `/publish`, zstd on `/{index}/_bulk`, each stored; a plain
/// body labelled gzip or deflate is a `400` naming the coding, and `br` a `415` naming the
/// codings taken; nothing of a refused body is stored.
async fn every_coding_is_decoded_and_a_wrong_label_is_refused(backend: Backend) {
    // Arrange
    let server = Server::start(backend).await;
    let batch = json!({"events": [event("coded", "gzip-1"), event("coded", "gzip-2")]});
    let lines = format!(
        "{}\n{}\n",
        event("coded", "deflate-1"),
        event("coded", "deflate-2")
    );
    let bulk = b"{\"index\":{\"_id\":\"zstd-1\"}}\n{\"message\":\"m\"}\n";
    let plain = serde_json::to_vec(&json!({"events": [event("mislabelled", "1")]})).unwrap();
    let plain_bulk = b"{\"index\":{\"_index\":\"mislabelled\",\"_id\":\"2\"}}\n{\"a\":1}\n";

    // Act
    let gzip_json = server
        .post(
            "/publish",
            JSON,
            Some("gzip"),
            gzip(&serde_json::to_vec(&batch).unwrap()),
        )
        .await;
    let deflate_lines = server
        .post("/publish", NDJSON, Some("deflate"), zlib(lines.as_bytes()))
        .await;
    let zstd_bulk = server
        .post(
            "/coded/_bulk",
            NDJSON,
            Some("zstd"),
            zstd::stream::encode_all(&bulk[..], 3).unwrap(),
        )
        .await;
    let labelled_gzip = server
        .post("/publish", JSON, Some("gzip"), plain.clone())
        .await;
    let labelled_deflate = server
        .post("/_bulk", NDJSON, Some("deflate"), plain_bulk.to_vec())
        .await;
    let brotli = server.post("/publish", JSON, Some("br"), plain).await;

    // Assert
    assert_eq!(gzip_json.0, StatusCode::OK, "{}", gzip_json.1);
    assert_eq!(gzip_json.1["unique_processed"], 2);
    assert_eq!(deflate_lines.0, StatusCode::OK, "{}", deflate_lines.1);
    assert_eq!(deflate_lines.1["unique_processed"], 2);
    assert_eq!(zstd_bulk.0, StatusCode::OK, "{}", zstd_bulk.1);
    assert_eq!(zstd_bulk.1["items"][0]["index"]["status"], 201);
    assert_eq!(server.stored("coded").await, 5);
    for ((status, body), coding) in [(&labelled_gzip, "gzip"), (&labelled_deflate, "deflate")] {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.contains(&format!("not valid {coding} data")),
            "{message}"
        );
    }
    assert_eq!(brotli.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", brotli.1);
    let message = brotli.1["error"].as_str().unwrap();
    assert!(
        message.contains("\"br\"") && message.contains("gzip, deflate"),
        "{message}"
    );
    assert_eq!(server.stored("mislabelled").await, 0);
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_with_413_before_it_inflates_on_postgres() {
    a_gzip_bomb_is_refused_with_413_before_it_inflates(Backend::postgres().await).await;
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_with_413_before_it_inflates_on_the_embedded_store() {
    a_gzip_bomb_is_refused_with_413_before_it_inflates(Backend::embedded()).await;
}

/// 200 MB of newlines gzipped to about 200 KB, sent to `/_bulk` and to `/publish`: each gets
/// `413` naming the limit, the server's peak RSS grows by less than 20 MiB while it refuses
/// it (it never holds more than the 10 MiB limit of decoded bytes), and it serves a good event
/// afterwards.
async fn a_gzip_bomb_is_refused_with_413_before_it_inflates(backend: Backend) {
    // Arrange
    let server = Server::start(backend).await;
    let bomb = gzip(&vec![b'\n'; 200 * 1024 * 1024]);
    assert!(bomb.len() < 400 * 1024, "the bomb is {} bytes", bomb.len());
    let pid = server.process.pid();
    // A legitimate compressed body of a few MiB first, on the same path, so that what the
    // process allocates once (its allocator's first large pages, the blocking thread that
    // decodes) is not counted as the bomb's growth.
    let warm: String = (0..2_000)
        .map(|n| {
            let mut warm = event("after.bomb", &format!("warm-{n}"));
            warm["payload"]["pad"] = json!("w".repeat(1_000));
            format!("{warm}\n")
        })
        .collect();
    let warmed = server
        .post("/publish", NDJSON, Some("gzip"), gzip(warm.as_bytes()))
        .await;
    assert_eq!(warmed.0, StatusCode::OK, "{}", warmed.1);

    for route in ["/_bulk", "/publish"] {
        // Act
        let before = reset_peak_rss(pid);
        let (status, body) = server.post(route, NDJSON, Some("gzip"), bomb.clone()).await;
        let peak = peak_rss_mib(pid);

        // Assert
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{route}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains("once decoded from gzip"), "{message}");
        let growth = peak - before;
        eprintln!(
            "gzip bomb on {route}: RSS {before:.1} MiB before, peak {peak:.1} MiB, growth \
             {growth:.1} MiB"
        );
        assert!(
            growth < 20.0,
            "{route}: the server's RSS grew by {growth:.1} MiB"
        );
    }
    let good = serde_json::to_vec(&event("after.bomb", "1")).unwrap();
    let after = server.post("/publish", JSON, None, good).await;
    assert_eq!(after.0, StatusCode::OK, "{}", after.1);
    assert_eq!(server.stored("after.bomb").await, 2_001);
}

/// Resets the peak RSS of `pid` to its current RSS (`/proc/PID/clear_refs`, Linux) and returns
/// that RSS, in MiB.
fn reset_peak_rss(pid: u32) -> f64 {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("clear_refs is writable");
    proc_status_mib(&pid.to_string(), "VmRSS:")
}

/// The peak RSS of `pid` since the last reset, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    proc_status_mib(&pid.to_string(), "VmHWM:")
}
