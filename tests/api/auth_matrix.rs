//! Which caller may reach which route, through the real app with a keys file: every route ×
//! every kind of caller, against one table of expected statuses ([`EXPECTED`]). The observed
//! matrix is printed as a Markdown table (`cargo test --test api auth_matrix -- --nocapture`);
//! the test fails listing every cell that differs. Every `401` carries the `Bearer` challenge
//! and a JSON error, every `403` a JSON error, and no answer ever repeats a key.

use std::collections::HashSet;

use aggregator::auth::Scope;
use reqwest::header::{HeaderMap, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::auth_support::*;
use crate::helpers::{event, TestApp};
use crate::stream_support::WAIT;

/// In [`EXPECTED`]: `200`, or a redirect to the page (the docs may answer either).
const PAGE: u16 = 0;

/// The callers, in the order of the columns of [`EXPECTED`].
const CALLERS: [&str; 7] = [
    "no key",
    "unknown key",
    "key without the scope",
    "key outside the prefix",
    "right key (Bearer)",
    "right key (X-API-Key)",
    "admin key",
];

/// The expected status of every route (rows) for every caller (columns, see [`CALLERS`]):
///
/// - *key without the scope*: a read-only key publishing, a publish-only key anywhere else;
/// - *key outside the prefix*: a `publish` + `read` key limited to `payments.`; on a route
///   without a topic it is let in and sees only its own topics (none here), hence `200`;
/// - *right key*: a key with the route's scope limited to `orders.` (publish-only for
///   `/publish`, read-only elsewhere), in each header;
/// - *admin key*: `admin` scope only, every topic: `/stats` and `/metrics`, nothing else.
///
/// `/metrics` shows the whole server (every key's name and volume), so it needs `admin` or
/// `read` on every topic: the readers limited to a prefix get `403` there.
#[rustfmt::skip]
const EXPECTED: &[(&str, [u16; 7])] = &[
    //                                     none  unkn  scope pref  bear  x-key admin
    ("POST /publish",                     [401,  401,  403,  403,  200,  200,  403]),
    ("GET /events",                       [401,  401,  403,  200,  200,  200,  403]),
    ("GET /events?topic=orders.1",        [401,  401,  403,  403,  200,  200,  403]),
    ("GET /events/stream?topic=orders.1", [401,  401,  403,  403,  200,  200,  403]),
    ("GET /topics",                       [401,  401,  403,  200,  200,  200,  403]),
    ("GET /stats",                        [401,  401,  403,  200,  200,  200,  200]),
    ("GET /metrics",                      [401,  401,  403,  403,  403,  403,  200]),
    ("GET /health",                       [200,  200,  200,  200,  200,  200,  200]),
    ("GET /ready",                        [200,  200,  200,  200,  200,  200,  200]),
    ("GET /openapi.json",                 [200,  200,  200,  200,  200,  200,  200]),
    ("GET /docs/",                        [PAGE, PAGE, PAGE, PAGE, PAGE, PAGE, PAGE]),
];

/// The keys of the matrix.
struct Keys {
    publisher: String,
    reader: String,
    payments: String,
    admin: String,
    unknown: String,
}

impl Keys {
    fn every_key(&self) -> [&str; 5] {
        [
            &self.publisher,
            &self.reader,
            &self.payments,
            &self.admin,
            &self.unknown,
        ]
    }

    /// The key column `column` presents on a route (`publishing`: the route is `/publish`).
    fn presented(&self, column: usize, publishing: bool) -> Presented {
        let (needed, other) = if publishing {
            (&self.publisher, &self.reader)
        } else {
            (&self.reader, &self.publisher)
        };
        match column {
            0 => Presented::Nothing,
            1 => bearer(&self.unknown),
            2 => bearer(other),
            3 => bearer(&self.payments),
            4 => bearer(needed),
            5 => Presented::ApiKey(needed.clone()),
            6 => bearer(&self.admin),
            _ => unreachable!("{column} is not a caller"),
        }
    }
}

/// What one cell of the matrix observed.
struct Observed {
    status: StatusCode,
    headers: HeaderMap,
    /// The body, except for a live tail's (never read: it does not end).
    body: Option<String>,
}

async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    route: &str,
    key: &Presented,
    column: usize,
) -> Observed {
    let (method, path) = route.split_once(' ').expect("METHOD path");
    let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = client.request(method.clone(), app.url(path));
    if method == Method::POST {
        let body = event("orders.1", &format!("cell-{column}"));
        request = request
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let response = tokio::time::timeout(WAIT, key.apply(request).send())
        .await
        .unwrap_or_else(|_| panic!("{route}: no answer within {WAIT:?}"))
        .unwrap_or_else(|err| panic!("{route}: {err}"));
    let status = response.status();
    let headers = response.headers().clone();
    let streaming = headers
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    // A live tail's head says all this test needs; dropping the response closes it.
    let body = if streaming {
        None
    } else {
        Some(response.text().await.expect("body readable"))
    };
    Observed {
        status,
        headers,
        body,
    }
}

fn matches(expected: u16, observed: StatusCode) -> bool {
    match expected {
        PAGE => observed == StatusCode::OK || observed.is_redirection(),
        code => observed.as_u16() == code,
    }
}

fn shown(code: u16) -> String {
    match code {
        PAGE => "200 or 3xx".into(),
        code => code.to_string(),
    }
}

/// The problems of a refusal's shape, and any key found in the answer.
fn shape_problems(cell: &str, observed: &Observed, keys: &Keys) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, value) in &observed.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        if keys.every_key().iter().any(|key| value.contains(key)) {
            problems.push(format!("{cell}: header {name} holds a key"));
        }
    }
    let body = observed.body.as_deref().unwrap_or_default();
    if keys.every_key().iter().any(|key| body.contains(key)) {
        problems.push(format!("{cell}: the body holds a key"));
    }
    let refused = [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN];
    if refused.contains(&observed.status) {
        let error = serde_json::from_str::<Value>(body).ok();
        if !error.is_some_and(|error| error["error"].is_string()) {
            problems.push(format!("{cell}: not a JSON error: {body:?}"));
        }
    }
    if observed.status == StatusCode::UNAUTHORIZED {
        let challenge = observed.headers.get(WWW_AUTHENTICATE);
        if challenge.and_then(|value| value.to_str().ok()) != Some(CHALLENGE) {
            problems.push(format!("{cell}: WWW-Authenticate is {challenge:?}"));
        }
    }
    problems
}

/// Proves every route answers every kind of caller as the table says: `401` without a key or
/// with an unknown one, `403` without the scope or outside the prefixes, `200` with the right
/// key in either header, and the probes and docs open to all; with the `401` challenge, JSON
/// refusals, no key ever echoed, and nothing of a refused publish stored.
#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_the_access_table_says() {
    // Arrange
    let file = KeysFile::new();
    let keys = Keys {
        publisher: file.add("publisher", &[Scope::Publish], &["orders."], None),
        reader: file.add("reader", &[Scope::Read], &["orders."], None),
        payments: file.add(
            "payments",
            &[Scope::Publish, Scope::Read],
            &["payments."],
            None,
        ),
        admin: file.add("admin", &[Scope::Admin], &[], None),
        unknown: unknown_key(),
    };
    let app = spawn_keyed_app(&file).await;
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("an HTTP client");

    // Act
    let mut observed = Vec::new();
    for (route, _) in EXPECTED {
        let mut row = Vec::new();
        for column in 0..CALLERS.len() {
            let key = keys.presented(column, route.starts_with("POST"));
            row.push(send(&app, &client, route, &key, column).await);
        }
        observed.push(row);
    }

    // Assert
    let mut table = format!(
        "| route | {} |\n|---|{}\n",
        CALLERS.join(" | "),
        "---|".repeat(7)
    );
    let mut mismatches = Vec::new();
    let mut problems = Vec::new();
    for ((route, expected), row) in EXPECTED.iter().zip(&observed) {
        table.push_str(&format!("| `{route}` |"));
        for ((caller, &want), cell) in CALLERS.iter().zip(expected).zip(row) {
            let got = cell.status.as_u16();
            if matches(want, cell.status) {
                table.push_str(&format!(" {got} |"));
            } else {
                table.push_str(&format!(" **{got}** (want {}) |", shown(want)));
                mismatches.push(format!("{route} × {caller}: {got}, want {}", shown(want)));
            }
            problems.extend(shape_problems(&format!("{route} × {caller}"), cell, &keys));
        }
        table.push('\n');
    }
    println!("Observed access matrix:\n\n{table}");
    assert!(
        mismatches.is_empty(),
        "{} cells differ from the table:\n{}\n\n{table}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let stored = app.db.keys().await;
    let accepted: HashSet<(String, String)> = [4, 5]
        .map(|column| ("orders.1".to_string(), format!("cell-{column}")))
        .into();
    assert_eq!(stored, accepted, "only the accepted publishes are stored");
}
