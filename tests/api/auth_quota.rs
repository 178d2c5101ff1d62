//! Publish quotas are per key: one key flooding at ten times its quota is throttled (`429`
//! with `Retry-After`, nothing of a refused request stored) while another key publishing at its
//! quota is not; a batch larger than a key's burst can never pass and gets `422`. Loopback
//! only, and bounded: the flood lasts [`FLOOD_FOR`], every request at most [`REQUEST_TIMEOUT`].

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aggregator::auth::Scope;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::time::MissedTickBehavior;

use crate::auth_support::*;
use crate::helpers::event;

/// How long key A floods while key B publishes steadily.
const FLOOD_FOR: Duration = Duration::from_secs(3);
/// Longest any one request may take (keeps the test bounded).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Both keys' quota: events per second, and burst.
const QUOTA: (u32, u32) = (100, 100);
/// Key A: this many concurrent loops, each sending a batch of [`A_BATCH`] events every
/// [`A_PERIOD`] (8 × 10 events / 80 ms = 1,000 events/s, ten times the quota).
const A_LOOPS: usize = 8;
const A_BATCH: usize = 10;
const A_PERIOD: Duration = Duration::from_millis(80);
/// Key B: [`B_PER_TICK`] single-event requests every [`B_PERIOD`] (90 events/s, within quota).
const B_PER_TICK: usize = 9;
const B_PERIOD: Duration = Duration::from_millis(100);
/// Topics of each key's events.
const A_TOPIC: &str = "quota.a";
const B_TOPIC: &str = "quota.b";

/// What one key's publishes got.
#[derive(Debug, Default)]
struct Tally {
    /// Events sent.
    sent: usize,
    /// Requests answered 200, and their events.
    ok_requests: usize,
    accepted: Vec<(String, String)>,
    /// Requests answered 429 for the quota, and their `Retry-After`s.
    throttled: usize,
    retry_afters: Vec<u64>,
    /// Any other answer: `status body`.
    other: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        self.ok_requests += other.ok_requests;
        self.accepted.extend(other.accepted);
        self.throttled += other.throttled;
        self.retry_afters.extend(other.retry_afters);
        self.other.extend(other.other);
    }
}

/// A client that publishes with one key.
#[derive(Clone)]
struct Publisher {
    client: reqwest::Client,
    url: String,
    key: Presented,
}

impl Publisher {
    /// Publishes `events` and records the answer in a new tally.
    async fn publish(&self, events: Vec<Value>) -> Tally {
        let keys = keys_of(&json!(events));
        let request = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .body(json!(events).to_string());
        let response = self
            .key
            .apply(request)
            .send()
            .await
            .expect("POST /publish answered");
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        let body = response.text().await.expect("body readable");
        let mut tally = Tally {
            sent: keys.len(),
            ..Tally::default()
        };
        match status {
            StatusCode::OK => {
                tally.ok_requests = 1;
                tally.accepted = keys;
            }
            StatusCode::TOO_MANY_REQUESTS if body.contains("quota") => {
                tally.throttled = 1;
                tally.retry_afters.push(retry_after.unwrap_or(0));
            }
            _ => tally.other.push(format!("{status} {body}")),
        }
        tally
    }
}

/// Key A's loop `index`: a batch every [`A_PERIOD`] until `deadline`.
async fn flood(publisher: Publisher, index: usize, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut ticks = tokio::time::interval(A_PERIOD);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut round = 0;
    while Instant::now() < deadline {
        ticks.tick().await;
        let events = (0..A_BATCH)
            .map(|n| event(A_TOPIC, &format!("a-{index}-{round}-{n}")))
            .collect();
        tally.merge(publisher.publish(events).await);
        round += 1;
    }
    tally
}

/// Key B: [`B_PER_TICK`] single-event requests at once every [`B_PERIOD`] until `deadline`.
async fn steady(publisher: Publisher, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut ticks = tokio::time::interval(B_PERIOD);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut round = 0;
    while Instant::now() < deadline {
        ticks.tick().await;
        let requests = (0..B_PER_TICK).map(|n| {
            let events = vec![event(B_TOPIC, &format!("b-{round}-{n}"))];
            publisher.publish(events)
        });
        for answer in futures::future::join_all(requests).await {
            tally.merge(answer);
        }
        round += 1;
    }
    tally
}

/// Proves one key's flood does not throttle another key: B, at 90% of its quota, gets at
/// least 99% 200s while A, at ten times its quota, gets 429s with a `Retry-After` of at least
/// one second; exactly the events answered 200 are stored, for both keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_flooding_past_its_quota_is_throttled_without_slowing_another_key() {
    // Arrange
    let file = KeysFile::new();
    let a_key = file.add("flooder", &[Scope::Publish], &[], Some(QUOTA));
    let b_key = file.add("steady", &[Scope::Publish], &[], Some(QUOTA));
    let app = spawn_keyed_app(&file).await;
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client");
    let publisher = |key: &str| Publisher {
        client: client.clone(),
        url: app.url("/publish"),
        key: bearer(key),
    };

    // Act
    let started = Instant::now();
    let deadline = started + FLOOD_FOR;
    let flooders: Vec<_> = (0..A_LOOPS)
        .map(|index| tokio::spawn(flood(publisher(&a_key), index, deadline)))
        .collect();
    let steady_b = tokio::spawn(steady(publisher(&b_key), deadline));
    let mut a = Tally::default();
    for flooder in flooders {
        a.merge(flooder.await.expect("a flood loop ends"));
    }
    let b = steady_b.await.expect("the steady loop ends");
    let elapsed = started.elapsed();
    let stored = app.db.keys().await;

    // Assert
    let stored_of = |topic: &str| -> BTreeSet<(String, String)> {
        stored.iter().filter(|(t, _)| t == topic).cloned().collect()
    };
    let (a_stored, b_stored) = (stored_of(A_TOPIC), stored_of(B_TOPIC));
    let b_requests = b.ok_requests + b.throttled + b.other.len();
    println!(
        "quota isolation over {elapsed:.2?}: A sent {} events in {} requests: {} requests ({} \
         events) 200, {} requests 429; B sent {} events: {} 200, {} 429; stored: A {}, B {}",
        a.sent,
        a.sent / A_BATCH,
        a.ok_requests,
        a.accepted.len(),
        a.throttled,
        b.sent,
        b.ok_requests,
        b.throttled,
        a_stored.len(),
        b_stored.len(),
    );
    assert!(a.other.is_empty(), "A: unexpected answers: {:?}", a.other);
    assert!(b.other.is_empty(), "B: unexpected answers: {:?}", b.other);
    assert!(
        b.ok_requests * 100 >= b_requests * 99,
        "B got {} 200s of {b_requests} requests ({} 429s)",
        b.ok_requests,
        b.throttled
    );
    assert!(a.throttled > 0, "A is throttled");
    assert!(
        a.retry_afters.iter().all(|&seconds| seconds >= 1),
        "every 429 has a Retry-After of at least 1: {:?}",
        a.retry_afters
    );
    let (rate, burst) = QUOTA;
    let allowed = f64::from(burst) + f64::from(rate) * (elapsed.as_secs_f64() + 0.5);
    assert!(
        (a.accepted.len() as f64) <= allowed,
        "A got {} events through, at most {allowed} allowed",
        a.accepted.len()
    );
    let a_accepted: BTreeSet<(String, String)> = a.accepted.iter().cloned().collect();
    assert_eq!(a_stored.len(), a.accepted.len(), "A: stored = answered 200");
    assert_eq!(
        a_stored, a_accepted,
        "A: exactly the accepted events are stored"
    );
    let b_accepted: BTreeSet<(String, String)> = b.accepted.iter().cloned().collect();
    assert_eq!(
        b_stored, b_accepted,
        "B: every accepted event is stored, nothing else"
    );
}

/// Proves a batch with more events than the key's burst, which no wait could let through, is
/// refused with 422 naming the burst, stores nothing and takes nothing from the bucket.
#[tokio::test]
async fn a_batch_larger_than_the_burst_is_refused_with_422_naming_the_burst() {
    // Arrange
    let file = KeysFile::new();
    let key = bearer(&file.add("small", &[Scope::Publish], &[], Some((10, 20))));
    let app = spawn_keyed_app(&file).await;
    let batch = |size: usize| {
        let events: Vec<Value> = (0..size)
            .map(|n| event("quota.burst", &format!("e-{size}-{n}")))
            .collect();
        json!({ "events": events })
    };

    // Act
    let (status, _, body) = publish_as(&app, &key, &batch(21)).await;
    let rows_after_refusal = app.db.count_rows().await;
    let (full_burst, _, accepted) = publish_as(&app, &key, &batch(20)).await;

    // Assert
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let details = body["details"].as_array().expect("details is an array");
    assert_eq!(details.len(), 1, "{body}");
    assert_eq!(details[0]["field"], "events", "{body}");
    let reason = details[0]["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("21 events") && reason.contains("burst of 20"),
        "{reason}"
    );
    assert_eq!(rows_after_refusal, 0, "nothing stored");
    assert_eq!(
        full_burst,
        StatusCode::OK,
        "the bucket is still full: {accepted}"
    );
}
