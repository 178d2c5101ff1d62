//! API keys and the live tail: a tail ends once the key that opened it is revoked, and a reader
//! limited to some prefixes reaches no other topic through a cursor, whether the cursor comes
//! from a listing of another topic or from a tail of every topic.

use reqwest::header::ACCEPT;
use reqwest::StatusCode;

use aggregator::auth::Scope;

use crate::auth_support::*;
use crate::helpers::event;
use crate::stream_support::tail_of;

/// Proves a tail whose key is removed from the keys file ends once the server has reloaded the
/// file (it checks every 2 s), instead of streaming until its connection's maximum age.
#[tokio::test]
async fn a_tail_ends_once_its_key_is_revoked() {
    // Arrange
    let file = KeysFile::new();
    let writer = bearer(&file.add("writer", &[Scope::Publish], &[], None));
    let reader = bearer(&file.add("reader", &[Scope::Read], &[], None));
    let app = spawn_keyed_app(&file).await;
    let mut tail = open_tail_as(&app, &reader, "").await;
    publish_ok_as(&app, &writer, &[event("t", "1")]).await;
    assert_eq!(tail.next().await.key(), ("t".into(), "1".into()));

    // Act: the file now holds another key only.
    file.replace_with("someone-else", &[Scope::Read], &[]);

    // Assert: the stream ends (within WAIT) without sending anything more.
    tail.ends().await;
}

/// Proves a reader limited to `orders.` gets nothing outside it when it passes a cursor taken
/// from elsewhere: a `/events` cursor inside `payments.a`, or the id of a tail of every topic
/// opened by an unrestricted reader (as `cursor` and as `Last-Event-ID`).
#[tokio::test]
async fn a_prefix_limited_reader_reaches_no_other_topic_through_a_borrowed_cursor() {
    // Arrange
    let file = KeysFile::new();
    let writer = bearer(&file.add("writer", &[Scope::Publish], &[], None));
    let everything = bearer(&file.add("everything", &[Scope::Read], &[], None));
    let orders = bearer(&file.add("orders", &[Scope::Read], &["orders."], None));
    let app = spawn_keyed_app(&file).await;
    let mut full_tail = open_tail_as(&app, &everything, "").await;
    let start_of_everything = full_tail.start.clone();
    let mut batch = Vec::new();
    for n in 0..3 {
        batch.push(event("payments.a", &format!("p-{n}")));
        batch.push(event("orders.a", &format!("o-{n}")));
    }
    publish_ok_as(&app, &writer, &batch).await;
    full_tail.take(6).await;
    let (_, page) = get_as(&app, "/events?topic=payments.a&limit=1", &everything).await;
    let payments_cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();

    // Act
    let (status, listed) =
        get_as(&app, &format!("/events?cursor={payments_cursor}"), &orders).await;
    let mut by_cursor = open_tail_as(&app, &orders, &format!("cursor={start_of_everything}")).await;
    let request = app
        .client
        .get(app.url("/events/stream"))
        .header(ACCEPT, "text/event-stream")
        .header("Last-Event-ID", &start_of_everything);
    let response = orders.apply(request).send().await.expect("sent");
    let mut by_header = tail_of(response, "").await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed["count"], 0,
        "nothing sorts after payments.a inside orders.: {listed}"
    );
    for tail in [&mut by_cursor, &mut by_header] {
        let keys: Vec<(String, String)> = tail.take(3).await.iter().map(|r| r.key()).collect();
        assert!(
            keys.iter().all(|(topic, _)| topic == "orders.a"),
            "only orders.a: {keys:?}"
        );
    }
    publish_ok_as(
        &app,
        &writer,
        &[event("payments.a", "p-9"), event("orders.a", "o-9")],
    )
    .await;
    for tail in [&mut by_cursor, &mut by_header] {
        assert_eq!(tail.next().await.key(), ("orders.a".into(), "o-9".into()));
    }
}
